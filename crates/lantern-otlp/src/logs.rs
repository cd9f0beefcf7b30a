//! OTLP logs: every request, whatever its transport, is decoded in place, converted into
//! log events (records with malformed IDs refused one by one) and stored, with the
//! request itself as the log record when every record was kept; the answer carries
//! OTLP's partial success.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use lantern_logs::codec::otlp_header;
use lantern_logs::LogStore;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};

use crate::ingest::{count_request, run_admitted, IngestError, GRPC};
use lantern_core::selfmon::signal::LOGS;

/// Shared by the gRPC and HTTP receivers.
#[derive(Clone)]
pub struct LogIngest {
    store: Arc<OnceLock<Arc<LogStore>>>,
    permits: Arc<tokio::sync::Semaphore>,
    protocol: &'static str,
}

impl LogIngest {
    /// A receiver writing into the log store in `store` once it is set.
    pub fn new(store: Arc<OnceLock<Arc<LogStore>>>) -> Self {
        Self { store, permits: Arc::new(tokio::sync::Semaphore::new(crate::ingest::IN_FLIGHT)), protocol: GRPC }
    }

    /// The same receiver, counting what it stores as come through `protocol`.
    pub fn via(mut self, protocol: &'static str) -> Self {
        self.protocol = protocol;
        self
    }

    /// Decodes, converts and stores a request (`body`: an `ExportLogsServiceRequest` in
    /// protobuf); returns once the events are durable.
    pub async fn export(&self, body: Bytes) -> Result<ExportLogsServiceResponse, IngestError> {
        let bytes = body.len();
        let result = self.store(body).await;
        count_request(LOGS, self.protocol, bytes, &result);
        result
    }

    async fn store(&self, body: Bytes) -> Result<ExportLogsServiceResponse, IngestError> {
        let protocol = self.protocol;
        let store = self
            .store
            .get()
            .cloned()
            .ok_or_else(|| IngestError::Unavailable("the log store is starting; retry shortly".into()))?;
        run_admitted(&self.permits, "log store", move || {
            let now = store.clock().now_ns();
            let bump = bumpalo::Bump::new();
            let req = lantern_otlp_wire::logs::logs_request(&body, &bump)
                .map_err(|e| IngestError::Invalid(format!("body is not a valid ExportLogsServiceRequest: {e}")))?;
            let c = lantern_logs::otlp::convert(req, now);
            let stored = c.rows.len();
            let result = if c.rejected == 0 {
                store.append_payload(c.rows, &[&otlp_header(now), &body])
            } else {
                store.append(c.rows)
            };
            result.map_err(|e| match e.retryable() {
                true => IngestError::Unavailable(e.to_string()),
                false => IngestError::Internal(e.to_string()),
            })?;
            lantern_core::selfmon::ingested(LOGS, protocol, stored as u64);
            lantern_core::selfmon::refused_items(LOGS, protocol, "invalid", c.rejected as u64);
            tracing::debug!(records = stored, rejected = c.rejected, "otlp log records stored");
            Ok(ExportLogsServiceResponse {
                partial_success: (c.rejected > 0).then(|| ExportLogsPartialSuccess {
                    rejected_log_records: c.rejected as i64,
                    error_message: c.errors.join("; "),
                }),
            })
        })
        .await
    }
}
