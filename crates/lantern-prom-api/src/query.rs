//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query` and
//! `/api/v1/query_exemplars`: parameters as Prometheus takes them, the PromQL engine over
//! the metrics store, and Prometheus's JSON and error types.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use lantern_core::Labels;
use lantern_http::time::parse_duration_ms;
use lantern_http::{ApiError, ErrorKind, Params};
use lantern_promql::{Engine, Value};
use lantern_tsdb::{Tsdb, TsdbStorage};

use crate::{json, respond, PromApi};

fn engine_error(e: lantern_promql::Error) -> ApiError {
    use lantern_promql::Error as E;
    match e {
        E::Parse(m) => ApiError::bad_data(format!("invalid parameter \"query\": {m}")),
        E::BadData(m) => ApiError::bad_data(m),
        E::Unsupported(_) | E::Execution(_) => ApiError::new(ErrorKind::Execution, e.to_string()),
        E::Timeout(m) => ApiError::new(ErrorKind::Timeout, m),
        E::Storage(m) => ApiError::internal(m),
    }
}

fn json_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The engine for one request: the configured one, with a shorter `timeout` or another
/// `lookback_delta` if the request asks.
fn request_engine(base: &Engine, p: &Params) -> Result<Engine, ApiError> {
    let mut e = base.clone();
    if let Some(t) = p.get("timeout").filter(|s| !s.is_empty()) {
        let ms = parse_duration_ms(t).map_err(|m| ApiError::bad_data(format!("invalid parameter \"timeout\": {m}")))?;
        let asked = Duration::from_millis(ms as u64);
        e.timeout = Some(e.timeout.map_or(asked, |t| t.min(asked)));
    }
    if let Some(l) = p.get("lookback_delta").filter(|s| !s.is_empty()) {
        let ms = parse_duration_ms(l)
            .map_err(|m| ApiError::bad_data(format!("invalid parameter \"lookback_delta\": {m}")))?;
        if ms > 0 {
            e.lookback_ms = ms;
        }
    }
    Ok(e)
}

fn query_param(p: &Params) -> Result<promql_parser::parser::Expr, ApiError> {
    let q = p.get("query").unwrap_or_default();
    lantern_promql::parse(q).map_err(engine_error)
}

/// Truncates a result to `limit` series, with Prometheus's warning.
fn limit_series<T>(v: &mut Vec<T>, limit: Option<usize>, warnings: &mut Vec<String>) {
    if let Some(l) = limit.filter(|&l| l > 0) {
        if v.len() > l {
            v.truncate(l);
            warnings.push("results truncated due to limit".into());
        }
    }
}

async fn params(
    api: &PromApi,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Params, ApiError> {
    Params::from_request(method, uri, headers, body, api.limits.max_request_bytes).await
}

/// Runs CPU-bound evaluation off the async scheduler: in place on a multi-threaded
/// runtime (the worker hands its other tasks away; no thread switch), else on the
/// blocking pool.
async fn run<T: Send + 'static>(
    f: impl FnOnce(&TsdbStorage) -> lantern_promql::Result<T> + Send + 'static,
    db: Arc<Tsdb>,
) -> Result<T, ApiError> {
    let rt = tokio::runtime::Handle::current();
    let r = if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(move || f(&TsdbStorage::new(db, rt)))
    } else {
        tokio::task::spawn_blocking(move || f(&TsdbStorage::new(db, rt)))
            .await
            .map_err(|e| ApiError::internal(format!("query evaluation failed: {e}")))?
    };
    r.map_err(engine_error)
}

pub(crate) async fn instant(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let p = params(&api, &method, &uri, &headers, body).await?;
            let t = p.time_ms("time", api.clock.now_ms())?;
            let expr = query_param(&p)?;
            let engine = request_engine(&api.engine, &p)?;
            let limit = p.usize("limit")?;
            let db = api.db()?;
            let mut value = run(move |s| engine.instant(s, &expr, t), db).await?;
            let mut warnings = Vec::new();
            match &mut value {
                Value::Vector(v) => limit_series(v, limit, &mut warnings),
                Value::Matrix(m) => limit_series(m, limit, &mut warnings),
                _ => {}
            }
            Ok(json_response(json::envelope(&json::instant_data(&value, t), &warnings)))
        }
        .await,
    )
}

pub(crate) async fn range(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let p = params(&api, &method, &uri, &headers, body).await?;
            let required_time = |key: &str| match p.get(key) {
                None | Some("") => Err(ApiError::bad_data(format!("invalid parameter \"{key}\": cannot parse \"\" to a valid timestamp"))),
                Some(_) => p.time_ms(key, 0),
            };
            let start = required_time("start")?;
            let end = required_time("end")?;
            if end < start {
                return Err(ApiError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
            }
            let step = parse_duration_ms(p.get("step").unwrap_or_default())
                .map_err(|m| ApiError::bad_data(format!("invalid parameter \"step\": {m}")))?;
            if step <= 0 {
                return Err(ApiError::bad_data(
                    "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            let expr = query_param(&p)?;
            let engine = request_engine(&api.engine, &p)?;
            let limit = p.usize("limit")?;
            let db = api.db()?;
            let mut m = run(move |s| engine.range(s, &expr, start, end, step), db).await?;
            let mut warnings = Vec::new();
            limit_series(&mut m, limit, &mut warnings);
            Ok(json_response(json::envelope(&json::range_data(&m), &warnings)))
        }
        .await,
    )
}

pub(crate) async fn format(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let p = params(&api, &method, &uri, &headers, body).await?;
            let expr = query_param(&p)?;
            Ok(lantern_http::success(expr.prettify()))
        }
        .await,
    )
}

/// `/api/v1/query_exemplars`: the exemplars of the series the query's selectors read,
/// between `start` and `end`, in Prometheus's shape.
pub(crate) async fn exemplars(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let p = params(&api, &method, &uri, &headers, body).await?;
            let expr = query_param(&p)?;
            let start = p.time_ms("start", lantern_http::time::MIN_TIME_MS)?;
            let end = p.time_ms("end", lantern_http::time::MAX_TIME_MS)?;
            if end < start {
                return Err(ApiError::bad_data(
                    "invalid parameter \"end\": end timestamp must not be before start time",
                ));
            }
            let db = api.db()?;
            let mut found: std::collections::BTreeMap<Labels, Vec<lantern_core::Exemplar>> = Default::default();
            for matchers in lantern_promql::selector_matchers(&expr).map_err(engine_error)? {
                for (labels, ex) in db.exemplars(&matchers, start, end) {
                    found.insert(labels, ex);
                }
            }
            Ok(json_response(json::envelope(&json::exemplars_data(&found), &[])))
        }
        .await,
    )
}

#[cfg(test)]
mod tests;
