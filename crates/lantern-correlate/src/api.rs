//! HTTP: `GET /api/v1/correlate?id=&key=&start=&end=` (everything one ID touches),
//! `GET /api/v1/traces/{id}/logs` (a trace's log lines), and
//! `GET /api/v1/exemplars/traces?query=&start=&end=` (a series' exemplars, their traces
//! and those traces' error logs), and `GET /api/v1/investigate?start=&end=&alert=&query=&slo=`
//! (the automated investigation).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query as QueryParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lantern_http::{success, ApiError, ErrorKind};
use lantern_traces::model::{hex, parse_trace_id};
use serde_json::{json, Value};

use crate::correlate::{exemplar_trace, exemplars_json, quote, Correlator, Query, MAX_TRACES};
use crate::investigate::{Investigator, Request};
use crate::spans::trace_json;
use crate::Error;

/// Where the investigator (and its correlator) is once the stores are open (until then: 503).
pub type Slot = Arc<OnceLock<Investigator>>;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::BadRequest(m) => ApiError::bad_data(m),
            Error::Store(m) => ApiError::new(ErrorKind::Internal, m),
        }
    }
}

/// The routes.
pub fn router(slot: Slot) -> Router {
    Router::new()
        .route("/api/v1/correlate", get(correlate))
        .route("/api/v1/traces/{id}/logs", get(trace_logs))
        .route("/api/v1/exemplars/traces", get(exemplar_traces))
        .route("/api/v1/investigate", get(investigate))
        .with_state(slot)
}

fn investigator(slot: &Slot) -> Result<Investigator, ApiError> {
    slot.get().cloned().ok_or_else(|| ApiError::unavailable("the stores are opening"))
}

fn correlator(slot: &Slot) -> Result<Correlator, ApiError> {
    Ok(investigator(slot)?.correlator().clone())
}

/// A time parameter (RFC 3339 or Unix seconds) in ns, or `default` when absent.
fn time_ns(p: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get(name).map(String::as_str) {
        None | Some("") => Ok(default),
        Some(s) => lantern_http::time::parse_time_ms(s)
            .map(|ms| ms.saturating_mul(1_000_000))
            .map_err(|e| ApiError::bad_data(format!("invalid parameter {name:?}: {e}"))),
    }
}

async fn correlate(State(slot): State<Slot>, QueryParams(p): QueryParams<HashMap<String, String>>) -> Response {
    let run = async {
        let c = correlator(&slot)?;
        let id = p.get("id").cloned().unwrap_or_default();
        let q = Query {
            id,
            key: p.get("key").cloned(),
            start_ns: time_ns(&p, "start", i64::MIN)?,
            end_ns: time_ns(&p, "end", i64::MAX)?,
        };
        Ok::<_, ApiError>(c.correlate(q).await?.to_json())
    };
    match run.await {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}

async fn trace_logs(
    State(slot): State<Slot>,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<HashMap<String, String>>,
) -> Response {
    let run = async {
        let c = correlator(&slot)?;
        if parse_trace_id(&id).is_none() {
            return Err(ApiError::bad_data(format!("malformed trace ID {id:?}")));
        }
        let logs = c.trace_logs(&id, time_ns(&p, "start", i64::MIN)?, time_ns(&p, "end", i64::MAX)?).await?;
        Ok(json!({"traceId": id, "logs": logs.iter().map(|r| Value::Object(r.hit())).collect::<Vec<_>>()}))
    };
    match run.await {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}

async fn exemplar_traces(State(slot): State<Slot>, QueryParams(p): QueryParams<HashMap<String, String>>) -> Response {
    let run = async {
        let c = correlator(&slot)?;
        let query = p
            .get("query")
            .filter(|q| !q.is_empty())
            .ok_or_else(|| ApiError::bad_data("parameter 'query' is required"))?;
        let now = c.now_ns();
        let end = time_ns(&p, "end", now)?;
        let start = time_ns(&p, "start", end - 3_600_000_000_000)?;
        if start > end {
            return Err(ApiError::bad_data("end is before start"));
        }
        let expr = lantern_promql::parse(query)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
        let selectors = lantern_promql::selector_matchers(&expr).map_err(|e| ApiError::bad_data(e.to_string()))?;
        let (logs, traces, db) = c.stores();
        let (mint, maxt) = (start / 1_000_000, end / 1_000_000);
        let mut series = Vec::new();
        for ms in &selectors {
            series.extend(db.exemplars(ms, mint, maxt));
        }
        let ids: BTreeSet<String> = series
            .iter()
            .flat_map(|(_, ex)| ex.iter().filter_map(|e| exemplar_trace(&e.labels).map(str::to_string)))
            .collect();
        let parsed: Vec<[u8; 16]> = ids.iter().filter_map(|t| parse_trace_id(t)).take(MAX_TRACES).collect();
        let mut found =
            traces.traces(&parsed).await.map_err(|e| ApiError::internal(format!("reading traces failed: {e}")))?;
        let spans: Vec<_> = parsed.iter().filter_map(|t| found.remove(t)).filter(|s| !s.is_empty()).collect();
        // Those traces' error logs.
        let mut error_logs = Vec::new();
        if !spans.is_empty() {
            let ors: Vec<String> = spans.iter().map(|t| format!("trace_id:{}", quote(&hex(&t[0].trace_id)))).collect();
            let text = format!("(level:error OR level:critical OR level:fatal) AND ({})", ors.join(" OR "));
            let search = logs.parse_search(&text).map_err(|e| ApiError::internal(e.to_string()))?;
            let hits = logs
                .search(&search, i64::MIN, i64::MAX, lantern_logs::Order::Asc, 1000)
                .await
                .map_err(|e| ApiError::internal(format!("searching logs failed: {e}")))?;
            error_logs = hits.hits.iter().map(|r| Value::Object(r.hit())).collect();
        }
        Ok(json!({
            "exemplars": exemplars_json(&series),
            "traces": spans.iter().map(|t| trace_json(t)).collect::<Vec<_>>(),
            "errorLogs": error_logs,
        }))
    };
    match run.await {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}

async fn investigate(State(slot): State<Slot>, QueryParams(p): QueryParams<HashMap<String, String>>) -> Response {
    let run = async {
        let inv = investigator(&slot)?;
        let now = inv.correlator().now_ns();
        let end = time_ns(&p, "end", now)? / 1_000_000;
        let start = time_ns(&p, "start", (end - 3_600_000) * 1_000_000)? / 1_000_000;
        let given = |k: &str| p.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let req =
            Request { start_ms: start, end_ms: end, alert: given("alert"), query: given("query"), slo: given("slo") };
        if [&req.alert, &req.query, &req.slo].iter().filter(|x| x.is_some()).count() > 1 {
            return Err(ApiError::bad_data("give at most one of 'alert', 'query' and 'slo'"));
        }
        Ok::<_, ApiError>(inv.run(req).await?.json)
    };
    match run.await {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}
