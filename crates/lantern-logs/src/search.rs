//! The seed's search syntax evaluated on log events. A parsed [`lantern_lucene::Query`]
//! is compiled once into a [`Search`]: a test of an event, a test of a row group's
//! filter (words, identifiers, services, levels it needs), a cheap test of sealed rows'
//! `_time`/`_level`/`_service` and field columns before they are decoded, and the time
//! range its `timestamp:[a TO b]` clauses allow.
//!
//! Matching: `level` and `service` compare the stream's values; `message` the message;
//! `timestamp` (or `@timestamp`, `time`) the event time (bounds are RFC 3339 text or
//! epoch numbers); any other name a field, else a stream label. A word matches a value
//! equal to it (ignoring case), or a run of the value's words; a phrase a run of words;
//! identifiers (see [`crate::model::is_id_field`]) match only whole. Numbers compare as
//! numbers. Free text matches the line or any field. `*`/`?` match a whole value or one
//! word.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use lantern_events::bloom::Bloom;
use lantern_events::RowFilter;
use lantern_lucene::{Query, TermKind};

use crate::jsonl::parse_time;
use crate::model::{is_id_field, LogRow, Value};
use crate::table::col;
use crate::tokens::{id_key, label_key, level_key, service_key, word_key, words};

/// What a search does with a sealed row known to match from its filter columns: given
/// its time and level, true to have it decoded, false when counting it was enough.
pub type Sure = Arc<dyn Fn(i64, &str) -> bool + Send + Sync>;

/// A search that cannot run (a bad range bound, a bad pattern).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Level,
    Service,
    Message,
    Time,
    Any,
    Field(String),
}

fn target(field: Option<&str>) -> Target {
    match field {
        None => Target::Any,
        Some("level") => Target::Level,
        Some("service") => Target::Service,
        Some("message") => Target::Message,
        Some("timestamp" | "@timestamp" | "time") => Target::Time,
        Some(f) => Target::Field(f.to_string()),
    }
}

#[derive(Debug, Clone)]
struct Term {
    target: Target,
    text: String,
    lower: String,
    kind: TermKind,
    /// The term's words, lowercased.
    words: Vec<String>,
    number: Option<f64>,
    time: Option<i64>,
    pattern: Option<regex::Regex>,
}

#[derive(Debug, Clone)]
enum Bound {
    Time(i64),
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone)]
enum Node {
    All,
    Term(Box<Term>),
    Range { target: Target, lo: Option<(Bound, bool)>, hi: Option<(Bound, bool)> },
    Exists(Target),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// A compiled search.
#[derive(Debug, Clone)]
pub struct Search {
    node: Arc<Node>,
}

fn lower_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    words(s, |w| out.push(String::from_utf8_lossy(w).to_lowercase()));
    out
}

fn glob(p: &str) -> Result<regex::Regex, SearchError> {
    let mut re = String::from("(?is)^");
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(e) = chars.next() {
                    re.push_str(&regex::escape(&e.to_string()));
                }
            }
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| SearchError(format!("pattern {p:?}: {e}")))
}

fn bound(target: &Target, b: Option<(String, bool)>) -> Result<Option<(Bound, bool)>, SearchError> {
    let Some((text, incl)) = b else { return Ok(None) };
    let v = if *target == Target::Time {
        Bound::Time(parse_time(&text).ok_or_else(|| SearchError(format!("range bound {text:?} is not a time")))?)
    } else if let Ok(n) = text.parse::<f64>() {
        Bound::Number(n)
    } else {
        Bound::Text(text)
    };
    Ok(Some((v, incl)))
}

fn compile(q: Query) -> Result<Node, SearchError> {
    Ok(match q {
        Query::All => Node::All,
        Query::Term { field, text, kind } => {
            let target = target(field.as_deref());
            let pattern = (kind == TermKind::Wildcard).then(|| glob(&text)).transpose()?;
            Node::Term(Box::new(Term {
                lower: text.to_lowercase(),
                words: lower_words(&text),
                number: text.parse().ok(),
                time: if target == Target::Time { parse_time(&text) } else { None },
                target,
                text,
                kind,
                pattern,
            }))
        }
        Query::Range { field, lo, hi } => {
            let target = target(Some(&field));
            Node::Range { lo: bound(&target, lo)?, hi: bound(&target, hi)?, target }
        }
        Query::Exists(f) => Node::Exists(target(Some(&f))),
        Query::And(v) => Node::And(v.into_iter().map(compile).collect::<Result<_, _>>()?),
        Query::Or(v) => Node::Or(v.into_iter().map(compile).collect::<Result<_, _>>()?),
        Query::Not(q) => Node::Not(Box::new(compile(*q)?)),
    })
}

/// Whether `want` (lowercased words) occur in a row in `text`'s words.
fn has_run(text: &str, want: &[String]) -> bool {
    match want {
        [] => false,
        // One word: compared in place (ASCII case folded), nothing allocated; a value
        // without the word's letters anywhere is passed over at once.
        [w] if w.is_ascii() => {
            if !contains_ci(text.as_bytes(), w.as_bytes()) {
                return false;
            }
            let mut found = false;
            words(text, |x| found = found || x.eq_ignore_ascii_case(w.as_bytes()));
            found
        }
        _ => {
            let mut have: Vec<String> = Vec::new();
            words(text, |w| have.push(String::from_utf8_lossy(w).to_lowercase()));
            have.windows(want.len()).any(|w| w == want)
        }
    }
}

/// Whether `hay` contains `needle` (lowercase ASCII) ignoring ASCII case.
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut at = 0;
    while let Some(i) = memchr::memchr2(lo, up, &hay[at..]) {
        let start = at + i;
        if hay.len() - start < needle.len() {
            return false;
        }
        if hay[start..start + needle.len()].eq_ignore_ascii_case(needle) {
            return true;
        }
        at = start + 1;
    }
    false
}

fn text_matches(t: &Term, text: &str, id: bool) -> bool {
    match (&t.pattern, id) {
        (Some(p), true) => p.is_match(text),
        (Some(p), false) => {
            p.is_match(text) || {
                let mut any = false;
                words(text, |w| any = any || p.is_match(&String::from_utf8_lossy(w)));
                any
            }
        }
        (None, true) => text.eq_ignore_ascii_case(&t.text),
        (None, false) => {
            let whole = t.kind == TermKind::Word
                && if text.is_ascii() { text.eq_ignore_ascii_case(&t.lower) } else { text.to_lowercase() == t.lower };
            whole || has_run(text, &t.words)
        }
    }
}

fn value_matches(t: &Term, v: &Value, id: bool) -> bool {
    match v {
        Value::Null => t.lower == "null",
        Value::Int(_) | Value::Float(_) if t.pattern.is_none() => match t.number {
            Some(n) => v.number() == Some(n),
            None => text_matches(t, &v.text(), id),
        },
        v => text_matches(t, &v.text(), id),
    }
}

fn cmp_bound(v: &Value, b: &Bound) -> Option<std::cmp::Ordering> {
    match b {
        Bound::Number(n) => v.number()?.partial_cmp(n),
        Bound::Text(s) => Some((*v.text()).cmp(s.as_str())),
        Bound::Time(t) => crate::jsonl::value_time(v).map(|x| x.cmp(t)),
    }
}

fn in_range(
    ord_lo: Option<std::cmp::Ordering>,
    ord_hi: Option<std::cmp::Ordering>,
    lo: &Option<(Bound, bool)>,
    hi: &Option<(Bound, bool)>,
) -> bool {
    use std::cmp::Ordering::*;
    let lo_ok = match (lo, ord_lo) {
        (None, _) => true,
        (Some((_, incl)), Some(o)) => o == Greater || (*incl && o == Equal),
        (Some(_), None) => false,
    };
    let hi_ok = match (hi, ord_hi) {
        (None, _) => true,
        (Some((_, incl)), Some(o)) => o == Less || (*incl && o == Equal),
        (Some(_), None) => false,
    };
    lo_ok && hi_ok
}

fn time_cmp(t: i64, b: &Option<(Bound, bool)>) -> Option<std::cmp::Ordering> {
    match b {
        Some((Bound::Time(x), _)) => Some(t.cmp(x)),
        _ => None,
    }
}

fn eval(n: &Node, r: &LogRow) -> bool {
    match n {
        Node::All => true,
        Node::And(v) => v.iter().all(|n| eval(n, r)),
        Node::Or(v) => v.iter().any(|n| eval(n, r)),
        Node::Not(n) => !eval(n, r),
        Node::Term(t) => match &t.target {
            Target::Level => match &t.pattern {
                Some(p) => p.is_match(&r.stream.level),
                None => *r.stream.level == *t.lower,
            },
            Target::Service => match &t.pattern {
                Some(p) => p.is_match(&r.stream.service),
                None => *r.stream.service == *t.text,
            },
            Target::Message => text_matches(t, &r.message(), false),
            Target::Time => t.time == Some(r.time),
            Target::Field(f) => match r.field(f) {
                Some(v) => value_matches(t, v, is_id_field(f)),
                None => r.stream.label(f).is_some_and(|v| text_matches(t, v, true) || text_matches(t, v, false)),
            },
            Target::Any => {
                r.line.as_deref().is_some_and(|l| text_matches(t, l, false))
                    || r.fields
                        .iter()
                        .filter(|(k, _)| !crate::jsonl::TIME_KEYS.contains(&&**k))
                        .any(|(k, v)| value_matches(t, v, is_id_field(k)))
            }
        },
        Node::Range { target, lo, hi } => match target {
            Target::Time => in_range(time_cmp(r.time, lo), time_cmp(r.time, hi), lo, hi),
            Target::Field(f) => {
                let v = r.field(f).cloned().or_else(|| r.stream.label(f).map(|s| Value::Str(s.into())));
                v.is_some_and(|v| {
                    let c = |b: &Option<(Bound, bool)>| b.as_ref().and_then(|(b, _)| cmp_bound(&v, b));
                    in_range(c(lo), c(hi), lo, hi)
                })
            }
            Target::Level | Target::Service | Target::Message | Target::Any => {
                let s = match target {
                    Target::Level => r.stream.level.to_string(),
                    Target::Service => r.stream.service.to_string(),
                    _ => r.message().into_owned(),
                };
                let v = Value::Str(s.into());
                let c = |b: &Option<(Bound, bool)>| b.as_ref().and_then(|(b, _)| cmp_bound(&v, b));
                in_range(c(lo), c(hi), lo, hi)
            }
        },
        Node::Exists(t) => match t {
            Target::Level => !r.stream.level.is_empty(),
            Target::Service => !r.stream.service.is_empty(),
            Target::Message | Target::Time | Target::Any => true,
            Target::Field(f) => r.field(f).is_some_and(|v| *v != Value::Null) || r.stream.label(f).is_some(),
        },
    }
}

fn group_may_match(n: &Node, g: &Bloom) -> bool {
    match n {
        Node::And(v) => v.iter().all(|n| group_may_match(n, g)),
        Node::Or(v) => v.iter().any(|n| group_may_match(n, g)),
        Node::Term(t) if t.pattern.is_none() => {
            // Words of digits alone are not in the filters.
            let words_in = || {
                t.words
                    .iter()
                    .filter(|w| !w.bytes().all(|b| b.is_ascii_digit()))
                    .all(|w| g.may_contain(word_key(w.as_bytes())))
            };
            match &t.target {
                Target::Level => g.may_contain(level_key(&t.lower)),
                Target::Service => g.may_contain(service_key(&t.text)),
                Target::Message => words_in(),
                Target::Time => true,
                Target::Field(f) => {
                    // Numbers, booleans and times are not in the filters (they are
                    // matched by value).
                    t.number.is_some()
                        || matches!(t.lower.as_str(), "true" | "false" | "null")
                        || crate::jsonl::TIME_KEYS.contains(&f.as_str())
                        || g.may_contain(label_key(f, &t.text))
                        || if is_id_field(f) { g.may_contain(id_key(&t.text)) } else { words_in() }
                }
                Target::Any => {
                    t.number.is_some()
                        || matches!(t.lower.as_str(), "true" | "false" | "null")
                        || words_in()
                        || g.may_contain(id_key(&t.text))
                }
            }
        }
        _ => true,
    }
}

/// Three-valued logic for tests on partial rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tri {
    No,
    Yes,
    Maybe,
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

/// A string column of a prefilter batch: plain, or a dictionary (each distinct value
/// once).
enum StrCol<'a> {
    Plain(&'a StringArray),
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> StrCol<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
            return Some(StrCol::Plain(s));
        }
        let d = a.as_any().downcast_ref::<DictionaryArray<Int32Type>>()?;
        Some(StrCol::Dict(d, d.values().as_any().downcast_ref::<StringArray>()?))
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Plain(s) => s.is_valid(i).then(|| s.value(i)),
            StrCol::Dict(d, v) => d.is_valid(i).then(|| v.value(d.keys().value(i) as usize)),
        }
    }

    /// Calls `hit(i)` for each row whose value passes `test`, testing each distinct
    /// value once. With `must` (lowercase ASCII bytes every passing value contains,
    /// ignoring case), a plain column's values are searched for it as one buffer first
    /// and only the rows it occurs in are tested.
    fn each(&self, n: usize, must: Option<&[u8]>, mut test: impl FnMut(&str) -> bool, mut hit: impl FnMut(usize)) {
        match self {
            StrCol::Plain(s) => match must.filter(|m| !m.is_empty()) {
                Some(m) => {
                    let offsets = s.value_offsets();
                    let data = s.value_data();
                    let base = offsets[0] as usize;
                    let end = offsets[n.min(s.len())] as usize;
                    let (lo, up) = (m[0].to_ascii_lowercase(), m[0].to_ascii_uppercase());
                    let mut at = base;
                    let mut last_row = usize::MAX;
                    while at < end {
                        let Some(i) = memchr::memchr2(lo, up, &data[at..end]) else { break };
                        let p = at + i;
                        at = p + 1;
                        if end - p < m.len() || !data[p..p + m.len()].eq_ignore_ascii_case(m) {
                            continue;
                        }
                        // The row whose value holds this position.
                        let row = offsets[..=n].partition_point(|o| (*o as usize) <= p) - 1;
                        if row != last_row && row < n && s.is_valid(row) && test(s.value(row)) {
                            hit(row);
                        }
                        last_row = row;
                    }
                }
                None => {
                    for i in 0..n {
                        if s.is_valid(i) && test(s.value(i)) {
                            hit(i);
                        }
                    }
                }
            },
            StrCol::Dict(d, v) => {
                let per_value: Vec<bool> = (0..v.len()).map(|j| v.is_valid(j) && test(v.value(j))).collect();
                if !per_value.iter().any(|p| *p) {
                    return;
                }
                for i in 0..n {
                    if d.is_valid(i) && per_value[d.keys().value(i) as usize] {
                        hit(i);
                    }
                }
            }
        }
    }
}

fn str_col<'a>(b: &'a RecordBatch, name: &str) -> Option<StrCol<'a>> {
    b.column_by_name(name).and_then(|c| StrCol::of(c.as_ref()))
}

/// The prefilter's columns of one record batch.
struct Cols<'a> {
    time: Option<&'a Int64Array>,
    /// Each row's level: `_level`, else the `level` label of `_labels`.
    levels: Option<Vec<&'a str>>,
    service: Option<StrCol<'a>>,
    batch: &'a RecordBatch,
    /// Per free-text term (by address), each row's answer from every column.
    free: Vec<(*const Term, Vec<Tri>)>,
}

/// Each row's level: `_level` where set, else the level its `_labels` name.
fn row_levels(b: &RecordBatch) -> Option<Vec<&str>> {
    let level = str_col(b, col::LEVEL)?;
    let labels = str_col(b, col::LABELS);
    let mut memo: std::collections::HashMap<&str, &str, foldhash::fast::RandomState> = Default::default();
    let mut dict_levels: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        if let Some(l) = level.get(i) {
            out.push(l);
            continue;
        }
        // Dictionary-coded labels: the level of each distinct value, found once.
        if let Some(StrCol::Dict(d, v)) = &labels {
            if d.is_valid(i) {
                let k = d.keys().value(i) as usize;
                if dict_levels.is_empty() {
                    dict_levels = (0..v.len()).map(|j| label_level(v.value(j))).collect();
                }
                out.push(dict_levels.get(k).copied().unwrap_or(""));
                continue;
            }
        }
        let Some(text) = labels.as_ref().and_then(|l| l.get(i)) else {
            out.push("");
            continue;
        };
        let lv = *memo.entry(text).or_insert_with(|| label_level(text));
        out.push(lv);
    }
    Some(out)
}

/// The `level` label of labels as `_labels` holds them (`{"level":"error",…}`).
fn label_level(text: &str) -> &str {
    text.find("\"level\":\"")
        .map(|at| &text[at + 9..])
        .and_then(|rest| rest.find('"').map(|end| &rest[..end]))
        .unwrap_or("")
}

impl Cols<'_> {
    fn field(&self, f: &str, i: usize) -> Option<Option<Value>> {
        let c = self.batch.column_by_name(&col::field(f))?;
        if c.is_null(i) {
            return None;
        }
        if let Some(s) = StrCol::of(c.as_ref()) {
            return Some(s.get(i).map(|v| Value::Str(v.into())));
        }
        let a = c.as_any();
        if let Some(a) = a.downcast_ref::<Int64Array>() {
            return Some(Some(Value::Int(a.value(i))));
        }
        if let Some(a) = a.downcast_ref::<Float64Array>() {
            return Some(Some(Value::Float(a.value(i))));
        }
        if let Some(a) = a.downcast_ref::<BooleanArray>() {
            return Some(Some(Value::Bool(a.value(i))));
        }
        None
    }
}

fn pre(n: &Node, c: &Cols, i: usize) -> Tri {
    match n {
        Node::All => Tri::Yes,
        Node::And(v) => {
            let mut out = Tri::Yes;
            for n in v {
                match pre(n, c, i) {
                    Tri::No => return Tri::No,
                    Tri::Maybe => out = Tri::Maybe,
                    Tri::Yes => {}
                }
            }
            out
        }
        Node::Or(v) => {
            let mut out = Tri::No;
            for n in v {
                match pre(n, c, i) {
                    Tri::Yes => return Tri::Yes,
                    Tri::Maybe => out = Tri::Maybe,
                    Tri::No => {}
                }
            }
            out
        }
        Node::Not(n) => match pre(n, c, i) {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
        },
        Node::Term(t) => match &t.target {
            Target::Level => c.levels.as_ref().map_or(Tri::Maybe, |a| {
                let l = a[i];
                Tri::from(t.pattern.as_ref().map_or(l == t.lower, |p| p.is_match(l)))
            }),
            Target::Service => c
                .service
                .as_ref()
                .and_then(|a| a.get(i))
                .map_or(Tri::Maybe, |s| Tri::from(t.pattern.as_ref().map_or(s == t.text, |p| p.is_match(s)))),
            Target::Field(f) => match c.field(f, i) {
                // A field with a column of its own; a row without a value there may
                // still have one elsewhere (a stream label).
                Some(Some(v)) => Tri::from(value_matches(t, &v, is_id_field(f))),
                _ => Tri::Maybe,
            },
            Target::Time => c.time.map_or(Tri::Maybe, |a| Tri::from(t.time == Some(a.value(i)))),
            Target::Any => c.free.iter().find(|(p, _)| std::ptr::eq(*p, &**t)).map_or(Tri::Maybe, |(_, v)| v[i]),
            Target::Message => Tri::Maybe,
        },
        Node::Range { target: Target::Time, lo, hi } => c.time.map_or(Tri::Maybe, |a| {
            let t = a.value(i);
            Tri::from(in_range(time_cmp(t, lo), time_cmp(t, hi), lo, hi))
        }),
        _ => Tri::Maybe,
    }
}

/// Whether a free term could match a number or boolean column's value (a word that is
/// no number, `true` or `false` cannot).
fn scalar_text(t: &Term) -> bool {
    t.pattern.is_some()
        || t.number.is_some()
        || matches!(t.lower.as_str(), "true" | "false")
        || t.lower.chars().all(|c| c.is_ascii_digit() || ".-+einfa".contains(c))
}

/// The free-text terms of a query.
fn free_terms<'a>(n: &'a Node, out: &mut Vec<&'a Term>) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| free_terms(n, out)),
        Node::Not(n) => free_terms(n, out),
        Node::Term(t) if t.target == Target::Any => out.push(t),
        _ => {}
    }
}

/// Each row's answer to a free-text term from every column a match could be in: the
/// line, field columns (identifiers whole), numbers by value, and the level when a
/// level field is kept as the stream's. Rows with fields outside the columns
/// (`_rest`) stay unknown where nothing matched.
fn free_text(t: &Term, b: &RecordBatch, levels: Option<&Vec<&str>>) -> Vec<Tri> {
    let n = b.num_rows();
    if t.lower == "null" {
        // Null values are not in the columns' values.
        return vec![Tri::Maybe; n];
    }
    let scalar_text = scalar_text(t);
    let mut out = vec![Tri::No; n];
    fn mark(out: &mut [Tri], hits: impl Iterator<Item = bool>) {
        for (o, h) in out.iter_mut().zip(hits) {
            if h {
                *o = Tri::Yes;
            }
        }
    }
    // A one-word term without wildcards: every value it matches contains the word.
    let must: Option<Vec<u8>> = match (&t.pattern, t.words.as_slice()) {
        (None, [w]) if w.is_ascii() && t.lower.is_ascii() => Some(w.as_bytes().to_vec()),
        _ => None,
    };
    for (idx, f) in b.schema_ref().fields().iter().enumerate() {
        let name = f.name();
        let field = name.strip_prefix('.');
        if field.is_some_and(|f| crate::jsonl::TIME_KEYS.contains(&f)) || (field.is_none() && name != col::LINE) {
            continue;
        }
        let id = field.is_some_and(is_id_field);
        let c = b.column(idx);
        if let Some(s) = StrCol::of(c.as_ref()) {
            // Identifiers match whole: any byte sequence may equal the term, no search.
            let must = if id { None } else { must.as_deref() };
            s.each(n, must, |v| text_matches(t, v, id), |i| out[i] = Tri::Yes);
        } else if !scalar_text {
            continue;
        } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
            mark(&mut out, (0..n).map(|i| a.is_valid(i) && value_matches(t, &Value::Int(a.value(i)), id)));
        } else if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
            mark(&mut out, (0..n).map(|i| a.is_valid(i) && value_matches(t, &Value::Float(a.value(i)), id)));
        } else if let Some(a) = c.as_any().downcast_ref::<BooleanArray>() {
            mark(&mut out, (0..n).map(|i| a.is_valid(i) && value_matches(t, &Value::Bool(a.value(i)), id)));
        }
    }
    if let Some(levels) = levels {
        for (o, l) in out.iter_mut().zip(levels) {
            if *o == Tri::No && !l.is_empty() && text_matches(t, l, false) {
                *o = Tri::Maybe;
            }
        }
    }
    if let Some(rest) = str_col(b, col::REST) {
        for (i, o) in out.iter_mut().enumerate() {
            if *o == Tri::No && rest.get(i).is_some() {
                *o = Tri::Maybe;
            }
        }
    }
    out
}

fn named_fields(n: &Node, out: &mut Vec<String>) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| named_fields(n, out)),
        Node::Not(n) => named_fields(n, out),
        Node::Term(t) => {
            if let Target::Field(f) = &t.target {
                out.push(col::field(f));
            }
        }
        _ => {}
    }
}

/// Narrows `[lo, hi]` by the time ranges every match must be in.
fn narrow(n: &Node, lo: &mut i64, hi: &mut i64) {
    match n {
        Node::And(v) => v.iter().for_each(|n| narrow(n, lo, hi)),
        Node::Range { target: Target::Time, lo: l, hi: h } => {
            if let Some((Bound::Time(t), incl)) = l {
                *lo = (*lo).max(if *incl { *t } else { t.saturating_add(1) });
            }
            if let Some((Bound::Time(t), incl)) = h {
                *hi = (*hi).min(if *incl { *t } else { t.saturating_sub(1) });
            }
        }
        _ => {}
    }
}

impl Search {
    /// Compiles a query text.
    pub fn parse(text: &str) -> Result<Search, SearchError> {
        let q = lantern_lucene::parse(text).map_err(|e| SearchError(e.to_string()))?;
        Search::new(q)
    }

    /// Compiles a parsed query.
    pub fn new(q: Query) -> Result<Search, SearchError> {
        Ok(Search { node: Arc::new(compile(q)?) })
    }

    /// Whether an event matches.
    pub fn matches(&self, r: &LogRow) -> bool {
        eval(&self.node, r)
    }

    /// Whether a row group with this filter may hold a match.
    pub fn group_may_match(&self, g: &Bloom) -> bool {
        group_may_match(&self.node, g)
    }

    /// The time range (ns, inclusive) matches must lie in, within `[lo, hi]`.
    pub fn time_range(&self, mut lo: i64, mut hi: i64) -> (i64, i64) {
        narrow(&self.node, &mut lo, &mut hi);
        (lo, hi)
    }

    /// The prefilter of sealed rows in `[min_t, max_t]`: rows that surely do not match
    /// are not decoded; rows that surely match go to `sure` (with their time and
    /// level), which says whether they are wanted decoded (say, to be shown) or were
    /// only counted; the rest are decoded for the full test.
    pub fn row_filter(&self, min_t: i64, max_t: i64, sure: Sure) -> RowFilter {
        let mut fields = Vec::new();
        named_fields(&self.node, &mut fields);
        let mut columns: Vec<String> =
            vec![col::TIME.into(), col::LEVEL.into(), col::LABELS.into(), col::SERVICE.into()];
        columns.extend(fields);
        let mut free = Vec::new();
        free_terms(&self.node, &mut free);
        if !free.is_empty() {
            // Free text is tested on every field column and the line.
            columns.extend([".*".to_string(), col::LINE.into(), col::REST.into()]);
        }
        let node = self.node.clone();
        // Identifier columns hold whole values: a group whose filter has none of the free
        // terms as an identifier cannot match them there (fields the query names are
        // read whatever the filter says).
        let id_keys: Vec<u64> = free.iter().map(|t| id_key(&t.text)).collect();
        let named: Vec<String> = {
            let mut v = Vec::new();
            named_fields(&self.node, &mut v);
            v
        };
        // Number and boolean columns when no free term could be read as one, and time
        // fields (never matched by free text), are not read either.
        let scalar = free.iter().any(|t| scalar_text(t));
        let skip: Option<lantern_events::ColumnSkip> = (!id_keys.is_empty()).then(|| {
            Arc::new(move |g: &Bloom, column: &str, text: bool| {
                let Some(field) = column.strip_prefix('.') else { return false };
                if named.iter().any(|n| n == column) {
                    return false;
                }
                (is_id_field(field) && !id_keys.iter().any(|k| g.may_contain(*k)))
                    || (!text && !scalar)
                    || crate::jsonl::TIME_KEYS.contains(&field)
            }) as lantern_events::ColumnSkip
        });
        RowFilter {
            columns,
            dictionary: true,
            skip,
            test: Arc::new(move |b: &RecordBatch| {
                let levels = row_levels(b);
                let mut terms = Vec::new();
                free_terms(&node, &mut terms);
                let free = terms.into_iter().map(|t| (t as *const Term, free_text(t, b, levels.as_ref()))).collect();
                let c = Cols {
                    time: b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>()),
                    levels,
                    service: str_col(b, col::SERVICE),
                    batch: b,
                    free,
                };
                (0..b.num_rows())
                    .map(|i| {
                        let t = c.time.map(|a| a.value(i));
                        if t.is_some_and(|t| t < min_t || t > max_t) {
                            return Some(false);
                        }
                        Some(match (pre(&node, &c, i), t) {
                            (Tri::No, _) => false,
                            (Tri::Yes, Some(t)) => sure(t, c.levels.as_ref().map_or("", |l| l[i])),
                            _ => true,
                        })
                    })
                    .collect()
            }),
        }
    }
}
