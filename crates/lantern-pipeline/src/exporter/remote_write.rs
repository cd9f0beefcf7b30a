//! The `prometheusremotewrite` exporter (also `prometheus_remote_write`): metric points
//! converted to Prometheus series as Lantern's own OTLP ingest converts them, sent as
//! snappy-compressed remote write 1.0 requests. Its queue is `remote_write_queue`
//! (`sending_queue` is not one of its keys); every 5xx is retried, 4xx are not.

use std::collections::BTreeMap;
use std::sync::Arc;

use lantern_otlp::metrics::{convert, DeltaState, Sink};
use lantern_prom_api::proto::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::http::HttpClient;
use crate::exporter::{Delivery, SendError, Sender};
use crate::settings::{five_seconds, GoDuration, Headers, QueueSettings, RetrySettings, TlsSettings};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The receiver's URL (`http://prometheus:9090/api/v1/write`).
    pub endpoint: String,
    /// Labels added to every series.
    pub external_labels: BTreeMap<String, String>,
    /// A prefix for every metric name.
    pub namespace: String,
    /// Headers sent with each request (not the protocol's own).
    pub headers: Headers,
    /// TLS.
    pub tls: TlsSettings,
    /// One request's time limit.
    pub timeout: GoDuration,
    /// Retries.
    pub retry_on_failure: RetrySettings,
    /// The queue.
    pub remote_write_queue: RemoteWriteQueue,
    /// Largest request before snappy, bytes (requests are split above it).
    pub max_batch_size_bytes: usize,
    /// Accepted for compatibility.
    pub resource_to_telemetry_conversion: Option<serde_yaml::Value>,
    /// Accepted for compatibility (`target_info` is sent).
    pub target_info: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub export_created_metric: Option<serde_yaml::Value>,
    /// Accepted for compatibility (suffixes are added).
    pub add_metric_suffixes: Option<bool>,
    /// A write-ahead log of the exporter's own (not supported by Lantern).
    pub wal: Option<serde_yaml::Value>,
}

/// `remote_write_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    /// Whether requests are queued.
    pub enabled: bool,
    /// Requests the queue holds.
    pub queue_size: usize,
    /// Requests sent at once.
    pub num_consumers: usize,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        Self { enabled: true, queue_size: 10_000, num_consumers: 5 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            external_labels: BTreeMap::new(),
            namespace: String::new(),
            headers: Headers::new(),
            tls: TlsSettings::default(),
            timeout: five_seconds(),
            retry_on_failure: RetrySettings::default(),
            remote_write_queue: RemoteWriteQueue::default(),
            max_batch_size_bytes: 3_000_000,
            resource_to_telemetry_conversion: None,
            target_info: None,
            export_created_metric: None,
            add_metric_suffixes: None,
            wal: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            p.push(format!("invalid endpoint {:?}: a URL with http:// or https:// is required", self.endpoint));
        }
        for k in self.headers.keys() {
            let l = k.to_ascii_lowercase();
            if ["content-encoding", "content-type", "x-prometheus-remote-write-version", "user-agent"]
                .contains(&l.as_str())
            {
                p.push(format!("headers: {k:?} cannot be set: the exporter sets it"));
            }
        }
        if self.wal.is_some() {
            p.push("wal: the remote write exporter's own write-ahead log is not supported by Lantern".into());
        }
        if self.add_metric_suffixes == Some(false) {
            p.push("add_metric_suffixes: false is not supported by Lantern".into());
        }
        if self.remote_write_queue.enabled
            && (self.remote_write_queue.queue_size == 0 || self.remote_write_queue.num_consumers == 0)
        {
            p.push("remote_write_queue: queue_size and num_consumers must be positive".into());
        }
        p
    }

    /// Its queue, retries and timeout (the HTTP client bounds each request).
    pub fn delivery(&self) -> Delivery {
        Delivery {
            queue: QueueSettings {
                enabled: self.remote_write_queue.enabled,
                queue_size: self.remote_write_queue.queue_size,
                num_consumers: self.remote_write_queue.num_consumers,
                ..Default::default()
            },
            retry: self.retry_on_failure.clone(),
            timeout: std::time::Duration::ZERO,
        }
    }
}

/// Writes series.
pub struct RemoteWriteSender {
    client: HttpClient,
    config: Config,
    delta: DeltaState,
}

impl RemoteWriteSender {
    /// The sender for these settings.
    pub fn new(c: &Config) -> Result<Arc<Self>, String> {
        let client = HttpClient::new(&c.tls, "none", &c.headers, c.timeout.0)?.retrying_5xx();
        Ok(Arc::new(Self { client, config: c.clone(), delta: DeltaState::default() }))
    }

    /// The write requests for a payload (several if it is past `max_batch_size_bytes`).
    fn requests(&self, data: &Payload) -> Result<Vec<Vec<u8>>, String> {
        let bump = bumpalo::Bump::new();
        let req = lantern_otlp_wire::metrics::metrics_request(&data.body, &bump)
            .map_err(|e| format!("cannot decode the metrics: {e}"))?;
        let mut sink = Sink::default();
        convert(req, &bump, &self.delta, &mut sink);
        let mut out = Vec::new();
        let mut cur = WriteRequest::default();
        let mut size = 0;
        for (pairs, samples) in sink.batch.iter() {
            let mut labels: Vec<Label> = pairs
                .iter()
                .map(|(n, v)| Label {
                    name: String::from_utf8_lossy(n).into_owned(),
                    value: String::from_utf8_lossy(v).into_owned(),
                })
                .collect();
            for (k, v) in &self.config.external_labels {
                if !labels.iter().any(|l| &l.name == k) {
                    labels.push(Label { name: k.clone(), value: v.clone() });
                }
            }
            if !self.config.namespace.is_empty() {
                if let Some(l) = labels.iter_mut().find(|l| l.name == "__name__") {
                    l.value = format!("{}_{}", self.config.namespace, l.value);
                }
            }
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let ts = TimeSeries {
                labels,
                samples: samples.iter().map(|s| Sample { value: s.v, timestamp: s.t }).collect(),
                ..Default::default()
            };
            let n = ts.encoded_len() + 4;
            if size + n > self.config.max_batch_size_bytes && !cur.timeseries.is_empty() {
                out.push(std::mem::take(&mut cur).encode_to_vec());
                size = 0;
            }
            size += n;
            cur.timeseries.push(ts);
        }
        if !cur.timeseries.is_empty() {
            out.push(cur.encode_to_vec());
        }
        Ok(out)
    }
}

impl Sender for RemoteWriteSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            for body in self.requests(data).map_err(SendError::Permanent)? {
                let z = snap::raw::Encoder::new()
                    .compress_vec(&body)
                    .map_err(|e| SendError::Permanent(format!("snappy: {e}")))?;
                self.client
                    .post_with(
                        &self.config.endpoint,
                        "application/x-protobuf",
                        &[
                            ("Content-Encoding", "snappy"),
                            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                            ("User-Agent", concat!("lantern/", env!("CARGO_PKG_VERSION"))),
                        ],
                        z.into(),
                    )
                    .await?;
            }
            Ok(())
        })
    }
}
