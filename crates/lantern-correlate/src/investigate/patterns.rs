//! Error logs grouped into patterns: a line's template is its service and message with
//! every token that holds a digit replaced by `<*>`, so `timeout after 2500ms to
//! 10.0.0.7` and `timeout after 2510ms to 10.0.0.9` are one pattern. Fields that set the
//! window's lines apart from the baseline's (`error_code=TIMEOUT`) are found by
//! comparing how often each value occurs per minute in each. Pure.

use std::collections::BTreeMap;

use lantern_logs::model::indexed_as_id;
use lantern_logs::{IdFields, LogRow, Value};

/// A message's template.
pub fn template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, tok) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let hexish = tok.len() >= 8 && tok.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if tok.bytes().any(|b| b.is_ascii_digit()) || hexish {
            out.push_str("<*>");
        } else {
            out.push_str(tok);
        }
    }
    out
}

/// How often a pattern occurs in the window and in the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The service.
    pub service: String,
    /// The message template.
    pub template: String,
    /// Lines in the window.
    pub count: usize,
    /// Lines in the baseline.
    pub baseline: usize,
}

/// A field value much more frequent in the window than before.
#[derive(Debug, Clone, PartialEq)]
pub struct Distinct {
    /// The field.
    pub field: String,
    /// The value.
    pub value: String,
    /// Lines with it in the window.
    pub count: usize,
    /// Lines with it in the baseline.
    pub baseline: usize,
}

/// Patterns of the window's lines, most frequent first (ties by name), each with its
/// count in the baseline.
pub fn patterns(window: &[LogRow], baseline: &[LogRow]) -> Vec<Pattern> {
    let key = |r: &LogRow| (r.stream.service.to_string(), template(&r.message()));
    let mut counts: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for r in window {
        counts.entry(key(r)).or_default().0 += 1;
    }
    for r in baseline {
        if let Some(c) = counts.get_mut(&key(r)) {
            c.1 += 1;
        }
    }
    let mut out: Vec<Pattern> = counts
        .into_iter()
        .map(|((service, template), (count, baseline))| Pattern { service, template, count, baseline })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.service, &a.template).cmp(&(&b.service, &b.template))));
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) if s.len() <= 120 => Some(s.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Field values that occur in at least a tenth of the window's lines (and three) at a
/// rate per minute at least three times the baseline's. Identifiers, times and the
/// message are left out; most telling first.
pub fn distinct_fields(
    window: &[LogRow],
    window_min: f64,
    baseline: &[LogRow],
    baseline_min: f64,
    ids: &IdFields,
) -> Vec<Distinct> {
    let skip = |k: &str| {
        ids.contains(k)
            || indexed_as_id(k)
            || lantern_logs::jsonl::TIME_KEYS.contains(&k)
            || matches!(k, "event" | "message" | "msg" | "level" | "logger" | "duration_ms")
    };
    let count = |rows: &[LogRow]| {
        let mut m: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in rows {
            for (k, v) in &r.fields {
                if skip(k) {
                    continue;
                }
                if let Some(t) = text(v) {
                    *m.entry((k.to_string(), t)).or_default() += 1;
                }
            }
        }
        m
    };
    let (w, b) = (count(window), count(baseline));
    let min = (window.len() / 10).max(3);
    let mut out: Vec<(f64, Distinct)> = w
        .into_iter()
        .filter(|(_, n)| *n >= min)
        .filter_map(|((field, value), n)| {
            let before = b.get(&(field.clone(), value.clone())).copied().unwrap_or(0);
            let rate = n as f64 / window_min.max(1e-9);
            let base = before as f64 / baseline_min.max(1e-9);
            (rate >= 3.0 * base).then_some((rate - base, Distinct { field, value, count: n, baseline: before }))
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| (&a.1.field, &a.1.value).cmp(&(&b.1.field, &b.1.value))));
    out.into_iter().map(|x| x.1).take(5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_numbers_and_ids() {
        assert_eq!(template("timeout after 2500ms to 10.0.0.7"), "timeout after <*> to <*>");
        assert_eq!(template("order ord-1e1ef4 failed for deadbeefcafe"), "order <*> failed for <*>");
        assert_eq!(template("payment_failed"), "payment_failed");
    }
}
