//! Jaeger's gRPC collector API, `jaeger.api_v2.CollectorService/PostSpans`: posted
//! batches are mapped to OTLP ([`crate::jaeger_proto::to_otlp`]) and handed to any
//! OTLP trace handler: a pipeline (the `jaeger` receiver of `lantern collect`) or the
//! span store (`lantern serve --jaeger-grpc-addr`).

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use lantern_otlp::grpc::Export;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use serde::{Deserialize, Deserializer};
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::exporter::grpc::RawCodec;
use crate::jaeger_proto::{to_otlp, PostSpansRequest};
use crate::settings::lenient_string;

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

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
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

const SERVICE: &str = "jaeger.api_v2.CollectorService";

/// The tonic service answering `PostSpans` with `E`.
#[derive(Clone)]
pub struct CollectorService<E>(Arc<E>);

impl<E: Export<Response = ExportTraceServiceResponse>> CollectorService<E> {
    /// The service handing spans to `handler`.
    pub fn new(handler: E) -> Self {
        Self(Arc::new(handler))
    }
}

impl<E> NamedService for CollectorService<E> {
    const NAME: &'static str = SERVICE;
}

struct Unary<E>(Arc<E>);

impl<E: Export<Response = ExportTraceServiceResponse>> UnaryService<Bytes> for Unary<E> {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;
    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let req = PostSpansRequest::decode(request.into_inner())
                .map_err(|e| Status::invalid_argument(format!("body is not a valid PostSpansRequest: {e}")))?;
            let otlp = ExportTraceServiceRequest { resource_spans: to_otlp(&req) };
            let answer = inner.export(otlp.encode_to_vec().into()).await.map_err(Status::from)?;
            if let Some(p) = answer.partial_success.filter(|p| p.rejected_spans > 0) {
                return Err(Status::invalid_argument(format!(
                    "{} spans rejected: {}",
                    p.rejected_spans, p.error_message
                )));
            }
            // PostSpansResponse has no fields.
            Ok(Response::new(Bytes::new()))
        })
    }
}

impl<E, B> Service<http::Request<B>> for CollectorService<E>
where
    E: Export<Response = ExportTraceServiceResponse>,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let inner = self.0.clone();
        let post = req.uri().path() == "/jaeger.api_v2.CollectorService/PostSpans";
        Box::pin(async move {
            if !post {
                return Ok(Status::unimplemented(format!("{SERVICE} has only PostSpans")).into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec(PhantomData))
                .apply_max_message_size_config(Some(64 << 20), None)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
            Ok(grpc.unary(Unary(inner), req).await)
        })
    }
}

/// Serves `PostSpans` on `listener` until `shutdown` completes.
pub async fn serve<E: Export<Response = ExportTraceServiceResponse>>(
    listener: tokio::net::TcpListener,
    handler: E,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(CollectorService::new(handler))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
