//! Jaeger's gRPC collector API, `jaeger.api_v2.CollectorService/PostSpans`: posted
//! batches are mapped to OTLP ([`crate::jaeger_proto::to_otlp`]) and handed to any
//! OTLP trace handler: a pipeline (the `jaeger` receiver of `lantern collect`) or the
//! span store (`lantern serve --jaeger-grpc-addr`).

use bytes::Bytes;
use lantern_otlp::grpc::{Export, ExportService};
use lantern_otlp::ingest::IngestError;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use serde::Deserialize;

use crate::jaeger_proto::{to_otlp, PostSpansRequest};
use crate::settings::{lenient_string, present};

/// The `jaeger` receiver's configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The protocols served: `grpc` (the others are refused).
    #[serde(default)]
    pub protocols: Protocols,
}

/// `protocols`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// Jaeger's gRPC collector API.
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<Grpc>,
    /// Not supported by Lantern.
    pub thrift_http: Option<serde_yaml::Value>,
    /// Not supported by Lantern.
    pub thrift_binary: Option<serde_yaml::Value>,
    /// Not supported by Lantern.
    pub thrift_compact: Option<serde_yaml::Value>,
}

/// `protocols::grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grpc {
    /// Listen address (default `localhost:14250`).
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
}

impl Default for Grpc {
    fn default() -> Self {
        Self { endpoint: "localhost:14250".into() }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let p = &self.protocols;
        let mut out = Vec::new();
        if p.thrift_http.is_some() || p.thrift_binary.is_some() || p.thrift_compact.is_some() {
            out.push(
                "protocols: only grpc is supported by Lantern (thrift_http, thrift_binary and thrift_compact are not)"
                    .into(),
            );
        }
        if p.grpc.is_none() && out.is_empty() {
            out.push("must specify at least one protocol when using the Jaeger receiver".into());
        }
        out
    }
}

/// `jaeger.api_v2.PostSpansResponse` (no fields).
#[derive(Clone, Copy, PartialEq, prost::Message, serde::Serialize)]
pub struct PostSpansResponse {}

/// `PostSpans` handed to an OTLP trace handler: the served export service of
/// `lantern-otlp` (its raw-body codec, gzip) with Jaeger's names.
#[derive(Clone)]
pub struct PostSpans<E>(pub E);

impl<E: Export<Response = ExportTraceServiceResponse>> Export for PostSpans<E> {
    const SERVICE: &'static str = "jaeger.api_v2.CollectorService";
    const METHOD: &'static str = "PostSpans";
    type Response = PostSpansResponse;

    async fn export(&self, body: Bytes) -> Result<PostSpansResponse, IngestError> {
        let req = PostSpansRequest::decode(body)
            .map_err(|e| IngestError::Invalid(format!("body is not a valid PostSpansRequest: {e}")))?;
        let otlp = ExportTraceServiceRequest { resource_spans: to_otlp(&req) };
        let answer = self.0.export(otlp.encode_to_vec().into()).await?;
        if let Some(p) = answer.partial_success.filter(|p| p.rejected_spans > 0) {
            return Err(IngestError::Invalid(format!("{} spans rejected: {}", p.rejected_spans, p.error_message)));
        }
        Ok(PostSpansResponse {})
    }
}

/// Serves `PostSpans` on `listener` until `shutdown` completes.
pub async fn serve<E: Export<Response = ExportTraceServiceResponse>>(
    listener: tokio::net::TcpListener,
    handler: E,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(ExportService::new(PostSpans(handler)))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
