//! Index keys of log events for the per-row-group filters: words of text (lowercase;
//! letters, digits, `_` and non-ASCII characters make words), identifiers whole, and the
//! stream's service, level and labels. Stores and queries compute them alike.
//!
//! Every word of [`PREFIX`] bytes or more that a line can show (in text, identifiers,
//! field names, times kept as written, the stream's names) also gives the key of its
//! first [`PREFIX`] bytes: a line filter's needle holding a word that starts after a
//! separator (`req-3fa9c0d2e1b4`) is then only in pages holding a word starting so,
//! wherever the line's word ends (see [`needle_keys`]).

use std::collections::HashSet;

use lantern_events::bloom::key;

use crate::model::{indexed_as_id, LogRow, Value};

/// Words longer than this are indexed by their first this-many bytes.
const MAX_WORD: usize = 64;

/// The length of the word prefixes every word that long puts in the filters.
pub const PREFIX: usize = 8;

/// The [`lantern_events::Table::KEYS_VERSION`] of log filters: 1 added [`PREFIX`] keys.
pub const KEYS_VERSION: u32 = 1;

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

/// Pushes the keys of the words of text: each word's ([`index_words`]) and, for longer
/// ones, their prefix's.
fn text_keys(s: &str, out: &mut Vec<u64>) {
    index_words(s, |w| {
        out.push(word_key(w));
        if w.len() > PREFIX {
            out.push(word_key(&w[..PREFIX]));
        }
    })
}

/// Pushes the prefix keys of text indexed otherwise or not at all (identifiers, names,
/// times): of each word of [`PREFIX`] bytes or more, but for words of digits alone.
fn prefix_keys(s: &str, out: &mut Vec<u64>) {
    if s.len() < PREFIX {
        return;
    }
    words(s, |w| {
        if w.len() >= PREFIX && !w.iter().all(u8::is_ascii_digit) {
            out.push(word_key(&w[..PREFIX]))
        }
    })
}

/// The keys every line holding `needle` has in its filter: of each word of the
/// needle that starts after a separator in it, is [`PREFIX`] bytes or more and could
/// not be part of a number or time as lines write them (bytes other than digits, `e`,
/// `E`, `T`, `Z`), the key of its prefix. Such a word starts a word of the line, which
/// is not one of digits alone, so its prefix is the line's word's. Lines are matched
/// as written (case and all); keys are lowercase, so they hold for every case.
pub fn needle_keys(needle: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    word_spans(needle, |start, w| {
        if start > 0 && w.len() >= PREFIX && w.iter().any(|b| !b"0123456789eETZ".contains(b)) {
            out.push(word_key(&w[..PREFIX]));
        }
    });
    out
}

/// Calls `f` with each word of `s` (as bytes, not yet lowercased).
pub fn words(s: &str, mut f: impl FnMut(&[u8])) {
    word_spans(s.as_bytes(), |_, w| f(w))
}

/// Calls `f` with where each word of `b` starts, and the word.
fn word_spans(b: &[u8], mut f: impl FnMut(usize, &[u8])) {
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
            f(start, &b[start..i]);
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
            text_keys(l, out);
        }
        for (k, v) in &r.fields {
            if let Value::Str(s) | Value::Json(s) = v {
                // A value held by this event alone cannot have been seen before.
                if std::sync::Arc::strong_count(s) > 1 && !values.insert(s.as_ptr()) {
                    continue;
                }
            }
            let kind = *kinds.entry(k.as_ptr()).or_insert_with(|| {
                prefix_keys(k, out);
                Kind::of(k)
            });
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
    prefix_keys(&r.stream.service, out);
    prefix_keys(&r.stream.level, out);
    for (k, v) in &r.stream.labels {
        out.push(label_key(k, v));
        prefix_keys(k, out);
        prefix_keys(v, out);
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
        Value::Str(s) if kind.time => prefix_keys(s, out),
        Value::Str(s) if kind.id => {
            out.push(id_key(s));
            prefix_keys(s, out);
        }
        Value::Str(s) | Value::Json(s) => text_keys(s, out),
    }
}

/// Every key of an event.
pub fn row_keys(r: &LogRow, out: &mut Vec<u64>) {
    stream_keys(r, out);
    if let Some(l) = &r.line {
        text_keys(l, out);
    }
    for (k, v) in &r.fields {
        prefix_keys(k, out);
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

    #[test]
    fn needles_give_the_prefixes_of_their_words_after_a_separator() {
        let k = |w: &str| word_key(w.as_bytes());
        assert_eq!(needle_keys(b"req-dc1b77ae0bf300000000"), [k("dc1b77ae")]);
        assert_eq!(needle_keys(b"order 12345678 Shipped_Today now"), [k("shipped_")]);
        // At the needle's start (it may end a longer word), shorter than a prefix, or
        // what numbers and times are written with: nothing.
        for none in ["dc1b77ae0bf300000000", "req-dc1b77a", "x-12345678901", "at 2026-12-07T22:10:59.519145123Z", ""] {
            assert!(needle_keys(none.as_bytes()).is_empty(), "{none}");
        }
    }

    /// Every needle a line holds has its keys among the line's event's: whatever part
    /// of the line it is cut from (values of every kind, names, escapes, times written
    /// back, numbers, nested objects, text lines), pages lacking them hold no such line.
    #[test]
    fn every_needle_a_line_holds_has_its_keys_in_the_lines_filter() {
        let lines = [
            r#"{"request_id": "req-dc1b77ae0bf300000000", "user_id": "user-99574", "event": "session_refreshed", "duration_ms": 1054.65, "level": "info", "timestamp": "2026-12-07T22:10:59.519145Z"}"#,
            r#"{"Trace.ID": "ABCDEF0123456789abcdef", "checkout_session.token": "x9-Zyxwvutsrqp", "n": 123456789012, "big": 1.5e300, "ok": true, "gone": null}"#,
            r#"{"event": "tab	here-longword12 "quoted-wordiness" naïve-résuméwriter", "ctx": {"user": "u-7", "attempts_total": [1, 2, "third-attempted"]}}"#,
            r#"{"time": "yesterday-afternoon-ish", "severity": "CRITICAL_FAILURE", "msg": "ctlcontrolchars-andéescapes"}"#,
            r#"{"ts": 1765145459.5191, "message": "epoch-stamped messagelike"}"#,
            "plain text trace=abcdef0123456789 done GET /api/orders 200 req-00ab12ffffffff",
            "   spaced-out    Uppercase-WORDINESS\tescaped",
        ];
        let mut parser = crate::jsonl::LineParser::new(vec![("service".into(), "edge-gateway-proxy".into())], 7);
        let rows: Vec<LogRow> = lines.iter().map(|l| parser.parse(l)).collect();
        let mut all = Vec::new();
        group_keys(&rows.iter().collect::<Vec<_>>(), &mut all);
        let all: HashSet<u64> = all.into_iter().collect();
        let mut needles = 0;
        for r in &rows {
            let mut own = Vec::new();
            row_keys(r, &mut own);
            let own: HashSet<u64> = own.into_iter().collect();
            assert!(own.is_subset(&all), "a group's keys hold each of its rows'");
            let line = r.render_line();
            let b = line.as_bytes();
            for i in 0..b.len() {
                for j in i + 1..=b.len().min(i + 40) {
                    let keys = needle_keys(&b[i..j]);
                    needles += usize::from(!keys.is_empty());
                    for key in keys {
                        assert!(own.contains(&key), "{:?} of {line}", String::from_utf8_lossy(&b[i..j]));
                    }
                }
            }
        }
        assert!(needles > 1000, "{needles} needles gave keys");
    }
}
