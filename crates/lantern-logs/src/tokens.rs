//! Index keys of log events for the per-row-group filters: words of text (lowercase;
//! letters, digits, `_` and non-ASCII characters make words), identifiers whole, and the
//! stream's service, level and labels. Stores and queries compute them alike.

use std::collections::HashSet;

use lantern_events::bloom::key;

use crate::model::{indexed_as_id, LogRow, Value};

/// Words longer than this are indexed by their first this-many bytes.
const MAX_WORD: usize = 64;

/// Whether a byte belongs to a word.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Calls `f` with each word of `s` that goes into the filters: not words of digits
/// alone (counts, ports, user numbers: many distinct values, found by their column).
pub fn index_words(s: &str, mut f: impl FnMut(&[u8])) {
    words(s, |w| {
        if !w.iter().all(u8::is_ascii_digit) {
            f(w)
        }
    })
}

/// Calls `f` with each word of `s` (as bytes, not yet lowercased).
pub fn words(s: &str, mut f: impl FnMut(&[u8])) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && !is_word_byte(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_word_byte(b[i]) {
            i += 1;
        }
        if i > start {
            f(&b[start..i]);
        }
    }
}

/// The key of a word (lowercased here).
pub fn word_key(w: &[u8]) -> u64 {
    let w = &w[..w.len().min(MAX_WORD)];
    let mut buf = [0u8; MAX_WORD];
    for (d, s) in buf.iter_mut().zip(w) {
        *d = s.to_ascii_lowercase();
    }
    key(&[b"w", &buf[..w.len()]])
}

/// The key of an identifier's whole value (lowercased).
pub fn id_key(v: &str) -> u64 {
    if !v.bytes().any(|b| b.is_ascii_uppercase()) {
        return key(&[b"i", v.as_bytes()]);
    }
    key(&[b"i", v.to_ascii_lowercase().as_bytes()])
}

/// The key of a service.
pub fn service_key(s: &str) -> u64 {
    key(&[b"s", s.as_bytes()])
}

/// The key of a level.
pub fn level_key(l: &str) -> u64 {
    key(&[b"v", l.as_bytes()])
}

/// The key of a stream label.
pub fn label_key(name: &str, value: &str) -> u64 {
    key(&[b"l", name.as_bytes(), value.as_bytes()])
}

/// Every key of a group of events, each shared value (stream, interned string)
/// tokenised once.
pub fn group_keys(rows: &[&LogRow], out: &mut Vec<u64>) {
    let mut streams: HashSet<*const crate::model::Stream, foldhash::fast::RandomState> = HashSet::default();
    let mut values: HashSet<*const u8, foldhash::fast::RandomState> = HashSet::default();
    // Names are shared between events: how one is indexed is worked out once.
    let mut kinds: std::collections::HashMap<*const u8, Kind, foldhash::fast::RandomState> = Default::default();
    for r in rows {
        if streams.insert(std::sync::Arc::as_ptr(&r.stream)) {
            stream_keys(r, out);
        }
        if let Some(l) = &r.line {
            index_words(l, |w| out.push(word_key(w)));
        }
        for (k, v) in &r.fields {
            if let Value::Str(s) | Value::Json(s) = v {
                // A value held by this event alone cannot have been seen before.
                if std::sync::Arc::strong_count(s) > 1 && !values.insert(s.as_ptr()) {
                    continue;
                }
            }
            let kind = *kinds.entry(k.as_ptr()).or_insert_with(|| Kind::of(k));
            field_keys_as(v, kind, out);
        }
    }
}

/// How a field's values are indexed.
#[derive(Clone, Copy)]
struct Kind {
    /// Whole, as an identifier.
    id: bool,
    /// A time field: its text is not indexed.
    time: bool,
}

impl Kind {
    fn of(k: &str) -> Kind {
        Kind { id: indexed_as_id(k), time: crate::jsonl::TIME_KEYS.contains(&k) }
    }
}

fn stream_keys(r: &LogRow, out: &mut Vec<u64>) {
    out.push(service_key(&r.stream.service));
    out.push(level_key(&r.stream.level));
    for (k, v) in &r.stream.labels {
        out.push(label_key(k, v));
    }
}

fn field_keys(k: &str, v: &Value, out: &mut Vec<u64>) {
    field_keys_as(v, Kind::of(k), out)
}

/// [`field_keys`], knowing how the field is indexed.
fn field_keys_as(v: &Value, kind: Kind, out: &mut Vec<u64>) {
    match v {
        // Numbers and booleans are matched by value (row tests on their columns),
        // times by range: words of them would only fill the filters.
        Value::Null | Value::Bool(_) | Value::Float(_) => {}
        Value::Int(i) if kind.id => out.push(id_key(&i.to_string())),
        Value::Int(_) => {}
        Value::Str(_) if kind.time => {}
        Value::Str(s) if kind.id => out.push(id_key(s)),
        Value::Str(s) | Value::Json(s) => index_words(s, |w| out.push(word_key(w))),
    }
}

/// Every key of an event.
pub fn row_keys(r: &LogRow, out: &mut Vec<u64>) {
    stream_keys(r, out);
    if let Some(l) = &r.line {
        index_words(l, |w| out.push(word_key(w)));
    }
    for (k, v) in &r.fields {
        field_keys(k, v, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_punctuation_and_keep_underscores() {
        let mut got = Vec::new();
        words("Card declined: CARD_DECLINED (req-123) café", |w| got.push(String::from_utf8_lossy(w).into_owned()));
        assert_eq!(got, ["Card", "declined", "CARD_DECLINED", "req", "123", "café"]);
        assert_eq!(word_key(b"Card"), word_key(b"card"));
    }
}
