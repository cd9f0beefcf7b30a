//! The log payloads of log events: events in a compact binary form, or the request
//! that carried them (a JSON-lines body with its labels and arrival time), parsed
//! again on replay. Reading never panics on damaged bytes: it gives `None`.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::varint::{put_uvarint, read_uvarint};

use crate::jsonl::LineParser;
use crate::model::{LogRow, Stream, Value};

/// Events in binary form.
const ROWS: u8 = 1;
/// A JSON-lines body: every line of it was stored.
const JSONL: u8 = 2;
/// An OTLP `ExportLogsServiceRequest` (protobuf) all of whose records were stored.
const OTLP: u8 = 3;
/// Lines read from a file: labels, arrival time, the file and the offset after them.
const FILE: u8 = 4;
/// Multiline records read from a file: as [`FILE`], then where each record lies in the
/// body.
const FILE_RECORDS: u8 = 5;
/// A Loki push request as JSON: the longest line taken (uvarint), then the body.
const LOKI_JSON: u8 = 6;
/// A Loki push request as protobuf (decompressed): as [`LOKI_JSON`].
const LOKI_PROTO: u8 = 7;

fn put_str(s: &str, out: &mut Vec<u8>) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        read_uvarint(&mut self.0)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.varint()?).ok()?;
        std::str::from_utf8(self.bytes(n)?).ok()
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
}

/// Writes events in binary form.
pub fn encode_rows(rows: &[LogRow], out: &mut Vec<u8>) {
    out.push(ROWS);
    put_uvarint(out, rows.len() as u64);
    for r in rows {
        out.extend_from_slice(&r.time.to_le_bytes());
        put_uvarint(out, r.stream.labels.len() as u64);
        for (k, v) in &r.stream.labels {
            put_str(k, out);
            put_str(v, out);
        }
        put_str(&r.stream.level, out);
        out.push(u8::from(r.compact));
        match &r.line {
            Some(l) => {
                out.push(1);
                put_str(l, out);
            }
            None => out.push(0),
        }
        put_uvarint(out, r.fields.len() as u64);
        for (k, v) in &r.fields {
            put_str(k, out);
            match v {
                Value::Null => out.push(0),
                Value::Bool(b) => out.push(if *b { 2 } else { 1 }),
                Value::Int(i) => {
                    out.push(3);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Value::Float(f) => {
                    out.push(4);
                    out.extend_from_slice(&f.to_le_bytes());
                }
                Value::Str(s) => {
                    out.push(5);
                    put_str(s, out);
                }
                Value::Json(s) => {
                    out.push(6);
                    put_str(s, out);
                }
            }
        }
    }
}

/// The payload parts of a JSON-lines body all of whose lines were stored: a header
/// (the labels and the arrival time, which lines without a time take) and the body.
pub fn jsonl_header(labels: &[(String, String)], now: i64) -> Vec<u8> {
    let mut h = vec![JSONL];
    h.extend_from_slice(&now.to_le_bytes());
    put_uvarint(&mut h, labels.len() as u64);
    for (k, v) in labels {
        put_str(k, &mut h);
        put_str(v, &mut h);
    }
    h
}

/// The payload header of a Loki push request (JSON, or decompressed protobuf) whose
/// entries were stored (those longer than `max_line` were refused, and are again when
/// it is replayed); the body follows it.
pub fn loki_header(proto: bool, max_line: usize) -> Vec<u8> {
    let mut h = vec![if proto { LOKI_PROTO } else { LOKI_JSON }];
    put_uvarint(&mut h, max_line as u64);
    h
}

/// The payload header of an OTLP logs request all of whose records were stored (the
/// arrival time, which records without a time take); the body follows it.
pub fn otlp_header(now: i64) -> Vec<u8> {
    let mut h = vec![OTLP];
    h.extend_from_slice(&now.to_le_bytes());
    h
}

/// The payload header of lines read from a file (the body follows): they replay as
/// [`jsonl_header`]'s do, and [`file_offset`] reads back how far the file was read.
/// With `records` (byte ranges of the body), each range is one event, not each line.
pub fn file_header(
    labels: &[(String, String)],
    now: i64,
    file: &str,
    end: u64,
    records: Option<&[std::ops::Range<usize>]>,
) -> Vec<u8> {
    let mut h = jsonl_header(labels, now);
    h[0] = if records.is_some() { FILE_RECORDS } else { FILE };
    put_str(file, &mut h);
    h.extend_from_slice(&end.to_le_bytes());
    if let Some(records) = records {
        put_uvarint(&mut h, records.len() as u64);
        let mut at = 0;
        for r in records {
            put_uvarint(&mut h, (r.start - at) as u64);
            put_uvarint(&mut h, (r.end - r.start) as u64);
            at = r.end;
        }
    }
    h
}

/// The file and the offset after the lines of a [`file_header`] payload.
pub fn file_offset(b: &[u8]) -> Option<(String, u64)> {
    let (&tag, rest) = b.split_first()?;
    if tag != FILE && tag != FILE_RECORDS {
        return None;
    }
    let mut r = Reader(rest);
    let (_, _) = jsonl_prefix(&mut r)?;
    let file = r.str()?.to_string();
    let end = u64::from_le_bytes(r.bytes(8)?.try_into().ok()?);
    Some((file, end))
}

fn jsonl_prefix(r: &mut Reader) -> Option<(i64, Vec<(String, String)>)> {
    let now = r.i64()?;
    let n = usize::try_from(r.varint()?).ok()?;
    let mut labels = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        labels.push((r.str()?.to_string(), r.str()?.to_string()));
    }
    Some((now, labels))
}

/// The lines of a JSON-lines body, as ingest splits them: by `\n`, skipping blank ones.
pub fn body_lines(body: &str) -> impl Iterator<Item = &str> {
    body.split('\n').filter(|l| !l.trim().is_empty())
}

/// The events of a payload.
pub fn decode_payload(b: &[u8]) -> Option<Vec<LogRow>> {
    let (&tag, rest) = b.split_first()?;
    let mut r = Reader(rest);
    match tag {
        ROWS => decode_rows(&mut r),
        JSONL | FILE => {
            let (now, labels) = jsonl_prefix(&mut r)?;
            if tag == FILE {
                r.str()?;
                r.bytes(8)?;
            }
            let body = std::str::from_utf8(r.0).ok()?;
            let mut p = LineParser::new(labels, now);
            Some(body_lines(body).map(|l| p.parse(l)).collect())
        }
        FILE_RECORDS => {
            let (now, labels) = jsonl_prefix(&mut r)?;
            r.str()?;
            r.bytes(8)?;
            let n = usize::try_from(r.varint()?).ok()?;
            let mut ranges = Vec::with_capacity(n.min(1 << 16));
            let mut at = 0usize;
            for _ in 0..n {
                let start = at.checked_add(usize::try_from(r.varint()?).ok()?)?;
                at = start.checked_add(usize::try_from(r.varint()?).ok()?)?;
                ranges.push(start..at);
            }
            let body = std::str::from_utf8(r.0).ok()?;
            let mut p = LineParser::new(labels, now);
            ranges.into_iter().map(|range| Some(p.parse(body.get(range)?))).collect()
        }
        LOKI_JSON | LOKI_PROTO => {
            let max_line = usize::try_from(r.varint()?).ok()?;
            let pushed = if tag == LOKI_JSON {
                crate::push::decode_json(r.0, max_line)
            } else {
                crate::push::decode_proto(r.0, max_line)
            };
            pushed.ok().map(|p| p.rows)
        }
        OTLP => {
            let now = r.i64()?;
            let bump = bumpalo::Bump::new();
            let req = lantern_otlp_wire::logs::logs_request(r.0, &bump).ok()?;
            Some(crate::otlp::convert(req, now).rows)
        }
        _ => None,
    }
}

fn decode_rows(r: &mut Reader) -> Option<Vec<LogRow>> {
    let n = usize::try_from(r.varint()?).ok()?;
    let mut rows = Vec::with_capacity(n.min(1 << 16));
    type StreamKey = (Vec<(String, String)>, String);
    let mut streams: HashMap<StreamKey, Arc<Stream>> = HashMap::new();
    let mut names: HashMap<&str, Arc<str>> = HashMap::new();
    for _ in 0..n {
        let time = r.i64()?;
        let nl = usize::try_from(r.varint()?).ok()?;
        let mut labels = Vec::with_capacity(nl.min(64));
        for _ in 0..nl {
            labels.push((r.str()?.to_string(), r.str()?.to_string()));
        }
        let level = r.str()?.to_string();
        let compact = r.u8()? != 0;
        let stream = streams
            .entry((labels, level))
            .or_insert_with_key(|(l, level)| Arc::new(Stream::with_level(l.clone(), level)))
            .clone();
        let line = match r.u8()? {
            0 => None,
            _ => Some(r.str()?.into()),
        };
        let nf = usize::try_from(r.varint()?).ok()?;
        let mut fields = Vec::with_capacity(nf.min(1024));
        for _ in 0..nf {
            let k = r.str()?;
            let name = names.entry(k).or_insert_with(|| k.into()).clone();
            let v = match r.u8()? {
                0 => Value::Null,
                1 => Value::Bool(false),
                2 => Value::Bool(true),
                3 => Value::Int(r.i64()?),
                4 => Value::Float(f64::from_le_bytes(r.bytes(8)?.try_into().ok()?)),
                5 => Value::Str(r.str()?.into()),
                6 => Value::Json(r.str()?.into()),
                _ => return None,
            };
            fields.push((name, v));
        }
        rows.push(LogRow { time, stream, line, fields, compact });
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_filter("nan", |f| !f.is_nan()).prop_map(Value::Float),
            ".{0,12}".prop_map(|s| Value::Str(s.into())),
            Just(Value::Json("[1,2]".into())),
        ]
    }

    proptest! {
        #[test]
        fn rows_round_trip(
            rows in proptest::collection::vec(
                (any::<i64>(), proptest::option::of(".{0,20}"), proptest::collection::vec(("[a-z_.]{1,6}", value()), 0..5), "[a-z]{0,5}"),
                0..8,
            )
        ) {
            let rows: Vec<LogRow> = rows
                .into_iter()
                .map(|(time, line, fields, svc)| LogRow {
                    time,
                    stream: Arc::new(Stream::new(vec![("service".into(), svc)])),
                    line: line.map(Into::into),
                    fields: fields.into_iter().map(|(k, v)| (Arc::from(k.as_str()), v)).collect(),
                    compact: time % 2 == 0,
                })
                .collect();
            let mut b = Vec::new();
            encode_rows(&rows, &mut b);
            prop_assert_eq!(decode_payload(&b), Some(rows));
            // Damaged payloads give None or rows, never a panic.
            for cut in 0..b.len() {
                let _ = decode_payload(&b[..cut]);
            }
        }
    }

    #[test]
    fn a_jsonl_body_replays_with_its_labels_and_time() {
        let labels = vec![("service".to_string(), "api".to_string())];
        let mut b = jsonl_header(&labels, 42);
        b.extend_from_slice(b"{\"event\":\"a\",\"level\":\"info\"}\n\nplain\n");
        let rows = decode_payload(&b).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].time, 42);
        assert_eq!(&*rows[0].stream.service, "api");
        assert_eq!(&*rows[0].stream.level, "info");
        assert_eq!(rows[1].line.as_deref(), Some("plain"));
    }

    #[test]
    fn a_loki_push_replays_as_it_was_taken() {
        let body = br#"{"streams": [
            {"stream": {"service": "payment"}, "values": [
                ["1700000000000000000", "{\"event\": \"card declined\", \"level\": \"error\"}"],
                ["1700000000000000001", "plain line", {"trace_id": "abc"}],
                ["1700000000000000002", "this line is longer than the limit of fifty bytes, surely it is"],
                ["not a time", "bad"]
            ]},
            {"stream": {}, "values": [["1", "no labels"]]}
        ]}"#;
        let taken = crate::push::decode_json(body, 50).unwrap();
        assert_eq!(taken.rows.len(), 2);
        assert_eq!(taken.rejected.len(), 3);
        let mut payload = loki_header(false, 50);
        payload.extend_from_slice(body);
        assert_eq!(decode_payload(&payload).unwrap(), taken.rows);
    }
}
