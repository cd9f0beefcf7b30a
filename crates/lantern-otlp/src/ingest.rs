//! The one path every OTLP metrics request takes, whatever its transport: convert,
//! store, and answer with OTLP's partial success.

use std::sync::{Arc, OnceLock};

use lantern_core::Labels;
use lantern_tsdb::{Batch, Tsdb};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

use crate::metrics::{convert, DeltaState, Row};

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
            let mut c = convert(&req, &delta);
            for (family, meta) in std::mem::take(&mut c.metadata) {
                db.metadata().set(&family, meta);
            }
            let total = c.rows.len();
            let outcome = store(&db, &c.rows)?;
            let refused = outcome.rejected.len() + outcome.invalid_series.iter().map(|s| s.samples).sum::<usize>();
            if refused > 0 {
                let mut why: Vec<String> = outcome
                    .invalid_series
                    .iter()
                    .take(3)
                    .map(|s| format!("series {}: {}", s.labels, s.error))
                    .chain(
                        outcome
                            .rejected
                            .iter()
                            .take(3)
                            .map(|r| format!("sample of {} at {}: {:?}", r.labels, r.t, r.reason)),
                    )
                    .collect();
                why.truncate(3);
                c.rejected += refused;
                c.errors.extend(why);
            }
            tracing::debug!(samples = total, rejected = c.rejected, "otlp metrics stored");
            Ok(ExportMetricsServiceResponse {
                partial_success: (c.rejected > 0).then(|| ExportMetricsPartialSuccess {
                    rejected_data_points: c.rejected as i64,
                    error_message: c.errors.join("; "),
                }),
            })
        })
        .await
        .map_err(|e| IngestError::Internal(format!("ingest task failed: {e}")))?
    }
}

fn store(db: &Tsdb, rows: &[Row]) -> Result<lantern_tsdb::AppendOutcome, IngestError> {
    let mut b = Batch::new();
    for (labels, s, ex) in rows {
        push(&mut b, labels);
        b.sample(*s);
        for e in ex {
            b.exemplar(e.clone());
        }
        b.end_series();
    }
    db.append_batch(&b).map_err(|e| match e {
        lantern_tsdb::Error::Closed => IngestError::Unavailable(e.to_string()),
        other => IngestError::Internal(other.to_string()),
    })
}

fn push<'a>(b: &mut Batch<'a>, labels: &'a Labels) {
    b.begin_series();
    for l in labels {
        b.label(l.name.as_bytes(), l.value.as_bytes());
    }
}
