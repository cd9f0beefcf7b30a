//! The `otlphttp` exporter (also `otlp_http`): export requests POSTed to
//! `<endpoint>/v1/{traces,metrics,logs}` (or the per-signal URL given), in protobuf or
//! OTLP/JSON.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::http::HttpClient;
use crate::exporter::{Delivery, SendError, Sender};
use crate::id::Signal;
use crate::settings::{compression_problem, gzip, GoDuration, Headers, QueueSettings, RetrySettings, TlsSettings};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The base URL.
    pub endpoint: String,
    /// The traces URL, verbatim.
    pub traces_endpoint: String,
    /// The metrics URL, verbatim.
    pub metrics_endpoint: String,
    /// The logs URL, verbatim.
    pub logs_endpoint: String,
    /// `proto` (default) or `json`.
    pub encoding: String,
    /// `gzip` (default) or `none`.
    pub compression: String,
    /// Headers sent with each request.
    pub headers: Headers,
    /// TLS.
    pub tls: TlsSettings,
    /// One request's time limit.
    pub timeout: GoDuration,
    /// Retries.
    pub retry_on_failure: RetrySettings,
    /// The queue.
    pub sending_queue: QueueSettings,
    /// Accepted for compatibility.
    pub read_buffer_size: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub write_buffer_size: Option<serde_yaml::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            encoding: "proto".into(),
            compression: gzip(),
            headers: Headers::new(),
            tls: TlsSettings::default(),
            timeout: GoDuration(Duration::from_secs(30)),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
            read_buffer_size: None,
            write_buffer_size: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.endpoint.is_empty()
            && self.traces_endpoint.is_empty()
            && self.metrics_endpoint.is_empty()
            && self.logs_endpoint.is_empty()
        {
            p.push("at least one endpoint must be specified".into());
        }
        if !matches!(self.encoding.as_str(), "proto" | "json") {
            p.push(format!("invalid encoding {:?}: use proto or json", self.encoding));
        }
        p.extend(compression_problem(&self.compression));
        p.extend(self.sending_queue.problems());
        p
    }

    /// The URL of one signal's requests.
    pub fn url(&self, signal: Signal) -> Result<String, String> {
        let (own, path) = match signal {
            Signal::Traces => (&self.traces_endpoint, "v1/traces"),
            Signal::Metrics => (&self.metrics_endpoint, "v1/metrics"),
            Signal::Logs => (&self.logs_endpoint, "v1/logs"),
        };
        if !own.is_empty() {
            return Ok(own.clone());
        }
        if self.endpoint.is_empty() {
            return Err(format!("either endpoint or {}_endpoint must be specified", signal.as_str()));
        }
        Ok(format!("{}/{path}", self.endpoint.trim_end_matches('/')))
    }

    /// Queue and retries (the HTTP client bounds each request by `timeout`).
    pub fn delivery(&self) -> Delivery {
        Delivery { queue: self.sending_queue.clone(), retry: self.retry_on_failure.clone(), timeout: Duration::ZERO }
    }
}

/// Sends one signal's requests.
pub struct OtlpHttpSender {
    client: HttpClient,
    url: String,
    json: bool,
}

impl OtlpHttpSender {
    /// The sender for `signal`.
    pub fn new(c: &Config, signal: Signal) -> Result<Arc<Self>, String> {
        let client = HttpClient::new(&c.tls, &c.compression, &c.headers, c.timeout.0)?;
        Ok(Arc::new(Self { client, url: c.url(signal)?, json: c.encoding == "json" }))
    }
}

impl Sender for OtlpHttpSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            if !self.json {
                return self.client.post(&self.url, "application/x-protobuf", data.body.clone()).await;
            }
            let json = to_json(data).map_err(SendError::Permanent)?;
            self.client.post(&self.url, "application/json", json.into()).await
        })
    }
}

/// A request in OTLP/JSON.
pub fn to_json(data: &Payload) -> Result<Vec<u8>, String> {
    use opentelemetry_proto::tonic::collector as c;
    let b = &data.body[..];
    let r = match data.signal {
        Signal::Traces => c::trace::v1::ExportTraceServiceRequest::decode(b).map(|m| serde_json::to_vec(&m)),
        Signal::Metrics => c::metrics::v1::ExportMetricsServiceRequest::decode(b).map(|m| serde_json::to_vec(&m)),
        Signal::Logs => c::logs::v1::ExportLogsServiceRequest::decode(b).map(|m| serde_json::to_vec(&m)),
    };
    r.map_err(|e| format!("cannot decode the request: {e}"))?.map_err(|e| format!("cannot write OTLP/JSON: {e}"))
}
