//! OTLP over gRPC (`:4317`): the collector's `MetricsService`.

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use tonic::{Request, Response, Status};

use crate::ingest::{IngestError, MetricsIngest};

#[tonic::async_trait]
impl MetricsService for MetricsIngest {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        match MetricsIngest::export(self, request.into_inner()).await {
            Ok(r) => Ok(Response::new(r)),
            Err(IngestError::Unavailable(m)) => Err(Status::unavailable(m)),
            Err(IngestError::Internal(m)) => Err(Status::internal(m)),
        }
    }
}

/// The gRPC service for a tonic server (gzip accepted).
pub fn metrics_service(ingest: MetricsIngest) -> MetricsServiceServer<MetricsIngest> {
    MetricsServiceServer::new(ingest)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(64 << 20)
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ingest: MetricsIngest,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(metrics_service(ingest))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
