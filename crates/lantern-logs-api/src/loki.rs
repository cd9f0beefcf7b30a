//! Loki's query API, so Grafana's Loki data source and `logcli` work:
//! `/loki/api/v1/query`, `/query_range`, `/labels`, `/label/{name}/values`, `/series`,
//! `/index/volume`, `/index/volume_range`, `/index/stats`, `/status/buildinfo`, and the
//! `/tail` WebSocket. Answers in Loki's JSON; errors as text, as Loki answers them.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use lantern_http::{ApiError, ErrorKind, Params};
use lantern_logs::logql::engine::MAX_STEPS;
use lantern_logs::logql::pipeline::LabelMatcher;
use lantern_logs::logql::{self, Answer};
use lantern_logs::{LogStore, Order};
use serde_json::{json, Value};

use crate::{now_ns, LogsApi};

/// Entries a log query may ask for at most (Loki's `max_entries_limit_per_query`).
const MAX_ENTRIES: usize = 5000;

/// Loki answers errors as text.
fn text_error(e: ApiError) -> Response {
    (e.kind.status(), format!("{}\n", e.message)).into_response()
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad_data(m)
}

/// A time as Loki reads one: RFC 3339, float seconds, integer seconds (up to 10
/// digits) or nanoseconds.
pub fn parse_loki_time(v: &str) -> Option<i64> {
    if v.contains('.') && !v.contains('-') {
        let f: f64 = v.parse().ok()?;
        return f.is_finite().then_some((f * 1e9) as i64);
    }
    if let Ok(n) = v.parse::<i64>() {
        return Some(if v.trim_start_matches('-').len() <= 10 { n.saturating_mul(1_000_000_000) } else { n });
    }
    chrono::DateTime::parse_from_rfc3339(v).ok().and_then(|t| t.timestamp_nanos_opt())
}

fn time(p: &Params, key: &str, default: i64) -> Result<i64, ApiError> {
    match p.get(key) {
        None | Some("") => Ok(default),
        Some(v) => parse_loki_time(v).ok_or_else(|| bad(format!("invalid {key}: cannot parse {v:?} as a time"))),
    }
}

/// A step: a duration (`15s`) or float seconds.
fn step(p: &Params, start: i64, end: i64) -> Result<i64, ApiError> {
    match p.get("step").or(p.get("interval")) {
        None | Some("") => Ok((((end - start) / 250) / 1_000_000_000).max(1) * 1_000_000_000),
        Some(v) => {
            let ns = match v.parse::<f64>() {
                Ok(f) if f.is_finite() => (f * 1e9) as i64,
                _ => {
                    lantern_logql::parse_duration(v).ok_or_else(|| bad(format!("invalid step: cannot parse {v:?}")))?
                }
            };
            if ns <= 0 {
                return Err(bad(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            Ok(ns)
        }
    }
}

fn limit(p: &Params) -> Result<usize, ApiError> {
    let n = p.usize("limit")?.unwrap_or(100);
    if n > MAX_ENTRIES {
        return Err(bad(format!(
            "max entries limit per query exceeded, limit > max_entries_limit ({n} > {MAX_ENTRIES})"
        )));
    }
    Ok(n)
}

fn direction(p: &Params) -> Result<Order, ApiError> {
    match p.get("direction").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("backward") => Ok(Order::Desc),
        Some("forward") => Ok(Order::Asc),
        Some(d) => Err(bad(format!("invalid direction {d:?}: forward or backward"))),
    }
}

fn eval_error(e: lantern_logs::Error) -> ApiError {
    match e {
        lantern_logs::Error::Invalid(m) => bad(m),
        lantern_logs::Error::Limit(m) => ApiError::new(ErrorKind::Execution, m),
        lantern_logs::Error::Events(e) => ApiError::internal(format!("reading logs failed: {e}")),
    }
}

fn seconds(ns: i64) -> Value {
    let s = ns as f64 / 1e9;
    serde_json::Number::from_f64(s).map_or(Value::Null, Value::Number)
}

fn number_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        let s = format!("{v}");
        s
    }
}

fn stats() -> Value {
    json!({"summary": {"bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0, "totalBytesProcessed": 0,
        "totalLinesProcessed": 0, "execTime": 0, "queueTime": 0, "subqueries": 0, "totalEntriesReturned": 0}})
}

/// A stream as Loki answers one: its labels, and `["<ns>", "<line>"]` values.
pub(crate) fn stream_json(labels: BTreeMap<String, String>, values: Vec<(i64, String)>) -> Value {
    let values: Vec<Value> = values.into_iter().map(|(t, l)| json!([t.to_string(), l])).collect();
    json!({"stream": labels, "values": values})
}

fn answer_json(a: Answer, instant: bool) -> Value {
    let (kind, result) = match a {
        Answer::Streams(s) => {
            let n: usize = s.iter().map(|s| s.values.len()).sum();
            let result: Vec<Value> = s
                .into_iter()
                .map(|s| {
                    stream_json(s.labels, s.values)
                })
                .collect();
            let mut st = stats();
            st["summary"]["totalEntriesReturned"] = n.into();
            return json!({"status": "success", "data": {"resultType": "streams", "result": result, "stats": st}});
        }
        Answer::Scalar(v) if instant => {
            let (t, x) = v.first().copied().unwrap_or((0, f64::NAN));
            ("scalar", json!([seconds(t), number_text(x)]))
        }
        Answer::Scalar(v) => (
            "matrix",
            json!([{"metric": {}, "values": v.into_iter().map(|(t, x)| json!([seconds(t), number_text(x)])).collect::<Vec<_>>()}]),
        ),
        Answer::Series(s) if instant => (
            "vector",
            Value::Array(
                s.into_iter()
                    .filter_map(|s| {
                        let (t, x) = *s.points.first()?;
                        Some(json!({"metric": s.labels, "value": [seconds(t), number_text(x)]}))
                    })
                    .collect(),
            ),
        ),
        Answer::Series(s) => (
            "matrix",
            Value::Array(
                s.into_iter()
                    .map(|s| {
                        json!({"metric": s.labels, "values": s.points.into_iter().map(|(t, x)| json!([seconds(t), number_text(x)])).collect::<Vec<_>>()})
                    })
                    .collect(),
            ),
        ),
    };
    json!({"status": "success", "data": {"resultType": kind, "result": result, "stats": stats()}})
}

/// The parameters of a Loki API request (query string and form body), or Loki's text
/// error.
pub(crate) struct LokiParams(Params);

impl<S: Send + Sync> axum::extract::FromRequest<S> for LokiParams {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        Params::from_request(&parts.method, &parts.uri, &parts.headers, body, 1 << 20)
            .await
            .map(LokiParams)
            .map_err(text_error)
    }
}

fn query_text(p: &Params) -> Result<lantern_logql::Expr, ApiError> {
    let q = p.get("query").ok_or_else(|| bad("query parameter is missing"))?;
    lantern_logql::parse(q).map_err(|e| bad(e.to_string()))
}

async fn run_query(
    store: &LogStore,
    expr: &lantern_logql::Expr,
    lp: logql::Params,
    instant: bool,
) -> Result<Value, ApiError> {
    let a = logql::run(store, expr, &lp).await.map_err(eval_error)?;
    Ok(answer_json(a, instant))
}

pub(crate) async fn query(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async {
        let store = api.store()?;
        let expr = query_text(&p)?;
        if expr.is_log() {
            return Err(bad("log queries are not supported as an instant query type, please change your query to a range query type"));
        }
        let t = time(&p, "time", now_ns(&store))?;
        let lp = logql::Params { start: t, end: t, step: 1, limit: limit(&p)?, direction: direction(&p)? };
        run_query(&store, &expr, lp, true).await
    };
    run.await.map(|v| axum::Json(v).into_response()).unwrap_or_else(text_error)
}

pub(crate) async fn query_range(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async {
        let store = api.store()?;
        let expr = query_text(&p)?;
        let now = now_ns(&store);
        let end = time(&p, "end", now)?;
        let start = time(&p, "start", end - 3_600_000_000_000)?;
        if end < start {
            return Err(bad("end timestamp must not be before or equal to start time"));
        }
        let step = step(&p, start, end)?;
        if !expr.is_log() && (end - start) / step >= MAX_STEPS {
            return Err(bad(format!("exceeded maximum resolution of {MAX_STEPS} points per timeseries. Try decreasing the query resolution (?step=XX)")));
        }
        let lp = logql::Params { start, end, step, limit: limit(&p)?, direction: direction(&p)? };
        run_query(&store, &expr, lp, false).await
    };
    run.await.map(|v| axum::Json(v).into_response()).unwrap_or_else(text_error)
}

/// The streams in a time range, optionally only those matching a selector.
fn streams_in(store: &LogStore, p: &Params, selector: Option<&str>) -> Result<Vec<BTreeMap<String, String>>, ApiError> {
    let now = now_ns(store);
    let end = time(p, "end", now)?;
    let start = time(p, "start", end - 6 * 3_600_000_000_000)?;
    let matchers: Option<Vec<LabelMatcher>> = match selector {
        None | Some("") => None,
        Some(s) => match lantern_logql::parse(s).map_err(|e| bad(e.to_string()))? {
            lantern_logql::Expr::Log(l) => Some(
                l.selector.iter().map(LabelMatcher::new).collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?,
            ),
            _ => return Err(bad(format!("{s:?} is not a stream selector"))),
        },
    };
    let mut out: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
    for s in store.streams(start, end) {
        let ok = matchers.as_ref().is_none_or(|ms| ms.iter().all(|m| m.matches(s.label(&m.name).unwrap_or(""))));
        if ok {
            out.insert(s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        }
    }
    Ok(out.into_iter().collect())
}

fn success(data: Value) -> Response {
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

pub(crate) async fn labels(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async {
        let streams = streams_in(&*api.store()?, &p, p.get("query"))?;
        let names: BTreeSet<&String> = streams.iter().flat_map(|s| s.keys()).collect();
        Ok(success(json!(names)))
    };
    run.await.unwrap_or_else(text_error)
}

pub(crate) async fn label_values(
    State(api): State<LogsApi>,
    Path(name): Path<String>,
    LokiParams(p): LokiParams,
) -> Response {
    let run = async {
        let streams = streams_in(&*api.store()?, &p, p.get("query"))?;
        let values: BTreeSet<&String> = streams.iter().filter_map(|s| s.get(&name)).collect();
        Ok(success(json!(values)))
    };
    run.await.unwrap_or_else(text_error)
}

pub(crate) async fn series(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async {
        let store = api.store()?;
        let selectors = p.all("match[]");
        let selectors = if selectors.is_empty() { p.all("match") } else { selectors };
        let mut out: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
        if selectors.is_empty() {
            out.extend(streams_in(&store, &p, None)?);
        }
        for s in selectors {
            out.extend(streams_in(&store, &p, Some(s))?);
        }
        Ok(success(json!(out)))
    };
    run.await.unwrap_or_else(text_error)
}

/// The volume (bytes of lines) of the streams a selector matches, summed by
/// `targetLabels` (else the labels the selector names; with `aggregateBy=labels`, per
/// label name), per step for `volume_range` and over the whole range for `volume`.
async fn volume_of(api: &LogsApi, p: &Params, range: bool) -> Result<Value, ApiError> {
    let store = api.store()?;
    let q = p.get("query").ok_or_else(|| bad("query parameter is missing"))?;
    let lantern_logql::Expr::Log(sel) = lantern_logql::parse(q).map_err(|e| bad(e.to_string()))? else {
        return Err(bad(format!("{q:?} is not a stream selector")));
    };
    if !sel.stages.is_empty() {
        return Err(bad("volume queries take a stream selector only"));
    }
    let now = now_ns(&store);
    let end = time(p, "end", now)?;
    let start = time(p, "start", end - 3_600_000_000_000)?;
    let step = if range { step(p, start, end)? } else { (end - start).max(1) };
    let targets: Vec<String> = match p.get("targetLabels").filter(|t| !t.is_empty()) {
        Some(t) => t.split(',').map(|s| s.trim().to_string()).collect(),
        None => sel.selector.iter().map(|m| m.name.clone()).collect(),
    };
    let by = targets.join(", ");
    let inner = format!("bytes_over_time({q}[{}s])", (step / 1_000_000_000).max(1));
    let text = format!("sum by ({by}) ({inner})");
    let expr = lantern_logql::parse(&text).map_err(|e| bad(e.to_string()))?;
    let (s, e) = if range { (start + step, end) } else { (end, end) };
    let lp = logql::Params { start: s.min(end), end: e, step, limit: 0, direction: Order::Desc };
    let a = logql::run(&store, &expr, &lp).await.map_err(eval_error)?;
    Ok(answer_json(a, !range))
}

pub(crate) async fn volume(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async { volume_of(&api, &p, false).await };
    run.await.map(|v| axum::Json(v).into_response()).unwrap_or_else(text_error)
}

pub(crate) async fn volume_range(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async { volume_of(&api, &p, true).await };
    run.await.map(|v| axum::Json(v).into_response()).unwrap_or_else(text_error)
}

/// `/index/stats`: streams, entries and bytes a selector covers.
pub(crate) async fn index_stats(State(api): State<LogsApi>, LokiParams(p): LokiParams) -> Response {
    let run = async {
        let store = api.store()?;
        let q = p.get("query").unwrap_or("");
        let streams = streams_in(&store, &p, Some(q).filter(|q| !q.is_empty()))?;
        let now = now_ns(&store);
        let end = time(&p, "end", now)?;
        let start = time(&p, "start", end - 3_600_000_000_000)?;
        let (mut entries, mut bytes) = (0u64, 0u64);
        if !q.is_empty() {
            let span = ((end - start) / 1_000_000_000).max(1);
            for (f, out) in [("count_over_time", &mut entries), ("bytes_over_time", &mut bytes)] {
                let e = lantern_logql::parse(&format!("sum({f}({q}[{span}s]))")).map_err(|e| bad(e.to_string()))?;
                let lp = logql::Params { start: end, end, step: 1, limit: 0, direction: Order::Desc };
                if let Answer::Series(s) = logql::run(&store, &e, &lp).await.map_err(eval_error)? {
                    *out = s.first().and_then(|s| s.points.first()).map_or(0, |p| p.1 as u64);
                }
            }
        }
        Ok(axum::Json(json!({"streams": streams.len(), "chunks": streams.len(), "entries": entries, "bytes": bytes}))
            .into_response())
    };
    run.await.unwrap_or_else(text_error)
}

pub(crate) async fn buildinfo() -> Response {
    axum::Json(json!({"version": "3.0.0", "revision": concat!("lantern-", env!("CARGO_PKG_VERSION")), "branch": "",
        "buildUser": "", "buildDate": "", "goVersion": ""}))
    .into_response()
}
