//! The log store's HTTP APIs: ingest (`POST /api/v1/logs/jsonl`, Loki's
//! `POST /loki/api/v1/push`), the seed's search (`/api/v1/logs/search`), the volume
//! histogram (`/api/v1/logs/volume`), and Loki's query API with LogQL (`loki.rs`,
//! `tail.rs`). Handlers decode, call the store or the LogQL engine, and encode.

mod ingest;
mod limit;
mod loki;
mod search;
mod tail;

use std::sync::{Arc, OnceLock};

use axum::routing::{get, post};
use axum::Router;
use lantern_http::ApiError;
use lantern_logs::LogStore;

pub use limit::RateLimit;

/// Ingest limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest line accepted (bytes).
    pub max_line_bytes: usize,
    /// Largest request body accepted (bytes, after decompression).
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_line_bytes: 256 * 1024, max_request_bytes: 64 << 20 }
    }
}

/// What the APIs read and write.
#[derive(Clone)]
pub struct LogsApi {
    store: Arc<OnceLock<Arc<LogStore>>>,
    limits: Limits,
    rate: Arc<RateLimit>,
}

impl LogsApi {
    /// The APIs over the store in the slot (empty until the server has opened it).
    pub fn new(store: Arc<OnceLock<Arc<LogStore>>>, limits: Limits, rate: RateLimit) -> Self {
        Self { store, limits, rate: Arc::new(rate) }
    }

    fn store(&self) -> Result<Arc<LogStore>, ApiError> {
        self.store.get().cloned().ok_or_else(|| ApiError::unavailable("the log store is still opening"))
    }
}

/// The routes.
pub fn router(api: LogsApi) -> Router {
    Router::new()
        .route("/api/v1/logs/jsonl", post(ingest::jsonl))
        .route("/loki/api/v1/push", post(ingest::loki_push))
        .route("/api/v1/logs/search", get(search::search_get).post(search::search_post))
        .route("/api/v1/logs/volume", get(search::volume))
        .route("/loki/api/v1/query", get(loki::query).post(loki::query))
        .route("/loki/api/v1/query_range", get(loki::query_range).post(loki::query_range))
        .route("/loki/api/v1/labels", get(loki::labels).post(loki::labels))
        .route("/loki/api/v1/label", get(loki::labels))
        .route("/loki/api/v1/label/{name}/values", get(loki::label_values))
        .route("/loki/api/v1/series", get(loki::series).post(loki::series))
        .route("/loki/api/v1/index/volume", get(loki::volume).post(loki::volume))
        .route("/loki/api/v1/index/volume_range", get(loki::volume_range).post(loki::volume_range))
        .route("/loki/api/v1/index/stats", get(loki::index_stats).post(loki::index_stats))
        .route("/loki/api/v1/status/buildinfo", get(loki::buildinfo))
        .route("/loki/api/v1/tail", get(tail::tail))
        .route("/api/v1/admin/logs/flush", post(ingest::flush))
        .with_state(api)
}

/// Now, in nanoseconds since the epoch, by the store's clock.
pub(crate) fn now_ns(store: &LogStore) -> i64 {
    store.clock().now_ns()
}

#[cfg(test)]
mod tests;
