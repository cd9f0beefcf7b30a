//! The `prometheus` exporter: metric points converted to Prometheus series as Lantern's
//! own OTLP ingest converts them (the compatibility spec: names with units and
//! `_total`, `job`/`instance` from the resource, delta sums accumulated), the newest
//! value of each series kept, and served at `http://<endpoint>/metrics` in the text
//! format for Prometheus to scrape. Series not updated for `metric_expiration` go.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lantern_otlp::metrics::{convert, DeltaState, Sink};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::{Delivery, SendError, Sender};
use crate::settings::{lenient_string, GoDuration, QueueSettings, RetrySettings};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where `/metrics` is served (`0.0.0.0:8889`).
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// A prefix for every metric name.
    pub namespace: String,
    /// Labels added to every series.
    pub const_labels: BTreeMap<String, String>,
    /// Whether samples carry their timestamps.
    pub send_timestamps: bool,
    /// Series not updated for this long are no longer served.
    pub metric_expiration: GoDuration,
    /// Accepted for compatibility (the text format is served).
    pub enable_open_metrics: bool,
    /// Accepted for compatibility.
    pub resource_to_telemetry_conversion: Option<serde_yaml::Value>,
    /// Accepted for compatibility (suffixes are added).
    pub add_metric_suffixes: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: GoDuration(Duration::from_secs(300)),
            enable_open_metrics: false,
            resource_to_telemetry_conversion: None,
            add_metric_suffixes: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.endpoint.is_empty() {
            p.push("endpoint must be set".into());
        }
        if self.add_metric_suffixes == Some(false) {
            p.push("add_metric_suffixes: false is not supported by Lantern".into());
        }
        p
    }

    /// Updating the served values does not fail: no queue, no retries.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            queue: QueueSettings { enabled: false, ..Default::default() },
            retry: RetrySettings { enabled: false, ..Default::default() },
            timeout: Duration::ZERO,
        }
    }
}

/// A series' labels, sorted, `__name__` among them.
type Labels = Vec<(String, String)>;

/// One series' newest sample.
struct Point {
    v: f64,
    t: i64,
    seen: Instant,
}

/// The served series, and the metadata of their families.
#[derive(Default)]
struct Served {
    series: HashMap<Labels, Point>,
    meta: HashMap<String, (String, String)>,
}

/// Keeps the newest values and renders them.
pub struct PrometheusExporter {
    config: Config,
    served: Mutex<Served>,
    delta: DeltaState,
}

impl PrometheusExporter {
    /// An exporter with these settings (serve it with [`PrometheusExporter::router`]).
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(Self { config: config.clone(), served: Mutex::default(), delta: DeltaState::default() })
    }

    /// The `/metrics` route.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        let me = self.clone();
        axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let me = me.clone();
                async move {
                    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], me.render())
                }
            }),
        )
    }

    fn update(&self, data: &Payload) -> Result<(), String> {
        let bump = bumpalo::Bump::new();
        let req = lantern_otlp_wire::metrics::metrics_request(&data.body, &bump)
            .map_err(|e| format!("cannot decode the metrics: {e}"))?;
        let mut sink = Sink::default();
        convert(req, &bump, &self.delta, &mut sink);
        let now = Instant::now();
        let mut s = self.served.lock();
        for (pairs, samples) in sink.batch.iter() {
            let Some(last) = samples.last() else { continue };
            let mut labels: Vec<(String, String)> = pairs
                .iter()
                .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            for (k, v) in &self.config.const_labels {
                if !labels.iter().any(|(n, _)| n == k) {
                    labels.push((k.clone(), v.clone()));
                }
            }
            if !self.config.namespace.is_empty() {
                if let Some((_, name)) = labels.iter_mut().find(|(n, _)| n == "__name__") {
                    *name = format!("{}_{name}", self.config.namespace);
                }
            }
            labels.sort();
            s.series.insert(labels, Point { v: last.v, t: last.t, seen: now });
        }
        for (family, m) in sink.metadata {
            let family =
                if self.config.namespace.is_empty() { family } else { format!("{}_{family}", self.config.namespace) };
            s.meta.insert(family, (m.kind, m.help));
        }
        Ok(())
    }

    /// The text format of every live series, grouped by family.
    pub fn render(&self) -> String {
        let expiry = self.config.metric_expiration.0;
        let mut s = self.served.lock();
        if !expiry.is_zero() {
            s.series.retain(|_, p| p.seen.elapsed() <= expiry);
        }
        let mut by_family: BTreeMap<String, Vec<(&Labels, &Point)>> = BTreeMap::new();
        for (labels, p) in &s.series {
            let name = labels.iter().find(|(n, _)| n == "__name__").map_or("", |(_, v)| v.as_str());
            let family = ["_bucket", "_sum", "_count", "_created", "_total", ""]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|f| s.meta.contains_key(*f))
                .unwrap_or(name);
            by_family.entry(family.to_string()).or_default().push((labels, p));
        }
        let mut out = String::new();
        for (family, mut series) in by_family {
            if let Some((kind, help)) = s.meta.get(&family) {
                if !help.is_empty() {
                    out.push_str(&format!("# HELP {family} {}\n", help.replace('\\', "\\\\").replace('\n', "\\n")));
                }
                out.push_str(&format!("# TYPE {family} {kind}\n"));
            }
            series.sort_by(|a, b| a.0.cmp(b.0));
            for (labels, p) in series {
                let name = labels.iter().find(|(n, _)| n == "__name__").map_or("", |(_, v)| v.as_str());
                out.push_str(name);
                let rest: Vec<String> = labels
                    .iter()
                    .filter(|(n, _)| n != "__name__")
                    .map(|(n, v)| {
                        format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
                    })
                    .collect();
                if !rest.is_empty() {
                    out.push('{');
                    out.push_str(&rest.join(","));
                    out.push('}');
                }
                out.push(' ');
                out.push_str(&float(p.v));
                if self.config.send_timestamps {
                    out.push_str(&format!(" {}", p.t));
                }
                out.push('\n');
            }
        }
        out
    }
}

/// A value as the text format writes it.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

impl Sender for PrometheusExporter {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move { self.update(data).map_err(SendError::Permanent) })
    }
}
