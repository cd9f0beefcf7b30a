//! Prometheus's storage-facing HTTP APIs over the metrics store: remote write 1.0
//! (`POST /api/v1/write`), remote read (`POST /api/v1/read`), and the series, label
//! names and label values APIs. Handlers decode, call one store method, encode.

pub mod proto;
mod remote_read;
mod remote_write;
mod series;
pub mod wire;

use std::sync::{Arc, OnceLock};

use axum::routing::{get, post};
use axum::Router;
use lantern_http::ApiError;
use lantern_tsdb::Tsdb;

/// Size limits of the APIs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body as sent (compressed), in bytes.
    pub max_request_bytes: usize,
    /// Largest accepted remote-write body after snappy decompression, in bytes.
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_request_bytes: 32 << 20, max_decompressed_bytes: 256 << 20 }
    }
}

/// Shared state of the handlers. The store is set once it has replayed its log; until
/// then the APIs answer 503.
#[derive(Clone, Default)]
pub struct PromApi {
    db: Arc<OnceLock<Arc<Tsdb>>>,
    limits: Limits,
}

impl PromApi {
    /// State over a store slot filled by the caller when the store is open.
    pub fn new(db: Arc<OnceLock<Arc<Tsdb>>>, limits: Limits) -> Self {
        Self { db, limits }
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
        .route("/api/v1/admin/tsdb/flush", post(flush))
        .with_state(api)
}

/// `POST /api/v1/admin/tsdb/flush` (a Lantern extension, like VictoriaMetrics's
/// `/internal/force_flush`): persists the whole head into blocks and compacts, so what is
/// on disk can be measured or backed up. 204 when done.
async fn flush(axum::extract::State(api): axum::extract::State<PromApi>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let r = async {
        api.db()?.flush().await.map_err(store_error)?;
        Ok::<_, ApiError>(axum::http::StatusCode::NO_CONTENT.into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
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
