//! `/api/v1/status/buildinfo`, `runtimeinfo`, `config`, `flags` and `tsdb`, and
//! `/api/v1/metadata`, answered as Prometheus answers them.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use crate::PromApi;

/// Facts about the running server that `runtimeinfo` reports.
#[derive(Debug, Clone, Default)]
pub struct RuntimeInfo {
    /// When the server started, RFC 3339.
    pub start_time: String,
    /// The retention setting, as Prometheus prints it (`15d`, `10GiB`).
    pub storage_retention: String,
    /// The configuration in force, as YAML (secrets masked).
    pub config_yaml: String,
    /// The command-line flags and their values (defaults included).
    pub flags: std::collections::BTreeMap<String, String>,
}

/// The Prometheus release whose HTTP API Lantern answers like. Clients such as Grafana
/// read `version` to decide which API features to use.
const PROMETHEUS_API_VERSION: &str = "3.9.1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: &'static str,
    /// Lantern's own version.
    lantern_version: &'static str,
}

pub(crate) async fn buildinfo() -> Response {
    lantern_http::success(BuildInfo {
        version: PROMETHEUS_API_VERSION,
        revision: option_env!("LANTERN_GIT_REVISION").unwrap_or("unknown"),
        branch: "main",
        build_user: "lantern",
        build_date: option_env!("LANTERN_BUILD_DATE").unwrap_or("unknown"),
        go_version: "n/a (Rust)",
        lantern_version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Runtime {
    start_time: String,
    #[serde(rename = "CWD")]
    cwd: String,
    reload_config_success: bool,
    last_config_time: String,
    corruption_count: u64,
    goroutine_count: usize,
    #[serde(rename = "GOMAXPROCS")]
    gomaxprocs: usize,
    #[serde(rename = "GOMEMLIMIT")]
    gomemlimit: i64,
    #[serde(rename = "GOGC")]
    gogc: String,
    #[serde(rename = "GODEBUG")]
    godebug: String,
    storage_retention: String,
}

pub(crate) async fn runtimeinfo(State(api): State<PromApi>) -> Response {
    let info = &api.runtime;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    lantern_http::success(Runtime {
        start_time: info.start_time.clone(),
        cwd: std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        reload_config_success: true,
        last_config_time: info.start_time.clone(),
        corruption_count: 0,
        // Lantern has no goroutines; the closest figure is the worker thread count.
        goroutine_count: threads,
        gomaxprocs: threads,
        gomemlimit: i64::MAX,
        gogc: String::new(),
        godebug: String::new(),
        storage_retention: info.storage_retention.clone(),
    })
}

#[derive(Serialize)]
struct Meta {
    #[serde(rename = "type")]
    kind: String,
    help: String,
    unit: String,
}

/// `/api/v1/metadata`: type, help and unit per metric family (`metric`, `limit`,
/// `limit_per_metric`), as scrapes, remote write and OTLP reported them.
pub(crate) async fn metadata(
    State(api): State<PromApi>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    crate::respond(
        async {
            let p =
                lantern_http::Params::from_request(&method, &uri, &headers, body, api.limits.max_request_bytes).await?;
            let limit = p.usize("limit")?.unwrap_or(0);
            let per = p.usize("limit_per_metric")?.unwrap_or(0);
            let metric = p.get("metric").filter(|m| !m.is_empty());
            let found = api.db()?.metadata().get(metric, limit, per);
            let out: std::collections::BTreeMap<String, Vec<Meta>> = found
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(|m| Meta { kind: m.kind, help: m.help, unit: m.unit }).collect()))
                .collect();
            Ok(lantern_http::success(out))
        }
        .await,
    )
}

#[derive(Serialize)]
struct ConfigYaml<'a> {
    yaml: &'a str,
}

/// `/api/v1/status/config`: the configuration in force, as YAML.
pub(crate) async fn config(State(api): State<PromApi>) -> Response {
    lantern_http::success(ConfigYaml { yaml: &api.runtime.config_yaml })
}

/// `/api/v1/status/flags`: every flag with its value.
pub(crate) async fn flags(State(api): State<PromApi>) -> Response {
    lantern_http::success(&api.runtime.flags)
}

#[derive(Serialize)]
struct Count {
    name: String,
    value: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadStats {
    num_series: usize,
    num_label_pairs: u64,
    chunk_count: usize,
    min_time: i64,
    max_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TsdbStatus {
    head_stats: HeadStats,
    series_count_by_metric_name: Vec<Count>,
    label_value_count_by_label_name: Vec<Count>,
    memory_in_bytes_by_label_name: Vec<Count>,
    series_count_by_label_value_pair: Vec<Count>,
}

/// `/api/v1/status/tsdb`: the head's cardinality, the `limit` (default 10) largest
/// metric names, label names and label pairs by series, values and bytes.
pub(crate) async fn tsdb(
    State(api): State<PromApi>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    crate::respond(
        async {
            let p =
                lantern_http::Params::from_request(&method, &uri, &headers, body, api.limits.max_request_bytes).await?;
            let limit = match p.usize("limit")? {
                None => 10,
                Some(0) => return Err(lantern_http::ApiError::bad_data("limit must be a positive number")),
                Some(n) => n,
            };
            let db = api.db()?;
            let (c, stats) = tokio::task::spawn_blocking(move || (db.head_cardinality(limit), db.stats()))
                .await
                .map_err(|e| lantern_http::ApiError::internal(e.to_string()))?;
            let db = api.db()?;
            // An empty head reports the bounds Prometheus reports for one.
            let (min_time, max_time) = db.head_time_range().unwrap_or((i64::MAX, i64::MIN));
            let counts = |v: Vec<(String, u64)>| v.into_iter().map(|(name, value)| Count { name, value }).collect();
            Ok(lantern_http::success(TsdbStatus {
                head_stats: HeadStats {
                    num_series: stats.head_series,
                    num_label_pairs: c.label_pairs,
                    chunk_count: stats.head_chunks,
                    min_time,
                    max_time,
                },
                series_count_by_metric_name: counts(c.series_by_metric_name),
                label_value_count_by_label_name: counts(c.values_by_label_name),
                memory_in_bytes_by_label_name: counts(c.memory_by_label_name),
                series_count_by_label_value_pair: counts(c.series_by_label_pair),
            }))
        }
        .await,
    )
}
