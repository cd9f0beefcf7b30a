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
//! identifiers (see [`crate::model::IdFields`]) match only whole. Numbers compare as
//! numbers. Free text matches the line or any field. `*`/`?` match a whole value or one
//! word.

use std::sync::Arc;

use lantern_events::bloom::Bloom;
use lantern_events::RowFilter;
use lantern_lucene::{Query, TermKind};

use crate::error::Error;
use crate::jsonl::parse_time;
use crate::model::{indexed_as_id, IdFields, LogRow, Value};
use crate::table::col;
use crate::tokens::{id_key, label_key, level_key, service_key, word_key, words};

mod columns;

/// What a search does with a sealed row known to match from its filter columns: given
/// its time and level, true to have it decoded, false when counting it was enough.
pub type Sure = Arc<dyn Fn(i64, &str) -> bool + Send + Sync>;

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
    /// A pattern that is a prefix and `*` (lowercased): tested without the expression.
    prefix: Option<String>,
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
    /// The fields matched whole.
    ids: IdFields,
    /// What the node asks of the filters.
    keys: Arc<KeyTest>,
}

fn lower_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    words(s, |w| out.push(String::from_utf8_lossy(w).to_lowercase()));
    out
}

fn glob(p: &str) -> Result<regex::Regex, Error> {
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
    regex::Regex::new(&re).map_err(|e| Error::Invalid(format!("pattern {p:?}: {e}")))
}

fn bound(target: &Target, b: Option<(String, bool)>) -> Result<Option<(Bound, bool)>, Error> {
    let Some((text, incl)) = b else { return Ok(None) };
    let v = if *target == Target::Time {
        Bound::Time(parse_time(&text).ok_or_else(|| Error::Invalid(format!("range bound {text:?} is not a time")))?)
    } else if let Ok(n) = text.parse::<f64>() {
        Bound::Number(n)
    } else {
        Bound::Text(text)
    };
    Ok(Some((v, incl)))
}

fn compile(q: Query) -> Result<Node, Error> {
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
                prefix: pattern
                    .is_some()
                    .then(|| text.strip_suffix('*'))
                    .flatten()
                    .filter(|p| !p.is_empty() && !p.contains(['*', '?', '\\']))
                    .map(str::to_lowercase),
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

/// Whether `text` starts with `prefix` (lowercase), ignoring case.
fn starts_ci(text: &str, prefix: &str) -> bool {
    if text.is_ascii() && prefix.is_ascii() {
        text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        text.to_lowercase().starts_with(prefix)
    }
}

fn text_matches(t: &Term, text: &str, id: bool) -> bool {
    if let Some(prefix) = &t.prefix {
        return starts_ci(text, prefix)
            || (!id && {
                let mut any = false;
                words(text, |w| any = any || starts_ci(&String::from_utf8_lossy(w), prefix));
                any
            });
    }
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

fn eval(n: &Node, r: &LogRow, ids: &IdFields) -> bool {
    match n {
        Node::All => true,
        Node::And(v) => v.iter().all(|n| eval(n, r, ids)),
        Node::Or(v) => v.iter().any(|n| eval(n, r, ids)),
        Node::Not(n) => !eval(n, r, ids),
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
                Some(v) => value_matches(t, v, ids.contains(f)),
                None => r.stream.label(f).is_some_and(|v| text_matches(t, v, true) || text_matches(t, v, false)),
            },
            Target::Any => {
                r.line.as_deref().is_some_and(|l| text_matches(t, l, false))
                    || r.fields
                        .iter()
                        .filter(|(k, _)| !crate::jsonl::TIME_KEYS.contains(&&**k))
                        .any(|(k, v)| value_matches(t, v, ids.contains(k)))
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

/// The index keys a matching event has, of a search's node, hashed once: a row
/// group's (or page's) filter lacking them holds no match.
#[derive(Debug, Clone, PartialEq)]
enum KeyTest {
    /// Nothing is known.
    Pass,
    /// This key.
    Key(u64),
    /// All of these.
    All(Vec<KeyTest>),
    /// One of these.
    AnyOf(Vec<KeyTest>),
}

impl KeyTest {
    fn of(n: &Node) -> KeyTest {
        match n {
            Node::And(v) => KeyTest::All(v.iter().map(KeyTest::of).collect()).simplified(),
            Node::Or(v) => KeyTest::AnyOf(v.iter().map(KeyTest::of).collect()).simplified(),
            Node::Term(t) if t.pattern.is_none() => {
                // Words of digits alone are not in the filters.
                let words_in = || {
                    let words = t.words.iter().filter(|w| !w.bytes().all(|b| b.is_ascii_digit()));
                    KeyTest::All(words.map(|w| KeyTest::Key(word_key(w.as_bytes()))).collect())
                };
                // Numbers, booleans and times are not in the filters (they are matched
                // by value).
                let by_value = t.number.is_some() || matches!(t.lower.as_str(), "true" | "false" | "null");
                let test = match &t.target {
                    Target::Level => KeyTest::Key(level_key(&t.lower)),
                    Target::Service => KeyTest::Key(service_key(&t.text)),
                    Target::Message => words_in(),
                    Target::Time => KeyTest::Pass,
                    Target::Field(f) if by_value || crate::jsonl::TIME_KEYS.contains(&f.as_str()) => KeyTest::Pass,
                    // Identifiers are in the filters whole; an older segment (or another
                    // spelling) may hold them word by word.
                    Target::Field(f) => KeyTest::AnyOf(vec![
                        match indexed_as_id(f) {
                            true => KeyTest::Key(id_key(&t.text)),
                            false => KeyTest::AnyOf(Vec::new()),
                        },
                        KeyTest::Key(label_key(f, &t.text)),
                        words_in(),
                    ]),
                    Target::Any if by_value => KeyTest::Pass,
                    Target::Any => KeyTest::AnyOf(vec![words_in(), KeyTest::Key(id_key(&t.text))]),
                };
                test.simplified()
            }
            _ => KeyTest::Pass,
        }
    }

    /// The same test without empty or single-member lists, nor members that pass.
    fn simplified(self) -> KeyTest {
        match self {
            KeyTest::All(v) => {
                let mut v: Vec<KeyTest> =
                    v.into_iter().map(KeyTest::simplified).filter(|t| *t != KeyTest::Pass).collect();
                match v.len() {
                    0 => KeyTest::Pass,
                    1 => v.remove(0),
                    _ => KeyTest::All(v),
                }
            }
            KeyTest::AnyOf(v) => {
                let mut v: Vec<KeyTest> = v
                    .into_iter()
                    .map(KeyTest::simplified)
                    // An empty list of choices: none can hold.
                    .filter(|t| *t != KeyTest::AnyOf(Vec::new()))
                    .collect();
                if v.contains(&KeyTest::Pass) {
                    return KeyTest::Pass;
                }
                match v.len() {
                    1 => v.remove(0),
                    _ => KeyTest::AnyOf(v),
                }
            }
            t => t,
        }
    }

    fn may_match(&self, g: &Bloom) -> bool {
        match self {
            KeyTest::Pass => true,
            KeyTest::Key(k) => g.may_contain(*k),
            KeyTest::All(v) => v.iter().all(|t| t.may_match(g)),
            KeyTest::AnyOf(v) => v.iter().any(|t| t.may_match(g)),
        }
    }
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
        Node::Range { target: Target::Field(f), .. } | Node::Exists(Target::Field(f)) => out.push(col::field(f)),
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
    /// Compiles a query text, with the default identifier fields.
    pub fn parse(text: &str) -> Result<Search, Error> {
        Search::parse_with(text, IdFields::default())
    }

    /// Compiles a query text; `ids` are the fields matched whole (the store's).
    pub fn parse_with(text: &str, ids: IdFields) -> Result<Search, Error> {
        let q = lantern_lucene::parse(text).map_err(|e| Error::Invalid(e.to_string()))?;
        let node = compile(q)?;
        Ok(Search { keys: Arc::new(KeyTest::of(&node)), node: Arc::new(node), ids })
    }

    /// Compiles a parsed query, with the default identifier fields.
    pub fn new(q: Query) -> Result<Search, Error> {
        let node = compile(q)?;
        Ok(Search { keys: Arc::new(KeyTest::of(&node)), node: Arc::new(node), ids: IdFields::default() })
    }

    /// Whether an event matches.
    pub fn matches(&self, r: &LogRow) -> bool {
        eval(&self.node, r, &self.ids)
    }

    /// Whether a row group with this filter may hold a match.
    pub fn group_may_match(&self, g: &Bloom) -> bool {
        self.keys.may_match(g)
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
        columns::row_filter(&self.node, &self.ids, min_t, max_t, sure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keys: &[u64]) -> Bloom {
        let mut b = Bloom::with_capacity(keys.len());
        keys.iter().for_each(|k| b.insert(*k));
        b
    }

    #[test]
    fn a_search_asks_the_filters_for_the_keys_its_matches_have() {
        let q = |s: &str| Search::parse(s).unwrap();
        let page = filter(&[id_key("req-1"), level_key("error"), word_key(b"card"), word_key(b"declined")]);
        let may = |s: &str| q(s).group_may_match(&page);
        assert!(may("request_id:req-1"));
        assert!(!may("request_id:req-2"));
        assert!(may("level:error") && !may("level:info"));
        assert!(may("card declined") && !may("card accepted"));
        assert!(may("\"card declined\" AND level:error"));
        assert!(!may("card AND level:info"));
        assert!(may("level:info OR request_id:req-1"));
        assert!(!may("level:info OR request_id:req-2"));
        // Numbers, times, negations and patterns are not in the filters.
        assert!(may("status:500") && may("NOT level:info") && may("user_id:user-4*") && may("_exists_:attempt"));
        assert!(may("level:info OR status:500"));
        // A field's value may be in the filters as its words (a field not taken whole).
        assert!(may("message:declined") && !may("message:accepted"));
        let parsed = lantern_lucene::parse("status:500 AND 123").unwrap();
        assert_eq!(KeyTest::of(&compile(parsed).unwrap()), KeyTest::Pass);
    }
}
