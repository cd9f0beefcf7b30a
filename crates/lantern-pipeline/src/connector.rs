//! Connectors: `spanmetrics` (`span_metrics`) and `servicegraph`, the exporter of a
//! traces pipeline and the receiver of a metrics pipeline. Both are the span store's
//! own generator (`lantern_traces::SpanMetrics`, one implementation for `serve` and
//! `collect`): `spanmetrics` sends its RED metrics (`traces_spanmetrics_calls_total`,
//! the `traces_spanmetrics_latency` histogram, by service, span name, kind and status,
//! with trace exemplars), `servicegraph` its edges (`traces_service_graph_request_total`,
//! `…_failed_total`, the `…_server_seconds` and `…_client_seconds` histograms, by client
//! and server), every `metrics_flush_interval`, as OTLP cumulative sums and histograms.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lantern_core::{Exemplar, Labels, Sample};
use lantern_traces::SpanMetrics;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use serde::Deserialize;
use tokio::sync::watch;

use crate::consumer::{BoxFuture, ConsumeError, Consumer, Next};
use crate::data::{Decoded, Payload};
use crate::settings::GoDuration;

/// What a connector makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RED metrics per service and operation.
    SpanMetrics,
    /// Edges between services.
    ServiceGraph,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::SpanMetrics => "traces_spanmetrics_",
            Kind::ServiceGraph => "traces_service_graph_",
        }
    }
}

/// A connector's configuration (the keys both take; the ones that would change the
/// metrics' shape are refused unless left at their defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How often the metrics are sent.
    pub metrics_flush_interval: GoDuration,
    /// Extra dimensions (not supported by Lantern yet: must be empty).
    pub dimensions: Vec<serde_yaml::Value>,
    /// Accepted for compatibility (Lantern's buckets are Tempo's).
    pub histogram: Option<serde_yaml::Value>,
    /// Accepted for compatibility (cumulative).
    pub aggregation_temporality: Option<String>,
    /// Accepted for compatibility.
    pub namespace: Option<String>,
    /// Accepted for compatibility (exemplars are always attached).
    pub exemplars: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub dimensions_cache_size: Option<u64>,
    /// Accepted for compatibility.
    pub resource_metrics_cache_size: Option<u64>,
    /// Accepted for compatibility.
    pub metrics_expiration: Option<GoDuration>,
    /// Accepted for compatibility (service graph).
    pub latency_histogram_buckets: Option<serde_yaml::Value>,
    /// Accepted for compatibility (service graph: pairs wait 10 s).
    pub store: Option<serde_yaml::Value>,
    /// Accepted for compatibility (service graph).
    pub cache_loop: Option<GoDuration>,
    /// Accepted for compatibility (service graph).
    pub store_expiration_loop: Option<GoDuration>,
    /// Accepted for compatibility (service graph).
    pub virtual_node_peer_attributes: Option<serde_yaml::Value>,
    /// Accepted for compatibility (service graph).
    pub database_name_attributes: Option<serde_yaml::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            metrics_flush_interval: GoDuration(Duration::from_secs(60)),
            dimensions: Vec::new(),
            histogram: None,
            aggregation_temporality: None,
            namespace: None,
            exemplars: None,
            dimensions_cache_size: None,
            resource_metrics_cache_size: None,
            metrics_expiration: None,
            latency_histogram_buckets: None,
            store: None,
            cache_loop: None,
            store_expiration_loop: None,
            virtual_node_peer_attributes: None,
            database_name_attributes: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.dimensions.is_empty() {
            p.push("dimensions: extra dimensions are not supported by Lantern yet".into());
        }
        if let Some(t) = &self.aggregation_temporality {
            if t != "AGGREGATION_TEMPORALITY_CUMULATIVE" {
                p.push(format!("aggregation_temporality: {t:?} is not supported: Lantern sends cumulative metrics"));
            }
        }
        p
    }
}

/// A running connector: spans in, metrics out.
pub struct Connector {
    kind: Kind,
    metrics: SpanMetrics,
    out: OnceLock<Next>,
}

impl Connector {
    /// A connector whose metrics are flushed every `interval` (once its output is set,
    /// and a last time when `shutdown` turns true).
    pub fn start(
        kind: Kind,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Arc<Self> {
        let me = Arc::new(Self { kind, metrics: SpanMetrics::default(), out: OnceLock::new() });
        let flusher = me.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            tick.tick().await;
            loop {
                let stop = tokio::select! {
                    _ = tick.tick() => false,
                    _ = async { let _ = shutdown.wait_for(|s| *s).await; } => true,
                };
                flusher.flush().await;
                if stop {
                    break;
                }
            }
        }));
        me
    }

    /// Where the metrics go: the metrics pipelines listing the connector as a receiver.
    pub fn connect(&self, out: Next) {
        let _ = self.out.set(out);
    }

    async fn flush(&self) {
        let Some(out) = self.out.get() else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let rows: Vec<_> = self
            .metrics
            .flush(now)
            .into_iter()
            .filter(|(l, _, _)| l.get("__name__").is_some_and(|n| n.starts_with(self.kind.prefix())))
            .collect();
        if rows.is_empty() {
            return;
        }
        let p = Decoded::Metrics(to_otlp(&rows)).encode();
        if let Err(e) = out.consume(p).await {
            tracing::warn!(error = %e, "sending span metrics on failed");
        }
    }
}

impl Consumer for Connector {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let bump = bumpalo::Bump::new();
            let req = lantern_otlp_wire::traces::traces_request(&data.body, &bump)
                .map_err(|e| ConsumeError::permanent(format!("cannot decode the spans: {e}")))?;
            let converted = lantern_traces::model::convert(req);
            self.metrics.observe(&converted.spans);
            Ok(())
        })
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }) }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// Prometheus-style rows (counters ending `_total`, histograms as `_bucket`/`_sum`/
/// `_count`) as OTLP cumulative sums and histograms that convert back to the same series.
fn to_otlp(rows: &[(Labels, Sample, Vec<Exemplar>)]) -> ExportMetricsServiceRequest {
    type Key = (String, Vec<(String, String)>);
    #[derive(Default)]
    struct Hist {
        bounds: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
        t: i64,
        exemplars: Vec<pm::Exemplar>,
    }
    let mut sums: BTreeMap<Key, (f64, i64)> = BTreeMap::new();
    let mut hists: BTreeMap<Key, Hist> = BTreeMap::new();
    for (labels, s, ex) in rows {
        let name = labels.get("__name__").unwrap_or_default();
        let attrs: Vec<(String, String)> = labels
            .iter()
            .filter(|l| &*l.name != "__name__" && &*l.name != "le")
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        if let Some(base) = name.strip_suffix("_total") {
            sums.insert((base.to_string(), attrs), (s.v, s.t));
        } else if let Some(base) = name.strip_suffix("_bucket") {
            let h = hists.entry((base.to_string(), attrs)).or_default();
            let le = labels.get("le").and_then(|l| l.parse::<f64>().ok()).unwrap_or(f64::INFINITY);
            h.bounds.push((le, s.v));
            h.t = s.t;
            for e in ex {
                h.exemplars.push(pm::Exemplar {
                    time_unix_nano: (e.t as u64).saturating_mul(1_000_000),
                    value: Some(pm::exemplar::Value::AsDouble(e.value)),
                    trace_id: e.labels.get("trace_id").map(hex_bytes).unwrap_or_default(),
                    span_id: e.labels.get("span_id").map(hex_bytes).unwrap_or_default(),
                    ..Default::default()
                });
            }
        } else if let Some(base) = name.strip_suffix("_sum") {
            hists.entry((base.to_string(), attrs)).or_default().sum = s.v;
        } else if let Some(base) = name.strip_suffix("_count") {
            hists.entry((base.to_string(), attrs)).or_default().count = s.v;
        }
    }
    let ns = |t: i64| (t as u64).saturating_mul(1_000_000);
    let attrs = |a: &[(String, String)]| a.iter().map(|(k, v)| kv(k, v)).collect::<Vec<_>>();
    let mut metrics: BTreeMap<String, pm::Metric> = BTreeMap::new();
    for ((name, a), (v, t)) in sums {
        let m = metrics.entry(name.clone()).or_insert_with(|| pm::Metric {
            name,
            data: Some(pm::metric::Data::Sum(pm::Sum {
                data_points: vec![],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        });
        if let Some(pm::metric::Data::Sum(s)) = &mut m.data {
            s.data_points.push(pm::NumberDataPoint {
                attributes: attrs(&a),
                time_unix_nano: ns(t),
                value: Some(pm::number_data_point::Value::AsDouble(v)),
                ..Default::default()
            });
        }
    }
    for ((name, a), mut h) in hists {
        h.bounds.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut counts = Vec::with_capacity(h.bounds.len());
        let mut last = 0.0;
        for (_, c) in &h.bounds {
            counts.push((c - last).max(0.0) as u64);
            last = *c;
        }
        let m = metrics.entry(name.clone()).or_insert_with(|| pm::Metric {
            name,
            data: Some(pm::metric::Data::Histogram(pm::Histogram { data_points: vec![], aggregation_temporality: 2 })),
            ..Default::default()
        });
        if let Some(pm::metric::Data::Histogram(x)) = &mut m.data {
            x.data_points.push(pm::HistogramDataPoint {
                attributes: attrs(&a),
                time_unix_nano: ns(h.t),
                count: h.count as u64,
                sum: Some(h.sum),
                bucket_counts: counts,
                explicit_bounds: h.bounds.iter().map(|b| b.0).filter(|b| b.is_finite()).collect(),
                exemplars: h.exemplars,
                ..Default::default()
            });
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(InstrumentationScope { name: "lantern.spanmetrics".into(), ..Default::default() }),
                metrics: metrics.into_values().collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message;

    use super::*;
    use crate::id::Signal;

    #[derive(Default)]
    struct Collect(parking_lot::Mutex<Vec<pm::Metric>>);

    impl Consumer for Collect {
        fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                let Ok(Decoded::Metrics(r)) = data.decode() else { panic!() };
                self.0
                    .lock()
                    .extend(r.resource_metrics.into_iter().flat_map(|rm| rm.scope_metrics).flat_map(|s| s.metrics));
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn spans_become_red_metrics_and_service_graph_edges() {
        let svc = |name: &str, spans: Vec<pt::Span>| pt::ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![crate::testing::kv("service.name", name)],
                ..Default::default()
            }),
            scope_spans: vec![pt::ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        };
        let span = |id: u8, parent: Option<u8>, kind: i32, status: i32| pt::Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: format!("op{id}"),
            kind,
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_050_000_000,
            status: Some(pt::Status { code: status, message: String::new() }),
            ..Default::default()
        };
        let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
            resource_spans: vec![
                svc("gateway", vec![span(1, None, 3, 0)]),
                svc("payments", vec![span(2, Some(1), 2, 2)]),
            ],
        };
        let p = Payload::new(Signal::Traces, req.encode_to_vec().into()).unwrap();
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let red = Connector::start(Kind::SpanMetrics, Duration::from_secs(3600), rx.clone(), &mut tasks);
        let graph = Connector::start(Kind::ServiceGraph, Duration::from_secs(3600), rx, &mut tasks);
        let (red_out, graph_out) = (Arc::new(Collect::default()), Arc::new(Collect::default()));
        red.connect(red_out.clone());
        graph.connect(graph_out.clone());
        red.consume(p.clone()).await.unwrap();
        graph.consume(p).await.unwrap();
        tx.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let names = |c: &Collect| c.0.lock().iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&red_out), ["traces_spanmetrics_calls", "traces_spanmetrics_latency"]);
        assert_eq!(
            names(&graph_out),
            [
                "traces_service_graph_request",
                "traces_service_graph_request_client_seconds",
                "traces_service_graph_request_failed",
                "traces_service_graph_request_server_seconds"
            ]
        );
        let m = red_out.0.lock();
        let Some(pm::metric::Data::Histogram(h)) = &m[1].data else { panic!() };
        let payments =
            h.data_points.iter().find(|d| d.attributes.contains(&crate::testing::kv("service", "payments"))).unwrap();
        assert_eq!((payments.count, payments.sum), (1, Some(0.05)));
        assert_eq!(payments.bucket_counts.iter().sum::<u64>(), 1);
        assert_eq!(payments.exemplars[0].trace_id, vec![7; 16]);
    }
}
