//! OTLP log records into log events: the resource's `service.name` becomes the
//! `service` label and the severity the `level` label; a string body is the line, a map
//! body gives fields (flattened with dots); attributes are typed fields; trace and span
//! IDs become `trace_id`/`span_id` (hex); other resource attributes `resource.<key>`,
//! the scope `scope.name`. Records with malformed IDs are refused one by one.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_otlp_wire::logs::{Kv, ResourceLogs, Value as Wire};

use crate::model::{normalize_level, LogRow, Names, Stream, Value};

/// Events converted from a request, and the records refused.
#[derive(Debug, Default)]
pub struct Converted {
    /// Events.
    pub rows: Vec<LogRow>,
    /// Records refused.
    pub rejected: usize,
    /// Why (the first few reasons).
    pub errors: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The level of a severity: its text, else its number's range.
pub fn severity_level(text: &str, number: i32) -> String {
    if !text.is_empty() {
        return normalize_level(text);
    }
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "",
    }
    .into()
}

fn wire_json(v: &Wire) -> serde_json::Value {
    match v {
        Wire::Empty => serde_json::Value::Null,
        Wire::Str(s) => (*s).into(),
        Wire::Bool(b) => (*b).into(),
        Wire::Int(i) => (*i).into(),
        Wire::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, Into::into),
        Wire::Bytes(b) => hex(b).into(),
        Wire::Array(a) => a.iter().map(wire_json).collect(),
        Wire::KvList(kvs) => kvs.iter().map(|kv| (kv.key.to_string(), wire_json(&kv.value))).collect(),
    }
}

/// Appends `v` as field(s) named `key` (maps flattened with dots).
fn push_value(names: &mut Names, key: &str, v: &Wire, out: &mut Vec<(Arc<str>, Value)>) {
    let value = match v {
        Wire::KvList(kvs) => {
            for kv in kvs.iter() {
                push_value(names, &format!("{key}.{}", kv.key), &kv.value, out);
            }
            if !kvs.is_empty() {
                return;
            }
            Value::Json("{}".into())
        }
        Wire::Empty => Value::Null,
        Wire::Str(s) => Value::Str((*s).into()),
        Wire::Bool(b) => Value::Bool(*b),
        Wire::Int(i) => Value::Int(*i),
        Wire::Double(d) => Value::Float(*d),
        Wire::Bytes(b) => Value::Str(hex(b).into()),
        Wire::Array(_) => Value::Json(wire_json(v).to_string().into()),
    };
    out.push((names.get(key), value));
}

fn push_attrs(names: &mut Names, prefix: &str, kvs: &[Kv], out: &mut Vec<(Arc<str>, Value)>) {
    for kv in kvs {
        let key = if prefix.is_empty() { kv.key.to_string() } else { format!("{prefix}{}", kv.key) };
        push_value(names, &key, &kv.value, out);
    }
}

/// Converts a decoded request; `now` (ns) is the time of records without one.
pub fn convert(req: &[ResourceLogs], now: i64) -> Converted {
    let mut out = Converted::default();
    let mut names = Names::default();
    let mut streams: HashMap<(String, String), Arc<Stream>> = HashMap::new();
    for rl in req {
        let service = rl
            .resource
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value {
                Wire::Str(s) => Some(s),
                _ => None,
            })
            .unwrap_or("");
        // The resource's other attributes, the same for each of its records.
        let mut resource_fields = Vec::new();
        let others: Vec<Kv> = rl.resource.iter().filter(|kv| kv.key != "service.name").copied().collect();
        push_attrs(&mut names, "resource.", &others, &mut resource_fields);
        for sl in rl.scopes {
            for r in sl.items {
                let bad_id = |b: &[u8], n: usize| !b.is_empty() && b.len() != n;
                if bad_id(r.trace_id, 16) || bad_id(r.span_id, 8) {
                    out.rejected += 1;
                    if out.errors.len() < 5 {
                        out.errors.push(format!(
                            "log record with trace_id of {} bytes and span_id of {} bytes (want 16 and 8)",
                            r.trace_id.len(),
                            r.span_id.len()
                        ));
                    }
                    continue;
                }
                let level = severity_level(r.severity_text, r.severity_number);
                let stream = streams
                    .entry((service.to_string(), level.clone()))
                    .or_insert_with(|| {
                        let mut labels = Vec::new();
                        if !service.is_empty() {
                            labels.push(("service".to_string(), service.to_string()));
                        }
                        if !level.is_empty() {
                            labels.push(("level".to_string(), level.clone()));
                        }
                        Arc::new(Stream::new(labels))
                    })
                    .clone();
                let time = [r.time_unix_nano, r.observed_time_unix_nano]
                    .into_iter()
                    .find(|t| *t > 0)
                    .map_or(now, |t| i64::try_from(t).unwrap_or(i64::MAX));
                let mut fields = Vec::with_capacity(r.attributes.len() + 6);
                let line = match &r.body {
                    Wire::Str(s) => Some((*s).into()),
                    Wire::KvList(kvs) => {
                        push_attrs(&mut names, "", kvs, &mut fields);
                        None
                    }
                    Wire::Empty => None,
                    v => Some(match wire_json(v) {
                        serde_json::Value::String(s) => s.into(),
                        j => j.to_string().into(),
                    }),
                };
                push_attrs(&mut names, "", r.attributes, &mut fields);
                let zero = |b: &[u8]| b.iter().all(|x| *x == 0);
                if !r.trace_id.is_empty() && !zero(r.trace_id) {
                    fields.push((names.get("trace_id"), Value::Str(hex(r.trace_id).into())));
                }
                if !r.span_id.is_empty() && !zero(r.span_id) {
                    fields.push((names.get("span_id"), Value::Str(hex(r.span_id).into())));
                }
                if !r.severity_text.is_empty() {
                    fields.push((names.get("severity_text"), Value::Str(r.severity_text.into())));
                }
                if r.severity_number != 0 {
                    fields.push((names.get("severity_number"), Value::Int(i64::from(r.severity_number))));
                }
                if !r.event_name.is_empty() {
                    fields.push((names.get("event_name"), Value::Str(r.event_name.into())));
                }
                if let Some(sc) = &sl.scope {
                    if !sc.name.is_empty() {
                        fields.push((names.get("scope.name"), Value::Str(sc.name.into())));
                    }
                }
                fields.extend(resource_fields.iter().cloned());
                // A text body is the line; a map body is written as JSON when asked for.
                let compact = line.is_none();
                out.rows.push(LogRow { time, stream, line, fields, compact });
            }
        }
    }
    out
}
