//! Correlation over real stores in a temporary directory.

use std::sync::Arc;

use lantern_core::{Labels, Sample};
use lantern_logs::LogStore;
use lantern_traces::model::{hex, Attr, AttrValue, Origin, Span};
use lantern_traces::TraceStore;
use lantern_tsdb::Tsdb;

use crate::correlate::{Correlator, Query};

pub(crate) struct Fixture {
    pub _dir: tempfile::TempDir,
    pub logs: Arc<LogStore>,
    pub traces: Arc<TraceStore>,
    pub db: Arc<Tsdb>,
}

pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = |p: &str| lantern_objstore::Store::local(&dir.path().join(p)).unwrap();
    let logs = Arc::new(LogStore::open(&dir.path().join("logs/wal"), store("logs"), Default::default()).await.unwrap());
    let traces =
        Arc::new(TraceStore::open(&dir.path().join("traces/wal"), store("traces"), Default::default()).await.unwrap());
    let db = Arc::new(Tsdb::open(&dir.path().join("metrics/wal"), store("metrics"), Default::default()).await.unwrap());
    Fixture { _dir: dir, logs, traces, db }
}

/// A span of `trace`: `(service, name)`, `(start, duration)` in ms.
pub(crate) fn span(
    trace: [u8; 16],
    id: u8,
    parent: Option<u8>,
    (service, name): (&str, &str),
    (start_ms, ms): (i64, i64),
    error: bool,
    attrs: &[(&str, &str)],
) -> Span {
    Span {
        trace_id: trace,
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        trace_state: String::new(),
        flags: 0,
        name: name.into(),
        kind: if parent.is_none() { 2 } else { 1 },
        start_ns: start_ms * 1_000_000,
        end_ns: (start_ms + ms) * 1_000_000,
        status_code: if error { 2 } else { 0 },
        status_message: if error { "timeout".into() } else { String::new() },
        attributes: attrs
            .iter()
            .map(|(k, v)| Attr { key: k.to_string(), value: AttrValue::StringValue(v.to_string()) })
            .collect(),
        dropped_attributes: 0,
        events: vec![],
        dropped_events: 0,
        links: vec![],
        dropped_links: 0,
        origin: Arc::new(Origin { service: service.into(), ..Origin::default() }),
    }
}

pub(crate) fn post_logs(logs: &LogStore, service: &str, lines: &[String]) {
    logs.append_jsonl(vec![("service".into(), service.into())], 0, &lines.join("\n"), 1 << 20).unwrap();
}

const T0: i64 = 1_770_836_400_000; // 2026-02-11T19:00:00Z

#[tokio::test]
async fn a_request_id_finds_its_trace_its_lines_across_services_and_the_alerts_then() {
    let f = fixture().await;
    let trace = [7u8; 16];
    let other = [8u8; 16];
    f.traces
        .append(
            vec![
                span(
                    trace,
                    1,
                    None,
                    ("api-gateway", "GET /api/orders"),
                    (T0, 300),
                    true,
                    &[("request_id", "req-abc123")],
                ),
                span(trace, 2, Some(1), ("order-service", "POST /orders"), (T0 + 5, 290), true, &[]),
                span(trace, 3, Some(2), ("payment-service", "charge"), (T0 + 10, 280), true, &[]),
                span(
                    other,
                    1,
                    None,
                    ("api-gateway", "GET /api/orders"),
                    (T0 + 1000, 20),
                    false,
                    &[("request_id", "req-other")],
                ),
            ],
            None,
        )
        .unwrap();
    let t = hex(&trace);
    let line = |ms: i64, level: &str, event: &str, extra: &str| {
        format!(r#"{{"timestamp": {}, "level": "{level}", "event": "{event}"{extra}}}"#, (T0 + ms) as f64 / 1000.0)
    };
    post_logs(
        &f.logs,
        "api-gateway",
        &[
            line(
                0,
                "info",
                "request_started",
                &format!(r#", "request_id": "req-abc123", "trace_id": "{t}", "user_id": "user-456""#),
            ),
            line(300, "error", "request_failed", &format!(r#", "request_id": "req-abc123", "trace_id": "{t}""#)),
            line(1000, "info", "request_started", r#", "request_id": "req-other", "user_id": "user-456""#),
        ],
    );
    post_logs(
        &f.logs,
        "payment-service",
        &[line(200, "error", "payment_failed", &format!(r#", "trace_id": "{t}", "error_code": "TIMEOUT""#))],
    );
    // A service that logs the request ID but is not traced.
    post_logs(&f.logs, "fraud-check", &[line(100, "warn", "slow_lookup", r#", "request_id": "req-abc123""#)]);
    let alert = Labels::from_pairs([
        ("__name__", "ALERTS"),
        ("alertname", "HighErrorRate"),
        ("alertstate", "firing"),
        ("severity", "warning"),
    ]);
    f.db.append(vec![(alert, vec![Sample { t: T0 - 60_000, v: 1.0 }, Sample { t: T0 + 60_000, v: 1.0 }])]).unwrap();

    let c =
        Correlator::new(f.logs.clone(), f.traces.clone(), f.db.clone(), vec!["request_id".into(), "user_id".into()]);
    let all = Query { id: "req-abc123".into(), key: None, start_ns: i64::MIN, end_ns: i64::MAX };
    let got = c.correlate(all.clone()).await.unwrap();
    assert_eq!(got.traces.len(), 1);
    assert_eq!(got.traces[0].len(), 3);
    let events: Vec<String> = got.logs.iter().map(|r| r.hit()["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        events,
        ["request_started", "slow_lookup", "payment_failed", "request_failed"],
        "by time, across services; not the user's other request"
    );
    assert_eq!(got.alerts.len(), 1);
    assert_eq!(got.alerts[0].labels.get("alertname"), Some("HighErrorRate"));
    assert_eq!(got.linked["trace_id"].iter().collect::<Vec<_>>(), [&t]);
    assert!(got.linked["user_id"].contains("user-456"), "entity IDs are reported as linked");

    // From the other end: the trace ID finds the same lines, the untraced one through
    // the request ID its lines carry.
    let by_trace = c.correlate(Query { id: t.clone(), ..all.clone() }).await.unwrap();
    let events: Vec<String> = by_trace.logs.iter().map(|r| r.hit()["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["request_started", "slow_lookup", "payment_failed", "request_failed"]);
    assert_eq!(by_trace.traces.len(), 1);

    // One key only; a time range that excludes everything; an unknown ID.
    let only = c.correlate(Query { key: Some("user_id".into()), id: "user-456".into(), ..all.clone() }).await.unwrap();
    // The user's two requests, and the other lines of the request that was traced.
    let events: Vec<String> = only.logs.iter().map(|r| r.hit()["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["request_started", "slow_lookup", "payment_failed", "request_failed", "request_started"]);
    let none = c.correlate(Query { start_ns: (T0 + 5000) * 1_000_000, ..all.clone() }).await.unwrap();
    assert!(none.logs.is_empty() && none.traces.is_empty());
    let unknown = c.correlate(Query { id: "req-nope".into(), ..all }).await.unwrap();
    let v = unknown.to_json();
    assert_eq!((v["traces"].as_array().unwrap().len(), v["logs"].as_array().unwrap().len()), (0, 0));
    assert_eq!(v["searched"]["keys"], serde_json::json!(["trace_id", "span_id", "request_id", "user_id"]));
    assert_eq!(v["searched"]["signals"]["traces"]["attributes"], serde_json::json!(["request_id", "user_id"]));
}
