//! A LogQL log query compiled for one run: the stream selector (matched once per
//! distinct stream), and the pipeline turning an event into an entry (labels, line,
//! unwrapped value) or dropping it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lantern_gotemplate::Val;
use lantern_logql::{CmpOp, LabelFilter, LabelFmt, LineOp, Literal, LogExpr, MatchOp, Matcher, Stage};
use regex::Regex;

use crate::error::Error;
use crate::model::{LogRow, Stream, Value};

/// Labels of an entry, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// A compiled label matcher.
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
}

impl LabelMatcher {
    /// Compiles a matcher (regular expressions anchored, as Prometheus and Loki do).
    pub fn new(m: &Matcher) -> Result<Self, Error> {
        let re = match m.op {
            MatchOp::Re | MatchOp::Nre => Some(
                Regex::new(&format!("^(?:{})$", m.value))
                    .map_err(|e| Error::Invalid(format!("invalid regular expression {:?}: {e}", m.value)))?,
            ),
            _ => None,
        };
        Ok(Self { name: m.name.clone(), op: m.op, value: m.value.clone(), re })
    }

    /// Whether a value (`""` for a missing label) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// The value an equality matcher requires (a key the row-group filters know).
    pub fn equal_value(&self) -> Option<&str> {
        (self.op == MatchOp::Eq && !self.value.is_empty()).then_some(self.value.as_str())
    }
}

enum LineTest {
    Contains(Vec<String>),
    NotContains(Vec<String>),
    Match(Vec<Regex>),
    NotMatch(Vec<Regex>),
}

enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Match(LabelMatcher),
    Cmp { name: String, op: CmpOp, value: f64, kind: u8 },
}

enum Step {
    Line(LineTest),
    Json(Vec<(String, Vec<String>)>),
    Logfmt(Vec<(String, String)>),
    Regexp(Regex),
    LineFormat(Template),
    LabelFormat(Vec<(String, Result<String, Template>)>),
    Filter(Filter),
    Drop(Vec<LabelMatcher>),
    Keep(Vec<LabelMatcher>),
    Decolorize,
    Unwrap { label: String, conv: Option<String> },
}

/// An entry that came through the pipeline.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Time (ns).
    pub time: i64,
    /// Labels: the stream's and those the pipeline added.
    pub labels: Labels,
    /// The line.
    pub line: String,
    /// The unwrapped value, if the pipeline unwraps.
    pub value: Option<f64>,
}

/// A compiled log query.
pub struct Pipeline {
    /// The stream selector.
    pub selector: Vec<LabelMatcher>,
    steps: Vec<Step>,
    /// Whether the pipeline does nothing (entries are the events as they are).
    pub is_empty: bool,
    streams: parking_lot::Mutex<HashMap<usize, bool>>,
}

/// What `line_format` and `label_format` templates may name, as Loki offers them:
/// `.label`, `__line__`, `__timestamp__`, and string functions.
const LOGQL_TEMPLATES: lantern_gotemplate::Dialect = lantern_gotemplate::Dialect {
    funcs: &[
        "__line__",
        "__timestamp__",
        "ToUpper",
        "ToLower",
        "upper",
        "lower",
        "Title",
        "title",
        "TrimSpace",
        "trim",
        "trimPrefix",
        "trimSuffix",
        "replace",
        "contains",
        "hasPrefix",
        "hasSuffix",
        "default",
        "trunc",
        "regexReplaceAll",
    ],
    vars: &[],
    what: "LogQL templates",
};

/// A `line_format` or `label_format` template.
struct Template(lantern_gotemplate::Template);

/// What a template reads: the entry's labels, line and time.
struct TemplateData<'a> {
    labels: &'a Labels,
    line: &'a str,
    time: i64,
}

impl lantern_gotemplate::Env for TemplateData<'_> {
    fn root_field(&self, name: &str) -> Result<Val, lantern_gotemplate::Error> {
        Ok(Val::Str(self.labels.get(name).cloned().unwrap_or_default()))
    }

    fn var(&self, _: &str) -> Val {
        Val::Nil
    }

    fn call(&self, name: &str, args: Vec<Val>) -> Result<Val, lantern_gotemplate::Error> {
        let text = |i: usize| args.get(i).map(Val::text).ok_or_else(|| format!("{name} needs {} arguments", i + 1));
        let last = || args.last().map(Val::text).ok_or_else(|| format!("{name} needs an argument"));
        Ok(Val::Str(match name {
            "__line__" => self.line.to_string(),
            "__timestamp__" => crate::model::rfc3339(self.time),
            "ToUpper" | "upper" => last()?.to_uppercase(),
            "ToLower" | "lower" => last()?.to_lowercase(),
            "TrimSpace" | "trim" => last()?.trim().to_string(),
            "Title" | "title" => {
                let v = last()?;
                let mut c = v.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
            }
            "trimPrefix" => text(1)?.strip_prefix(text(0)?.as_str()).map(str::to_string).unwrap_or(text(1)?),
            "trimSuffix" => text(1)?.strip_suffix(text(0)?.as_str()).map(str::to_string).unwrap_or(text(1)?),
            "replace" => text(2)?.replace(&text(0)?, &text(1)?),
            "contains" => return Ok(Val::Bool(text(1)?.contains(&text(0)?))),
            "hasPrefix" => return Ok(Val::Bool(text(1)?.starts_with(&text(0)?))),
            "hasSuffix" => return Ok(Val::Bool(text(1)?.ends_with(&text(0)?))),
            "default" => {
                let given = args.get(1).filter(|v| v.truthy());
                return Ok(given.or(args.first()).cloned().unwrap_or(Val::Nil));
            }
            "trunc" => {
                let n = args.first().ok_or("trunc needs a length")?.num()?;
                let s = text(1)?;
                let n = n.max(0.0) as usize;
                s.chars().take(n).collect()
            }
            "regexReplaceAll" => {
                let re = regex::Regex::new(&text(0)?).map_err(|e| format!("regexReplaceAll: {e}"))?;
                re.replace_all(&text(1)?, text(2)?.as_str()).into_owned()
            }
            other => return Err(format!("function {other:?} is not supported").into()),
        }))
    }
}

impl Template {
    fn parse(s: &str) -> Result<Self, Error> {
        lantern_gotemplate::Template::parse(s, &LOGQL_TEMPLATES)
            .map(Template)
            .map_err(|e| Error::Invalid(format!("template {s:?}: {e}")))
    }

    /// The expansion, or `None` when it fails on this entry: Loki then keeps what
    /// was there and marks the entry with `__error__="TemplateFormatErr"`.
    fn render(&self, labels: &Labels, line: &str, time: i64) -> Option<String> {
        self.0.expand(&TemplateData { labels, line, time }).ok()
    }
}

fn compile_filter(f: &LabelFilter) -> Result<Filter, Error> {
    Ok(match f {
        LabelFilter::And(a, b) => Filter::And(Box::new(compile_filter(a)?), Box::new(compile_filter(b)?)),
        LabelFilter::Or(a, b) => Filter::Or(Box::new(compile_filter(a)?), Box::new(compile_filter(b)?)),
        LabelFilter::Match(m) => Filter::Match(LabelMatcher::new(m)?),
        LabelFilter::Cmp { name, op, value } => {
            let (value, kind) = match value {
                Literal::Number(n) => (*n, 0),
                Literal::Duration(d) => (*d, 1),
                Literal::Bytes(b) => (*b, 2),
            };
            Filter::Cmp { name: name.clone(), op: *op, value, kind }
        }
    })
}

/// A label value as a number, duration (seconds) or size (bytes), by `kind`.
fn label_number(v: &str, kind: u8) -> Option<f64> {
    match kind {
        0 => v.trim().parse().ok(),
        1 => v.trim().parse::<f64>().ok().or_else(|| lantern_logql::parse_duration(v.trim()).map(|ns| ns as f64 / 1e9)),
        _ => lantern_logql::parse_bytes(v),
    }
}

fn filter_ok(f: &Filter, labels: &Labels) -> bool {
    match f {
        Filter::And(a, b) => filter_ok(a, labels) && filter_ok(b, labels),
        Filter::Or(a, b) => filter_ok(a, labels) || filter_ok(b, labels),
        Filter::Match(m) => m.matches(labels.get(&m.name).map_or("", String::as_str)),
        Filter::Cmp { name, op, value, kind } => {
            let Some(x) = labels.get(name).and_then(|v| label_number(v, *kind)) else { return false };
            match op {
                CmpOp::Eq => x == *value,
                CmpOp::Ne => x != *value,
                CmpOp::Gt => x > *value,
                CmpOp::Ge => x >= *value,
                CmpOp::Lt => x < *value,
                CmpOp::Le => x <= *value,
            }
        }
    }
}

/// A label name as Loki makes one from a field name: other characters become `_`.
pub fn sanitize(name: &str) -> String {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !name.starts_with(|c: char| c.is_ascii_digit()) {
        return name.to_string();
    }
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Adds a parsed label, as Loki does: a name the stream already has gets `_extracted`.
fn add_parsed(labels: &mut Labels, stream: &Stream, name: String, value: String) {
    if stream.label(&name).is_some() {
        labels.insert(format!("{name}_extracted"), value);
    } else {
        labels.insert(name, value);
    }
}

fn json_value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn field_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f}")
            } else {
                f.to_string()
            }
        }
        v => v.text().into_owned(),
    }
}

/// The labels `| json` makes of a value (a field's, under `prefix`).
pub(super) fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { sanitize(k) } else { format!("{prefix}_{}", sanitize(k)) };
                flatten_json(&key, v, out);
            }
        }
        serde_json::Value::Array(_) => out.push((prefix.to_string(), v.to_string())),
        v => out.push((prefix.to_string(), json_value_text(v))),
    }
}

/// Parses logfmt `key=value key2="quoted value"` pairs.
pub fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        let key = &line[ks..i];
        if key.is_empty() {
            i += 1;
            continue;
        }
        if i >= b.len() || b[i] == b' ' {
            out.push((key.to_string(), String::new()));
            continue;
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut chars = line[i..].char_indices();
            let mut end = line.len();
            while let Some((j, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + j + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                e => e,
                            });
                        }
                    }
                    c => v.push(c),
                }
            }
            i = end;
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            line[vs..i].to_string()
        };
        out.push((key.to_string(), value));
    }
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads a JSON path (`a.b[0].c`) from a parsed object.
fn json_path<'a>(v: &'a serde_json::Value, path: &[String]) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) if cur.is_array() => cur.get(i)?,
            _ => cur.get(p.as_str())?,
        };
    }
    Some(cur)
}

fn split_path(p: &str) -> Vec<String> {
    p.split(['.', '[', ']']).filter(|s| !s.is_empty()).map(|s| s.trim_matches('"').to_string()).collect()
}

impl Pipeline {
    /// Compiles a log query.
    pub fn new(q: &LogExpr) -> Result<Self, Error> {
        let selector = q.selector.iter().map(LabelMatcher::new).collect::<Result<Vec<_>, _>>()?;
        let mut steps = Vec::new();
        for s in &q.stages {
            steps.push(match s {
                Stage::LineFilter { op, values } => Step::Line(match op {
                    LineOp::Contains => LineTest::Contains(values.clone()),
                    LineOp::NotContains => LineTest::NotContains(values.clone()),
                    LineOp::Match | LineOp::NotMatch => {
                        let res = values
                            .iter()
                            .map(|v| {
                                Regex::new(v)
                                    .map_err(|e| Error::Invalid(format!("invalid regular expression {v:?}: {e}")))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        if *op == LineOp::Match {
                            LineTest::Match(res)
                        } else {
                            LineTest::NotMatch(res)
                        }
                    }
                }),
                Stage::Json(ex) => Step::Json(ex.iter().map(|(n, p)| (n.clone(), split_path(p))).collect()),
                Stage::Logfmt(ex) => Step::Logfmt(ex.clone()),
                Stage::Regexp(r) => Step::Regexp(
                    Regex::new(r).map_err(|e| Error::Invalid(format!("invalid regular expression {r:?}: {e}")))?,
                ),
                Stage::LineFormat(t) => Step::LineFormat(Template::parse(t)?),
                Stage::LabelFormat(v) => Step::LabelFormat(
                    v.iter()
                        .map(|(d, f)| {
                            Ok((
                                d.clone(),
                                match f {
                                    LabelFmt::Rename(src) => Ok(src.clone()),
                                    LabelFmt::Template(t) => Err(Template::parse(t)?),
                                },
                            ))
                        })
                        .collect::<Result<Vec<_>, Error>>()?,
                ),
                Stage::Filter(f) => Step::Filter(compile_filter(f)?),
                Stage::Drop(m) => Step::Drop(m.iter().map(LabelMatcher::new).collect::<Result<_, _>>()?),
                Stage::Keep(m) => Step::Keep(m.iter().map(LabelMatcher::new).collect::<Result<_, _>>()?),
                Stage::Decolorize => Step::Decolorize,
                Stage::Unwrap { label, conv } => Step::Unwrap { label: label.clone(), conv: conv.clone() },
            });
        }
        let is_empty = steps.is_empty();
        Ok(Self { selector, steps, is_empty, streams: parking_lot::Mutex::new(HashMap::new()) })
    }

    /// The stages a prefilter of sealed rows can test (see [`super::prefilter`]): line
    /// filters while the line is the event's own, and label matchers after a `| json`
    /// of the whole line while nothing else has made or changed labels.
    pub fn prefilter(&self) -> super::prefilter::Prefilter {
        use super::prefilter::Pushed;
        fn matchers<'a>(f: &'a Filter, out: &mut Vec<Pushed<'a>>) {
            match f {
                Filter::And(a, b) => {
                    matchers(a, out);
                    matchers(b, out);
                }
                Filter::Match(m) => out.push(Pushed::JsonLabel(m)),
                Filter::Or(..) | Filter::Cmp { .. } => {}
            }
        }
        let mut parts = Vec::new();
        let mut own_line = true;
        let whole =
            self.steps.iter().all(|s| matches!(s, Step::Line(LineTest::Contains(_) | LineTest::NotContains(_))));
        // `|=`/`!=` filters, one `| json` of the whole line, then label matchers: a row
        // the prefilter surely keeps is an entry of its stream's labels and its fields.
        fn only_matchers(f: &Filter) -> bool {
            match f {
                Filter::And(a, b) => only_matchers(a) && only_matchers(b),
                Filter::Match(_) => true,
                Filter::Or(..) | Filter::Cmp { .. } => false,
            }
        }
        let mut parsed = false;
        let json_whole = self.steps.iter().all(|s| match s {
            Step::Line(LineTest::Contains(_) | LineTest::NotContains(_)) => true,
            Step::Json(ex) if ex.is_empty() && !parsed => {
                parsed = true;
                true
            }
            Step::Filter(f) => parsed && only_matchers(f),
            _ => false,
        }) && parsed;
        // None before `| json`, then whether its labels are still as it made them.
        let mut json: Option<bool> = None;
        for step in &self.steps {
            match step {
                Step::Line(t) if own_line => parts.push(match t {
                    LineTest::Contains(v) => Pushed::Contains(v),
                    LineTest::NotContains(v) => Pushed::NotContains(v),
                    LineTest::Match(v) => Pushed::Match(v.iter().map(|r| r.as_str().to_string()).collect()),
                    LineTest::NotMatch(_) => continue,
                }),
                Step::Line(_) => {}
                Step::LineFormat(_) | Step::Decolorize => own_line = false,
                Step::Json(ex) if ex.is_empty() && json.is_none() && own_line => json = Some(true),
                Step::Filter(f) if json == Some(true) => matchers(f, &mut parts),
                Step::Filter(_) => {}
                Step::Unwrap { .. } => break,
                Step::Json(_)
                | Step::Logfmt(_)
                | Step::Regexp(_)
                | Step::LabelFormat(_)
                | Step::Drop(_)
                | Step::Keep(_) => json = Some(false),
            }
        }
        super::prefilter::Prefilter::new(parts, whole, json_whole)
    }

    /// Whether a stream's labels match the selector (memoised per stream).
    pub fn stream_matches(&self, s: &Arc<Stream>) -> bool {
        let key = Arc::as_ptr(s) as usize;
        if let Some(m) = self.streams.lock().get(&key) {
            return *m;
        }
        let m = self.labels_match(|n| s.label(n));
        let mut memo = self.streams.lock();
        if memo.len() > 100_000 {
            memo.clear();
        }
        memo.insert(key, m);
        m
    }

    /// Whether labels (a lookup) match the selector.
    pub fn labels_match<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.selector.iter().all(|m| m.matches(get(&m.name).unwrap_or("")))
    }

    /// Runs the pipeline on an event of a matching stream.
    pub fn run(&self, r: &LogRow) -> Option<Entry> {
        self.run_with(r, None, true)
    }

    /// The labels a pipeline of line filters, `| json` (the whole line) and label
    /// filters reads, besides `also`; `None` for other pipelines (their stages may read
    /// any label).
    pub fn labels_read(&self, also: &[String]) -> Option<Vec<String>> {
        fn names(f: &Filter, out: &mut Vec<String>) {
            match f {
                Filter::And(a, b) | Filter::Or(a, b) => {
                    names(a, out);
                    names(b, out);
                }
                Filter::Match(m) => out.push(m.name.clone()),
                Filter::Cmp { name, .. } => out.push(name.clone()),
            }
        }
        let mut out = also.to_vec();
        for step in &self.steps {
            match step {
                Step::Line(_) => {}
                Step::Json(ex) if ex.is_empty() => {}
                Step::Filter(f) => names(f, &mut out),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Whether a stage reads the line (a filter or parser of it) rather than the fields
    /// a JSON event's line is written from.
    pub fn reads_line(&self) -> bool {
        self.steps.iter().any(|s| !matches!(s, Step::Json(ex) if ex.is_empty()) && !matches!(s, Step::Filter(_)))
    }

    /// [`Pipeline::run`], a `| json` of the whole line making only the labels `only`
    /// names (when given: see [`Pipeline::labels_read`]); without `line`, the entry's
    /// line is left empty unless a stage made it.
    pub fn run_with(&self, r: &LogRow, only: Option<&[String]>, line_wanted: bool) -> Option<Entry> {
        // Whether a parsed label is wanted: its name, or the name it takes when a stream
        // label has it.
        let wanted =
            |name: &str| only.is_none_or(|o| o.iter().any(|n| n == name || n.strip_suffix("_extracted") == Some(name)));
        let mut labels: Labels = r.stream.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // The fields of a text line (Loki's structured metadata, OTLP attributes) are
        // labels without parsing; those of a JSON line come from `| json`.
        if let Some(l) = &r.line {
            if !l.trim_start().starts_with('{') {
                for (k, v) in &r.fields {
                    labels.entry(sanitize(k)).or_insert_with(|| field_text(v));
                }
            }
        }
        let mut line: Option<String> = None;
        let mut value = None;
        let mut parsed_json: Option<serde_json::Value> = None;
        for step in &self.steps {
            match step {
                Step::Line(t) => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    let ok = match t {
                        LineTest::Contains(v) => v.iter().any(|s| l.contains(s.as_str())),
                        LineTest::NotContains(v) => !v.iter().any(|s| l.contains(s.as_str())),
                        LineTest::Match(v) => v.iter().any(|re| re.is_match(l)),
                        LineTest::NotMatch(v) => !v.iter().any(|re| re.is_match(l)),
                    };
                    if !ok {
                        return None;
                    }
                }
                Step::Json(ex) => {
                    // An event read from a JSON object (and not reformatted since) has
                    // its fields already.
                    if line.is_none() && r.line.is_none() && !r.fields.is_empty() && ex.is_empty() {
                        for (k, v) in &r.fields {
                            let name = sanitize(k);
                            if wanted(&name) {
                                add_parsed(&mut labels, &r.stream, name, field_text(v));
                            }
                        }
                        continue;
                    }
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    let doc = match parsed_json.take() {
                        Some(d) => d,
                        None => match serde_json::from_str::<serde_json::Value>(l) {
                            Ok(d @ serde_json::Value::Object(_)) => d,
                            _ => {
                                labels.insert("__error__".into(), "JSONParserErr".into());
                                continue;
                            }
                        },
                    };
                    if ex.is_empty() {
                        let mut flat = Vec::new();
                        flatten_json("", &doc, &mut flat);
                        for (k, v) in flat {
                            if wanted(&k) {
                                add_parsed(&mut labels, &r.stream, k, v);
                            }
                        }
                    } else {
                        for (name, path) in ex {
                            if let Some(v) = json_path(&doc, path) {
                                add_parsed(&mut labels, &r.stream, name.clone(), json_value_text(v));
                            }
                        }
                    }
                    parsed_json = Some(doc);
                }
                Step::Logfmt(ex) => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    let pairs = logfmt(l);
                    if ex.is_empty() {
                        for (k, v) in pairs {
                            add_parsed(&mut labels, &r.stream, sanitize(&k), v);
                        }
                    } else {
                        for (name, key) in ex {
                            if let Some((_, v)) = pairs.iter().find(|(k, _)| k == key) {
                                add_parsed(&mut labels, &r.stream, name.clone(), v.clone());
                            }
                        }
                    }
                }
                Step::Regexp(re) => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    if let Some(c) = re.captures(l) {
                        for name in re.capture_names().flatten() {
                            if let Some(m) = c.name(name) {
                                add_parsed(&mut labels, &r.stream, name.to_string(), m.as_str().to_string());
                            }
                        }
                    }
                }
                Step::LineFormat(t) => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    match t.render(&labels, l, r.time) {
                        Some(new) => {
                            line = Some(new);
                            parsed_json = None;
                        }
                        None => {
                            labels.insert("__error__".into(), "TemplateFormatErr".into());
                        }
                    }
                }
                Step::LabelFormat(v) => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned()).clone();
                    for (dst, f) in v {
                        match f {
                            Ok(src) => {
                                let val = labels.remove(src).unwrap_or_default();
                                labels.insert(dst.clone(), val);
                            }
                            Err(t) => {
                                match t.render(&labels, &l, r.time) {
                                    Some(val) => labels.insert(dst.clone(), val),
                                    None => labels.insert("__error__".into(), "TemplateFormatErr".into()),
                                };
                            }
                        }
                    }
                }
                Step::Filter(f) => {
                    if !filter_ok(f, &labels) {
                        return None;
                    }
                }
                Step::Drop(ms) => labels.retain(|k, v| !ms.iter().any(|m| m.name == *k && m.matches(v))),
                Step::Keep(ms) => labels.retain(|k, v| ms.iter().any(|m| m.name == *k && m.matches(v))),
                Step::Decolorize => {
                    let l = line.get_or_insert_with(|| r.render_line().into_owned());
                    let new = strip_ansi(l);
                    line = Some(new);
                }
                Step::Unwrap { label, conv } => {
                    let raw = labels.remove(label);
                    let v = raw.as_deref().and_then(|v| match conv.as_deref() {
                        Some("duration" | "duration_seconds") => label_number(v, 1),
                        Some("bytes") => label_number(v, 2),
                        _ => v.trim().parse::<f64>().ok(),
                    });
                    match v {
                        Some(v) => value = Some(v),
                        None => return None,
                    }
                }
            }
        }
        let line = match line {
            Some(l) => l,
            None if line_wanted => r.render_line().into_owned(),
            None => String::new(),
        };
        Some(Entry { time: r.time, labels, line, value })
    }
}
