//! `/api/v1/logs/search` (the seed's syntax; POST JSON or GET parameters) and
//! `/api/v1/logs/volume` (matches per interval, split by level).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use lantern_http::ApiError;
use lantern_logs::jsonl::parse_time;
use lantern_logs::model::rfc3339;
use lantern_logs::{Cursor, Order};
use serde_json::json;

use crate::{now_ns, LogsApi};

/// Hits returned when no limit is given, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

/// A search request.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequest {
    #[serde(default)]
    query: String,
    sort: Option<String>,
    limit: Option<serde_json::Value>,
    start: Option<serde_json::Value>,
    end: Option<serde_json::Value>,
    /// The cursor of the previous page (`search_after` of its answer).
    search_after: Option<serde_json::Value>,
}

/// A `search_after` cursor: `["<time in ns>", <matches of that time already read>]`,
/// as the previous page's answer gave it.
fn cursor_param(v: &Option<serde_json::Value>) -> Result<Option<Cursor>, ApiError> {
    let Some(v) = v.as_ref().filter(|v| !v.is_null()) else { return Ok(None) };
    let bad = || {
        ApiError::bad_data(format!("search_after {v} is not a cursor: give back the search_after of the previous page"))
    };
    let a = v.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let time = match &a[0] {
        serde_json::Value::String(s) => s.parse::<i64>().map_err(|_| bad())?,
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let skip = a[1].as_u64().ok_or_else(bad)?;
    Ok(Some(Cursor { time, skip }))
}

fn time_param(name: &str, v: &Option<serde_json::Value>, default: i64) -> Result<i64, ApiError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(default),
        Some(serde_json::Value::String(s)) => {
            parse_time(s).ok_or_else(|| ApiError::bad_data(format!("{name} {s:?} is not a time (RFC 3339 or epoch)")))
        }
        Some(serde_json::Value::Number(n)) => {
            parse_time(&n.to_string()).ok_or_else(|| ApiError::bad_data(format!("{name} {n} is not a time")))
        }
        Some(v) => Err(ApiError::bad_data(format!("{name} {v} is not a time"))),
    }
}

/// The page size asked for, and whether it was above what a page holds.
fn limit_param(v: &Option<serde_json::Value>) -> Result<(usize, Option<u64>), ApiError> {
    let n = match v {
        None | Some(serde_json::Value::Null) => return Ok((DEFAULT_LIMIT, None)),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let n = n.ok_or_else(|| {
        ApiError::bad_data(format!(
            "limit {} is not a non-negative integer",
            v.as_ref().map_or(String::new(), |v| v.to_string())
        ))
    })?;
    Ok(((n as usize).min(MAX_LIMIT), (n as usize > MAX_LIMIT).then_some(n)))
}

fn order(sort: Option<&str>) -> Result<Order, ApiError> {
    match sort.map(str::trim) {
        None | Some("") => Ok(Order::Desc),
        Some(s) => {
            let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
            if !matches!(field, "timestamp" | "@timestamp" | "time") {
                return Err(ApiError::bad_data(format!("sort {s:?}: only timestamp can be sorted on")));
            }
            match dir {
                "asc" => Ok(Order::Asc),
                "desc" => Ok(Order::Desc),
                d => Err(ApiError::bad_data(format!("sort {s:?}: direction {d:?} is not asc or desc"))),
            }
        }
    }
}

async fn run(api: LogsApi, req: SearchRequest) -> Result<Response, ApiError> {
    let store = api.store()?;
    let search = store.parse_search(&req.query).map_err(|e| ApiError::bad_data(format!("query: {e}")))?;
    let start = time_param("start", &req.start, i64::MIN)?;
    let end = time_param("end", &req.end, i64::MAX)?;
    let (limit, asked) = limit_param(&req.limit)?;
    let order = order(req.sort.as_deref())?;
    let after = cursor_param(&req.search_after)?;
    let found = store
        .search_page(&search, start, end, order, limit, after)
        .await
        .map_err(|e| ApiError::internal(format!("search failed: {e}")))?;
    let hits: Vec<serde_json::Value> = found.hits.iter().map(|r| serde_json::Value::Object(r.hit())).collect();
    let mut out = json!({"total": found.total, "hits": hits});
    if found.remaining > 0 && limit > 0 {
        if let Some(c) = Cursor::after(&found.hits, after) {
            // The time as a string: nanoseconds do not fit a JSON reader's float.
            out["search_after"] = json!([c.time.to_string(), c.skip]);
        }
    }
    if let Some(n) = asked {
        out["warnings"] = json!([format!(
            "limit {n} is more than one page holds ({limit}): {} more hits to read by passing this answer's search_after back",
            found.remaining
        )]);
    }
    Ok(axum::Json(out).into_response())
}

pub(crate) async fn search_post(State(api): State<LogsApi>, body: axum::body::Bytes) -> Response {
    let req = match serde_json::from_slice::<SearchRequest>(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_data(format!("the search request is not valid: {e}")).into_response(),
    };
    run(api, req).await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(serde::Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default, alias = "q")]
    query: String,
    sort: Option<String>,
    limit: Option<String>,
    start: Option<String>,
    end: Option<String>,
    step: Option<String>,
    search_after: Option<String>,
}

fn text(v: Option<String>) -> Option<serde_json::Value> {
    v.map(serde_json::Value::String)
}

pub(crate) async fn search_get(State(api): State<LogsApi>, Query(p): Query<SearchParams>) -> Response {
    let search_after = match p.search_after.as_deref() {
        None | Some("") => None,
        Some(s) => match serde_json::from_str(s) {
            Ok(v) => Some(v),
            Err(_) => {
                return ApiError::bad_data(format!(
                    "search_after {s:?} is not a cursor: give back the search_after of the previous page"
                ))
                .into_response()
            }
        },
    };
    let req = SearchRequest {
        query: p.query,
        sort: p.sort,
        limit: text(p.limit),
        start: text(p.start),
        end: text(p.end),
        search_after,
    };
    run(api, req).await.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn volume(State(api): State<LogsApi>, Query(p): Query<SearchParams>) -> Response {
    let run = async {
        let store = api.store()?;
        let search = store.parse_search(&p.query).map_err(|e| ApiError::bad_data(format!("query: {e}")))?;
        let now = now_ns(&store);
        let end = time_param("end", &text(p.end), now)?;
        let start = time_param("start", &text(p.start), end - 3_600_000_000_000)?;
        if end < start {
            return Err(ApiError::bad_data("end is before start"));
        }
        let step = match p.step.as_deref() {
            None | Some("") => ((end - start) / 60).max(1_000_000_000),
            Some(s) => lantern_http::time::parse_duration_ms(s)
                .map_err(|e| ApiError::bad_data(format!("step: {e}")))?
                .saturating_mul(1_000_000),
        };
        if step <= 0 || (end - start) / step > 11_000 {
            return Err(ApiError::bad_data("step is too small for the range (at most 11000 intervals)"));
        }
        let v = store
            .volume(&search, start, end, step)
            .await
            .map_err(|e| ApiError::internal(format!("volume failed: {e}")))?;
        let buckets: Vec<serde_json::Value> =
            v.into_iter().map(|(t, counts)| json!({"time": rfc3339(t), "counts": counts})).collect();
        Ok(axum::Json(json!({"step_seconds": step as f64 / 1e9, "buckets": buckets})).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
