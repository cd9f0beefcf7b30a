//! Spans in the JSON the Jaeger query service answers and the Jaeger UI and Grafana's
//! Jaeger data source read: microsecond times, typed tags, `references`, `processes`,
//! events as `logs`, and the OTLP fields Jaeger's OTLP translation adds as tags
//! (`span.kind`, `otel.status_code`, `otel.status_description`, `error`,
//! `otel.scope.name`, `otel.scope.version`, `w3c.tracestate`).

use std::collections::HashMap;

use lantern_traces::model::{hex, Attr, AttrValue, Origin, KINDS};
use lantern_traces::Span;
use serde_json::{json, Value};

/// A typed tag.
fn tag(key: &str, v: &AttrValue) -> Value {
    let (ty, value) = match v {
        AttrValue::StringValue(s) => ("string", json!(s)),
        AttrValue::BoolValue(b) => ("bool", json!(b)),
        AttrValue::IntValue(i) => ("int64", json!(i)),
        AttrValue::DoubleValue(d) => ("float64", json!(d)),
        AttrValue::BytesValue(b) => ("binary", json!(hex(b))),
        other => ("string", json!(other.text())),
    };
    json!({"key": key, "type": ty, "value": value})
}

fn tags(attrs: &[Attr]) -> Vec<Value> {
    attrs.iter().map(|a| tag(&a.key, &a.value)).collect()
}

fn string_tag(key: &str, v: &str) -> Value {
    json!({"key": key, "type": "string", "value": v})
}

fn micros(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

/// One trace (its spans) as Jaeger's `{traceID, spans, processes, warnings}`.
pub fn trace(spans: &[Span]) -> Value {
    // One process per distinct origin, numbered in order of appearance.
    let mut processes: Vec<(&Origin, String)> = Vec::new();
    let mut by_origin: HashMap<*const Origin, String> = HashMap::new();
    for s in spans {
        let ptr = std::sync::Arc::as_ptr(&s.origin);
        if by_origin.contains_key(&ptr) {
            continue;
        }
        // Origins equal in content (a span re-read from another segment) share a process.
        let id = match processes.iter().find(|(o, _)| **o == *s.origin) {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", processes.len() + 1);
                processes.push((&s.origin, id.clone()));
                id
            }
        };
        by_origin.insert(ptr, id);
    }
    let ids: std::collections::HashSet<[u8; 8]> = spans.iter().map(|s| s.span_id).collect();
    let mut warnings_for_trace = Vec::new();
    let json_spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut refs = Vec::new();
            let mut warnings = Vec::new();
            if let Some(p) = s.parent_span_id {
                refs.push(json!({"refType": "CHILD_OF", "traceID": hex(&s.trace_id), "spanID": hex(&p)}));
                if !ids.contains(&p) {
                    warnings.push(format!("invalid parent span IDs={}; skipping clock skew adjustment", hex(&p)));
                }
            }
            for l in &s.links {
                refs.push(json!({"refType": "FOLLOWS_FROM", "traceID": l.trace_id, "spanID": l.span_id}));
            }
            let mut t = tags(&s.attributes);
            t.push(string_tag("span.kind", KINDS[s.kind.clamp(0, 5) as usize]));
            if s.status_code != 0 {
                t.push(string_tag("otel.status_code", ["UNSET", "OK", "ERROR"][s.status_code.clamp(0, 2) as usize]));
            }
            if !s.status_message.is_empty() {
                t.push(string_tag("otel.status_description", &s.status_message));
            }
            if s.status_code == 2 {
                t.push(json!({"key": "error", "type": "bool", "value": true}));
            }
            if !s.origin.scope_name.is_empty() {
                t.push(string_tag("otel.scope.name", &s.origin.scope_name));
            }
            if !s.origin.scope_version.is_empty() {
                t.push(string_tag("otel.scope.version", &s.origin.scope_version));
            }
            if !s.trace_state.is_empty() {
                t.push(string_tag("w3c.tracestate", &s.trace_state));
            }
            let logs: Vec<Value> = s
                .events
                .iter()
                .map(|e| {
                    let mut fields = vec![string_tag("event", &e.name)];
                    fields.extend(tags(&e.attributes));
                    json!({"timestamp": micros(e.time_ns), "fields": fields})
                })
                .collect();
            json!({
                "traceID": hex(&s.trace_id),
                "spanID": hex(&s.span_id),
                "flags": s.flags & 0xff,
                "operationName": s.name,
                "references": refs,
                "startTime": micros(s.start_ns),
                "duration": micros(s.end_ns) - micros(s.start_ns),
                "tags": t,
                "logs": logs,
                "processID": by_origin[&std::sync::Arc::as_ptr(&s.origin)],
                "warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) },
            })
        })
        .collect();
    if spans.is_empty() {
        warnings_for_trace.push("trace has no spans".to_string());
    }
    let procs: serde_json::Map<String, Value> = processes
        .iter()
        .map(|(o, id)| {
            let resource: Vec<Attr> = o.resource.iter().filter(|a| a.key != "service.name").cloned().collect();
            (id.clone(), json!({"serviceName": o.service, "tags": tags(&resource)}))
        })
        .collect();
    json!({
        "traceID": spans.first().map(|s| hex(&s.trace_id)).unwrap_or_default(),
        "spans": json_spans,
        "processes": procs,
        "warnings": if warnings_for_trace.is_empty() { Value::Null } else { json!(warnings_for_trace) },
    })
}
