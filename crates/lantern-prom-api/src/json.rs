//! Query results in Prometheus's JSON, byte for byte: sample values as strings in Go's
//! shortest form (`"NaN"`, `"+Inf"`, `"-Inf"`, exponents past 1e21 or below 1e-6) and
//! timestamps as seconds with exactly the milliseconds that are not zero.

use std::fmt::Write;

use lantern_core::{Labels, Sample};
use lantern_promql::Value;

/// Appends a timestamp (ms) as Prometheus writes it: `1700000000`, `1700000000.5` is
/// written `1700000000.500`.
pub fn push_timestamp(out: &mut String, t: i64) {
    let abs = t.unsigned_abs();
    if t < 0 {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(abs / 1000));
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8];
        out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
}

/// A float as Prometheus formats sample values (Go's `strconv.FormatFloat` with 'f', or
/// 'e' for magnitudes below 1e-6 or from 1e21, shortest round-trip digits).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(('+', e), |d| ('-', d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        };
    }
    if v == 0.0 {
        // Go prints negative zero as "-0".
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    format!("{v}")
}

/// Appends a float as [`format_float`] spells it; the common case goes through `ryu`
/// (the same shortest round-trip digits) without an intermediate string.
fn push_float(out: &mut String, v: f64) {
    let abs = v.abs();
    if v.is_finite() && (1e-6..1e21).contains(&abs) {
        let mut b = ryu::Buffer::new();
        let s = b.format_finite(v);
        // ryu writes integers as "1.0" and switches to exponents early ("1e16"); in
        // those cases fall back, else its digits are Go's.
        if !s.contains('e') {
            out.push_str(s.strip_suffix(".0").unwrap_or(s));
            return;
        }
    }
    out.push_str(&format_float(v));
}

/// Appends `s` as a JSON string.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a label set as a JSON object.
pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, &l.name);
        out.push(':');
        push_str(out, &l.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    push_timestamp(out, t);
    out.push_str(",\"");
    push_float(out, v);
    out.push_str("\"]");
}

fn push_matrix(out: &mut String, m: &[(Labels, Vec<Sample>)]) {
    out.push('[');
    for (i, (labels, samples)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"metric\":");
        push_labels(out, labels);
        out.push_str(",\"values\":[");
        for (j, s) in samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_point(out, s.t, s.v);
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// The `data` object of an instant query's answer at time `t`.
pub fn instant_data(v: &Value, t: i64) -> String {
    let mut out = String::with_capacity(256);
    match v {
        Value::Scalar(x) => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            push_point(&mut out, t, *x);
        }
        Value::String(s) => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            push_timestamp(&mut out, t);
            out.push(',');
            push_str(&mut out, s);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                push_point(&mut out, t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(m) => {
            out.push_str("{\"resultType\":\"matrix\",\"result\":");
            push_matrix(&mut out, m);
        }
    }
    out.push('}');
    out
}

/// The `data` object of a range query's answer.
pub fn range_data(m: &[(Labels, Vec<Sample>)]) -> String {
    let mut out = String::with_capacity(256 + m.len() * 64);
    out.push_str("{\"resultType\":\"matrix\",\"result\":");
    push_matrix(&mut out, m);
    out.push('}');
    out
}

/// A whole success envelope around a pre-encoded `data`, with warnings if any.
pub fn envelope(data: &str, warnings: &[String]) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":[");
        for (i, w) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(&mut out, w);
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_times_are_spelled_as_prometheus_spells_them() {
        let cases = [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (1e-6, "0.000001"),
            (123456789.0, "123456789"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e100, "1e+100"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v), want, "{v}");
        }
        let ts = |t| {
            let mut s = String::new();
            push_timestamp(&mut s, t);
            s
        };
        assert_eq!(ts(1_700_000_000_000), "1700000000");
        assert_eq!(ts(1_700_000_000_500), "1700000000.500");
        assert_eq!(ts(1_700_000_000_007), "1700000000.007");
        assert_eq!(ts(-1_500), "-1.500");
    }

    proptest::proptest! {
        #[test]
        fn fast_float_path_agrees_with_the_reference(bits in proptest::prelude::any::<u64>(), small in -1e7f64..1e7) {
            for v in [f64::from_bits(bits), small, small.round(), small / 1e3] {
                let mut fast = String::new();
                push_float(&mut fast, v);
                proptest::prop_assert_eq!(fast, format_float(v));
            }
        }
    }

    #[test]
    fn results_have_prometheus_shape() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        let v = Value::Vector(vec![lantern_promql::InstantSample { labels: labels.clone(), v: 1.0 }]);
        assert_eq!(
            instant_data(&v, 1000),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1,"1"]}]}"#
        );
        assert_eq!(instant_data(&Value::Scalar(2.0), 1500), r#"{"resultType":"scalar","result":[1.500,"2"]}"#);
        assert_eq!(instant_data(&Value::String("x".into()), 0), r#"{"resultType":"string","result":[0,"x"]}"#);
        assert_eq!(
            range_data(&[(labels, vec![Sample::new(0, 1.0), Sample::new(15_000, f64::NAN)])]),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"1"],[15,"NaN"]]}]}"#
        );
        assert_eq!(envelope("[]", &["w".into()]), r#"{"status":"success","data":[],"warnings":["w"]}"#);
    }
}
