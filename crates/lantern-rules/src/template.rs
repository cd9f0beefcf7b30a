//! Alert templates as Prometheus expands them in labels and annotations, a Go
//! `text/template` subset: `{{ $labels.name }}` (or `.Labels.name`), `{{ $value }}` (or
//! `.Value`), `{{ $externalLabels.name }}`, pipelines into `humanize`, `humanize1024`,
//! `humanizePercentage`, `humanizeDuration`, `humanizeTimestamp`, `toUpper`,
//! `toLower`, `title`, and `printf "format" args…`. Templates are parsed when rules
//! load, so a bad one is refused with its rule's file and line.

use std::collections::BTreeMap;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Action(Vec<Cmd>),
}

/// One command of a pipeline: a function with arguments, or a value.
#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    Value(Arg),
    Call(String, Vec<Arg>),
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Labels(Option<String>),
    External(Option<String>),
    ExternalUrl,
    Value,
    Str(String),
    Num(f64),
}

/// What a template reads.
pub struct Data<'a> {
    /// The alert's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// The expression's value.
    pub value: f64,
    /// The server's external labels.
    pub external: &'a BTreeMap<String, String>,
    /// The server's external URL.
    pub external_url: &'a str,
}

const FUNCS: [&str; 9] = [
    "humanize",
    "humanize1024",
    "humanizePercentage",
    "humanizeDuration",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "printf",
];

fn arg(tok: &str) -> Result<Arg, String> {
    let field = |rest: &str| if rest.is_empty() { None } else { Some(rest.to_string()) };
    if let Some(r) = tok.strip_prefix("$labels").or_else(|| tok.strip_prefix(".Labels")) {
        return Ok(Arg::Labels(field(r.trim_start_matches('.'))));
    }
    if let Some(r) = tok.strip_prefix("$externalLabels").or_else(|| tok.strip_prefix(".ExternalLabels")) {
        return Ok(Arg::External(field(r.trim_start_matches('.'))));
    }
    if tok == "$externalURL" || tok == ".ExternalURL" {
        return Ok(Arg::ExternalUrl);
    }
    if tok == "$value" || tok == ".Value" {
        return Ok(Arg::Value);
    }
    if let Some(s) = tok.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Ok(Arg::Str(s.replace("\\\"", "\"").replace("\\n", "\n")));
    }
    if let Some(s) = tok.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        return Ok(Arg::Str(s.to_string()));
    }
    tok.parse::<f64>().map(Arg::Num).map_err(|_| format!("{tok:?} is not supported in a template"))
}

/// Splits an action into words, keeping quoted strings whole.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' => {
                cur.push(c);
                let mut closed = false;
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == '\\' && c == '"' {
                        if let Some(e) = chars.next() {
                            cur.push(e);
                        }
                        continue;
                    }
                    if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err("unterminated string".into());
                }
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            '|' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push("|".into());
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl Template {
    /// A template that expands to `text` as written.
    pub fn literal(text: &str) -> Template {
        Template { parts: vec![Part::Text(text.to_string())] }
    }

    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or("'{{' is never closed")?;
            let action = after[..close].trim().trim_start_matches('-').trim_end_matches('-').trim();
            let mut cmds = Vec::new();
            let ws = words(action)?;
            for seg in ws.split(|w| w == "|") {
                let Some((head, args)) = seg.split_first() else { return Err("empty command in a pipeline".into()) };
                if FUNCS.contains(&head.as_str()) {
                    cmds.push(Cmd::Call(head.clone(), args.iter().map(|a| arg(a)).collect::<Result<_, _>>()?));
                } else if args.is_empty() {
                    cmds.push(Cmd::Value(arg(head)?));
                } else {
                    return Err(format!("function {head:?} is not supported"));
                }
            }
            if cmds.is_empty() {
                return Err("empty action".into());
            }
            parts.push(Part::Action(cmds));
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err("'}}' without '{{'".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Expands the template.
    pub fn expand(&self, d: &Data) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action(cmds) => {
                    let mut piped: Option<Val> = None;
                    for c in cmds {
                        piped = Some(match c {
                            Cmd::Value(a) => value(a, d),
                            Cmd::Call(f, args) => {
                                let mut vals: Vec<Val> = args.iter().map(|a| value(a, d)).collect();
                                if let Some(p) = piped.take() {
                                    vals.push(p);
                                }
                                call(f, vals)?
                            }
                        });
                    }
                    if let Some(v) = piped {
                        out.push_str(&v.text());
                    }
                }
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone)]
enum Val {
    Str(String),
    Num(f64),
    Map(BTreeMap<String, String>),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(n) => go_float(*n),
            Val::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
        }
    }

    fn num(&self) -> Result<f64, String> {
        match self {
            Val::Num(n) => Ok(*n),
            Val::Str(s) => s.trim().parse().map_err(|_| format!("{s:?} is not a number")),
            Val::Map(_) => Err("a map is not a number".into()),
        }
    }
}

fn value(a: &Arg, d: &Data) -> Val {
    match a {
        Arg::Labels(None) => Val::Map(d.labels.clone()),
        Arg::Labels(Some(k)) => Val::Str(d.labels.get(k).cloned().unwrap_or_default()),
        Arg::External(None) => Val::Map(d.external.clone()),
        Arg::External(Some(k)) => Val::Str(d.external.get(k).cloned().unwrap_or_default()),
        Arg::ExternalUrl => Val::Str(d.external_url.to_string()),
        Arg::Value => Val::Num(d.value),
        Arg::Str(s) => Val::Str(s.clone()),
        Arg::Num(n) => Val::Num(*n),
    }
}

/// A float as Go's `%v` writes it (`%g` with the shortest exact digits).
fn go_float(v: f64) -> String {
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

/// Go's `%.Ng`: `prec` significant digits, trailing zeros dropped.
fn fmt_g(v: f64, prec: usize) -> String {
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

fn humanize(v: f64, base: f64, big: &[&str], small: &[&str]) -> String {
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

fn humanize_duration(v: f64) -> String {
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
fn printf(format: &str, args: &[Val]) -> Result<String, String> {
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

fn call(f: &str, args: Vec<Val>) -> Result<Val, String> {
    let one = |args: &[Val]| args.first().cloned().ok_or_else(|| format!("{f} needs an argument"));
    Ok(match f {
        "humanize" => Val::Str(humanize(
            one(&args)?.num()?,
            1000.0,
            &["k", "M", "G", "T", "P", "E", "Z", "Y"],
            &["m", "u", "n", "p", "f", "a", "z", "y"],
        )),
        "humanize1024" => {
            let v = one(&args)?.num()?;
            if v.abs() < 1.0 {
                Val::Str(fmt_g(v, 4))
            } else {
                Val::Str(humanize(v, 1024.0, &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"], &[]))
            }
        }
        "humanizePercentage" => Val::Str(format!("{}%", fmt_g(one(&args)?.num()? * 100.0, 4))),
        "humanizeDuration" => Val::Str(humanize_duration(one(&args)?.num()?)),
        "humanizeTimestamp" => {
            let v = one(&args)?.num()?;
            let t = chrono::DateTime::from_timestamp(v.floor() as i64, ((v - v.floor()) * 1e9) as u32);
            Val::Str(t.map_or_else(|| fmt_g(v, 4), |t| t.format("%Y-%m-%d %H:%M:%S%.f +0000 UTC").to_string()))
        }
        "toUpper" => Val::Str(one(&args)?.text().to_uppercase()),
        "toLower" => Val::Str(one(&args)?.text().to_lowercase()),
        "title" => {
            let s = one(&args)?.text();
            Val::Str(
                s.split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else { return Err("printf needs a format".into()) };
            Val::Str(printf(&fmt.text(), rest)?)
        }
        other => return Err(format!("function {other:?} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(t: &str, value: f64) -> String {
        let labels: BTreeMap<String, String> =
            [("instance", "web-1"), ("job", "api")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let external: BTreeMap<String, String> = [("cluster".to_string(), "eu".to_string())].into();
        Template::parse(t)
            .unwrap()
            .expand(&Data { labels: &labels, value, external: &external, external_url: "http://lantern:9700" })
            .unwrap()
    }

    #[test]
    fn expands_as_prometheus_does() {
        assert_eq!(
            expand("{{ $labels.instance }} of {{ .Labels.job }} in {{ $externalLabels.cluster }}", 0.0),
            "web-1 of api in eu"
        );
        assert_eq!(expand("Error rate above 1% for 5 minutes", 0.0), "Error rate above 1% for 5 minutes");
        assert_eq!(expand("{{ $value }}", 0.0123), "0.0123");
        assert_eq!(expand("{{ $value }}", 1e21), "1e+21");
        assert_eq!(expand("{{ $value | humanize }}", 1234567.0), "1.235M");
        assert_eq!(expand("{{ humanize $value }}", 0.0012), "1.2m");
        assert_eq!(expand("{{ $value | humanize }}", 12.0), "12");
        assert_eq!(expand("{{ $value | humanize1024 }}", 2048.0), "2ki");
        assert_eq!(expand("{{ $value | humanizePercentage }}", 0.1234), "12.34%");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 3661.0), "1h 1m 1s");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 93784.5), "1d 2h 3m 4.5s");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 0.25), "250ms");
        assert_eq!(expand("{{ $value | humanizeTimestamp }}", 1_770_836_401.0), "2026-02-11 19:00:01 +0000 UTC");
        assert_eq!(expand(r#"{{ printf "%.2f" $value }}%"#, 4.567), "4.57%");
        assert_eq!(expand(r#"{{ printf "%s is %.1f%%" $labels.instance $value }}"#, 12.34), "web-1 is 12.3%");
        assert_eq!(expand("{{ $labels.job | toUpper }}", 0.0), "API");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("{{ $labels.instance ").unwrap_err().contains("never closed"));
        assert!(Template::parse("{{ query \"up\" }}").unwrap_err().contains("not supported"));
        assert!(Template::parse("{{ $nonsense }}").unwrap_err().contains("not supported"));
        assert!(Template::parse("a }} b").is_err());
    }
}
