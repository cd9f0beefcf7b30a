//! What a LogQL pipeline tells of sealed rows before they are decoded: its line filters
//! (`|=`, `!=`, and the literals every `|~` match holds) tested on the columns a line is
//! written from, and label filters after `| json` tested on the field columns they
//! read. A row the test rules out is never decoded or rendered; the rest are, and the
//! pipeline decides.
//!
//! A JSON event's line is its fields written as one object, so a needle without JSON's
//! punctuation (`" \ : , { } [ ]`, control characters, spaces at its ends) lies inside
//! one key or one value: it is searched in each string column's values, the field
//! names (`_keys`) and the other fields (`_rest`), and is unknown where it could be
//! part of a number, `true`/`false`/`null`, a time written back from `_time`, or text
//! an escape changed. A text event's line is `_line` itself: exact.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use memchr::memmem::Finder;

use super::pipeline::{sanitize, LabelMatcher};
use crate::table::col;
use crate::tokens::needle_keys;

/// The most labels rows surely kept may be read for (see [`Prefilter::with_labels`]).
pub const MAX_LABELS: usize = 6;

/// Whether a row holds a needle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tri {
    No,
    Maybe,
    Yes,
}

/// One needle and what is known of where it can occur.
struct Needle {
    /// The needle, for text lines (`_line`).
    whole: Finder<'static>,
    /// The needle without spaces at its ends, for JSON lines' keys and values (spaces
    /// there may be a separator's): found, it only says the line may hold the needle.
    finder: Finder<'static>,
    /// Whether spaces were taken off.
    trimmed: bool,
    /// Lies inside one key or value of a JSON line (see the module's note).
    atomic: bool,
    /// Could be (part of) a number, boolean, null or time as JSON lines write them.
    literal: bool,
    /// Could start inside an escape (`\n`, `\u001f`): values holding escaped bytes are
    /// unknown.
    after_escape: bool,
    /// Could begin inside a `_keys` entry's time-style marker.
    marker: bool,
}

impl Needle {
    fn new(whole: &str) -> Needle {
        let s = whole.trim_matches(' ');
        let atomic = !s.is_empty() && !s.bytes().any(|b| b < 0x20 || b"\"\\:,{}[]".contains(&b));
        let literal = s.bytes().all(|b| b"0123456789+-.eETZ".contains(&b))
            || ["true", "false", "null", "NaN", "Infinity"].iter().any(|l| l.contains(s));
        let first = s.as_bytes().first().copied().unwrap_or(b'0');
        Needle {
            whole: Finder::new(whole.as_bytes()).into_owned(),
            finder: Finder::new(s.as_bytes()).into_owned(),
            trimmed: s.len() != whole.len(),
            atomic,
            literal,
            after_escape: b"nrtu0123456789abcdef".contains(&first),
            marker: first.is_ascii_digit() || s.contains("u000"),
        }
    }
}

/// A line filter pushed down.
enum LineStage {
    /// `|= a or b`: a row holding none is out.
    Contains(Vec<Needle>),
    /// What every match of `|~` holds: a row holding none is out; one holding one is
    /// still tested.
    Required(Vec<Needle>),
    /// `!= a or b`: a row surely holding one is out.
    NotContains(Vec<Needle>),
}

/// What a pipeline's stages rule out of sealed rows.
#[derive(Default)]
pub struct Prefilter {
    lines: Vec<LineStage>,
    /// Label matchers after `| json` on fields (every row passing has them true).
    json: Vec<LabelMatcher>,
    /// Whether the pipeline is `|=`/`!=` filters and nothing else: a row they surely
    /// keep is an entry of its stream's labels, known without decoding it.
    whole: bool,
    /// Whether the pipeline is `|=`/`!=` filters, `| json` of the whole line and label
    /// matchers, each pushed down.
    json_whole: bool,
    /// With `json_whole`, the labels a caller reads of the rows the prefilter surely
    /// keeps (see [`Prefilter::with_labels`]).
    labels: Option<Vec<String>>,
    /// What the prefilter tests, written out (see [`Prefilter::condition`]).
    condition: String,
}

/// The literals every match of a regular expression holds one of (matches are found
/// anywhere in a line, so each starts with one of its prefixes); `None` when unknown.
fn required_literals(re: &str) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::Parser::new().parse(re).ok()?;
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix);
    let seq = ex.extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > 16 {
        return None;
    }
    lits.iter().map(|l| std::str::from_utf8(l.as_bytes()).ok().filter(|s| !s.is_empty()).map(str::to_string)).collect()
}

/// What every match of these alternative expressions (`|~ "a" or "b"`) holds one of;
/// empty when any of them says nothing. Literals sharing a prefix (`after [0-9]` gives
/// ten) are searched as that prefix, once.
fn regex_needles(res: &[String]) -> Vec<String> {
    let mut all = Vec::new();
    for re in res {
        match required_literals(re) {
            Some(l) => all.extend(l),
            None => return Vec::new(),
        }
    }
    if let Some((first, others)) = all.split_first().filter(|(_, o)| !o.is_empty()) {
        let mut n = first.len();
        for l in others {
            n = n.min(first.bytes().zip(l.bytes()).take_while(|(a, b)| a == b).count());
        }
        while !first.is_char_boundary(n) {
            n -= 1;
        }
        if n >= 3 {
            return vec![first[..n].to_string()];
        }
    }
    all
}

/// The parts of a pipeline a prefilter can test (built by [`super::pipeline::Pipeline`]).
pub enum Pushed<'a> {
    /// `|=`.
    Contains(&'a [String]),
    /// `!=`.
    NotContains(&'a [String]),
    /// `|~` (the expressions' texts).
    Match(Vec<String>),
    /// A label matcher after `| json` (with no expressions) on a field.
    JsonLabel(&'a LabelMatcher),
}

impl Prefilter {
    /// The prefilter of these pushed-down parts; `whole` when they are the pipeline.
    pub fn new(parts: Vec<Pushed>, whole: bool, json_whole: bool) -> Prefilter {
        let mut p = Prefilter { whole, json_whole, condition: format!("whole={whole} "), ..Prefilter::default() };
        for part in parts {
            p.condition.push_str(&match &part {
                Pushed::Contains(v) => format!("|= {v:?} "),
                Pushed::NotContains(v) => format!("!= {v:?} "),
                Pushed::Match(v) => format!("|~ {v:?} "),
                Pushed::JsonLabel(m) => format!("| json | {m:?} "),
            });
            match part {
                Pushed::Contains(v) => p.lines.push(LineStage::Contains(v.iter().map(|s| Needle::new(s)).collect())),
                Pushed::NotContains(v) => {
                    p.lines.push(LineStage::NotContains(v.iter().map(|s| Needle::new(s)).collect()))
                }
                Pushed::Match(res) => {
                    let needles = regex_needles(&res);
                    if !needles.is_empty() {
                        p.lines.push(LineStage::Required(needles.iter().map(|s| Needle::new(s)).collect()));
                    }
                }
                Pushed::JsonLabel(m) => {
                    let n = m.name.as_str();
                    let derived = crate::jsonl::TIME_KEYS.contains(&n) || crate::jsonl::LEVEL_KEYS.contains(&n);
                    if !n.starts_with("__") && !derived {
                        p.json.push(m.clone());
                    } else {
                        p.json_whole = false;
                    }
                }
            }
        }
        p
    }

    /// With a pipeline of `|=`/`!=` filters, `| json` and label matchers, rows it surely
    /// keeps are known too, as entries whose labels `labels` (besides the stream's)
    /// come from the field columns of those names: a row is not sure when one of them
    /// would come from elsewhere (a stream label, another column, a number, `_rest`).
    pub fn with_labels(mut self, labels: Option<Vec<String>>) -> Prefilter {
        let plain = |n: &String| {
            !n.starts_with("__")
                && !n.ends_with("_extracted")
                && n != "detected_level"
                && !crate::jsonl::TIME_KEYS.contains(&n.as_str())
                && !crate::jsonl::LEVEL_KEYS.contains(&n.as_str())
        };
        let labels = labels.map(|mut l| {
            l.sort();
            l.dedup();
            l
        });
        if let Some(l) = labels.filter(|l| self.json_whole && l.len() <= MAX_LABELS && l.iter().all(plain)) {
            self.condition.push_str(&format!("json labels {l:?}"));
            self.labels = Some(l);
        }
        self
    }

    /// The labels rows surely kept are read for (see [`Prefilter::with_labels`]).
    pub fn labels(&self) -> Option<&[String]> {
        self.labels.as_deref()
    }

    /// What the prefilter tests, written out: two prefilters with the same condition
    /// rule out the same rows.
    pub fn condition(&self) -> &str {
        &self.condition
    }

    /// Index keys every row the line filters keep has (see [`needle_keys`]): of each
    /// `|=` of one needle, and of each `|~` whose matches all start with one literal.
    pub fn keys(&self) -> Vec<u64> {
        let mut keys = Vec::new();
        for stage in &self.lines {
            if let LineStage::Contains(n) | LineStage::Required(n) = stage {
                if let [one] = &n[..] {
                    keys.extend(needle_keys(one.whole.needle()));
                }
            }
        }
        keys
    }

    /// Whether the prefilter tests anything.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.json.is_empty()
    }

    /// Whether the test reads a field column (`.name`) for its value (a label matcher's,
    /// or one of the labels rows surely kept are read for).
    pub fn tests_field(&self, column: &str) -> bool {
        column.strip_prefix('.').is_some_and(|k| {
            let k = sanitize(k);
            self.json.iter().any(|m| m.name == k) || self.labels.iter().flatten().any(|l| *l == k)
        })
    }

    /// The columns the test reads.
    pub fn columns(&self) -> Vec<String> {
        let mut c = vec![col::LABELS.to_string(), col::LINE.into(), col::REST.into()];
        if !self.lines.is_empty() {
            c.extend([col::KEYS.to_string(), col::LEVEL.into()]);
        }
        c.push(".*".into());
        c
    }

    /// Whether rows can be known to pass the whole pipeline (see [`Prefilter::test`]).
    pub fn can_be_sure(&self) -> bool {
        self.whole || self.labels.is_some()
    }

    /// Clears `keep[i]` of each row of the batch the pipeline surely drops; with
    /// `sure`, sets `sure[i]` of each row it surely keeps as an entry of its stream's
    /// labels and nothing else, or with `| json`, of those and the fields `labels`
    /// names read from their columns (only when [`Prefilter::can_be_sure`]).
    pub fn test(&self, b: &RecordBatch, keep: &mut [bool], mut sure: Option<&mut [bool]>) {
        let n = b.num_rows();
        // Plain or dictionary-coded.
        let line = b.column_by_name(col::LINE).map(|c| c.as_ref());
        let text_row = |i: usize| line.is_some_and(|l| l.is_valid(i));
        if let Some(sure) = sure.as_deref_mut() {
            if let Some(labels) = self.labels.as_deref().filter(|_| !self.whole) {
                // JSON events whose fields are all in columns, the labels read from
                // columns of their names.
                for (i, s) in sure.iter_mut().enumerate() {
                    *s = !text_row(i);
                }
                for l in labels {
                    json_label_sure(l, b, sure);
                }
            } else {
                // A text line with fields has them as labels; other rows only their stream's.
                let keys = b.column_by_name(col::KEYS);
                for (i, s) in sure.iter_mut().enumerate() {
                    *s = self.whole && !(text_row(i) && keys.is_some_and(|k| k.is_valid(i)));
                }
            }
        }
        for stage in &self.lines {
            let (needles, contains, exact) = match stage {
                LineStage::Contains(v) => (v, true, true),
                LineStage::Required(v) => (v, true, false),
                LineStage::NotContains(v) => (v, false, true),
            };
            let found = found(needles, b, n, line, &text_row);
            for (i, (k, f)) in keep.iter_mut().zip(found).enumerate() {
                if (contains && f == Tri::No) || (!contains && f == Tri::Yes) {
                    *k = false;
                }
                let passes = exact && if contains { f == Tri::Yes } else { f == Tri::No };
                if let Some(s) = sure.as_deref_mut() {
                    s[i] = s[i] && passes;
                }
            }
        }
        for m in &self.json {
            json_label(m, b, n, &text_row, keep, sure.as_deref_mut());
        }
    }
}

/// Row `i`'s value of a string column, plain or dictionary-coded (`None` if null or
/// not text).
pub fn str_at(a: &dyn Array, i: usize) -> Option<&str> {
    if !a.is_valid(i) {
        return None;
    }
    if let Some(s) = a.as_string_opt::<i32>() {
        return Some(s.value(i));
    }
    let d = a.as_dictionary_opt::<Int32Type>()?;
    d.values().as_string_opt::<i32>().map(|v| v.value(d.keys().value(i) as usize))
}

/// Calls `hit(i, exact)` for each row whose value of a string column holds the needle;
/// `exact` is false where an escape could have changed what the line shows (unless the
/// values are JSON text already: `json`).
fn search_strings(a: &dyn Array, needle: &Needle, n: usize, json: bool, hit: impl FnMut(usize, bool)) {
    search_with(a, &needle.finder, needle.after_escape && !json, n, hit)
}

/// [`search_strings`] with this finder, `after_escape` telling whether values holding
/// escaped bytes are unknown.
fn search_with(a: &dyn Array, finder: &Finder, after_escape: bool, n: usize, mut hit: impl FnMut(usize, bool)) {
    let escaped = |v: &[u8]| v.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    if let Some(s) = a.as_string_opt::<i32>() {
        let offsets = s.value_offsets();
        let data = s.value_data();
        let (start, end) = (offsets[0] as usize, offsets[n.min(s.len())] as usize);
        let len = finder.needle().len();
        let mut at = start;
        while let Some(i) = finder.find(&data[at..end]) {
            let p = at + i;
            let row = offsets[..=n].partition_point(|o| (*o as usize) <= p) - 1;
            let row_end = offsets[row + 1] as usize;
            if p + len <= row_end {
                if s.is_valid(row) {
                    hit(row, true);
                }
                // The next row.
                at = row_end.max(p + 1);
            } else {
                at = p + 1;
            }
        }
        // Most columns hold no byte that JSON escapes: one pass over their text says so.
        if after_escape && any_escaped(&data[start..end]) {
            for i in 0..n {
                if s.is_valid(i) && escaped(s.value(i).as_bytes()) {
                    hit(i, false);
                }
            }
        }
    } else if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
        let Some(v) = d.values().as_any().downcast_ref::<StringArray>() else { return };
        let per_value: Vec<Option<bool>> = (0..v.len())
            .map(|j| {
                let x = v.value(j).as_bytes();
                if finder.find(x).is_some() {
                    Some(true)
                } else if after_escape && escaped(x) {
                    Some(false)
                } else {
                    None
                }
            })
            .collect();
        if per_value.iter().all(Option::is_none) {
            return;
        }
        for i in 0..n {
            if d.is_valid(i) {
                if let Some(e) = per_value[d.keys().value(i) as usize] {
                    hit(i, e);
                }
            }
        }
    }
}

/// Whether any byte of `b` is one JSON escapes (a control byte, `"` or `\\`), tested a
/// block at a time without branching per byte.
fn any_escaped(b: &[u8]) -> bool {
    let escaped = |x: u8| (x < 0x20) | (x == b'"') | (x == b'\\');
    let mut blocks = b.chunks_exact(64);
    blocks.by_ref().any(|c| c.iter().fold(false, |acc, &x| acc | escaped(x)))
        || blocks.remainder().iter().any(|&x| escaped(x))
}

/// Per row, whether its line holds one of the needles.
fn found(
    needles: &[Needle],
    b: &RecordBatch,
    n: usize,
    line: Option<&dyn Array>,
    text_row: &dyn Fn(usize) -> bool,
) -> Vec<Tri> {
    let mut out = vec![Tri::No; n];
    let mark = |out: &mut [Tri], i: usize, t: Tri| {
        if t > out[i] {
            out[i] = t;
        }
    };
    let all_known = needles.iter().all(|x| x.atomic && !x.literal);
    for needle in needles {
        // Text events: the line is `_line`.
        if let Some(l) = line {
            search_with(l, &needle.whole, false, n, |i, _| mark(&mut out, i, Tri::Yes));
        }
        if !all_known {
            continue;
        }
        let schema = b.schema_ref();
        for (idx, f) in schema.fields().iter().enumerate() {
            let name = f.name();
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::Dictionary(_, _));
            if !text {
                continue;
            }
            if name.starts_with('.') || name == col::REST {
                search_strings(b.column(idx).as_ref(), needle, n, name == col::REST, |i, exact| {
                    mark(&mut out, i, if exact && !needle.trimmed { Tri::Yes } else { Tri::Maybe })
                });
            } else if name == col::KEYS {
                // Already written as JSON: exact, but for the time-style markers.
                let t = if needle.marker || needle.trimmed { Tri::Maybe } else { Tri::Yes };
                search_strings(b.column(idx).as_ref(), needle, n, true, |i, _| mark(&mut out, i, t));
            } else if name == col::LEVEL || name == col::LABELS {
                // A level field written back from the stream's level.
                search_strings(b.column(idx).as_ref(), needle, n, true, |i, _| mark(&mut out, i, Tri::Maybe));
            }
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        if !text_row(i) && !all_known {
            *o = Tri::Maybe;
        }
    }
    out
}

/// Clears `sure[i]` of rows whose label `name` after `| json` would be neither a stream
/// label of theirs (the field then takes `<name>_extracted`) nor the value of column
/// `.name` (a string) or absent: a number, or a value in another column of that label
/// name.
fn json_label_sure(name: &str, b: &RecordBatch, sure: &mut [bool]) {
    let exact = format!(".{name}");
    let stream = StreamLabel::new(b, name);
    let stream_named = |i: usize| stream.named(i).unwrap_or(false);
    // Fields outside the columns (`_rest`) making that label.
    let mut in_rest = RestLabels::new(b, name);
    for (i, s) in sure.iter_mut().enumerate() {
        *s = *s && (stream_named(i) || !in_rest.holds(i));
    }
    for (idx, f) in b.schema_ref().fields().iter().enumerate() {
        let Some(field) = f.name().strip_prefix('.') else { continue };
        let text = matches!(f.data_type(), DataType::Utf8 | DataType::Dictionary(_, _));
        if sanitize(field) != name || (f.name() == &exact && text) {
            continue;
        }
        let c = b.column(idx);
        for (i, s) in sure.iter_mut().enumerate() {
            *s = *s && (!c.is_valid(i) || stream_named(i));
        }
    }
}

/// Whether a row's stream has a label of a name (its `_labels` text holds `"name":`).
struct StreamLabel<'a> {
    labels: Option<&'a Arc<dyn Array>>,
    key: Finder<'static>,
}

impl<'a> StreamLabel<'a> {
    fn new(b: &'a RecordBatch, name: &str) -> Self {
        let mut k = String::new();
        crate::model::write_json_str(name, &mut k);
        k.push(':');
        StreamLabel { labels: b.column_by_name(col::LABELS), key: Finder::new(k.as_bytes()).into_owned() }
    }

    /// `None` when the labels are there but not text.
    fn named(&self, i: usize) -> Option<bool> {
        match self.labels {
            Some(l) if l.is_valid(i) => str_at(l.as_ref(), i).map(|t| self.key.find(t.as_bytes()).is_some()),
            _ => Some(false),
        }
    }
}

/// Whether a row's fields outside the columns (`_rest`) make a label of a name as
/// `| json` makes them (each distinct `_rest` read once; unreadable ones do).
struct RestLabels<'a> {
    rest: Option<&'a Arc<dyn Array>>,
    name: &'a str,
    memo: HashMap<&'a str, bool>,
}

impl<'a> RestLabels<'a> {
    fn new(b: &'a RecordBatch, name: &'a str) -> Self {
        RestLabels { rest: b.column_by_name(col::REST), name, memo: HashMap::new() }
    }

    fn holds(&mut self, i: usize) -> bool {
        let Some(text) = self.rest.and_then(|r| str_at(r.as_ref(), i)) else { return false };
        let name = self.name;
        *self.memo.entry(text).or_insert_with(|| match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                let mut labels = Vec::new();
                super::pipeline::flatten_json("", &v, &mut labels);
                labels.iter().any(|(n, _)| n == name)
            }
            Err(_) => true,
        })
    }
}

/// Clears `keep` for rows whose field the matcher tests (as `| json` makes it a label)
/// surely fails it; with `sure`, clears `sure[i]` of rows it does not surely pass.
fn json_label(
    m: &LabelMatcher,
    b: &RecordBatch,
    n: usize,
    text_row: &dyn Fn(usize) -> bool,
    keep: &mut [bool],
    mut sure: Option<&mut [bool]>,
) {
    // `<name>_extracted` is field `<name>`'s label where a stream label has its name:
    // not worked out here.
    if m.name.ends_with("_extracted") {
        sure.iter_mut().for_each(|s| s.iter_mut().for_each(|s| *s = false));
        return;
    }
    let schema = b.schema_ref();
    let sources: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().strip_prefix('.').is_some_and(|k| sanitize(k) == m.name))
        .map(|(i, _)| i)
        .collect();
    // A stream label of that name makes the field `<name>_extracted`: the matcher then
    // tests the stream's label.
    let stream = StreamLabel::new(b, &m.name);
    let label_named = |i: usize| stream.named(i).unwrap_or(true);
    let absent_passes = m.matches("");
    let mut memo: std::collections::HashMap<String, bool> = Default::default();
    let mut unsure = |i: usize| {
        if let Some(s) = sure.as_deref_mut() {
            s[i] = false;
        }
    };
    let mut in_rest = RestLabels::new(b, &m.name);
    for (i, k) in keep.iter_mut().enumerate().take(n) {
        if !*k || text_row(i) || label_named(i) || in_rest.holds(i) {
            unsure(i);
            continue;
        }
        let mut value: Option<Option<String>> = None;
        let mut several = false;
        for &c in &sources {
            let a = b.column(c);
            if !a.is_valid(i) {
                continue;
            }
            if value.is_some() {
                several = true;
                break;
            }
            let text = str_at(a.as_ref(), i).map(str::to_string);
            value = Some(text);
        }
        if several {
            unsure(i);
            continue;
        }
        let passes = match value {
            None => absent_passes,
            Some(Some(v)) => *memo.entry(v).or_insert_with_key(|v| m.matches(v)),
            // A number or boolean: its text is not worked out here.
            Some(None) => {
                unsure(i);
                true
            }
        };
        if !passes {
            *k = false;
            unsure(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_bytes_are_found_in_every_block_and_the_remainder() {
        for len in [0, 1, 63, 64, 65, 200] {
            assert!(!any_escaped(&vec![b'a'; len]));
            for at in 0..len {
                for b in [b'"', b'\\', b'\n', 0x1f] {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert!(any_escaped(&v), "{len} {at} {b}");
                }
            }
        }
    }

    #[test]
    fn needles_inside_one_value_are_known() {
        assert!(Needle::new("Insufficient").atomic);
        assert!(Needle::new("req-00ab").atomic);
        assert!(!Needle::new("\"status\": 500").atomic);
        // Spaces at the ends may be a separator's: the rest is searched, and found only
        // says "maybe".
        assert!(Needle::new(" 500").trimmed && Needle::new(" 500").literal);
        assert!(Needle::new("timeout after ").atomic && Needle::new("timeout after ").trimmed);
        assert!(!Needle::new("a,b").atomic);
        assert!(Needle::new("500").literal);
        assert!(Needle::new("ru").literal);
        assert!(Needle::new("2026-12-07T01").literal);
        assert!(!Needle::new("timeout").literal);
    }

    #[test]
    fn a_regular_expressions_prefixes_are_required() {
        let digits = required_literals("upstream timeout after [0-9]+s").unwrap();
        assert_eq!(digits.len(), 10);
        assert!(digits.iter().all(|l| l.starts_with("upstream timeout after ")));
        assert_eq!(required_literals("(foo|bar)baz"), Some(vec!["foobaz".into(), "barbaz".into()]));
        assert_eq!(required_literals(".*x"), None);
        assert_eq!(required_literals("a?"), None);
    }

    #[test]
    fn one_needle_of_a_stage_gives_its_keys() {
        let key = |w: &str| crate::tokens::word_key(w.as_bytes());
        let id = ["req-dc1b77ae0bf3".to_string()];
        let keys = |parts| Prefilter::new(parts, true, false).keys();
        assert_eq!(keys(vec![Pushed::Contains(&id)]), [key("dc1b77ae")]);
        assert_eq!(keys(vec![Pushed::Match(vec!["order-shipped_today [0-9]+".into()])]), [key("shipped_")]);
        // Either of two needles, a needle a row must lack, several literals: none.
        let two = ["req-dc1b77ae0bf3".to_string(), "x-abcdefghij".to_string()];
        assert!(keys(vec![Pushed::Contains(&two)]).is_empty());
        assert!(keys(vec![Pushed::NotContains(&id)]).is_empty());
        assert!(keys(vec![Pushed::Match(vec!["(?i)req-dc1b77ae0bf3".into()])]).is_empty());
    }
}
