//! The `jaeger` exporter (the seed's; removed from the upstream Collector in v0.85):
//! spans sent to Jaeger's gRPC collector API, `PostSpans`, one batch per resource.
//! Its settings are the `otlp` exporter's (a gRPC client, queue, retries, timeout).

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::grpc::GrpcClient;
use crate::exporter::otlp::Config;
use crate::exporter::{SendError, Sender};
use crate::jaeger_proto::{batch, PostSpansRequest, POST_SPANS};

/// Posts spans.
pub struct JaegerSender {
    client: GrpcClient,
}

impl JaegerSender {
    /// The sender for these settings.
    pub fn new(c: &Config) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self { client: GrpcClient::new(&c.endpoint, &c.tls, &c.compression, &c.headers)? }))
    }
}

impl Sender for JaegerSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let req = ExportTraceServiceRequest::decode(&data.body[..])
                .map_err(|e| SendError::Permanent(format!("cannot decode the spans: {e}")))?;
            for rs in &req.resource_spans {
                let body = PostSpansRequest { batch: Some(batch(rs)) }.encode_to_vec();
                self.client.call(POST_SPANS, body.into()).await?;
            }
            Ok(())
        })
    }
}
