//! The one path every OTLP metrics request takes, whatever its transport: convert,
//! store, and answer with OTLP's partial success.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use lantern_core::selfmon::signal::METRICS;
use lantern_tsdb::Tsdb;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse};

use lantern_http::ErrorKind;

use crate::metrics::{convert, DeltaState, Sink};

/// Why a request was not taken at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The body is not a valid request (gRPC INVALID_ARGUMENT, HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The store cannot take data now; the client should retry (gRPC UNAVAILABLE, HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed (gRPC INTERNAL, HTTP 500).
    #[error("{0}")]
    Internal(String),
}

impl IngestError {
    /// The kind of failure, which says the HTTP status and gRPC code
    /// (`lantern_http::ErrorKind`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Invalid(_) => ErrorKind::BadData,
            IngestError::Unavailable(_) => ErrorKind::Unavailable,
            IngestError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The `reason` label of a request refused for this.
    pub fn reason(&self) -> &'static str {
        self.kind().reason()
    }

    /// The message.
    pub fn into_message(self) -> String {
        match self {
            IngestError::Invalid(m) | IngestError::Unavailable(m) | IngestError::Internal(m) => m,
        }
    }
}

/// Counts a request's body, or its refusal, into Lantern's own metrics.
pub(crate) fn count_request<T>(
    signal: &'static str,
    protocol: &'static str,
    bytes: usize,
    result: &Result<T, IngestError>,
) {
    match result {
        Ok(_) => lantern_core::selfmon::ingest_bytes(signal, protocol, bytes as u64),
        Err(e) => lantern_core::selfmon::refused_request(signal, protocol, e.reason()),
    }
}

/// The `protocol` label of requests that came over OTLP/gRPC.
pub const GRPC: &str = "otlp_grpc";
/// The `protocol` label of requests that came over OTLP/HTTP.
pub const HTTP: &str = "otlp_http";

/// Requests converted and stored at once; more wait, up to [`ADMISSION_WAIT`].
pub(crate) const IN_FLIGHT: usize = 8;
/// How long a request waits for its turn before the client is told to retry.
const ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `work` on the blocking pool once it has a turn among the requests in flight;
/// past [`ADMISSION_WAIT`] the client is told to retry (`what` names the store).
pub(crate) async fn run_admitted<T: Send + 'static>(
    permits: &Arc<tokio::sync::Semaphore>,
    what: &str,
    work: impl FnOnce() -> Result<T, IngestError> + Send + 'static,
) -> Result<T, IngestError> {
    let permit = match tokio::time::timeout(ADMISSION_WAIT, permits.clone().acquire_owned()).await {
        Ok(Ok(p)) => p,
        _ => {
            return Err(IngestError::Unavailable(format!(
                "the {what} is busy: too many requests in flight; retry later"
            )))
        }
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| IngestError::Internal(format!("ingest task failed: {e}")))?
}

/// Shared by the gRPC and HTTP receivers.
#[derive(Clone)]
pub struct MetricsIngest {
    db: Arc<OnceLock<Arc<Tsdb>>>,
    delta: Arc<DeltaState>,
    /// Back-pressure: a bounded number of requests in flight; the rest wait briefly,
    /// then get a retryable error instead of queueing without bound.
    permits: Arc<tokio::sync::Semaphore>,
    /// The `protocol` label of what it stores ([`GRPC`] or [`HTTP`]).
    protocol: &'static str,
}

impl MetricsIngest {
    /// A receiver writing into the store in `db` once it is set.
    pub fn new(db: Arc<OnceLock<Arc<Tsdb>>>) -> Self {
        Self::with_limit(db, IN_FLIGHT)
    }

    /// Same, with at most `in_flight` requests processed at once.
    pub fn with_limit(db: Arc<OnceLock<Arc<Tsdb>>>, in_flight: usize) -> Self {
        Self { db, delta: Arc::default(), permits: Arc::new(tokio::sync::Semaphore::new(in_flight)), protocol: GRPC }
    }

    /// The same receiver, counting what it stores as come through `protocol`.
    pub fn via(mut self, protocol: &'static str) -> Self {
        self.protocol = protocol;
        self
    }

    /// Decodes, converts and stores a request: `body` is an `ExportMetricsServiceRequest`
    /// in protobuf.
    pub async fn export(&self, body: Bytes) -> Result<ExportMetricsServiceResponse, IngestError> {
        let bytes = body.len();
        let result = self.store(body).await;
        count_request(METRICS, self.protocol, bytes, &result);
        result
    }

    async fn store(&self, body: Bytes) -> Result<ExportMetricsServiceResponse, IngestError> {
        let db = self
            .db
            .get()
            .cloned()
            .ok_or_else(|| IngestError::Unavailable("the metrics store is starting; retry shortly".into()))?;

        let delta = self.delta.clone();
        let protocol = self.protocol;
        run_admitted(&self.permits, "metrics store", move || {
            let bump = bumpalo::Bump::new();
            let req = lantern_otlp_wire::metrics::metrics_request(&body, &bump)
                .map_err(|e| IngestError::Invalid(format!("body is not a valid ExportMetricsServiceRequest: {e}")))?;
            let mut sink = Sink::default();
            convert(req, &bump, &delta, &mut sink);
            for (family, meta) in std::mem::take(&mut sink.metadata) {
                db.metadata().set(&family, meta);
            }
            let outcome = db.append_batch(&sink.batch).map_err(|e| match e {
                lantern_tsdb::Error::Closed => IngestError::Unavailable(e.to_string()),
                other => IngestError::Internal(other.to_string()),
            })?;
            outcome.count(protocol);
            lantern_core::selfmon::refused_items(METRICS, protocol, "invalid", sink.rejected as u64);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_and_starting_stores_answer_retryable_errors() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Arc::new(OnceLock::new());
        let ingest = MetricsIngest::with_limit(slot.clone(), 1);
        let e = ingest.export(Bytes::new()).await.unwrap_err();
        assert!(matches!(e, IngestError::Unavailable(m) if m.contains("starting")));
        let store = lantern_objstore::Store::local(&dir.path().join("data")).unwrap();
        let db = Tsdb::open(&dir.path().join("wal"), store, Default::default()).await.unwrap();
        let _ = slot.set(Arc::new(db));
        assert!(ingest.export(Bytes::new()).await.is_ok());
        let e = ingest.export(Bytes::from_static(&[0x0a, 0x05, 0x01])).await.unwrap_err();
        assert!(matches!(e, IngestError::Invalid(m) if m.contains("runs past the end")));
        let _held = ingest.permits.clone().acquire_owned().await.unwrap();
        let e = ingest.export(Bytes::new()).await.unwrap_err();
        assert!(matches!(e, IngestError::Unavailable(m) if m.contains("busy")));
    }
}
