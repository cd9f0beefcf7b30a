//! Jaeger's query HTTP API over the span store, as the Jaeger UI and Grafana's Jaeger
//! data source call it: `/api/traces/{id}`, `/api/traces` (search), `/api/services`,
//! `/api/services/{service}/operations`, `/api/operations`, `/api/dependencies`, all in
//! Jaeger's envelope `{data, total, limit, offset, errors}`. Also Lantern's
//! `/api/v1/traces/{id}/critical-path`.

pub mod json;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lantern_core::Matcher;
use lantern_http::ErrorKind;
use lantern_traces::model::{parse_trace_id, KINDS};
use lantern_traces::{Search, TraceStore};
use lantern_tsdb::Tsdb;
use serde_json::{json, Value};

/// What the API reads: the span store, and the metrics store for the service graph.
#[derive(Clone)]
pub struct JaegerApi {
    traces: Arc<OnceLock<Arc<TraceStore>>>,
    metrics: Arc<OnceLock<Arc<Tsdb>>>,
}

impl JaegerApi {
    /// The API over the stores in the slots (empty until the server has opened them).
    pub fn new(traces: Arc<OnceLock<Arc<TraceStore>>>, metrics: Arc<OnceLock<Arc<Tsdb>>>) -> Self {
        Self { traces, metrics }
    }
}

/// The routes.
pub fn router(api: JaegerApi) -> Router {
    Router::new()
        .route("/api/traces/{id}", get(trace))
        .route("/api/traces", get(search))
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(service_operations))
        .route("/api/operations", get(operations))
        .route("/api/dependencies", get(dependencies))
        .route("/api/v1/traces/{id}/critical-path", get(critical_path))
        .with_state(api)
}

fn ok(data: Value, total: usize) -> Response {
    axum::Json(json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null})).into_response()
}

fn error(kind: ErrorKind, msg: impl Into<String>) -> Response {
    let body = json!({"data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": kind.status().as_u16(), "msg": msg.into()}]});
    lantern_http::error_response(kind, axum::Json(body))
}

/// An error answer, made into Jaeger's envelope when returned.
struct Fail(ErrorKind, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn store(api: &JaegerApi) -> Result<Arc<TraceStore>, Fail> {
    api.traces.get().cloned().ok_or_else(|| Fail(ErrorKind::Unavailable, "the span store is starting".into()))
}

/// The spans of trace `id` (hex), or the answer to give instead: 503 while starting,
/// 400 for a malformed ID, 404 for an unknown trace.
async fn spans_of(api: &JaegerApi, id: &str) -> Result<Vec<lantern_traces::Span>, Fail> {
    let store = store(api)?;
    let tid = parse_trace_id(id)
        .ok_or_else(|| Fail(ErrorKind::BadData, format!("malformed trace ID {id:?}: want up to 32 hex digits")))?;
    match store.trace(&tid).await {
        Ok(spans) if spans.is_empty() => Err(Fail(ErrorKind::NotFound, "trace not found".into())),
        Ok(spans) => Ok(spans),
        Err(e) => Err(Fail(ErrorKind::Internal, e.to_string())),
    }
}

async fn trace(State(api): State<JaegerApi>, Path(id): Path<String>) -> Response {
    match spans_of(&api, &id).await {
        Ok(spans) => ok(json!([json::trace(&spans)]), 1),
        Err(f) => f.into_response(),
    }
}

async fn critical_path(State(api): State<JaegerApi>, Path(id): Path<String>) -> Response {
    match spans_of(&api, &id).await {
        Ok(spans) => {
            let cp = lantern_traces::critical::critical_path(&spans);
            ok(serde_json::to_value(cp).unwrap_or(Value::Null), 1)
        }
        Err(f) => f.into_response(),
    }
}

/// A Go duration (`1.5s`, `100ms`, `2m30s`, `500us`, `1h`) in nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    lantern_core::duration::parse_go_nanos(s, lantern_core::duration::GoUnits::Go)
}

fn param_time_us(q: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, Fail> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(|us| Some(us.saturating_mul(1000)))
            .map_err(|_| Fail(ErrorKind::BadData, format!("unable to parse param '{key}': {v:?} is not microseconds"))),
    }
}

fn parse_search(q: &BTreeMap<String, String>, tag_params: &[String], now_ns: i64) -> Result<Search, Fail> {
    let bad = |m: String| Fail(ErrorKind::BadData, m);
    let end = param_time_us(q, "end")?.unwrap_or(now_ns);
    let start = match param_time_us(q, "start")? {
        Some(s) => s,
        None => {
            let lookback = match q.get("lookback").map(String::as_str) {
                None | Some("") | Some("custom") => 3_600_000_000_000,
                Some(l) => {
                    parse_go_duration(l).ok_or_else(|| bad(format!("unable to parse param 'lookback': {l:?}")))?
                }
            };
            end - lookback
        }
    };
    let dur = |key: &str| -> Result<Option<i64>, Fail> {
        match q.get(key).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(v) => parse_go_duration(v).map(Some).ok_or_else(|| {
                bad(format!("unable to parse param '{key}': {v:?} is not a duration such as 1.2s or 100ms"))
            }),
        }
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    if let Some(t) = q.get("tags").filter(|t| !t.is_empty()) {
        let m: BTreeMap<String, Value> = serde_json::from_str(t).map_err(|e| {
            bad(format!("malformed 'tags' parameter: {e}; want a JSON object such as {{\"http.status_code\":\"500\"}}"))
        })?;
        for (k, v) in m {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            tags.push((k, v));
        }
    }
    for t in tag_params {
        let Some((k, v)) = t.split_once(':') else {
            return Err(bad(format!("malformed 'tag' parameter {t:?}: want key:value")));
        };
        tags.push((k.to_string(), v.to_string()));
    }
    let limit = match q.get("limit").map(String::as_str) {
        None | Some("") | Some("0") => 20,
        Some(l) => l.parse::<usize>().map_err(|_| bad(format!("unable to parse param 'limit': {l:?}")))?,
    };
    let service = q.get("service").filter(|s| !s.is_empty()).cloned();
    let operation = q.get("operation").filter(|s| !s.is_empty() && s.as_str() != "all").cloned();
    Ok(Search {
        service,
        operation,
        tags,
        min_duration_ns: dur("minDuration")?,
        max_duration_ns: dur("maxDuration")?,
        status_code: None,
        start_ns: start,
        end_ns: end,
        limit: limit.min(10_000),
    })
}

async fn search(State(api): State<JaegerApi>, uri: axum::http::Uri) -> Response {
    let store = match store(&api) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let pairs: Vec<(String, String)> =
        uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    // `traceID` may repeat: those traces are fetched directly.
    let ids: Vec<&str> = pairs.iter().filter(|(k, _)| k == "traceID").map(|(_, v)| v.as_str()).collect();
    if !ids.is_empty() {
        let mut out = Vec::new();
        for id in ids {
            let Some(tid) = parse_trace_id(id) else {
                return error(ErrorKind::BadData, format!("malformed trace ID {id:?}"));
            };
            match store.trace(&tid).await {
                Ok(spans) if !spans.is_empty() => out.push(json::trace(&spans)),
                Ok(_) => {}
                Err(e) => return error(ErrorKind::Internal, e.to_string()),
            }
        }
        let n = out.len();
        return ok(Value::Array(out), n);
    }
    let tag_params: Vec<String> = pairs.iter().filter(|(k, _)| k == "tag").map(|(_, v)| v.clone()).collect();
    let q: BTreeMap<String, String> = pairs.into_iter().collect();
    let search = match parse_search(&q, &tag_params, store.events().clock().now_ns()) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    if search.service.is_none() {
        return error(ErrorKind::BadData, "parameter 'service' is required");
    }
    match store.search(&search).await {
        Ok(traces) => {
            let out: Vec<Value> = traces.iter().map(|t| json::trace(t)).collect();
            let n = out.len();
            ok(Value::Array(out), n)
        }
        Err(e) => error(ErrorKind::Internal, e.to_string()),
    }
}

async fn services(State(api): State<JaegerApi>) -> Response {
    match store(&api) {
        Ok(s) => {
            let v = s.services(i64::MIN, i64::MAX);
            let n = v.len();
            ok(json!(v), n)
        }
        Err(r) => r.into_response(),
    }
}

async fn service_operations(State(api): State<JaegerApi>, Path(service): Path<String>) -> Response {
    match store(&api) {
        Ok(s) => {
            let mut names: Vec<String> =
                s.operations(&service, i64::MIN, i64::MAX).into_iter().map(|o| o.name).collect();
            names.dedup();
            let n = names.len();
            ok(json!(names), n)
        }
        Err(r) => r.into_response(),
    }
}

async fn operations(State(api): State<JaegerApi>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let store = match store(&api) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let Some(service) = q.get("service").filter(|s| !s.is_empty()) else {
        return error(ErrorKind::BadData, "parameter 'service' is required");
    };
    let kind = q.get("spanKind").filter(|s| !s.is_empty());
    if let Some(k) = kind {
        if !KINDS.contains(&k.as_str()) {
            return error(
                ErrorKind::BadData,
                format!("unsupported spanKind {k:?}: want one of {}", KINDS[1..].join(", ")),
            );
        }
    }
    let ops: Vec<Value> = store
        .operations(service, i64::MIN, i64::MAX)
        .into_iter()
        .map(|o| (o.name, KINDS[o.kind.clamp(0, 5) as usize]))
        .filter(|(_, k)| kind.is_none_or(|want| want == k))
        .map(|(name, k)| json!({"name": name, "spanKind": if k == "unspecified" { "" } else { k }}))
        .collect();
    let n = ops.len();
    ok(Value::Array(ops), n)
}

/// Calls from each client service to each server service over `[endTs − lookback,
/// endTs]` (ms), from the service-graph series span metrics write.
async fn dependencies(State(api): State<JaegerApi>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let Some(db) = api.metrics.get().cloned() else {
        return error(ErrorKind::Unavailable, "the metrics store is starting");
    };
    let num = |k: &str, default: i64| -> Result<i64, Fail> {
        match q.get(k).map(String::as_str) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                Fail(ErrorKind::BadData, format!("unable to parse param '{k}': {v:?} is not milliseconds"))
            }),
        }
    };
    let end = match num("endTs", db.clock().now_ms()) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lookback = match num("lookback", 86_400_000) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let start = end - lookback;
    let m = [Matcher::equal("__name__", "traces_service_graph_request_total")];
    // A little before the window, for the counter's value at its start.
    let got = match db.select(&m, start - 300_000, end).await {
        Ok(v) => v,
        Err(e) => return error(ErrorKind::Internal, e.to_string()),
    };
    let mut edges: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (labels, samples) in got {
        let (Some(c), Some(s)) = (labels.get("client"), labels.get("server")) else { continue };
        let mut base = 0.0;
        let mut calls = 0.0;
        let mut prev: Option<f64> = None;
        for smp in samples.iter().filter(|x| !lantern_core::is_stale_nan(x.v)) {
            if smp.t < start {
                base = smp.v;
                prev = Some(smp.v);
                continue;
            }
            let from = prev.unwrap_or(base);
            calls += if smp.v >= from { smp.v - from } else { smp.v };
            prev = Some(smp.v);
        }
        if calls > 0.0 {
            *edges.entry((c.to_string(), s.to_string())).or_default() += calls;
        }
    }
    let data: Vec<Value> = edges
        .into_iter()
        .map(|((parent, child), n)| json!({"parent": parent, "child": child, "callCount": n.round() as u64}))
        .collect();
    let n = data.len();
    ok(Value::Array(data), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("100ms"), Some(100_000_000));
        assert_eq!(parse_go_duration("2m30s"), Some(150_000_000_000));
        assert_eq!(parse_go_duration("500us"), Some(500_000));
        assert_eq!(parse_go_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("1x"), None);
    }
}

#[cfg(test)]
mod api_tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use lantern_traces::model::{Attr, AttrValue, Event, Origin};
    use lantern_traces::Span;
    use tower::ServiceExt;

    use super::*;

    fn span(
        id: u8,
        parent: Option<u8>,
        name: &str,
        kind: i32,
        start_ms: i64,
        end_ms: i64,
        origin: &Arc<Origin>,
    ) -> Span {
        Span {
            trace_id: [0xab; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            trace_state: String::new(),
            flags: 1,
            name: name.into(),
            kind,
            start_ns: 1_700_000_000_000_000_000 + start_ms * 1_000_000,
            end_ns: 1_700_000_000_000_000_000 + end_ms * 1_000_000,
            status_code: 0,
            status_message: String::new(),
            attributes: vec![],
            dropped_attributes: 0,
            events: vec![],
            dropped_events: 0,
            links: vec![],
            dropped_links: 0,
            origin: origin.clone(),
        }
    }

    async fn get(app: &Router, uri: &str) -> (axum::http::StatusCode, Value) {
        let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn traces_services_and_operations_in_jaegers_shape() {
        let dir = tempfile::tempdir().unwrap();
        let data = lantern_objstore::Store::local(&dir.path().join("data")).unwrap();
        let store = Arc::new(TraceStore::open(&dir.path().join("log"), data, Default::default()).await.unwrap());
        let origin = Arc::new(Origin {
            service: "order-service".into(),
            resource: vec![
                Attr { key: "service.name".into(), value: AttrValue::StringValue("order-service".into()) },
                Attr { key: "host.name".into(), value: AttrValue::StringValue("node-1".into()) },
            ],
            scope_name: "app".into(),
            ..Origin::default()
        });
        let mut root = span(1, None, "create_order", 2, 0, 100, &origin);
        root.attributes.push(Attr { key: "user.id".into(), value: AttrValue::StringValue("user-456".into()) });
        let mut pay = span(3, Some(1), "process_payment", 1, 10, 80, &origin);
        pay.attributes.push(Attr { key: "payment.amount".into(), value: AttrValue::DoubleValue(99.5) });
        pay.status_code = 2;
        pay.status_message = "card declined".into();
        pay.events.push(Event {
            time_ns: pay.start_ns + 5_000_000,
            name: "retry".into(),
            attributes: vec![Attr { key: "attempt".into(), value: AttrValue::IntValue(2) }],
            dropped_attributes: 0,
        });
        let spans = vec![root, span(2, Some(1), "validate_order", 1, 1, 10, &origin), pay];
        store.append(spans, None).unwrap();
        let slot = Arc::new(OnceLock::new());
        let _ = slot.set(store);
        let app = router(JaegerApi::new(slot, Arc::default()));

        let (code, v) = get(&app, "/api/traces/abababababababababababababababab").await;
        assert_eq!(code, axum::http::StatusCode::OK);
        let t = &v["data"][0];
        assert_eq!(t["traceID"], "abababababababababababababababab");
        let spans = t["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 3);
        let root = spans.iter().find(|s| s["operationName"] == "create_order").unwrap();
        assert_eq!(root["references"], json!([]));
        assert_eq!(root["startTime"], 1_700_000_000_000_000i64);
        assert_eq!(root["duration"], 100_000);
        assert!(root["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "user.id", "type": "string", "value": "user-456"})));
        assert!(root["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "span.kind", "type": "string", "value": "server"})));
        let pay = spans.iter().find(|s| s["operationName"] == "process_payment").unwrap();
        assert_eq!(
            pay["references"],
            json!([{"refType": "CHILD_OF", "traceID": "abababababababababababababababab", "spanID": "0101010101010101"}])
        );
        let tags = pay["tags"].as_array().unwrap();
        assert!(tags.contains(&json!({"key": "payment.amount", "type": "float64", "value": 99.5})));
        assert!(tags.contains(&json!({"key": "error", "type": "bool", "value": true})));
        assert!(tags.contains(&json!({"key": "otel.status_description", "type": "string", "value": "card declined"})));
        assert_eq!(pay["logs"][0]["fields"][0], json!({"key": "event", "type": "string", "value": "retry"}));
        assert_eq!(pay["logs"][0]["fields"][1], json!({"key": "attempt", "type": "int64", "value": 2}));
        let pid = pay["processID"].as_str().unwrap();
        assert_eq!(t["processes"][pid]["serviceName"], "order-service");
        assert_eq!(t["processes"][pid]["tags"], json!([{"key": "host.name", "type": "string", "value": "node-1"}]));

        let (code, v) = get(&app, "/api/traces/00000000000000000000000000000001").await;
        assert_eq!(code, axum::http::StatusCode::NOT_FOUND);
        assert_eq!(v["errors"][0], json!({"code": 404, "msg": "trace not found"}));
        assert_eq!(v["data"], Value::Null);
        let (code, _) = get(&app, "/api/traces/not-hex").await;
        assert_eq!(code, axum::http::StatusCode::BAD_REQUEST);

        assert_eq!(get(&app, "/api/services").await.1["data"], json!(["order-service"]));
        assert_eq!(
            get(&app, "/api/services/order-service/operations").await.1["data"],
            json!(["create_order", "process_payment", "validate_order"])
        );
        assert_eq!(
            get(&app, "/api/operations?service=order-service&spanKind=server").await.1["data"],
            json!([{"name": "create_order", "spanKind": "server"}])
        );
        let (_, v) = get(
            &app,
            "/api/traces?service=order-service&tags=%7B%22payment.amount%22%3A%2299.5%22%7D&minDuration=50ms&start=1699999999000000&end=1700000001000000",
        )
        .await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
        let (_, v) =
            get(&app, "/api/traces?service=order-service&minDuration=1s&start=1699999999000000&end=1700000001000000")
                .await;
        assert_eq!(v["data"], json!([]));
        let (code, v) = get(&app, "/api/traces?service=order-service&minDuration=fast").await;
        assert_eq!(code, axum::http::StatusCode::BAD_REQUEST);
        assert!(v["errors"][0]["msg"].as_str().unwrap().contains("minDuration"));

        let (_, v) = get(&app, "/api/v1/traces/abababababababababababababababab/critical-path").await;
        let spans = v["data"]["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 3);
        assert!(v["data"]["sections"].as_array().unwrap().len() >= 2);
    }
}
