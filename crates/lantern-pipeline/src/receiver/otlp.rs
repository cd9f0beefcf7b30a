//! The `otlp` receiver: OTLP over gRPC and HTTP (protobuf and JSON) on the transports
//! `serve` uses (`lantern-otlp`), each request counted and handed to the pipelines; a
//! refusal downstream reaches the client as gRPC UNAVAILABLE / HTTP 503 with
//! `Retry-After` when retryable (memory short, a queue full), INVALID_ARGUMENT / 400
//! when not.

use std::sync::Arc;

use bytes::Bytes;
use lantern_http::BodyLimits;
use lantern_otlp::grpc::Export;
use lantern_otlp::ingest::IngestError;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use serde::Deserialize;

use crate::consumer::Next;
use crate::data::Payload;
use crate::id::Signal;
use crate::settings::{lenient_string, present};

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The protocols served; at least one.
    #[serde(default)]
    pub protocols: Protocols,
}

/// `protocols`: a protocol is on when its key is present (even empty).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// OTLP/gRPC.
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<Grpc>,
    /// OTLP/HTTP.
    #[serde(default, deserialize_with = "present")]
    pub http: Option<Http>,
}

/// `protocols::grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grpc {
    /// Listen address.
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// Largest request, MiB.
    pub max_recv_msg_size_mib: Option<u64>,
    /// `tcp` only.
    pub transport: String,
    /// Accepted for compatibility.
    pub read_buffer_size: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub write_buffer_size: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub keepalive: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub max_concurrent_streams: Option<u32>,
    /// Accepted for compatibility.
    pub include_metadata: Option<bool>,
    /// Server TLS (not supported by Lantern yet).
    pub tls: Option<serde_yaml::Value>,
    /// Authentication (not supported by Lantern yet).
    pub auth: Option<serde_yaml::Value>,
}

impl Default for Grpc {
    fn default() -> Self {
        Self {
            endpoint: "localhost:4317".into(),
            max_recv_msg_size_mib: None,
            transport: "tcp".into(),
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            max_concurrent_streams: None,
            include_metadata: None,
            tls: None,
            auth: None,
        }
    }
}

/// `protocols::http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Listen address.
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// Path of trace requests.
    pub traces_url_path: String,
    /// Path of metrics requests.
    pub metrics_url_path: String,
    /// Path of log requests.
    pub logs_url_path: String,
    /// Largest request body, bytes.
    pub max_request_body_size: usize,
    /// Accepted for compatibility.
    pub include_metadata: Option<bool>,
    /// Accepted for compatibility.
    pub cors: Option<serde_yaml::Value>,
    /// Server TLS (not supported by Lantern yet).
    pub tls: Option<serde_yaml::Value>,
    /// Authentication (not supported by Lantern yet).
    pub auth: Option<serde_yaml::Value>,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            endpoint: "localhost:4318".into(),
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
            max_request_body_size: 20 << 20,
            include_metadata: None,
            cors: None,
            tls: None,
            auth: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            p.push("must specify at least one protocol when using the OTLP receiver".into());
        }
        if let Some(g) = &self.protocols.grpc {
            if g.tls.is_some() || g.auth.is_some() {
                p.push("protocols::grpc: tls and auth are not supported by Lantern yet".into());
            }
            if g.transport != "tcp" {
                p.push(format!("protocols::grpc::transport: {:?} is not supported: use tcp", g.transport));
            }
        }
        if let Some(h) = &self.protocols.http {
            if h.tls.is_some() || h.auth.is_some() {
                p.push("protocols::http: tls and auth are not supported by Lantern yet".into());
            }
        }
        p
    }
}

/// Where one signal's requests go.
#[derive(Clone)]
pub struct Route {
    id: Arc<str>,
    transport: &'static str,
    signal: Signal,
    next: Option<Next>,
}

impl Route {
    /// Requests of `signal` received by receiver `id` over `transport`, handed to
    /// `next` (`None`: no pipeline takes them).
    pub fn new(id: &str, transport: &'static str, signal: Signal, next: Option<Next>) -> Self {
        Self { id: id.into(), transport, signal, next }
    }

    async fn take(&self, body: Bytes) -> Result<(), IngestError> {
        use lantern_core::selfmon::pipeline as stats;
        let Some(next) = &self.next else {
            return Err(IngestError::Invalid(format!(
                "receiver {:?} feeds no {} pipeline",
                &*self.id,
                self.signal.as_str()
            )));
        };
        let p = Payload::new(self.signal, body).map_err(|e| {
            IngestError::Invalid(format!("body is not a valid OTLP {} request: {e}", self.signal.as_str()))
        })?;
        let items = p.items as u64;
        match next.consume(p).await {
            Ok(()) => {
                stats::received(&self.id, self.transport, self.signal.as_str(), items);
                Ok(())
            }
            Err(e) => {
                let reason = if e.retryable { "downstream_retryable" } else { "downstream_permanent" };
                stats::refused(&self.id, self.signal.as_str(), reason, items);
                Err(if e.retryable { IngestError::Unavailable(e.message) } else { IngestError::Invalid(e.message) })
            }
        }
    }
}

/// Trace requests.
#[derive(Clone)]
pub struct Traces(pub Route);
/// Metrics requests.
#[derive(Clone)]
pub struct Metrics(pub Route);
/// Log requests.
#[derive(Clone)]
pub struct Logs(pub Route);

impl Export for Traces {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    type Response = ExportTraceServiceResponse;
    async fn export(&self, body: Bytes) -> Result<Self::Response, IngestError> {
        self.0.take(body).await.map(|()| Self::Response::default())
    }
}

impl Export for Metrics {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    type Response = ExportMetricsServiceResponse;
    async fn export(&self, body: Bytes) -> Result<Self::Response, IngestError> {
        self.0.take(body).await.map(|()| Self::Response::default())
    }
}

impl Export for Logs {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    type Response = ExportLogsServiceResponse;
    async fn export(&self, body: Bytes) -> Result<Self::Response, IngestError> {
        self.0.take(body).await.map(|()| Self::Response::default())
    }
}

/// Binds the configured listeners and serves them until `shutdown` (a bind failure
/// names the key of the address).
pub async fn start(
    id: &str,
    config: &Config,
    next: [Option<Next>; 3],
    shutdown: tokio::sync::watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<Vec<String>, String> {
    let [traces, metrics, logs] = next;
    let mut listening = Vec::new();
    if let Some(g) = &config.protocols.grpc {
        let listener = tokio::net::TcpListener::bind(&g.endpoint)
            .await
            .map_err(|e| format!("receivers::{id}::protocols::grpc::endpoint: listen tcp {}: {e}", g.endpoint))?;
        listening.push(format!("{id} (grpc) on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default()));
        let (t, m, l) = (
            traces.clone().map(|n| Traces(Route::new(id, "grpc", Signal::Traces, Some(n)))),
            metrics.clone().map(|n| Metrics(Route::new(id, "grpc", Signal::Metrics, Some(n)))),
            logs.clone().map(|n| Logs(Route::new(id, "grpc", Signal::Logs, Some(n)))),
        );
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let done = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = lantern_otlp::grpc::serve_for(listener, m, t, l, done).await {
                tracing::error!(error = %e, "the OTLP/gRPC receiver stopped");
            }
        }));
    }
    if let Some(h) = &config.protocols.http {
        let listener = tokio::net::TcpListener::bind(&h.endpoint)
            .await
            .map_err(|e| format!("receivers::{id}::protocols::http::endpoint: listen tcp {}: {e}", h.endpoint))?;
        listening.push(format!("{id} (http) on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default()));
        let slash = |p: &str| if p.starts_with('/') { p.to_string() } else { format!("/{p}") };
        let router = lantern_otlp::http::router_for(
            lantern_otlp::http::Receivers {
                metrics: Metrics(Route::new(id, "http", Signal::Metrics, metrics)),
                traces: Traces(Route::new(id, "http", Signal::Traces, traces)),
                logs: Logs(Route::new(id, "http", Signal::Logs, logs)),
                limits: BodyLimits {
                    max_request_bytes: h.max_request_body_size,
                    max_decompressed_bytes: h.max_request_body_size.saturating_mul(4),
                },
            },
            lantern_otlp::http::Paths {
                metrics: slash(&h.metrics_url_path),
                traces: slash(&h.traces_url_path),
                logs: slash(&h.logs_url_path),
            },
        );
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let done = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(done).await {
                tracing::error!(error = %e, "the OTLP/HTTP receiver stopped");
            }
        }));
    }
    Ok(listening)
}
