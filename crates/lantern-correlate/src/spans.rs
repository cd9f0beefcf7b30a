//! Spans and traces in the JSON the correlation and investigation answers carry:
//! OTLP's names, IDs in hex, times in RFC 3339 and nanoseconds.

use lantern_traces::model::{hex, Attr, Span};
use serde_json::{json, Map, Value};

fn attrs(a: &[Attr]) -> Value {
    Value::Object(a.iter().map(|a| (a.key.clone(), a.value.json())).collect::<Map<_, _>>())
}

/// The status code's name.
pub fn status_name(code: i32) -> &'static str {
    match code {
        1 => "OK",
        2 => "ERROR",
        _ => "UNSET",
    }
}

/// One span.
pub fn span_json(s: &Span) -> Value {
    let mut v = json!({
        "traceId": hex(&s.trace_id),
        "spanId": hex(&s.span_id),
        "service": s.origin.service,
        "name": s.name,
        "kind": lantern_traces::model::KINDS.get(s.kind as usize).copied().unwrap_or("unspecified"),
        "start": lantern_logs::model::rfc3339(s.start_ns),
        "startTimeUnixNano": s.start_ns.to_string(),
        "durationNanos": s.duration_ns(),
        "status": {"code": status_name(s.status_code), "message": s.status_message},
        "attributes": attrs(&s.attributes),
        "resource": attrs(&s.origin.resource),
    });
    if let Some(p) = s.parent_span_id {
        v["parentSpanId"] = json!(hex(&p));
    }
    if !s.events.is_empty() {
        v["events"] = s
            .events
            .iter()
            .map(|e| json!({"time": lantern_logs::model::rfc3339(e.time_ns), "name": e.name, "attributes": attrs(&e.attributes)}))
            .collect();
    }
    v
}

/// One trace: its root, services, span count, errors, time range, and the spans.
pub fn trace_json(spans: &[Span]) -> Value {
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
    let root = spans.iter().find(|s| s.parent_span_id.is_none()).or_else(|| spans.iter().min_by_key(|s| s.start_ns));
    let mut services: Vec<&str> = spans.iter().map(|s| s.origin.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    json!({
        "traceId": spans.first().map(|s| hex(&s.trace_id)).unwrap_or_default(),
        "rootService": root.map(|s| s.origin.service.clone()),
        "rootName": root.map(|s| s.name.clone()),
        "start": lantern_logs::model::rfc3339(start),
        "durationNanos": (end - start).max(0),
        "services": services,
        "spanCount": spans.len(),
        "errorCount": spans.iter().filter(|s| s.status_code == 2).count(),
        "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
    })
}
