//! A log event as the store keeps it: a time, the stream it belongs to (indexed labels
//! such as `service` and `level`), the raw line when it was text, and typed fields in
//! their original order (a JSON line's keys, nested objects flattened with dots).

use std::borrow::Cow;
use std::sync::Arc;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON null.
    Null,
    /// true or false.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// An array (or an object kept whole), as JSON text.
    Json(Arc<str>),
}

impl Value {
    /// The value as text (strings unquoted, numbers as JSON writes them).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => if *b { "true" } else { "false" }.into(),
            Value::Int(i) => i.to_string().into(),
            Value::Float(f) => float_text(*f).into(),
            Value::Str(s) | Value::Json(s) => Cow::Borrowed(s),
        }
    }

    /// The value as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_string())),
        }
    }

    /// A value from JSON (objects and arrays kept whole as text).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.as_str().into()),
            v => Value::Json(v.to_string().into()),
        }
    }

    /// The number, if the value is one (or a string holding one).
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Appends the value as JSON.
    pub fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Str(s) => write_json_str(s, out),
            Value::Json(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) if !f.is_finite() => out.push_str("null"),
            // As `float_text` writes it, without a string of its own.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => {
                let _ = write!(out, "{f:.1}");
            }
            Value::Float(f) => {
                let _ = write!(out, "{f}");
            }
            v => out.push_str(&v.text()),
        }
    }
}

/// A float as JSON writes it (`1.5`, `2.0`).
pub fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// Appends `s` as a JSON string.
pub fn write_json_str(s: &str, out: &mut String) {
    lantern_core::json::push_str(out, s);
}

/// A stream: the indexed labels its lines share. `service` and `level` are read from
/// the labels (`service`, else `service_name`, `app` or `job`; `level`, else
/// `detected_level` or `severity`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Stream {
    /// Labels, sorted by name.
    pub labels: Vec<(Box<str>, Box<str>)>,
    /// The service.
    pub service: Box<str>,
    /// The level, normalised (lowercase; `warning` is `warn`), empty if unknown.
    pub level: Box<str>,
}

impl Stream {
    /// A stream of these labels (sorted here; empty values dropped, as Loki does).
    pub fn new(labels: Vec<(String, String)>) -> Stream {
        Self::with_level(labels, "")
    }

    /// A stream of these labels whose level, when no label gives one, is `level` (read
    /// from its lines, say).
    pub fn with_level(mut labels: Vec<(String, String)>, level: &str) -> Stream {
        labels.retain(|(_, v)| !v.is_empty());
        labels.sort();
        labels.dedup_by(|a, b| a.0 == b.0);
        let get = |names: &[&str]| {
            names.iter().find_map(|n| labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())).unwrap_or("")
        };
        let service = get(&["service", "service_name", "app", "job"]).into();
        let named = get(&["level", "detected_level", "severity"]);
        let level = normalize_level(if named.is_empty() { level } else { named }).into();
        Stream { labels: labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), service, level }
    }

    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| &**k == name).map(|(_, v)| &**v)
    }

    /// The labels as Loki writes a stream: `{a="b", c="d"}`.
    pub fn text(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(k);
            out.push('=');
            write_json_str(v, &mut out);
        }
        out.push('}');
        out
    }
}

/// A level as written by loggers, normalised: lowercase, `warning` → `warn`, `err` →
/// `error`, `fatal`/`crit`/`critical` kept as `fatal`/`critical`.
pub fn normalize_level(l: &str) -> String {
    let l = l.trim().to_ascii_lowercase();
    match l.as_str() {
        "warning" => "warn".into(),
        "err" | "eror" => "error".into(),
        "crit" => "critical".into(),
        "information" | "informational" => "info".into(),
        "dbg" => "debug".into(),
        _ => l,
    }
}

/// A log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// Time in nanoseconds since the epoch.
    pub time: i64,
    /// Its stream.
    pub stream: Arc<Stream>,
    /// The raw line: for events that arrived as text, and for JSON objects whose
    /// fields, written again, would not give the same text.
    pub line: Option<Box<str>>,
    /// Fields in their original order.
    pub fields: Vec<(Arc<str>, Value)>,
    /// For a JSON event without `line`: written again compactly (`{"a":1}`) rather
    /// than as Python writes it (`{"a": 1}`).
    pub compact: bool,
}

/// Field names whose value is the event's message, by preference.
pub const MESSAGE_KEYS: [&str; 3] = ["event", "message", "msg"];

impl LogRow {
    /// A field's value.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }

    /// The message: the `event`, `message` or `msg` field, else the raw line.
    pub fn message(&self) -> Cow<'_, str> {
        match MESSAGE_KEYS.iter().find_map(|k| self.field(k)) {
            Some(v) => v.text(),
            None => Cow::Borrowed(self.line.as_deref().unwrap_or("")),
        }
    }

    /// The line as LogQL sees it: the raw line, or the fields as one JSON object.
    pub fn render_line(&self) -> Cow<'_, str> {
        match &self.line {
            Some(l) => Cow::Borrowed(l),
            None => Cow::Owned(render_object(&self.fields, self.compact)),
        }
    }

    /// The event as a flat JSON object: `timestamp` (RFC 3339), `level`, `message`,
    /// `service`, every field under its own name, and the other stream labels.
    pub fn hit(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("timestamp".into(), rfc3339(self.time).into());
        if !self.stream.level.is_empty() {
            m.insert("level".into(), self.stream.level.to_string().into());
        }
        m.insert("message".into(), self.message().into_owned().into());
        if !self.stream.service.is_empty() {
            m.insert("service".into(), self.stream.service.to_string().into());
        }
        for (k, v) in &self.fields {
            if !m.contains_key(&**k) {
                m.insert(k.to_string(), v.to_json());
            }
        }
        for (k, v) in &self.stream.labels {
            if !m.contains_key(&**k) {
                m.insert(k.to_string(), v.to_string().into());
            }
        }
        m
    }
}

/// Fields as one JSON object, spaced as Python's `json.dumps` writes it or compact.
pub fn render_object(fields: &[(Arc<str>, Value)], compact: bool) -> String {
    let mut out = String::with_capacity(64 + fields.len() * 24);
    render_into(fields, compact, &mut out);
    out
}

/// [`render_object`] into a buffer (cleared first).
pub fn render_into(fields: &[(Arc<str>, Value)], compact: bool, out: &mut String) {
    let (sep, colon) = if compact { (",", ":") } else { (", ", ": ") };
    out.clear();
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_json_str(k, out);
        out.push_str(colon);
        v.write_json(out);
    }
    out.push('}');
}

type Interned = std::collections::HashMap<Box<str>, Arc<str>, foldhash::fast::RandomState>;

/// Field names, and short string values, shared between the events of one request
/// (made once: fewer allocations, less memory for events in memory).
#[derive(Default)]
pub struct Names {
    names: Interned,
    values: Interned,
    /// The names of the last event in order, and how far into them this one is:
    /// events of a request mostly have the same keys in the same order, so a name is
    /// usually the one at its place in the last event (compared, not hashed).
    last: Vec<Arc<str>>,
    at: usize,
}

/// Values shared at most per [`Names`] (the first ones seen: repeated values such as
/// events, paths and levels come early; unique ones stop being added once it is full).
const MAX_SHARED_VALUES: usize = 2048;

impl Names {
    /// Starts the names of a new event (see [`Names::get`]).
    pub fn start(&mut self) {
        self.at = 0;
    }

    /// The shared name.
    pub fn get(&mut self, k: &str) -> Arc<str> {
        let at = self.at;
        self.at += 1;
        if let Some(n) = self.last.get(at).filter(|n| ***n == *k) {
            return n.clone();
        }
        let n = match self.names.get(k) {
            Some(n) => n.clone(),
            None => {
                let n: Arc<str> = k.into();
                self.names.insert(k.into(), n.clone());
                n
            }
        };
        if at < self.last.len() {
            self.last[at] = n.clone();
        } else if at == self.last.len() {
            self.last.push(n.clone());
        }
        n
    }

    /// A string value, shared when short and seen before.
    pub fn value(&mut self, v: &str) -> Arc<str> {
        if v.len() > 64 {
            return v.into();
        }
        if let Some(n) = self.values.get(v) {
            return n.clone();
        }
        let n: Arc<str> = v.into();
        if self.values.len() < MAX_SHARED_VALUES {
            self.values.insert(v.into(), n.clone());
        }
        n
    }
}

/// Parses a label set as Loki writes streams: `{a="b", c="d"}` (Go string escapes).
pub fn parse_label_set(s: &str) -> Result<Vec<(String, String)>, String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(|| format!("labels {s:?} are not in braces"))?;
    let mut out = Vec::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| format!("labels {s:?}: expected '=' after a name"))?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("labels {s:?}: invalid label name {name:?}"));
        }
        let after = rest[eq + 1..].trim_start();
        let mut chars = after.char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("labels {s:?}: the value of {name:?} is not quoted"));
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(e) => value.push(e),
                    None => break,
                },
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("labels {s:?}: the value of {name:?} is never closed"))?;
        out.push((name.to_string(), value));
        rest = after[end..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("labels {s:?}: expected ',' after {name:?}"));
        }
    }
    Ok(out)
}

/// Nanoseconds since the epoch as RFC 3339 in UTC (fraction digits only as needed).
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Identifier fields besides the trace and span IDs when the config names none
/// (`correlation.keys`, `logs.id_fields`).
pub const DEFAULT_ID_KEYS: [&str; 4] = ["request_id", "user_id", "order_id", "correlation_id"];

/// Trace and span IDs are always identifiers.
const ALWAYS: [&str; 2] = ["trace_id", "span_id"];

/// A field name compared as identifier names are: case, `_` and `.` ignored, so
/// `request_id`, `requestId` and `request.id` are one.
fn norm(name: &str) -> String {
    norm_chars(name).collect()
}

/// A name's characters as [`norm`] keeps them.
fn norm_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars().filter(|c| *c != '_' && *c != '.').flat_map(char::to_lowercase)
}

/// Whether two names are the same once normalized (nothing allocated).
fn norm_eq(a: &str, b: &str) -> bool {
    norm_chars(a).eq(norm_chars(b))
}

/// The fields holding request-scoped identifiers: matched whole rather than word by
/// word (`request_id:req-1` is not `req` and `1`). The trace and span IDs always, plus
/// the configured keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFields(Arc<[String]>);

impl Default for IdFields {
    fn default() -> Self {
        IdFields::with_keys(&DEFAULT_ID_KEYS)
    }
}

impl IdFields {
    /// The trace and span IDs plus `keys`.
    pub fn with_keys<S: AsRef<str>>(keys: &[S]) -> Self {
        let mut v: Vec<String> = ALWAYS.iter().map(|k| norm(k)).chain(keys.iter().map(|k| norm(k.as_ref()))).collect();
        v.sort();
        v.dedup();
        IdFields(v.into())
    }

    /// Whether a field is an identifier.
    pub fn contains(&self, name: &str) -> bool {
        // The configured names are normalized already.
        self.0.iter().any(|k| norm_chars(name).eq(k.chars()))
    }

    /// The configured names (normalized).
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// Whether a field's values go whole into the row-group filters (as identifiers) rather
/// than word by word: the trace, span and default keys' IDs, and any `…_id`, `….id` or
/// `…Id` field. Fixed, not configured, so segments written under any configuration are
/// read the same way; a search tests both forms where the two could differ.
pub fn indexed_as_id(name: &str) -> bool {
    ALWAYS.iter().chain(DEFAULT_ID_KEYS.iter()).any(|k| norm_eq(k, name))
        || (name.len() > 3
            && (name.ends_with("_id") || name.ends_with(".id") || name.ends_with("Id") || name.ends_with("ID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_fields_are_configured_and_spelled_loosely() {
        let d = IdFields::default();
        for f in [
            "trace_id",
            "traceId",
            "span.id",
            "request_id",
            "requestId",
            "request.id",
            "user_id",
            "order_id",
            "correlation_id",
        ] {
            assert!(d.contains(f), "{f}");
        }
        assert!(!d.contains("error_code") && !d.contains("session_id"));
        let c = IdFields::with_keys(&["txn", "session_id"]);
        assert!(c.contains("txn") && c.contains("sessionId") && c.contains("trace_id") && c.contains("span_id"));
        assert!(!c.contains("request_id"), "the configured keys replace the default ones");
    }

    #[test]
    fn what_is_indexed_whole_does_not_depend_on_the_configuration() {
        for f in [
            "trace_id",
            "request_id",
            "user_id",
            "order_id",
            "correlation_id",
            "session_id",
            "customer.id",
            "tenantId",
            "ID",
        ] {
            assert_eq!(indexed_as_id(f), f != "ID", "{f}");
        }
        for f in ["paid", "valid", "error_code", "event", "id"] {
            assert!(!indexed_as_id(f), "{f}");
        }
    }
}
