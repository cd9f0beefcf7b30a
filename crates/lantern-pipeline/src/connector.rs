//! Connectors: `spanmetrics` (`span_metrics`) and `servicegraph`, the exporter of a
//! traces pipeline and the receiver of a metrics pipeline. Both are the span store's
//! own generator (`lantern_traces::SpanMetrics`, one implementation for `serve` and
//! `collect`): `spanmetrics` sends its RED metrics (`traces_spanmetrics_calls_total`,
//! the `traces_spanmetrics_latency` histogram, by service, span name, kind and status,
//! with trace exemplars), `servicegraph` its edges (`traces_service_graph_request_total`,
//! `…_failed_total`, the `…_server_seconds` and `…_client_seconds` histograms, by client
//! and server), every `metrics_flush_interval`, as OTLP cumulative sums and histograms.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lantern_traces::SpanMetrics;
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
        let p = Decoded::Metrics(crate::promconv::to_otlp(&rows, &Default::default(), "lantern.spanmetrics")).encode();
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

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1 as pm;
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
