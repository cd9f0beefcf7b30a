//! The column prefilter of a search: on a row group's `_time`, `_level`/`_labels`,
//! `_service` and field columns (strings as dictionaries, each distinct value tested
//! once), each row is surely out, surely in (counted, decoded only if wanted), or
//! unknown (decoded and tested whole).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use lantern_events::bloom::Bloom;
use lantern_events::{Met, RowFilter, Tested};

use super::{
    cmp_bound, in_range, named_fields, text_matches, time_cmp, value_matches, Bound, Node, Sure, Target, Term,
};
use crate::model::{indexed_as_id, IdFields, Value};
use crate::table::col;
use crate::tokens::id_key;

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

    /// Each row's `test` of its value (a dictionary's distinct values tested once), or
    /// `null` of the row where it has none.
    fn per_row<T: Copy>(&self, n: usize, mut test: impl FnMut(&str) -> T, null: impl Fn(usize) -> T) -> Vec<T> {
        match self {
            StrCol::Plain(s) => (0..n).map(|i| if s.is_valid(i) { test(s.value(i)) } else { null(i) }).collect(),
            StrCol::Dict(d, v) => {
                let per_value: Vec<Option<T>> = (0..v.len()).map(|j| v.is_valid(j).then(|| test(v.value(j)))).collect();
                (0..n)
                    .map(|i| match d.is_valid(i) {
                        true => per_value.get(d.keys().value(i) as usize).copied().flatten().unwrap_or_else(|| null(i)),
                        false => null(i),
                    })
                    .collect()
            }
        }
    }

    /// Calls `hit(i)` for each row whose value passes `test`, testing each distinct
    /// value once. With `must` (lowercase ASCII bytes every passing value contains,
    /// ignoring case), a plain column's values are searched for it as one buffer first
    /// and only the rows it occurs in are tested.
    fn each(&self, n: usize, must: Option<&[u8]>, test: impl FnMut(&str) -> bool, mut hit: impl FnMut(usize)) {
        match self {
            StrCol::Plain(s) => passing(s, n, must, test, hit),
            StrCol::Dict(d, v) => {
                let mut per_value = vec![false; v.len()];
                passing(v, v.len(), must, test, |j| per_value[j] = true);
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

/// Calls `hit(i)` for each of the first `n` values that passes `test`. With `must`
/// (lowercase ASCII bytes every passing value contains, ignoring case), the values are
/// searched for it as one buffer first and only those it occurs in are tested.
fn passing(
    s: &StringArray,
    n: usize,
    must: Option<&[u8]>,
    mut test: impl FnMut(&str) -> bool,
    mut hit: impl FnMut(usize),
) {
    let n = n.min(s.len());
    let Some(m) = must.filter(|m| !m.is_empty()) else {
        for i in 0..n {
            if s.is_valid(i) && test(s.value(i)) {
                hit(i);
            }
        }
        return;
    };
    let offsets = s.value_offsets();
    let data = s.value_data();
    let base = offsets[0] as usize;
    let end = offsets[n] as usize;
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

fn str_col<'a>(b: &'a RecordBatch, name: &str) -> Option<StrCol<'a>> {
    b.column_by_name(name).and_then(|c| StrCol::of(c.as_ref()))
}

/// The prefilter's columns of one record batch.
struct Cols<'a> {
    time: Option<&'a Int64Array>,
    /// Each row's level: `_level`, else the `level` label of `_labels`.
    levels: Option<&'a [&'a str]>,
    service: Option<StrCol<'a>>,
    batch: &'a RecordBatch,
    /// Per free-text term (by address), each row's answer from every column.
    free: Vec<(*const Term, Vec<Tri>)>,
    /// Per term, range or `_exists_` of a field (by address), each row's answer from
    /// the field's column.
    nodes: Vec<(*const Node, Vec<Tri>)>,
    /// The fields matched whole.
    ids: &'a IdFields,
    /// Per field the search names, where each row may have it other than in its own
    /// column.
    elsewhere: Vec<(String, Vec<Place>)>,
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
    /// Row `i`'s answer to a term, range or `_exists_` of a field.
    fn field(&self, n: &Node, i: usize) -> Tri {
        self.nodes.iter().find(|(p, _)| std::ptr::eq(*p, n)).map_or(Tri::Maybe, |(_, v)| v[i])
    }

    /// Where a row lacking a value in field `f`'s own column may still have one.
    fn elsewhere(&self, f: &str, i: usize) -> Place {
        self.elsewhere.iter().find(|(n, _)| n == f).map_or(Place::Other, |(_, v)| v[i])
    }
}

/// Where a row's field is when not in the field's own column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Nowhere: the row has no such field.
    Nowhere,
    /// In `_rest` (a value of another type than the column's, or a field without one).
    Rest,
    /// Maybe a stream label, or written back from `_time`/`_level`, or not known.
    Other,
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
            Target::Level => c.levels.map_or(Tri::Maybe, |a| {
                let l = a[i];
                Tri::from(t.pattern.as_ref().map_or(l == t.lower, |p| p.is_match(l)))
            }),
            Target::Service => c
                .service
                .as_ref()
                .and_then(|a| a.get(i))
                .map_or(Tri::Maybe, |s| Tri::from(t.pattern.as_ref().map_or(s == t.text, |p| p.is_match(s)))),
            Target::Field(_) => c.field(n, i),
            Target::Time => c.time.map_or(Tri::Maybe, |a| Tri::from(t.time == Some(a.value(i)))),
            Target::Any => c.free.iter().find(|(p, _)| std::ptr::eq(*p, &**t)).map_or(Tri::Maybe, |(_, v)| v[i]),
            Target::Message => Tri::Maybe,
        },
        Node::Range { target: Target::Time, lo, hi } => c.time.map_or(Tri::Maybe, |a| {
            let t = a.value(i);
            Tri::from(in_range(time_cmp(t, lo), time_cmp(t, hi), lo, hi))
        }),
        Node::Range { target: Target::Field(_), .. } | Node::Exists(Target::Field(_)) => c.field(n, i),
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

/// The terms, ranges and `_exists_` of fields in a query.
fn field_nodes<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| field_nodes(n, out)),
        Node::Not(n) => field_nodes(n, out),
        Node::Range { target: Target::Field(_), .. } | Node::Exists(Target::Field(_)) => out.push(n),
        Node::Term(t) if matches!(t.target, Target::Field(_)) => out.push(n),
        _ => {}
    }
}

/// Each row's answer to a term, range or `_exists_` of a field from the field's column
/// (a dictionary's distinct values tested once, nothing allocated per row for a term);
/// a row without a value there may still have one elsewhere (a stream label, `_rest`),
/// or hold null.
fn field_node(n: &Node, c: &Cols) -> Vec<Tri> {
    let rows = c.batch.num_rows();
    // The field, the test of a value in its column (its text for strings), and the
    // answer for a row without one.
    type Test<'t> = Box<dyn Fn(&Value) -> Tri + 't>;
    type TestText<'t> = Box<dyn Fn(&str) -> Tri + 't>;
    let (f, test, test_text, null_may_match): (&String, Test, TestText, bool) = match n {
        Node::Term(t) => match &t.target {
            Target::Field(f) => {
                let id = c.ids.contains(f);
                (
                    f,
                    Box::new(move |v| Tri::from(value_matches(t, v, id))),
                    Box::new(move |s| Tri::from(text_matches(t, s, id))),
                    t.lower == "null",
                )
            }
            _ => return vec![Tri::Maybe; rows],
        },
        Node::Range { target: Target::Field(f), lo, hi } => {
            let test = move |v: &Value| {
                let cmp = |b: &Option<(Bound, bool)>| b.as_ref().and_then(|(b, _)| cmp_bound(v, b));
                Tri::from(in_range(cmp(lo), cmp(hi), lo, hi))
            };
            (f, Box::new(test), Box::new(move |s| test(&Value::Str(s.into()))), false)
        }
        Node::Exists(Target::Field(f)) => (f, Box::new(|_| Tri::Yes), Box::new(|_| Tri::Yes), false),
        _ => return vec![Tri::Maybe; rows],
    };
    // A row whose field is in `_rest` is tested on that value, read once per distinct
    // `_rest`.
    let rest = str_col(c.batch, col::REST);
    let memo: std::cell::RefCell<HashMap<&str, Tri>> = Default::default();
    let from_rest = |i: usize| -> Tri {
        let Some(text) = rest.as_ref().and_then(|r| r.get(i)) else { return Tri::Maybe };
        *memo.borrow_mut().entry(text).or_insert_with(|| {
            let fields = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).ok();
            match fields.as_ref().and_then(|m| m.get(f.as_str())) {
                Some(
                    v @ (serde_json::Value::Bool(_) | serde_json::Value::Number(_) | serde_json::Value::String(_)),
                ) => test(&Value::from_json(v)),
                _ => Tri::Maybe,
            }
        })
    };
    let missing = |i: usize| match c.elsewhere(f, i) {
        _ if null_may_match => Tri::Maybe,
        Place::Nowhere => Tri::No,
        Place::Rest => from_rest(i),
        Place::Other => Tri::Maybe,
    };
    let Some(a) = c.batch.column_by_name(&col::field(f)) else { return (0..rows).map(missing).collect() };
    if let Some(s) = StrCol::of(a.as_ref()) {
        return s.per_row(rows, test_text, missing);
    }
    let any = a.as_any();
    let scalar = |i: usize, v: Option<Value>| v.map_or_else(|| missing(i), |v| test(&v));
    if let Some(x) = any.downcast_ref::<Int64Array>() {
        (0..rows).map(|i| scalar(i, x.is_valid(i).then(|| Value::Int(x.value(i))))).collect()
    } else if let Some(x) = any.downcast_ref::<Float64Array>() {
        (0..rows).map(|i| scalar(i, x.is_valid(i).then(|| Value::Float(x.value(i))))).collect()
    } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
        (0..rows).map(|i| scalar(i, x.is_valid(i).then(|| Value::Bool(x.value(i))))).collect()
    } else {
        vec![Tri::Maybe; rows]
    }
}

/// Each row's answer to a free-text term from every column a match could be in: the
/// line, field columns (identifiers whole), numbers by value, and the level when a
/// level field is kept as the stream's. Rows with fields outside the columns
/// (`_rest`) stay unknown where nothing matched.
fn free_text(t: &Term, b: &RecordBatch, levels: Option<&[&str]>, ids: &IdFields) -> Vec<Tri> {
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
        let id = field.is_some_and(|f| ids.contains(f));
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
        // Fields without a column, as JSON: a word (no number, no pattern) that a value
        // there holds is in its text.
        let words: Option<&[String]> =
            (t.pattern.is_none() && !scalar_text && !t.words.is_empty() && t.words.iter().all(|w| w.is_ascii()))
                .then_some(&t.words);
        for (i, o) in out.iter_mut().enumerate() {
            if *o == Tri::No {
                if let Some(text) = rest.get(i) {
                    let may =
                        words.is_none_or(|ws| ws.iter().all(|w| super::contains_ci(text.as_bytes(), w.as_bytes())));
                    if may {
                        *o = Tri::Maybe;
                    }
                }
            }
        }
    }
    out
}

/// Per row, where it may have field `f` other than in the field's own column: in
/// `_rest` (fields without a column, or of another type), or as a stream label.
fn elsewhere(b: &RecordBatch, f: &str) -> Vec<Place> {
    let n = b.num_rows();
    // Time and level fields written back from `_time` and `_level` have no column.
    if crate::jsonl::TIME_KEYS.contains(&f) || crate::jsonl::LEVEL_KEYS.contains(&f) {
        return vec![Place::Other; n];
    }
    let mut out = vec![Place::Nowhere; n];
    let mut key = String::new();
    crate::model::write_json_str(f, &mut key);
    key.push(':');
    if let Some(rest) = str_col(b, col::REST) {
        for (i, o) in out.iter_mut().enumerate() {
            if rest.get(i).is_some_and(|r| r.contains(key.as_str())) {
                *o = Place::Rest;
            }
        }
    }
    match str_col(b, col::LABELS) {
        Some(labels) => {
            let named = labels.per_row(n, |l| l.contains(key.as_str()), |_| false);
            out.iter_mut().zip(named).filter(|(_, l)| *l).for_each(|(o, _)| *o = Place::Other);
        }
        // Labels not read: anything may be a label.
        None => out.iter_mut().for_each(|o| *o = Place::Other),
    }
    out
}

/// The prefilter of sealed rows in `[min_t, max_t]` (see [`super::Search::row_filter`]).
pub(super) fn row_filter(node: &Arc<Node>, ids: &IdFields, min_t: i64, max_t: i64, sure: Sure) -> RowFilter {
    let mut fields = Vec::new();
    named_fields(node, &mut fields);
    let mut columns: Vec<String> = vec![col::TIME.into(), col::LEVEL.into(), col::LABELS.into(), col::SERVICE.into()];
    if !fields.is_empty() {
        columns.push(col::REST.into());
    }
    let field_names: Vec<String> = fields.iter().filter_map(|c| c.strip_prefix('.')).map(str::to_string).collect();
    columns.extend(fields);
    let mut free = Vec::new();
    free_terms(node, &mut free);
    if !free.is_empty() {
        // Free text is tested on every field column and the line.
        columns.extend([".*".to_string(), col::LINE.into(), col::REST.into()]);
    }
    let node = node.clone();
    // Identifier columns hold whole values: a group whose filter has none of the free
    // terms as an identifier cannot match them there (fields the query names are
    // read whatever the filter says).
    let id_keys: Vec<u64> = free.iter().map(|t| id_key(&t.text)).collect();
    let named: Vec<String> = {
        let mut v = Vec::new();
        named_fields(&node, &mut v);
        v
    };
    // Number and boolean columns when no free term could be read as one, and time
    // fields (never matched by free text), are not read either.
    let scalar = free.iter().any(|t| scalar_text(t));
    let skip_ids = ids.clone();
    let skip: Option<lantern_events::ColumnSkip> = (!id_keys.is_empty()).then(|| {
        Arc::new(move |g: &Bloom, column: &str, text: bool| {
            let Some(field) = column.strip_prefix('.') else { return false };
            if named.iter().any(|n| n == column) {
                return false;
            }
            (skip_ids.contains(field) && indexed_as_id(field) && !id_keys.iter().any(|k| g.may_contain(*k)))
                || (!text && !scalar)
                || crate::jsonl::TIME_KEYS.contains(&field)
        }) as lantern_events::ColumnSkip
    });
    let ids = ids.clone();
    let key = lantern_events::condition_key(&format!("search {node:?} {ids:?}"));
    RowFilter {
        columns,
        dictionary: true,
        skip,
        key: Some(key),
        // Given what the condition says of the rows, the time and level are enough.
        cheap: Some(vec![col::TIME.into(), col::LEVEL.into(), col::LABELS.into()]),
        test: Arc::new(move |b: &RecordBatch, known: Option<&Met>| {
            let levels = row_levels(b);
            let levels = levels.as_deref();
            let time = b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>());
            let n = b.num_rows();
            let in_range = |i: usize| time.is_none_or(|a| (min_t..=max_t).contains(&a.value(i)));
            // What the condition says of each row in the time range: as remembered, or
            // from the columns.
            let said: Vec<Tri> = match known {
                Some(k) => (0..n)
                    .map(|i| match (k.rows[i], k.sure[i]) {
                        (false, _) => Tri::No,
                        (true, true) => Tri::Yes,
                        (true, false) => Tri::Maybe,
                    })
                    .collect(),
                None => {
                    let mut terms = Vec::new();
                    free_terms(&node, &mut terms);
                    let free = terms.into_iter().map(|t| (t as *const Term, free_text(t, b, levels, &ids))).collect();
                    let elsewhere = field_names.iter().map(|f| (f.clone(), elsewhere(b, f))).collect();
                    let mut c = Cols {
                        time,
                        levels,
                        service: str_col(b, col::SERVICE),
                        batch: b,
                        free,
                        nodes: Vec::new(),
                        ids: &ids,
                        elsewhere,
                    };
                    let mut fns = Vec::new();
                    field_nodes(&node, &mut fns);
                    c.nodes = fns.into_iter().map(|n| (n as *const Node, field_node(n, &c))).collect();
                    (0..n).map(|i| if in_range(i) { pre(&node, &c, i) } else { Tri::No }).collect()
                }
            };
            let keep = (0..n)
                .map(|i| {
                    Some(match (said[i], time) {
                        _ if !in_range(i) => false,
                        (Tri::No, _) => false,
                        (Tri::Yes, Some(t)) => sure(t.value(i), levels.map_or("", |l| l[i])),
                        _ => true,
                    })
                })
                .collect();
            // Remembered when every row was tested.
            let met = (known.is_none() && (0..n).all(in_range)).then(|| Met {
                rows: said.iter().map(|p| *p != Tri::No).collect(),
                sure: said.iter().map(|p| *p == Tri::Yes).collect(),
            });
            Tested { keep, met }
        }),
    }
}
