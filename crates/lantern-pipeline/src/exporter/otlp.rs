//! The `otlp` exporter (also `otlp_grpc`): export requests sent as they are to an
//! OTLP/gRPC server; a partial success is logged and its rejected items counted.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::grpc::GrpcClient;
use crate::exporter::{Delivery, SendError, Sender};
use crate::id::Signal;
use crate::settings::{
    compression_problem, five_seconds, gzip, lenient_string, GoDuration, Headers, QueueSettings, RetrySettings,
    TlsSettings,
};

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `host:port` of the server (`http://`/`https://` allowed).
    #[serde(default, deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// TLS (on unless `insecure`).
    #[serde(default)]
    pub tls: TlsSettings,
    /// `gzip` (default) or `none`.
    #[serde(default = "gzip")]
    pub compression: String,
    /// Headers sent with each request.
    #[serde(default)]
    pub headers: Headers,
    /// One attempt's time limit.
    #[serde(default = "five_seconds")]
    pub timeout: GoDuration,
    /// Retries.
    #[serde(default)]
    pub retry_on_failure: RetrySettings,
    /// The queue.
    #[serde(default)]
    pub sending_queue: QueueSettings,
    /// Accepted for compatibility (one connection is used).
    #[serde(default)]
    pub balancer_name: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub wait_for_ready: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub keepalive: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub write_buffer_size: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub read_buffer_size: Option<serde_yaml::Value>,
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.endpoint.is_empty() {
            p.push("requires a non-empty \"endpoint\"".into());
        }
        p.extend(compression_problem(&self.compression));
        p.extend(self.sending_queue.problems());
        p
    }

    /// Queue, retries and timeout.
    pub fn delivery(&self) -> Delivery {
        Delivery { queue: self.sending_queue.clone(), retry: self.retry_on_failure.clone(), timeout: self.timeout.0 }
    }
}

/// Sends one signal's requests.
pub struct OtlpSender {
    client: GrpcClient,
    path: &'static str,
    id: String,
}

impl OtlpSender {
    /// The sender of exporter `id` for `signal`.
    pub fn new(id: &str, c: &Config, signal: Signal) -> Result<Arc<Self>, String> {
        let client = GrpcClient::new(&c.endpoint, &c.tls, &c.compression, &c.headers)?;
        let path = match signal {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        };
        Ok(Arc::new(Self { client, path, id: id.to_string() }))
    }
}

impl Sender for OtlpSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let answer = self.client.call(self.path, data.body.clone()).await?;
            log_partial_success(&self.id, data.signal, &answer);
            Ok(())
        })
    }
}

/// Logs the rejected items of a partial success (field 1 of the answer: the partial
/// success, whose field 1 is the count and field 2 the message).
pub fn log_partial_success(id: &str, signal: Signal, answer: &Bytes) {
    use lantern_core::protowire::Reader;
    let mut r = Reader::new(answer);
    while let Ok(Some((1, f))) = r.next() {
        let Ok(ps) = f.bytes(1) else { return };
        let (mut rejected, mut message) = (0u64, "");
        let mut pr = Reader::new(ps);
        while let Ok(Some((tag, f))) = pr.next() {
            match tag {
                1 => rejected = f.varint(1).unwrap_or(0),
                2 => message = f.str(2).unwrap_or(""),
                _ => {}
            }
        }
        if rejected > 0 {
            lantern_core::selfmon::pipeline::dropped(id, signal.as_str(), "rejected_by_server", rejected);
            tracing::warn!(exporter = id, rejected, message, "the server rejected part of the data");
        }
    }
}
