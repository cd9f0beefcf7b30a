//! JSON lines into log events: each object's keys become typed fields in order (nested
//! objects flattened with dots, arrays kept as JSON); `timestamp` (or `time`, `ts`,
//! `@timestamp`) gives the time, `level` (or `severity`, `levelname`) the level, and
//! `event`/`message`/`msg` the message, all kept as fields too. A line that is not a
//! JSON object is kept as text, never dropped.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::model::{normalize_level, render_into, LogRow, Names, Stream, Value};

/// Field names read as the event time, by preference.
pub const TIME_KEYS: [&str; 4] = ["timestamp", "time", "ts", "@timestamp"];
/// Field names read as the level, by preference.
pub const LEVEL_KEYS: [&str; 3] = ["level", "severity", "levelname"];

/// Turns lines into events for one request: streams and field names are shared between
/// the request's events.
pub struct LineParser {
    labels: Vec<(String, String)>,
    now: i64,
    streams: HashMap<String, Arc<Stream>, foldhash::fast::RandomState>,
    names: Names,
    render: String,
    /// Fields of the last JSON line: the next one likely has as many.
    last_fields: usize,
}

impl LineParser {
    /// A parser whose events carry `labels` (say, `service`) and the level each line
    /// names; `now` (ns) is the time of lines without one.
    pub fn new(labels: Vec<(String, String)>, now: i64) -> Self {
        Self {
            labels,
            now,
            streams: HashMap::default(),
            names: Names::default(),
            render: String::new(),
            last_fields: 0,
        }
    }

    /// The stream of lines at this level.
    pub fn stream(&mut self, level: &str) -> Arc<Stream> {
        if let Some(s) = self.streams.get(level) {
            return s.clone();
        }
        let mut labels = self.labels.clone();
        if !level.is_empty() && !labels.iter().any(|(k, _)| k == "level") {
            labels.push(("level".into(), level.to_string()));
        }
        let s = Arc::new(Stream::new(labels));
        self.streams.insert(level.to_string(), s.clone());
        s
    }

    /// One line as an event.
    pub fn parse(&mut self, line: &str) -> LogRow {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut fields = Vec::with_capacity(self.last_fields);
        if let Some((kept, compact)) = read_object(line, &mut self.names, &mut fields, &mut self.render) {
            self.last_fields = fields.len();
            let time = TIME_KEYS
                .iter()
                .find_map(|k| fields.iter().find(|(n, _)| &**n == *k).and_then(|(_, v)| value_time(v)))
                .unwrap_or(self.now);
            let level = LEVEL_KEYS
                .iter()
                .find_map(|k| fields.iter().find(|(n, _)| &**n == *k))
                .map(|(_, v)| normalize_level(&v.text()))
                .unwrap_or_default();
            let stream = self.stream(&level);
            return LogRow { time, stream, line: kept, fields, compact };
        }
        let stream = self.stream(&text_level(line));
        LogRow { time: self.now, stream, line: Some(line.into()), fields: Vec::new(), compact: false }
    }
}

/// A line read as one JSON object: its flat fields into `out` (cleared first) and how it is kept (as
/// [`reproduce`] says); `None` when it is not exactly one JSON object.
pub fn read_object(
    line: &str,
    names: &mut Names,
    out: &mut Vec<(Arc<str>, Value)>,
    buf: &mut String,
) -> Option<(Option<Box<str>>, bool)> {
    out.clear();
    if let Some(compact) = flat_object(line, names, out) {
        return Some((None, compact));
    }
    out.clear();
    if !line.trim_start().starts_with('{') || !flatten_object(line, names, out) {
        out.clear();
        return None;
    }
    Some(reproduce_with(line, out, buf))
}

/// The common case read in one pass: an object of plain values (strings without
/// escapes, integers and decimals as they are written back, booleans, nulls) spaced as
/// Python's `json.dumps` spaces them or compact, which its fields written again give
/// back exactly. `Some(compact)` with the fields in `out`; `None` for anything else
/// (nesting, escapes, other spacing, numbers that would be written otherwise), which
/// the general reader takes.
fn flat_object(line: &str, names: &mut Names, out: &mut Vec<(Arc<str>, Value)>) -> Option<bool> {
    let b = line.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.len() == 2 && b[1] == b'}' {
        return Some(true);
    }
    names.start();
    let mut at = 1;
    // Spaced or compact: the first key's colon decides, the rest must agree.
    let mut compact = None;
    loop {
        let key = plain_string(line, &mut at)?;
        let spaced = match b.get(at..at + 2) {
            Some(b": ") => true,
            Some([b':', _]) => false,
            _ => return None,
        };
        if *compact.get_or_insert(!spaced) == spaced {
            return None;
        }
        at += if spaced { 2 } else { 1 };
        let name = names.get(key);
        let value = match *b.get(at)? {
            b'"' => Value::Str(names.value(plain_string(line, &mut at)?)),
            b't' if b[at..].starts_with(b"true") => {
                at += 4;
                Value::Bool(true)
            }
            b'f' if b[at..].starts_with(b"false") => {
                at += 5;
                Value::Bool(false)
            }
            b'n' if b[at..].starts_with(b"null") => {
                at += 4;
                Value::Null
            }
            b'-' | b'0'..=b'9' => plain_number(line, &mut at)?,
            _ => return None,
        };
        out.push((name, value));
        match b.get(at..at + 2) {
            Some(b", ") if compact == Some(false) => at += 2,
            Some([b',', c]) if compact == Some(true) && *c != b' ' => at += 1,
            Some([b'}', ..]) | None if b.get(at) == Some(&b'}') && at + 1 == b.len() => return compact,
            _ => return None,
        }
    }
}

/// A string at `at` that needs no escaping, as itself (`at` moved past it).
fn plain_string<'a>(line: &'a str, at: &mut usize) -> Option<&'a str> {
    let b = line.as_bytes();
    if b.get(*at) != Some(&b'"') {
        return None;
    }
    let start = *at + 1;
    let len = b[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    if b[start + len] != b'"' {
        return None;
    }
    *at = start + len + 1;
    // The quotes are ASCII, so the bytes between them are whole characters.
    line.get(start..start + len)
}

/// A number at `at` in the form it is written back in: an integer without a leading
/// zero that fits (Int), or a decimal with up to 15 significant digits, no exponent and
/// no trailing zero after the point but `.0` (Float: as a decimal of so few digits is
/// read exactly and written back in its shortest form, the text is that form).
fn plain_number(line: &str, at: &mut usize) -> Option<Value> {
    let b = line.as_bytes();
    let start = *at;
    let mut i = start + usize::from(b[start] == b'-');
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = &b[int_start..i];
    if int_digits.is_empty() || (int_digits.len() > 1 && int_digits[0] == b'0') {
        return None;
    }
    if b.get(i) != Some(&b'.') {
        if matches!(b.get(i), Some(b'e' | b'E')) || int_digits.len() > 18 || &b[start..i] == b"-0" {
            return None;
        }
        *at = i;
        return line[start..i].parse().ok().map(Value::Int);
    }
    i += 1;
    let frac_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let frac = &b[frac_start..i];
    let significant = int_digits.iter().chain(frac).skip_while(|&&c| c == b'0').count();
    if frac.is_empty()
        || frac.len() > 22
        || significant > 15
        || (frac.len() > 1 && frac.ends_with(b"0"))
        || (frac == b"0" && b[start] == b'-')
        || matches!(b.get(i), Some(b'e' | b'E'))
    {
        return None;
    }
    *at = i;
    line[start..i].parse().ok().map(Value::Float)
}

/// How a JSON line is kept: `(None, compact)` when its fields, written again in that
/// style, give the line back; else the line itself.
pub fn reproduce(line: &str, fields: &[(Arc<str>, Value)]) -> (Option<Box<str>>, bool) {
    reproduce_with(line, fields, &mut String::new())
}

/// [`reproduce`] rendering into a reused buffer (when the line is not compared with
/// its fields in place).
pub fn reproduce_with(line: &str, fields: &[(Arc<str>, Value)], buf: &mut String) -> (Option<Box<str>>, bool) {
    // The separators after the first key tell the style; one rendering decides.
    let compact = !line.contains("\": ");
    let same = match renders_as(line.as_bytes(), fields, compact, buf) {
        Some(same) => same,
        None => {
            render_into(fields, compact, buf);
            buf == line
        }
    };
    if same {
        return (None, compact);
    }
    (Some(line.into()), false)
}

/// Whether the fields written as one object in this style give the line, compared in
/// place: `None` when that cannot be told without writing them (an escape, a nested
/// object).
fn renders_as(line: &[u8], fields: &[(Arc<str>, Value)], compact: bool, num: &mut String) -> Option<bool> {
    use std::fmt::Write;
    let (sep, colon): (&[u8], &[u8]) = if compact { (b",", b":") } else { (b", ", b": ") };
    let mut at = 0usize;
    let eat = |lit: &[u8], at: &mut usize| -> bool {
        let ok = line.get(*at..*at + lit.len()) == Some(lit);
        *at += lit.len();
        ok
    };
    // A string as it is in the line, unescaped: the line's bytes are the string's
    // only if neither holds a quote, backslash or control byte.
    let string = |s: &str, at: &mut usize| -> Option<bool> {
        let b = s.as_bytes();
        if b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
            return None;
        }
        let ok = line.get(*at) == Some(&b'"')
            && line.get(*at + 1..*at + 1 + b.len()) == Some(b)
            && line.get(*at + 1 + b.len()) == Some(&b'"');
        *at += b.len() + 2;
        Some(ok)
    };
    if !eat(b"{", &mut at) {
        return Some(false);
    }
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 && !eat(sep, &mut at) {
            return Some(false);
        }
        if !string(k, &mut at)? || !eat(colon, &mut at) {
            return Some(false);
        }
        let ok = match v {
            Value::Str(s) => string(s, &mut at)?,
            Value::Null => eat(b"null", &mut at),
            Value::Bool(b) => eat(if *b { b"true" } else { b"false" }, &mut at),
            Value::Int(x) => {
                num.clear();
                let _ = write!(num, "{x}");
                eat(num.as_bytes(), &mut at)
            }
            Value::Float(_) => {
                num.clear();
                v.write_json(num);
                eat(num.as_bytes(), &mut at)
            }
            Value::Json(_) => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(eat(b"}", &mut at) && at == line.len())
}

/// The level a text line names in logfmt style (`level=error`, `lvl=warn`,
/// `severity=info`), normalised; empty if none.
pub fn text_level(line: &str) -> String {
    for key in ["level=", "lvl=", "severity="] {
        let mut from = 0;
        while let Some(i) = line[from..].find(key) {
            let at = from + i;
            if at == 0 || line.as_bytes()[at - 1] == b' ' {
                let v = &line[at + key.len()..];
                let v = v.trim_start_matches('"');
                let end = v.find([' ', '"']).unwrap_or(v.len());
                return normalize_level(&v[..end]);
            }
            from = at + key.len();
        }
    }
    String::new()
}

/// A field value read as a time: RFC 3339 text or epoch seconds, milliseconds,
/// microseconds or nanoseconds (by magnitude).
pub fn value_time(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(epoch(*i as f64)),
        Value::Float(f) => Some(epoch(*f)),
        Value::Str(s) => parse_time(s),
        _ => None,
    }
}

fn epoch(x: f64) -> i64 {
    let a = x.abs();
    let ns = if a < 1e11 {
        x * 1e9
    } else if a < 1e14 {
        x * 1e6
    } else if a < 1e17 {
        x * 1e3
    } else {
        x
    };
    ns as i64
}

/// Text as a time (ns): RFC 3339 (`Z` or an offset; without one, UTC; `T` or a space),
/// a date alone, or an epoch number.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z") {
        return t.timestamp_nanos_opt();
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite()).map(epoch)
}

/// Reads a JSON object into flat fields (names shared through `names`); false (and
/// `out` unspecified) when `line` is not exactly one JSON object.
pub fn flatten_object(line: &str, names: &mut Names, out: &mut Vec<(Arc<str>, Value)>) -> bool {
    names.start();
    let mut de = serde_json::Deserializer::from_str(line);
    let ok = de.deserialize_map(ObjectVisitor { prefix: "", names, out }).is_ok();
    ok && de.end().is_ok()
}

struct ObjectVisitor<'a> {
    prefix: &'a str,
    names: &'a mut Names,
    out: &'a mut Vec<(Arc<str>, Value)>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let key = if self.prefix.is_empty() {
                self.names.get(&k)
            } else {
                self.names.get(&format!("{}.{k}", self.prefix))
            };
            map.next_value_seed(FieldSeed { key, names: &mut *self.names, out: &mut *self.out })?;
        }
        Ok(())
    }
}

struct FieldSeed<'a> {
    key: Arc<str>,
    names: &'a mut Names,
    out: &'a mut Vec<(Arc<str>, Value)>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push((self.key, Value::Null));
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out.push((self.key, Value::Bool(b)));
        Ok(())
    }
    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.out.push((self.key, Value::Int(i)));
        Ok(())
    }
    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        let v = i64::try_from(u).map_or(Value::Float(u as f64), Value::Int);
        self.out.push((self.key, v));
        Ok(())
    }
    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.out.push((self.key, Value::Float(f)));
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.out.push((self.key, Value::Str(self.names.value(s))));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let at = self.out.len();
        let key = self.key;
        ObjectVisitor { prefix: &key, names: self.names, out: &mut *self.out }.visit_map(map)?;
        if self.out.len() == at {
            // An empty object stays a field.
            self.out.push((key, Value::Json("{}".into())));
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            items.push(v);
        }
        self.out.push((self.key, Value::Json(serde_json::Value::Array(items).to_string().into())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structlog_line() {
        let mut p = LineParser::new(vec![("service".into(), "checkout".into())], 7);
        let r = p.parse(
            r#"{"request_id": "req-123", "user_id": "user-456", "event": "payment_failed", "error": "Card declined", "error_code": "CARD_DECLINED", "timestamp": "2026-02-11T19:00:01Z", "level": "error"}"#,
        );
        assert_eq!(r.time, 1_770_836_401_000_000_000);
        assert_eq!(&*r.stream.level, "error");
        assert_eq!(&*r.stream.service, "checkout");
        assert_eq!(r.stream.text(), r#"{level="error", service="checkout"}"#);
        assert_eq!(r.message(), "payment_failed");
        let keys: Vec<&str> = r.fields.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["request_id", "user_id", "event", "error", "error_code", "timestamp", "level"]);
        let hit = serde_json::Value::Object(r.hit());
        assert_eq!(hit["timestamp"], "2026-02-11T19:00:01Z");
        assert_eq!(hit["event"], "payment_failed");
        assert_eq!(hit["message"], "payment_failed");
        assert_eq!(hit["error_code"], "CARD_DECLINED");
        assert_eq!(
            r.render_line(),
            r#"{"request_id": "req-123", "user_id": "user-456", "event": "payment_failed", "error": "Card declined", "error_code": "CARD_DECLINED", "timestamp": "2026-02-11T19:00:01Z", "level": "error"}"#
        );
    }

    #[test]
    fn nesting_types_epochs_and_text() {
        let mut p = LineParser::new(vec![], 7);
        let r = p.parse(r#"{"ts": 1770836401.5, "http": {"method": "GET", "status": 200, "ok": true}, "tags": [1, "a"], "x": null, "big": 18446744073709551615, "msg": "hi", "e": {}}"#);
        assert_eq!(r.time, 1_770_836_401_500_000_000);
        assert_eq!(r.field("http.method"), Some(&Value::Str("GET".into())));
        assert_eq!(r.field("http.status"), Some(&Value::Int(200)));
        assert_eq!(r.field("http.ok"), Some(&Value::Bool(true)));
        assert_eq!(r.field("tags"), Some(&Value::Json(r#"[1,"a"]"#.into())));
        assert_eq!(r.field("x"), Some(&Value::Null));
        assert_eq!(r.field("big"), Some(&Value::Float(18446744073709551615.0)));
        assert_eq!(r.field("e"), Some(&Value::Json("{}".into())));
        assert_eq!(r.message(), "hi");
        assert_eq!(&*r.stream.level, "");
        for (text, t) in [("1770836401", 1_770_836_401_000_000_000i64), ("1770836401000", 1_770_836_401_000_000_000)] {
            assert_eq!(p.parse(&format!(r#"{{"timestamp": {text}}}"#)).time, t);
        }
        assert_eq!(p.parse(r#"{"timestamp": "2026-02-11 19:00:01.25"}"#).time, 1_770_836_401_250_000_000);
        // Not JSON, or not an object, or trailing garbage: text, kept whole.
        // Compact JSON is written back compactly; JSON that would not come back the same is
        // kept as it was.
        let r = p.parse(r#"{"a":1,"b":"x"}"#);
        assert_eq!((r.line.as_deref(), r.render_line().as_ref()), (None, r#"{"a":1,"b":"x"}"#));
        let odd = r#"{"a" :1, "n": {"b": 2}}"#;
        let r = p.parse(odd);
        assert_eq!((r.line.as_deref(), r.field("n.b")), (Some(odd), Some(&Value::Int(2))));
        for l in ["plain text line", "[1,2]", r#"{"a": 1} trailing"#, "{broken"] {
            let r = p.parse(l);
            assert_eq!(r.line.as_deref(), Some(l));
            assert_eq!(r.time, 7);
            assert_eq!(r.message(), l);
        }
        assert_eq!(&*p.parse(r#"{"level": "WARNING"}"#).stream.level, "warn");
    }

    /// Whatever the one-pass reader takes, the general reader reads the same fields from
    /// and keeps the same way.
    #[test]
    fn the_one_pass_reader_agrees_with_the_general_one() {
        let mut lines: Vec<String> = [
            r#"{"request_id": "req-1", "user_id": "user-4", "event": "x", "status": 200, "duration_ms": 1054.65, "ok": true, "n": null, "level": "info", "timestamp": "2026-12-07T03:19:18.025927Z"}"#,
            r#"{"a":1,"b":"x","c":2.0,"d":false}"#,
            "{}",
            r#"{"a": 1,"b": 2}"#,
            r#"{"a":1, "b":2}"#,
            r#"{"a": "x"} "#,
            r#"{"a": "x"}}"#,
            r#"{"a": "x", }"#,
            r#"{"a": "x",}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"é": "ü ✓"}"#,
            r#"{"a": "x\"y"}"#,
            r#"{"a": {"b": 1}}"#,
            r#"{"a": [1]}"#,
            r#"{"a": tru}"#,
            r#"{"a": nulls}"#,
            r#"{"a"}"#,
            r#"{"a": "#,
            r#"{"a": 1"#,
            r#"{"#,
            r#"{"a":"x": "y"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let numbers = [
            "0",
            "-0",
            "7",
            "-7",
            "00",
            "01",
            "-01",
            "123456789012345678",
            "1234567890123456789",
            "-9223372036854775808",
            "9223372036854775807",
            "18446744073709551615",
            "1e3",
            "1E3",
            "1.5e3",
            "0.0",
            "-0.0",
            "0.5",
            "-0.5",
            "1.0",
            "1.50",
            "10.0",
            "100.25",
            "1.",
            ".5",
            "-",
            "0.1",
            "0.2",
            "0.3",
            "1054.65",
            "201.9",
            "714.07",
            "123456789012345.0",
            "1234567890123456.0",
            "0.123456789012345",
            "0.1234567890123456",
            "99999999999999.9",
            "0.000000000000000000001",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "5e-324",
            "1.7976931348623157",
        ];
        for n in numbers {
            lines.push(format!(r#"{{"a": {n}}}"#));
            lines.push(format!(r#"{{"x":"y","a":{n}}}"#));
        }
        // Decimals of every shape up to 17 digits, from a fixed sequence.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = (seed % 17 + 1) as usize;
            let text = format!("{:017}", seed >> 8);
            let point = (seed >> 3) as usize % (digits + 1);
            let d = &text[17 - digits..];
            let n = if point == 0 { d.to_string() } else { format!("{}.{}", &d[..point], &d[point..]) };
            lines.push(format!(r#"{{"a": {n}, "b": "c"}}"#));
        }
        let mut fast_taken = 0;
        for line in &lines {
            let mut names = Names::default();
            let mut fast = Vec::new();
            let taken = flat_object(line, &mut names, &mut fast);
            let mut slow = Vec::new();
            let parsed = flatten_object(line, &mut Names::default(), &mut slow);
            if let Some(compact) = taken {
                fast_taken += 1;
                assert!(parsed, "{line}");
                assert_eq!(fast, slow, "{line}");
                assert_eq!(reproduce(line, &slow), (None, compact), "{line}");
            }
            let mut buf = String::new();
            let read = read_object(line, &mut Names::default(), &mut fast, &mut buf);
            assert_eq!(read.is_some(), parsed, "{line}");
            if parsed {
                assert_eq!(read, Some(reproduce(line, &slow)), "{line}");
                assert_eq!(fast, slow, "{line}");
            }
        }
        assert!(fast_taken > 10_000, "{fast_taken} lines read in one pass");
    }

    #[test]
    fn lines_compared_in_place_agree_with_lines_written_again() {
        let lines = [
            r#"{"a": 1, "b": "x", "c": 2.5, "d": true, "e": null}"#,
            r#"{"a":1,"b":"x","c":2.0}"#,
            r#"{"a": 1,"b": "x"}"#,
            r#"{"a": 1.50}"#,
            r#"{"a": 1e3}"#,
            r#"{"q": "say \"hi\"", "n": "a\nb"}"#,
            r#"{"u": "caf\u00e9"}"#,
            r#"{"é": "ü"}"#,
            r#"{"o": {"x": 1}, "l": [1, 2]}"#,
            r#"{"a": 1}  "#,
            r#"{ "a": 1}"#,
            r#"{"a": -0}"#,
            r#"{"a": 10}"#,
            r#"{"a": 10.0}"#,
        ];
        for line in lines {
            let mut names = Names::default();
            let mut fields = Vec::new();
            assert!(flatten_object(line, &mut names, &mut fields), "{line}");
            let compact = !line.contains("\": ");
            let mut buf = String::new();
            render_into(&fields, compact, &mut buf);
            let written = buf == line;
            let mut num = String::new();
            if let Some(same) = renders_as(line.as_bytes(), &fields, compact, &mut num) {
                assert_eq!(same, written, "{line}");
            }
            assert_eq!(reproduce(line, &fields).0.is_none(), written, "{line}");
        }
    }
}
