//! Prometheus's HTTP APIs over the metrics store: remote write 1.0 (`POST
//! /api/v1/write`), remote read (`POST /api/v1/read`), the series, label names and label
//! values APIs, and the query APIs (`/api/v1/query`, `/api/v1/query_range`, …) through
//! the PromQL engine. Handlers decode, call one store or engine method, encode.

pub mod json;
pub mod proto;
mod query;
mod remote_read;
mod remote_write;
mod series;
mod status;
pub mod wire;

pub use status::RuntimeInfo;

use std::sync::{Arc, OnceLock};

use axum::routing::{get, post};
use axum::Router;
use lantern_http::ApiError;
use lantern_promql::Engine;
use lantern_tsdb::Tsdb;

/// Size limits of the APIs' request bodies (remote write's snappy body included).
pub type Limits = lantern_http::BodyLimits;

/// Shared state of the handlers. The store is set once it has replayed its log; until
/// then the APIs answer 503.
#[derive(Clone)]
pub struct PromApi {
    db: Arc<OnceLock<Arc<Tsdb>>>,
    limits: Limits,
    engine: Arc<Engine>,
    clock: lantern_core::clock::SharedClock,
    runtime: Arc<RuntimeInfo>,
}

impl PromApi {
    /// State over a store slot filled by the caller when the store is open.
    pub fn new(db: Arc<OnceLock<Arc<Tsdb>>>, limits: Limits) -> Self {
        Self {
            db,
            limits,
            engine: Arc::new(Engine::default()),
            clock: lantern_core::clock::system(),
            runtime: Arc::new(RuntimeInfo::default()),
        }
    }

    /// Uses `engine` (its lookback delta, timeout and limits) for queries.
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = Arc::new(engine);
        self
    }

    /// Uses `clock` for "now" (a query without `time`).
    pub fn with_clock(mut self, clock: lantern_core::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reports `info` from `/api/v1/status/runtimeinfo`.
    pub fn with_runtime_info(mut self, info: RuntimeInfo) -> Self {
        self.runtime = Arc::new(info);
        self
    }

    fn db(&self) -> Result<Arc<Tsdb>, ApiError> {
        self.db.get().cloned().ok_or_else(|| {
            ApiError::unavailable("the metrics store is starting (replaying its write-ahead log); retry shortly")
        })
    }
}

/// The routes of this crate.
pub fn router(api: PromApi) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write::handle))
        .route("/api/v1/read", post(remote_read::handle))
        .route("/api/v1/series", get(series::series).post(series::series))
        .route("/api/v1/labels", get(series::labels).post(series::labels))
        .route("/api/v1/label/{name}/values", get(series::label_values))
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route("/api/v1/query_exemplars", get(query::exemplars).post(query::exemplars))
        .route("/api/v1/format_query", get(query::format).post(query::format))
        .route("/api/v1/metadata", get(status::metadata))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/tsdb", get(status::tsdb).post(status::tsdb))
        .route("/api/v1/admin/tsdb/flush", post(flush))
        .with_state(api)
}

/// `POST /api/v1/admin/tsdb/flush` (a Lantern extension, like VictoriaMetrics's
/// `/internal/force_flush`): persists the whole head into blocks and compacts, so what is
/// on disk can be measured or backed up. 204 when done.
async fn flush(axum::extract::State(api): axum::extract::State<PromApi>) -> axum::response::Response {
    use axum::response::IntoResponse;
    respond(
        async {
            api.db()?.flush().await.map_err(store_error)?;
            Ok(axum::http::StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// A handler's answer, or its error in Prometheus's envelope.
pub(crate) fn respond(r: Result<axum::response::Response, ApiError>) -> axum::response::Response {
    r.unwrap_or_else(axum::response::IntoResponse::into_response)
}

fn store_error(e: lantern_tsdb::Error) -> ApiError {
    match e {
        lantern_tsdb::Error::Closed => ApiError::unavailable(e.to_string()),
        lantern_tsdb::Error::TooManySamples(_) => ApiError::new(lantern_http::ErrorKind::Execution, e.to_string()),
        other => {
            tracing::error!(error = %other, "metrics store failed");
            ApiError::internal(other.to_string())
        }
    }
}

#[cfg(test)]
mod tests;
