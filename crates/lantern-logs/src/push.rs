//! Loki's push format (`POST /loki/api/v1/push`): JSON
//! (`{"streams": [{"stream": {..}, "values": [["<ns>", "<line>", {metadata}]]}]}`) and
//! protobuf (`logproto.PushRequest`, the body once snappy is undone). Stream labels are
//! kept as the stream; structured metadata become fields; a line that is a JSON object
//! also gives its fields (and its level, when no label names one), while LogQL still
//! sees the line as it was pushed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Error;
use crate::jsonl::{read_object, LEVEL_KEYS};
use crate::model::{normalize_level, parse_label_set, LogRow, Names, Stream, Value};
use crate::store::{Rejected, INVALID, TOO_LONG};

/// The protobuf messages of a push.
pub mod proto {
    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        /// Streams.
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// One stream's entries.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        /// Labels as `{a="b"}`.
        #[prost(string, tag = "1")]
        pub labels: String,
        /// Entries.
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        /// A hash of the labels (unused).
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// One line.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        /// Time.
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        /// The line.
        #[prost(string, tag = "2")]
        pub line: String,
        /// Structured metadata.
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPair>,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// Seconds.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// A metadata pair.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        /// Name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Value.
        #[prost(string, tag = "2")]
        pub value: String,
    }
}

/// What a push gave: the events and the lines refused (by stream and entry).
#[derive(Debug, Default)]
pub struct Pushed {
    /// Events to store.
    pub rows: Vec<LogRow>,
    /// Entries refused, and why.
    pub rejected: Vec<Rejected>,
}

struct Builder {
    max_line: usize,
    out: Pushed,
    names: Names,
    streams: HashMap<(String, String), Arc<Stream>>,
    /// Reused to write lines again.
    render: String,
    /// Reused for the line of a JSON entry.
    line: String,
    /// Fields of the last entry.
    last_fields: usize,
}

impl Builder {
    fn new(max_line: usize) -> Self {
        Self {
            max_line,
            out: Pushed::default(),
            names: Names::default(),
            streams: HashMap::new(),
            render: String::new(),
            line: String::new(),
            last_fields: 0,
        }
    }

    fn reject(&mut self, stream: usize, entry: usize, labels: &str, reason: String, cause: &'static str) {
        self.out.rejected.push(Rejected {
            line: entry + 1,
            reason: format!("stream {} {labels}, entry {}: {reason}", stream + 1, entry + 1),
            cause,
        });
    }

    /// An entry of a JSON push: its time and line if they were given as they should be.
    fn json_entry(
        &mut self,
        si: usize,
        ei: usize,
        labels: &Labels,
        time: Option<i64>,
        line: Option<&str>,
        metadata: Vec<(String, String)>,
    ) {
        if let Some(reason) = &labels.invalid {
            return self.reject(si, ei, &labels.key, reason.clone(), INVALID);
        }
        let (Some(t), Some(line)) = (time, line) else {
            let reason = "an entry is [\"<unix nanoseconds>\", \"<line>\", {metadata}]".into();
            return self.reject(si, ei, &labels.key, reason, INVALID);
        };
        if line.len() > self.max_line {
            let reason = format!("line is {} bytes, longer than the limit of {}", line.len(), self.max_line);
            return self.reject(si, ei, &labels.key, reason, TOO_LONG);
        }
        self.entry(&labels.labels, &labels.key, t, line, metadata);
    }

    fn entry(
        &mut self,
        labels: &[(String, String)],
        key: &str,
        time: i64,
        line: &str,
        metadata: Vec<(String, String)>,
    ) {
        // As many fields as the last line had, most likely.
        let mut fields: Vec<(Arc<str>, Value)> = Vec::with_capacity(self.last_fields + metadata.len());
        let (mut text, compact) = match read_object(line, &mut self.names, &mut fields, &mut self.render) {
            Some((kept, compact)) if metadata.is_empty() => (kept, compact),
            _ => (Some(line.into()), false),
        };
        let level = LEVEL_KEYS
            .iter()
            .find_map(|k| fields.iter().find(|(n, _)| &**n == *k))
            .map(|(_, v)| normalize_level(&v.text()))
            .unwrap_or_default();
        for (k, v) in metadata {
            let n = self.names.get(&k);
            fields.push((n, Value::Str(v.into())));
        }
        if text.is_none() && fields.is_empty() {
            text = Some(line.into());
        }
        self.last_fields = fields.len();
        let stream = self
            .streams
            .entry((key.to_string(), level.clone()))
            .or_insert_with(|| Arc::new(Stream::with_level(labels.to_vec(), &level)))
            .clone();
        self.out.rows.push(LogRow { time, stream, line: text, fields, compact });
    }
}

fn parse_ns(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Reads a JSON push; `Err` when the body is not one at all. Entries are taken as they
/// are read (each line unescaped into one reused buffer), not gathered first.
pub fn decode_json(body: &[u8], max_line: usize) -> crate::Result<Pushed> {
    let mut b = Builder::new(max_line);
    // About one entry per 300 bytes of a push of structured lines.
    b.out.rows.reserve(body.len() / 300);
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::de::DeserializeSeed::deserialize(PushSeed(&mut b), &mut de)
        .and_then(|()| de.end())
        .map_err(|e| Error::Invalid(format!("the push request is not valid JSON: {e}")))?;
    Ok(b.out)
}

/// The whole push: `{"streams": [..]}` (other keys ignored).
struct PushSeed<'b>(&'b mut Builder);

impl<'de> serde::de::DeserializeSeed<'de> for PushSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PushSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a push request: {\"streams\": [...]}")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == "streams" && !seen {
                seen = true;
                map.next_value_seed(StreamsSeed(&mut *self.0))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        if !seen {
            return Err(serde::de::Error::missing_field("streams"));
        }
        Ok(())
    }
}

/// The streams, in order.
struct StreamsSeed<'b>(&'b mut Builder);

impl<'de> serde::de::DeserializeSeed<'de> for StreamsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StreamsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of streams")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut si = 0;
        while seq.next_element_seed(StreamSeed { b: &mut *self.0, si })?.is_some() {
            si += 1;
        }
        Ok(())
    }
}

/// One stream: `{"stream": {labels}, "values": [entries]}`. Its entries are taken as
/// they are read when the labels came first (as clients write them), else once the
/// stream has been read.
struct StreamSeed<'b> {
    b: &'b mut Builder,
    si: usize,
}

/// A stream's labels, checked: the labels, their text and why they are refused.
struct Labels {
    labels: Vec<(String, String)>,
    key: String,
    invalid: Option<String>,
}

impl Labels {
    fn new(labels: Vec<(String, String)>) -> Labels {
        let key = Stream::new(labels.clone()).text();
        let invalid = invalid_labels(&labels);
        Labels { labels, key, invalid }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for StreamSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StreamSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a stream: {\"stream\": {labels}, \"values\": [entries]}")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut labels: Option<Labels> = None;
        let mut pending: Option<Vec<Vec<serde_json::Value>>> = None;
        let mut entries = 0;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*k {
                "stream" if labels.is_none() => {
                    let m: HashMap<String, String> = map.next_value()?;
                    labels = Some(Labels::new(m.into_iter().collect()));
                }
                "values" if entries == 0 && pending.is_none() => match &labels {
                    Some(l) => {
                        let seed = ValuesSeed { b: &mut *self.b, si: self.si, labels: l, count: &mut entries };
                        map.next_value_seed(seed)?;
                    }
                    None => pending = Some(map.next_value()?),
                },
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let labels = labels.unwrap_or_else(|| Labels::new(Vec::new()));
        for (ei, v) in pending.into_iter().flatten().enumerate() {
            let (t, line) = match (v.first().and_then(parse_ns), v.get(1)) {
                (Some(t), Some(serde_json::Value::String(line))) => (Some(t), Some(line.as_str())),
                _ => (None, None),
            };
            let metadata = v.get(2).map(metadata_of).unwrap_or_default();
            self.b.json_entry(self.si, ei, &labels, t, line, metadata);
        }
        Ok(())
    }
}

/// A stream's entries, each taken as it is read.
struct ValuesSeed<'b, 'l> {
    b: &'b mut Builder,
    si: usize,
    labels: &'l Labels,
    count: &'l mut usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for ValuesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ValuesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of entries")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut line = std::mem::take(&mut self.b.line);
        let mut ei = 0;
        while let Some((t, has_line, metadata)) = seq.next_element_seed(EntrySeed { line: &mut line })? {
            self.b.json_entry(self.si, ei, self.labels, t, has_line.then_some(line.as_str()), metadata);
            ei += 1;
        }
        *self.count = ei;
        self.b.line = line;
        Ok(())
    }
}

/// One entry: `["<unix nanoseconds>", "<line>", {metadata}]`; the line into `line`.
struct EntrySeed<'l> {
    line: &'l mut String,
}

type Entry = (Option<i64>, bool, Vec<(String, String)>);

impl<'de> serde::de::DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an entry: [\"<unix nanoseconds>\", \"<line>\", {metadata}]")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        // The time's text goes through the line's buffer too, before the line.
        self.line.clear();
        let t = match seq.next_element_seed(ScalarSeed(&mut *self.line))? {
            Some(Scalar::Text) => self.line.parse().ok(),
            Some(Scalar::Int(i)) => i,
            _ => None,
        };
        self.line.clear();
        let has_line = matches!(seq.next_element_seed(ScalarSeed(&mut *self.line))?, Some(Scalar::Text));
        let metadata = seq.next_element::<serde_json::Value>()?.as_ref().map(metadata_of).unwrap_or_default();
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok((t, has_line, metadata))
    }
}

/// What an entry's element was: a string (copied into the buffer), an integer (`None`
/// when it does not fit an `i64`), or anything else (read and dropped).
enum Scalar {
    Text,
    Int(Option<i64>),
    Other,
}

/// Reads one element of an entry as a [`Scalar`], a string into the buffer.
struct ScalarSeed<'l>(&'l mut String);

impl<'de> serde::de::DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = Scalar;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ScalarSeed<'_> {
    type Value = Scalar;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
        self.0.push_str(s);
        Ok(Scalar::Text)
    }
    fn visit_i64<E>(self, i: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(Some(i)))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i64::try_from(u).ok()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// Structured metadata: an object's members as text (others give none).
fn metadata_of(v: &serde_json::Value) -> Vec<(String, String)> {
    match v {
        serde_json::Value::Object(m) => {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
        }
        _ => Vec::new(),
    }
}

/// Reads a protobuf push (already decompressed); `Err` when it does not decode.
pub fn decode_proto(body: &[u8], max_line: usize) -> crate::Result<Pushed> {
    let push = <proto::PushRequest as prost::Message>::decode(body)
        .map_err(|e| Error::Invalid(format!("the push request is not a valid PushRequest: {e}")))?;
    let mut b = Builder::new(max_line);
    for (si, s) in push.streams.into_iter().enumerate() {
        let labels = match parse_label_set(&s.labels) {
            Ok(l) => l,
            Err(e) => {
                for ei in 0..s.entries.len() {
                    b.reject(si, ei, &s.labels, e.clone(), INVALID);
                }
                continue;
            }
        };
        let key = Stream::new(labels.clone()).text();
        if let Some(reason) = invalid_labels(&labels) {
            for ei in 0..s.entries.len() {
                b.reject(si, ei, &key, reason.clone(), INVALID);
            }
            continue;
        }
        for (ei, e) in s.entries.into_iter().enumerate() {
            if e.line.len() > b.max_line {
                let reason = format!("line is {} bytes, longer than the limit of {}", e.line.len(), b.max_line);
                b.reject(si, ei, &key, reason, TOO_LONG);
                continue;
            }
            let t =
                e.timestamp.map_or(0, |t| t.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(t.nanos)));
            let md = e.structured_metadata.into_iter().map(|p| (p.name, p.value)).collect();
            b.entry(&labels, &key, t, &e.line, md);
        }
    }
    Ok(b.out)
}

fn invalid_labels(labels: &[(String, String)]) -> Option<String> {
    if labels.is_empty() {
        return Some("a stream needs at least one label".into());
    }
    labels.iter().find_map(|(k, _)| {
        let ok = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (!ok).then(|| format!("label name {k:?} is invalid"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_protobuf_pushes() {
        let body = br#"{"streams": [
            {"stream": {"service": "payment", "env": "prod"},
             "values": [["1770836401000000000", "{\"event\":\"payment_failed\",\"level\":\"error\"}"],
                        ["1770836402000000000", "plain words", {"trace_id": "abc"}],
                        ["bad", "x"],
                        ["1770836403000000000", "0123456789abcdef"]]},
            {"stream": {"1bad": "x"}, "values": [["1", "y"]]}
        ]}"#;
        let p = decode_json(body, 10).unwrap();
        assert_eq!(p.rows.len(), 0, "every line is over 10 bytes or refused");
        let p = decode_json(body, 1000).unwrap();
        assert_eq!(p.rows.len(), 3);
        let r = &p.rows[0];
        assert_eq!((r.time, &*r.stream.level, &*r.stream.service), (1_770_836_401_000_000_000, "error", "payment"));
        assert_eq!(r.stream.text(), r#"{env="prod", service="payment"}"#);
        assert_eq!(r.render_line(), r#"{"event":"payment_failed","level":"error"}"#);
        assert_eq!(r.message(), "payment_failed");
        assert_eq!(p.rows[1].field("trace_id"), Some(&Value::Str("abc".into())));
        assert_eq!(p.rows[1].render_line(), "plain words");
        let reasons: Vec<&str> = p.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].starts_with("stream 1 {env=\"prod\", service=\"payment\"}, entry 3:"), "{reasons:?}");
        assert!(reasons[1].contains("label name \"1bad\" is invalid"), "{reasons:?}");
        assert!(decode_json(b"{", 10).is_err());
        for bad in [&b"{}"[..], br#"{"streams": [{"values": ["x"]}]}"#, br#"{"streams": {}}"#, br#"{"streams": []} x"#]
        {
            assert!(decode_json(bad, 100).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Values before labels, times as numbers, keys Loki does not know, lines that are
        // not strings, short entries.
        let body = br#"{"other": 1, "streams": [
            {"values": [[1770836401000000000, "a"], ["1770836402000000000", 5], ["7"], [], ["8", "b", {"k": 1}, "extra"]],
             "stream": {"service": "s"}, "x": [1]},
            {"stream": {"service": "t"}},
            {"values": [["1", "no labels"]]}
        ]}"#;
        let p = decode_json(body, 100).unwrap();
        let got: Vec<(i64, String)> = p.rows.iter().map(|r| (r.time, r.render_line().into_owned())).collect();
        assert_eq!(got, [(1_770_836_401_000_000_000, "a".to_string()), (8, "b".to_string())]);
        assert_eq!(p.rows[1].field("k"), Some(&Value::Str("1".into())));
        let reasons: Vec<&str> = p.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        for (r, entry) in
            reasons.iter().zip(["stream 1 {service=\"s\"}, entry 2", "entry 3", "entry 4", "stream 3 {}, entry 1"])
        {
            assert!(r.contains(entry), "{r}");
        }
        assert!(reasons[3].contains("at least one label"), "{reasons:?}");

        let req = proto::PushRequest {
            streams: vec![proto::StreamAdapter {
                labels: r#"{service="payment", level="warn"}"#.into(),
                entries: vec![proto::EntryAdapter {
                    timestamp: Some(proto::Timestamp { seconds: 1_770_836_401, nanos: 5 }),
                    line: "low balance".into(),
                    structured_metadata: vec![proto::LabelPair { name: "user_id".into(), value: "u1".into() }],
                }],
                hash: 0,
            }],
        };
        let p = decode_proto(&prost::Message::encode_to_vec(&req), 100).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].time, 1_770_836_401_000_000_005);
        assert_eq!(&*p.rows[0].stream.level, "warn");
        assert_eq!(p.rows[0].render_line(), "low balance");
        assert!(decode_proto(b"\xff\xff", 100).is_err());
    }
}
