//! OTLP over gRPC (`:4317`). Requests reach the handler as raw protobuf bytes (a codec
//! that only frames), so the in-place decoder of `lantern-otlp-wire` reads them without
//! building owned messages; answers are encoded with prost.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::ingest::{IngestError, MetricsIngest};
use crate::logs::LogIngest;
use crate::traces::TraceIngest;

/// Largest request accepted.
const MAX_MESSAGE: usize = 64 << 20;

/// Hands the request body over as bytes; encodes the answer with prost.
struct RawCodec<R>(PhantomData<R>);

struct RawDecoder;

struct ProstEncoder<R>(PhantomData<R>);

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl<R: prost::Message> Encoder for ProstEncoder<R> {
    type Item = R;
    type Error = Status;
    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst).map_err(|e| Status::internal(format!("encoding the answer: {e}")))
    }
}

impl<R: prost::Message + Send + 'static> Codec for RawCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ProstEncoder<R>;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

/// One OTLP export service: its gRPC name and what it does with a request body (an
/// export request in protobuf), whatever the transport: the stores of `serve`, or the
/// pipelines of `collect`.
pub trait Export: Clone + Send + Sync + 'static {
    /// The gRPC service name, e.g. `opentelemetry.proto.collector.metrics.v1.MetricsService`.
    const SERVICE: &'static str;
    /// Its one unary method.
    const METHOD: &'static str = "Export";
    /// The answer message.
    type Response: prost::Message + serde::Serialize + Default + Send + 'static;
    /// Handles one request body.
    fn export(&self, body: Bytes) -> impl std::future::Future<Output = Result<Self::Response, IngestError>> + Send;
}

impl From<IngestError> for Status {
    fn from(e: IngestError) -> Self {
        Status::new(tonic::Code::from_i32(e.kind().grpc_code()), e.into_message())
    }
}

impl Export for MetricsIngest {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    type Response = ExportMetricsServiceResponse;
    async fn export(&self, body: Bytes) -> Result<ExportMetricsServiceResponse, IngestError> {
        MetricsIngest::export(self, body).await
    }
}

impl Export for LogIngest {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    type Response = ExportLogsServiceResponse;
    async fn export(&self, body: Bytes) -> Result<ExportLogsServiceResponse, IngestError> {
        LogIngest::export(self, body).await
    }
}

impl Export for TraceIngest {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    type Response = ExportTraceServiceResponse;
    async fn export(&self, body: Bytes) -> Result<ExportTraceServiceResponse, IngestError> {
        TraceIngest::export(self, body).await
    }
}

/// A tonic service answering `<SERVICE>/<METHOD>` with `E` (gzip accepted).
#[derive(Clone)]
pub struct ExportService<E>(Arc<E>);

impl<E: Export> ExportService<E> {
    /// The service for `handler`.
    pub fn new(handler: E) -> Self {
        Self(Arc::new(handler))
    }
}

impl<E: Export> NamedService for ExportService<E> {
    const NAME: &'static str = E::SERVICE;
}

struct Unary<E>(Arc<E>);

impl<E: Export> UnaryService<Bytes> for Unary<E> {
    type Response = E::Response;
    type Future = BoxFuture<Response<E::Response>, Status>;
    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { inner.export(request.into_inner()).await.map(Response::new).map_err(Status::from) })
    }
}

impl<E, B> Service<http::Request<B>> for ExportService<E>
where
    E: Export,
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
        let method = req.uri().path().strip_prefix('/').and_then(|p| p.strip_prefix(E::SERVICE));
        let known = method.and_then(|m| m.strip_prefix('/')) == Some(E::METHOD);
        Box::pin(async move {
            if !known {
                return Ok(Status::unimplemented(format!("{} has only {}", E::SERVICE, E::METHOD)).into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec::<E::Response>(PhantomData))
                .apply_compression_config(
                    tonic::codec::EnabledCompressionEncodings::default(),
                    tonic::codec::EnabledCompressionEncodings::default(),
                )
                .apply_max_message_size_config(Some(MAX_MESSAGE), None)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
            Ok(grpc.unary(Unary(inner), req).await)
        })
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: MetricsIngest,
    traces: TraceIngest,
    logs: LogIngest,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_for(listener, Some(metrics), Some(traces), Some(logs), shutdown).await
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, each signal's requests
/// handed to its receiver; a signal without one answers UNIMPLEMENTED.
pub async fn serve_for<M: Export, T: Export, L: Export>(
    listener: tokio::net::TcpListener,
    metrics: Option<M>,
    traces: Option<T>,
    logs: Option<L>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_optional_service(metrics.map(ExportService::new))
        .add_optional_service(traces.map(ExportService::new))
        .add_optional_service(logs.map(ExportService::new))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
