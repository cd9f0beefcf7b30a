//! The one path every OTLP metrics request takes, whatever its transport: convert,
//! store, and answer with OTLP's partial success.

use std::sync::{Arc, OnceLock};

use lantern_tsdb::Tsdb;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

use crate::metrics::{convert, DeltaState, Sink};

/// Why a request was not taken at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The store cannot take data now; the client should retry (gRPC UNAVAILABLE, HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed (gRPC INTERNAL, HTTP 500).
    #[error("{0}")]
    Internal(String),
}

/// Shared by the gRPC and HTTP receivers.
#[derive(Clone, Default)]
pub struct MetricsIngest {
    db: Arc<OnceLock<Arc<Tsdb>>>,
    delta: Arc<DeltaState>,
}

impl MetricsIngest {
    /// A receiver writing into the store in `db` once it is set.
    pub fn new(db: Arc<OnceLock<Arc<Tsdb>>>) -> Self {
        Self { db, delta: Arc::default() }
    }

    /// Converts and stores a request.
    pub async fn export(&self, req: ExportMetricsServiceRequest) -> Result<ExportMetricsServiceResponse, IngestError> {
        let db = self
            .db
            .get()
            .cloned()
            .ok_or_else(|| IngestError::Unavailable("the metrics store is starting; retry shortly".into()))?;
        let delta = self.delta.clone();
        tokio::task::spawn_blocking(move || {
            let bump = bumpalo::Bump::new();
            let mut sink = Sink::default();
            convert(&req, &bump, &delta, &mut sink);
            for (family, meta) in std::mem::take(&mut sink.metadata) {
                db.metadata().set(&family, meta);
            }
            let outcome = db.append_batch(&sink.batch).map_err(|e| match e {
                lantern_tsdb::Error::Closed => IngestError::Unavailable(e.to_string()),
                other => IngestError::Internal(other.to_string()),
            })?;
            let (mut rejected, mut errors) = (sink.rejected, sink.errors);
            let refused = outcome.rejected.len() + outcome.invalid_series.iter().map(|s| s.samples).sum::<usize>();
            if refused > 0 {
                let why = outcome
                    .invalid_series
                    .iter()
                    .map(|s| format!("series {}: {}", s.labels, s.error))
                    .chain(
                        outcome.rejected.iter().map(|r| format!("sample of {} at {}: {:?}", r.labels, r.t, r.reason)),
                    )
                    .take(3);
                rejected += refused;
                errors.extend(why);
            }
            tracing::debug!(samples = sink.samples, rejected, "otlp metrics stored");
            Ok(ExportMetricsServiceResponse {
                partial_success: (rejected > 0).then(|| ExportMetricsPartialSuccess {
                    rejected_data_points: rejected as i64,
                    error_message: errors.join("; "),
                }),
            })
        })
        .await
        .map_err(|e| IngestError::Internal(format!("ingest task failed: {e}")))?
    }
}
