//! Loki's push format (`POST /loki/api/v1/push`): JSON
//! (`{"streams": [{"stream": {..}, "values": [["<ns>", "<line>", {metadata}]]}]}`) and
//! protobuf (`logproto.PushRequest`, the body once snappy is undone). Stream labels are
//! kept as the stream; structured metadata become fields; a line that is a JSON object
//! also gives its fields (and its level, when no label names one), while LogQL still
//! sees the line as it was pushed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Error;
use crate::jsonl::{flatten_object, reproduce, LEVEL_KEYS};
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

#[derive(serde::Deserialize)]
struct JsonPush {
    streams: Vec<JsonStream>,
}

#[derive(serde::Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: HashMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

struct Builder {
    max_line: usize,
    out: Pushed,
    names: Names,
    streams: HashMap<(String, String), Arc<Stream>>,
}

impl Builder {
    fn new(max_line: usize) -> Self {
        Self { max_line, out: Pushed::default(), names: Names::default(), streams: HashMap::new() }
    }

    fn reject(&mut self, stream: usize, entry: usize, labels: &str, reason: String, cause: &'static str) {
        self.out.rejected.push(Rejected {
            line: entry + 1,
            reason: format!("stream {} {labels}, entry {}: {reason}", stream + 1, entry + 1),
            cause,
        });
    }

    fn entry(
        &mut self,
        labels: &[(String, String)],
        key: &str,
        time: i64,
        line: &str,
        metadata: Vec<(String, String)>,
    ) {
        let mut fields: Vec<(Arc<str>, Value)> = Vec::new();
        let mut compact = false;
        let mut text: Option<Box<str>> = Some(line.into());
        let parsed = line.trim_start().starts_with('{') && flatten_object(line, &mut self.names, &mut fields);
        if parsed && metadata.is_empty() {
            let (l, c) = reproduce(line, &fields);
            text = l;
            compact = c;
        }
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

/// Reads a JSON push; `Err` when the body is not one at all.
pub fn decode_json(body: &[u8], max_line: usize) -> crate::Result<Pushed> {
    let push: JsonPush =
        serde_json::from_slice(body).map_err(|e| Error::Invalid(format!("the push request is not valid JSON: {e}")))?;
    let mut b = Builder::new(max_line);
    for (si, s) in push.streams.into_iter().enumerate() {
        let labels: Vec<(String, String)> = s.stream.into_iter().collect();
        let stream = Stream::new(labels.clone());
        let key = stream.text();
        if let Some(reason) = invalid_labels(&labels) {
            for ei in 0..s.values.len() {
                b.reject(si, ei, &key, reason.clone(), INVALID);
            }
            continue;
        }
        for (ei, v) in s.values.into_iter().enumerate() {
            let (Some(t), Some(serde_json::Value::String(line))) = (v.first().and_then(parse_ns), v.get(1)) else {
                b.reject(si, ei, &key, "an entry is [\"<unix nanoseconds>\", \"<line>\", {metadata}]".into(), INVALID);
                continue;
            };
            if line.len() > b.max_line {
                let reason = format!("line is {} bytes, longer than the limit of {}", line.len(), b.max_line);
                b.reject(si, ei, &key, reason, TOO_LONG);
                continue;
            }
            let metadata = match v.get(2) {
                Some(serde_json::Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    .collect(),
                _ => Vec::new(),
            };
            b.entry(&labels, &key, t, line, metadata);
        }
    }
    Ok(b.out)
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
