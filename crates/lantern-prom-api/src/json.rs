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

/// A float as Prometheus formats sample values: Go's `strconv.FormatFloat(v, 'f' or 'e',
/// -1, 64)`, 'e' for magnitudes below 1e-6 or from 1e21; shortest round-trip digits,
/// ties broken as Go (and `ryu`) break them.
pub fn format_float(v: f64) -> String {
    let mut out = String::new();
    push_float(&mut out, v);
    out
}

/// Appends [`format_float`]'s text without an intermediate string.
fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    // ryu writes "-1.25e17", "0.001", "123.0" or "5e-324": read back its digits and
    // decimal exponent, then lay them out as Go does.
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut point = int.len() as i32 + exp;
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
    point -= lead as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if neg {
        out.push('-');
    }
    if digits.is_empty() {
        out.push('0');
        return;
    }
    let abs = v.abs();
    let text = |d: &[u8]| std::str::from_utf8(d).unwrap_or_default().to_string();
    if !(1e-6..1e21).contains(&abs) {
        let x = point - 1;
        out.push(digits[0] as char);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&text(&digits[1..]));
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", x.unsigned_abs());
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&text(&digits));
    } else if point as usize >= digits.len() {
        out.push_str(&text(&digits));
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&text(&digits[..point as usize]));
        out.push('.');
        out.push_str(&text(&digits[point as usize..]));
    }
}

pub use lantern_core::json::push_str;

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

/// The `data` of an exemplar query: per series, its labels and exemplars (value as a
/// string, timestamp as a number of seconds).
pub fn exemplars_data(found: &std::collections::BTreeMap<Labels, Vec<lantern_core::Exemplar>>) -> String {
    let mut out = String::from("[");
    for (i, (labels, ex)) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        push_labels(&mut out, labels);
        out.push_str(",\"exemplars\":[");
        for (j, e) in ex.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            push_labels(&mut out, &e.labels);
            out.push_str(",\"value\":\"");
            push_float(&mut out, e.value);
            out.push_str("\",\"timestamp\":");
            push_timestamp(&mut out, e.t);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
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

    #[test]
    fn floats_match_what_a_real_prometheus_printed() {
        // Values remote-written to Prometheus 2.42 and read back from its query API.
        let cases = [
            (f64::from_bits(4833180098529957469), "1330324497196439.2"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (5e-324, "5e-324"),
            (123456789012345678.0, "123456789012345680"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v), want);
        }
        assert_eq!(format_float(-0.0), "-0");
        assert_eq!(format_float(-1.5e-7), "-1.5e-07");
        assert_eq!(format_float(0.00012), "0.00012");
    }

    proptest::proptest! {
        #[test]
        fn every_float_round_trips(bits in proptest::prelude::any::<u64>(), small in -1e7f64..1e7) {
            for v in [f64::from_bits(bits), small, small.round(), small / 1e3] {
                let text = format_float(v);
                let back: f64 = match text.as_str() {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    t => t.parse().unwrap(),
                };
                proptest::prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{} -> {}", v, text);
                proptest::prop_assert_eq!(text.contains('e'), v.is_finite() && v != 0.0 && !(1e-6..1e21).contains(&v.abs()));
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
