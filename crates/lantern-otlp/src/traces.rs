//! OTLP traces: every request, whatever its transport, is decoded in place, converted
//! into spans (invalid IDs refused one by one), counted into span metrics, and stored
//! with the request itself as the log record; the answer carries OTLP's partial success.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use lantern_traces::table::otlp_payload;
use lantern_traces::{SpanMetrics, TraceStore};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use crate::ingest::{count_request, run_admitted, IngestError, GRPC};
use lantern_core::selfmon::signal::TRACES;

/// Shared by the gRPC and HTTP receivers.
#[derive(Clone)]
pub struct TraceIngest {
    store: Arc<OnceLock<Arc<TraceStore>>>,
    metrics: Arc<SpanMetrics>,
    permits: Arc<tokio::sync::Semaphore>,
    protocol: &'static str,
}

impl TraceIngest {
    /// A receiver writing into the span store in `store` once it is set, and counting
    /// spans into `metrics`.
    pub fn new(store: Arc<OnceLock<Arc<TraceStore>>>, metrics: Arc<SpanMetrics>) -> Self {
        Self {
            store,
            metrics,
            permits: Arc::new(tokio::sync::Semaphore::new(crate::ingest::IN_FLIGHT)),
            protocol: GRPC,
        }
    }

    /// The same receiver, counting what it stores as come through `protocol`.
    pub fn via(mut self, protocol: &'static str) -> Self {
        self.protocol = protocol;
        self
    }

    /// Decodes, converts and stores a request (`body`: an `ExportTraceServiceRequest`
    /// in protobuf); returns once the spans are durable.
    pub async fn export(&self, body: Bytes) -> Result<ExportTraceServiceResponse, IngestError> {
        let bytes = body.len();
        let result = self.store(body).await;
        count_request(TRACES, self.protocol, bytes, &result);
        result
    }

    async fn store(&self, body: Bytes) -> Result<ExportTraceServiceResponse, IngestError> {
        let protocol = self.protocol;
        let store = self
            .store
            .get()
            .cloned()
            .ok_or_else(|| IngestError::Unavailable("the span store is starting; retry shortly".into()))?;

        let metrics = self.metrics.clone();
        run_admitted(&self.permits, "span store", move || {
            let bump = bumpalo::Bump::new();
            let req = lantern_otlp_wire::traces::traces_request(&body, &bump)
                .map_err(|e| IngestError::Invalid(format!("body is not a valid ExportTraceServiceRequest: {e}")))?;
            let converted = lantern_traces::model::convert(req);
            let stored = converted.spans.len();
            metrics.observe(&converted.spans);
            store.append(converted.spans, Some(&otlp_payload(&body))).map_err(|e| match e.retryable() {
                true => IngestError::Unavailable(e.to_string()),
                false => IngestError::Internal(e.to_string()),
            })?;
            lantern_core::selfmon::ingested(TRACES, protocol, stored as u64);
            lantern_core::selfmon::refused_items(TRACES, protocol, "invalid", converted.rejected as u64);
            tracing::debug!(spans = stored, rejected = converted.rejected, "otlp spans stored");
            Ok(ExportTraceServiceResponse {
                partial_success: (converted.rejected > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: converted.rejected as i64,
                    error_message: converted.errors.join("; "),
                }),
            })
        })
        .await
    }
}
