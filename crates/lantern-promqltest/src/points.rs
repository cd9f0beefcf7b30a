//! The expanding notation for sample values shared by `load` lines, expected results
//! and promtool's `input_series`: `1 2 _ stale`, `a+bxn`, `a-bxn`, `axn`, `_xn`, and
//! native histograms in `{{…}}` (kept as text: the float engine counts them, it does not
//! evaluate them yet).

/// One sample position.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// A float value.
    Float(f64),
    /// No sample at this step.
    Missing,
    /// A staleness marker.
    Stale,
    /// A native histogram, as written between `{{` and `}}`.
    Histogram(String),
}

/// Parses a float as Prometheus does, including `Inf`, `+Inf`, `-Inf` and `NaN` in any
/// case, and `0x` hexadecimal integers.
pub fn parse_float(s: &str) -> Option<f64> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(|v| sign * v as f64);
    }
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// Splits `a+bxn` / `a-bxn` into `a`, signed `b`; `None` when there is no operator.
fn split_increment(body: &str) -> Option<(&str, &str, f64)> {
    let bytes = body.as_bytes();
    for i in 1..bytes.len() {
        let c = bytes[i];
        if (c == b'+' || c == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            let sign = if c == b'-' { -1.0 } else { 1.0 };
            return Some((&body[..i], &body[i + 1..], sign));
        }
    }
    None
}

/// Splits a token into its body and repeat count (`…xN`), if any.
fn split_repeat(token: &str) -> Option<(&str, usize)> {
    let x = token.rfind('x')?;
    let n = &token[x + 1..];
    if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((&token[..x], n.parse().ok()?))
}

/// Breaks a points string into tokens; a `{{…}}` histogram (with any suffix such as
/// `+{{…}}x3`) is one token even though it contains spaces.
fn tokens(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0i32;
        while i < b.len() && (depth > 0 || !b[i].is_ascii_whitespace()) {
            if s[i..].starts_with("{{") {
                depth += 1;
                i += 2;
                continue;
            }
            if s[i..].starts_with("}}") {
                depth -= 1;
                i += 2;
                continue;
            }
            i += 1;
        }
        if depth != 0 {
            return Err(format!("unbalanced histogram braces in {:?}", &s[start..]));
        }
        out.push(&s[start..i]);
    }
    Ok(out)
}

/// Expands a points string into one [`Point`] per step.
pub fn parse_points(s: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for token in tokens(s)? {
        let bad = || format!("invalid sample notation {token:?}");
        if token.starts_with("{{") {
            // Histograms follow the same expansion; each step keeps the token's text.
            let n = if token.ends_with("}}") { 0 } else { split_repeat(token).map(|(_, n)| n).ok_or_else(bad)? };
            out.extend(std::iter::repeat_n(Point::Histogram(token.to_string()), n + 1));
            continue;
        }
        match token {
            "_" => out.push(Point::Missing),
            "stale" => out.push(Point::Stale),
            _ => match split_repeat(token) {
                Some(("_", n)) => out.extend(std::iter::repeat_n(Point::Missing, n)),
                Some((body, n)) => {
                    let (start, step) = match split_increment(body) {
                        Some((a, b, sign)) => (parse_float(a).ok_or_else(bad)?, sign * parse_float(b).ok_or_else(bad)?),
                        None => (parse_float(body).ok_or_else(bad)?, 0.0),
                    };
                    out.extend((0..=n).map(|i| Point::Float(start + step * i as f64)));
                }
                None => out.push(Point::Float(parse_float(token).ok_or_else(bad)?)),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_points(s)
            .unwrap()
            .into_iter()
            .map(|p| match p {
                Point::Float(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_documented_examples_expand() {
        assert_eq!(floats("-2+4x3"), vec![Some(-2.0), Some(2.0), Some(6.0), Some(10.0)]);
        assert_eq!(floats(" 1-2x4"), vec![Some(1.0), Some(-1.0), Some(-3.0), Some(-5.0), Some(-7.0)]);
        assert_eq!(floats(" 1x4"), vec![Some(1.0); 5]);
        assert_eq!(
            parse_points(" 1 _x3 stale").unwrap(),
            vec![Point::Float(1.0), Point::Missing, Point::Missing, Point::Missing, Point::Stale]
        );
        assert_eq!(floats("1e3 1e-3+1e-3x1"), vec![Some(1000.0), Some(0.001), Some(0.002)]);
        assert!(
            matches!(parse_points("NaN -Inf +inf").unwrap()[..], [Point::Float(a), Point::Float(b), Point::Float(c)]
            if a.is_nan() && b == f64::NEG_INFINITY && c == f64::INFINITY)
        );
    }

    #[test]
    fn histograms_are_single_tokens_and_expand() {
        let p = parse_points("1 {{schema:1 sum:3 count:22 buckets:[5 10 7]}} {{count:1}}+{{count:2}}x2").unwrap();
        assert_eq!(p.len(), 5);
        assert!(matches!(&p[1], Point::Histogram(t) if t.contains("buckets:[5 10 7]")));
        assert!(parse_points("{{count:1").is_err());
        assert!(parse_points("abc").is_err());
    }
}
