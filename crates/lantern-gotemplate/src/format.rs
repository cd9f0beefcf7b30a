//! Number formatting as Go and Prometheus's template functions do it: `%v` of a
//! float, `%.Ng`, `humanize*`, and `printf` with Go's common verbs.

use crate::Val;

/// A float as Go's `%v` writes it (`%g` with the shortest exact digits).
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let e = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
    if (-4..21).contains(&e) {
        format!("{v}")
    } else {
        let s = format!("{v:e}");
        // Rust writes 1e21, Go 1e+21.
        match s.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{:0>2}", x),
            Some((m, x)) => format!("{m}e-{:0>2}", &x[1..]),
            None => s,
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'e' or 'E', -1, 64)`: the shortest mantissa and a
/// signed exponent of at least two digits (`5e+00`, `2.5E-01`), as Prometheus prints
/// alert values and promtool prints samples.
pub fn go_exp(v: f64, upper: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let e = if upper { 'E' } else { 'e' };
    format!("{mant}{e}{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Go's `%.Ng`: `prec` significant digits, trailing zeros dropped.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_float(v);
    }
    let e = v.abs().log10().floor() as i32;
    if e < -4 || e >= prec as i32 {
        let s = format!("{:.*e}", prec.saturating_sub(1), v);
        let (m, x) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        let x: i32 = x.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if x < 0 { '-' } else { '+' }, x.abs());
    }
    let decimals = (prec as i32 - 1 - e).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number scaled by `base` with the prefix of its scale (`1.235M`, `2ki`, `1.2m`),
/// as Prometheus's `humanize` functions print it.
pub fn humanize(v: f64, base: f64, big: &[&str], small: &[&str]) -> String {
    if v == 0.0 || !v.is_finite() {
        return fmt_g(v, 4);
    }
    let mut x = v;
    if x.abs() >= 1.0 {
        let mut i = 0;
        while x.abs() >= base && i < big.len() {
            x /= base;
            i += 1;
        }
        return format!("{}{}", fmt_g(x, 4), if i == 0 { "" } else { big[i - 1] });
    }
    let mut i = 0;
    while x.abs() < 1.0 && i < small.len() {
        x *= base;
        i += 1;
    }
    format!("{}{}", fmt_g(x, 4), if i == 0 { "" } else { small[i - 1] })
}

/// Seconds as Prometheus's `humanizeDuration` prints them (`1d 2h 3m 4.5s`, `250ms`).
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return fmt_g(v, 4);
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let s = v.abs();
        let (days, hours, minutes) = ((s / 86400.0) as i64, (s / 3600.0) as i64 % 24, (s / 60.0) as i64 % 60);
        let secs = s % 60.0;
        let mut out = String::from(sign);
        if days != 0 {
            out.push_str(&format!("{days}d "));
        }
        if hours != 0 {
            out.push_str(&format!("{hours}h "));
        }
        if minutes != 0 {
            out.push_str(&format!("{minutes}m "));
        }
        out.push_str(&format!("{}s", fmt_g(secs, 4)));
        return out;
    }
    if v == 0.0 {
        return "0s".into();
    }
    for (unit, scale) in [("ms", 1e3), ("us", 1e6), ("ns", 1e9)] {
        if v.abs() * scale >= 1.0 || unit == "ns" {
            return format!("{}{unit}", fmt_g(v * scale, 4));
        }
    }
    unreachable!("the loop returns at ns")
}

/// `printf` with Go's common verbs (`%s`, `%v`, `%d`, `%f`/`%.Nf`, `%g`, `%%`).
pub fn printf(format: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            chars.next();
            if d.is_ascii_alphabetic() || d == '%' {
                spec.push(d);
                break;
            }
            spec.push(d);
        }
        let verb = spec.chars().last().unwrap_or('v');
        if verb == '%' {
            out.push('%');
            continue;
        }
        let prec: Option<usize> = spec.split_once('.').and_then(|(_, p)| p.trim_end_matches(verb).parse().ok());
        let a = it.next().ok_or_else(|| format!("printf {format:?}: missing argument"))?;
        match verb {
            's' | 'v' => out.push_str(&a.text()),
            'd' => out.push_str(&format!("{}", a.num()? as i64)),
            'f' => out.push_str(&format!("{:.*}", prec.unwrap_or(6), a.num()?)),
            'g' => out.push_str(&prec.map_or_else(|| a.num().map(go_float), |p| a.num().map(|n| fmt_g(n, p)))?),
            'e' => out.push_str(&format!("{:.*e}", prec.unwrap_or(6), a.num()?)),
            other => return Err(format!("printf verb %{other} is not supported")),
        }
    }
    Ok(out)
}
