//! Running a configuration: exporters first (one per exporter and signal, shared by the
//! pipelines naming it), then each pipeline's processors in front of its exporters (one
//! instance per pipeline; a `memory_limiter`'s state shared), then the receivers, each
//! signal fanned out to the pipelines listing it. Shutdown runs the other way in
//! stages: receivers stop taking data, processors hand on what they hold, exporters
//! send what is queued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::components::{Exporter as ExporterConfig, Processor as ProcessorConfig, Receiver as ReceiverConfig};
use crate::config::Config;
use crate::consumer::{Fanout, Next};
use crate::exporter::{self, Delivery, Exporter, Sender};
use crate::id::{ComponentId, Signal};
use crate::processor::batch::Batcher;
use crate::processor::memory_limiter::Limiter;

/// How long each shutdown stage may take.
const STAGE_LIMIT: Duration = Duration::from_secs(10);

/// One stage's stop signal and tasks.
struct Stage {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Stage {
    fn new() -> Self {
        Self { stop: watch::channel(false).0, tasks: Vec::new() }
    }

    async fn finish(self, what: &str) {
        let _ = self.stop.send(true);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(STAGE_LIMIT, all).await.is_err() {
            tracing::warn!("{what} did not stop within {STAGE_LIMIT:?}");
        }
    }
}

/// A running configuration.
pub struct Running {
    receivers: Stage,
    connectors: Stage,
    processors: Stage,
    exporters: Stage,
    /// What listens where (receivers and the `prometheus` exporters).
    pub listening: Vec<String>,
}

impl Running {
    /// Stops in stages; returns once queued data is sent or the stages' time is up.
    pub async fn shutdown(self) {
        self.receivers.finish("the receivers").await;
        self.connectors.finish("the connectors").await;
        self.processors.finish("the processors").await;
        self.exporters.finish("the exporters").await;
    }
}

/// Builds one exporter's sender for `signal`.
fn sender(id: &ComponentId, c: &ExporterConfig, signal: Signal) -> Result<(Arc<dyn Sender>, Delivery), String> {
    let name = id.to_string();
    let path = |e: String| format!("exporters::{id}: {e}");
    Ok(match c {
        ExporterConfig::Otlp(c) => (exporter::otlp::OtlpSender::new(&name, c, signal).map_err(path)?, c.delivery()),
        ExporterConfig::OtlpHttp(c) => {
            (exporter::otlphttp::OtlpHttpSender::new(c, signal).map_err(path)?, c.delivery())
        }
        ExporterConfig::Debug(c) => (exporter::debug::DebugSender::new(&name, c), c.delivery()),
        ExporterConfig::Jaeger(c) => (exporter::jaeger::JaegerSender::new(c).map_err(path)?, c.delivery()),
        ExporterConfig::Loki(c) => (exporter::loki::LokiSender::new(c).map_err(path)?, c.delivery()),
        ExporterConfig::File(c) => (exporter::file::FileSender::new(c).map_err(path)?, c.delivery()),
        ExporterConfig::RemoteWrite(c) => {
            (exporter::remote_write::RemoteWriteSender::new(c).map_err(path)?, c.delivery())
        }
        ExporterConfig::Prometheus(_) => return Err(format!("exporters::{id}: built with its listener, not here")),
    })
}

/// A processor changing decoded data in front of `next`.
fn mutate(
    id: &ComponentId,
    reason: &'static str,
    change: Box<dyn Fn(&mut crate::data::Decoded) + Send + Sync>,
    next: Next,
) -> Next {
    Arc::new(crate::processor::Mutate::new(id.to_string(), reason, change, next))
}

/// Starts every pipeline of `config`; an error names the config path of the problem
/// (an address in use, a bad certificate file).
pub async fn start(config: &Config) -> Result<Running, String> {
    let mut receivers = Stage::new();
    let mut connector_stage = Stage::new();
    let mut processors = Stage::new();
    let mut exporters = Stage::new();
    let mut listening = Vec::new();

    // Extensions.
    for (id, e) in &config.extensions {
        match e {
            crate::extension::Extension::FileStorage(f) => f.prepare().map_err(|e| format!("extensions::{id}: {e}"))?,
            crate::extension::Extension::HealthCheck(h) => {
                let listener = tokio::net::TcpListener::bind(&h.endpoint)
                    .await
                    .map_err(|e| format!("extensions::{id}::endpoint: listen tcp {}: {e}", h.endpoint))?;
                listening.push(format!("{id} on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default()));
                let router = axum::Router::new().route(
                    &h.path,
                    axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "Server available"})) }),
                );
                let mut stop = receivers.stop.subscribe();
                receivers.tasks.push(tokio::spawn(async move {
                    let done = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    let _ = axum::serve(listener, router).with_graceful_shutdown(done).await;
                }));
            }
        }
    }

    // Connectors: their outputs are connected once the pipelines they feed exist.
    let mut connectors: BTreeMap<ComponentId, Arc<crate::connector::Connector>> = BTreeMap::new();
    for (id, c) in &config.connectors {
        let interval = c.config.metrics_flush_interval.0;
        let stop = connector_stage.stop.subscribe();
        connectors
            .insert(id.clone(), crate::connector::Connector::start(c.kind, interval, stop, &mut connector_stage.tasks));
    }

    // Exporters: one per (ID, signal).
    let mut built: BTreeMap<(ComponentId, Signal), Next> = BTreeMap::new();
    let mut prometheus: BTreeMap<ComponentId, Arc<exporter::prometheus::PrometheusExporter>> = BTreeMap::new();
    for p in &config.pipelines {
        for id in &p.exporters {
            let key = (id.clone(), p.id.signal);
            if built.contains_key(&key) {
                continue;
            }
            if let Some(c) = connectors.get(id) {
                built.insert(key, c.clone());
                continue;
            }
            let c = &config.exporters[id];
            let (s, delivery): (Arc<dyn Sender>, Delivery) = match c {
                ExporterConfig::Prometheus(pc) => {
                    let e = match prometheus.get(id) {
                        Some(e) => e.clone(),
                        None => {
                            let e = exporter::prometheus::PrometheusExporter::new(pc);
                            let listener = tokio::net::TcpListener::bind(&pc.endpoint).await.map_err(|err| {
                                format!("exporters::{id}::endpoint: listen tcp {}: {err}", pc.endpoint)
                            })?;
                            listening.push(format!(
                                "{id} (/metrics) on {}",
                                listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
                            ));
                            let mut stop = exporters.stop.subscribe();
                            let router = e.router();
                            exporters.tasks.push(tokio::spawn(async move {
                                let done = async move {
                                    let _ = stop.wait_for(|s| *s).await;
                                };
                                if let Err(err) = axum::serve(listener, router).with_graceful_shutdown(done).await {
                                    tracing::error!(error = %err, "the prometheus exporter's server stopped");
                                }
                            }));
                            prometheus.insert(id.clone(), e.clone());
                            e
                        }
                    };
                    (e, pc.delivery())
                }
                other => sender(id, other, p.id.signal)?,
            };
            let disk = match c.queue().and_then(|q| q.storage.as_ref()).filter(|_| delivery.queue.enabled) {
                Some(storage) => {
                    let dir = config
                        .extensions
                        .iter()
                        .find_map(|(x, e)| match e {
                            crate::extension::Extension::FileStorage(f) if x.to_string() == *storage => {
                                Some(f.directory.clone())
                            }
                            _ => None,
                        })
                        .ok_or_else(|| {
                            format!("exporters::{id}: sending_queue::storage: {storage:?} is not enabled")
                        })?;
                    let (q, left) = crate::exporter::persist::DiskQueue::open(&dir, &id.to_string(), p.id.signal)
                        .map_err(|e| format!("exporters::{id}: sending_queue::storage: {e}"))?;
                    Some((Arc::new(q), left))
                }
                None => None,
            };
            let e = Exporter::start_with(
                id.to_string(),
                p.id.signal,
                s,
                delivery,
                disk,
                exporters.stop.subscribe(),
                &mut exporters.tasks,
            );
            built.insert(key, Arc::new(e));
        }
    }

    // Memory limiters: one state per ID.
    let mut limiters: BTreeMap<ComponentId, Arc<Limiter>> = BTreeMap::new();
    for (id, c) in &config.processors {
        if let ProcessorConfig::MemoryLimiter(c) = c {
            if config.pipelines.iter().any(|p| p.processors.contains(id)) {
                limiters.insert(
                    id.clone(),
                    Limiter::start(&id.to_string(), c, processors.stop.subscribe(), &mut processors.tasks),
                );
            }
        }
    }

    // Pipelines: processors in front of the exporters, last first.
    let mut heads: Vec<(&crate::config::PipelineSpec, Next)> = Vec::new();
    for p in &config.pipelines {
        let outs: Vec<Next> = p.exporters.iter().map(|id| built[&(id.clone(), p.id.signal)].clone()).collect();
        let mut next: Next = Arc::new(Fanout(outs));
        for id in p.processors.iter().rev() {
            next = match &config.processors[id] {
                ProcessorConfig::Batch(c) => {
                    Batcher::start(p.id.signal, c.clone(), next, processors.stop.subscribe(), &mut processors.tasks)
                }
                ProcessorConfig::MemoryLimiter(_) => limiters[id].guard(next),
                ProcessorConfig::TailSampling(c) => crate::processor::tail_sampling::TailSampler::start(
                    &id.to_string(),
                    c,
                    next,
                    processors.stop.subscribe(),
                    &mut processors.tasks,
                )
                .map_err(|e| format!("processors::{id}: {e}"))?,
                other => {
                    let reason = if matches!(other, ProcessorConfig::Sampler(_)) { "sampled" } else { "filtered" };
                    let step = crate::shape::step(id, other).map_err(|e| format!("processors::{id}: {e}"))?;
                    mutate(id, reason, step, next)
                }
            };
        }
        heads.push((p, next));
    }

    for (id, c) in &connectors {
        let outs: Vec<Next> = heads.iter().filter(|(p, _)| p.receivers.contains(id)).map(|(_, n)| n.clone()).collect();
        c.connect(Arc::new(Fanout(outs)));
    }

    // Receivers: each signal to every pipeline listing the receiver.
    for (id, c) in &config.receivers {
        let per_signal = Signal::ALL.map(|s| {
            let nexts: Vec<Next> = heads
                .iter()
                .filter(|(p, _)| p.id.signal == s && p.receivers.contains(id))
                .map(|(_, n)| n.clone())
                .collect();
            (!nexts.is_empty()).then(|| Arc::new(Fanout(nexts)) as Next)
        });
        if per_signal.iter().all(Option::is_none) {
            continue;
        }
        match c {
            ReceiverConfig::Otlp(c) => {
                let l = crate::receiver::otlp::start(
                    &id.to_string(),
                    c,
                    per_signal,
                    receivers.stop.subscribe(),
                    &mut receivers.tasks,
                )
                .await?;
                listening.extend(l);
            }
            ReceiverConfig::Prometheus(c) => {
                let [_, Some(metrics), _] = per_signal else { continue };
                crate::receiver::prometheus::start(
                    &id.to_string(),
                    c,
                    metrics,
                    receivers.stop.subscribe(),
                    &mut receivers.tasks,
                )
                .map_err(|e| format!("receivers::{id}: {e}"))?;
                listening.push(format!("{id} scraping {} job(s)", c.config.scrape_configs.len()));
            }
            ReceiverConfig::Filelog(c) => {
                let [_, _, Some(logs)] = per_signal else { continue };
                let storage = match &c.storage {
                    Some(name) => Some(
                        config
                            .extensions
                            .iter()
                            .find_map(|(x, e)| match e {
                                crate::extension::Extension::FileStorage(f) if x.to_string() == *name => {
                                    Some(f.directory.clone())
                                }
                                _ => None,
                            })
                            .ok_or_else(|| {
                                format!("receivers::{id}::storage: {name:?} is not an enabled file_storage extension")
                            })?,
                    ),
                    None => None,
                };
                crate::receiver::filelog::start(
                    &id.to_string(),
                    c,
                    storage,
                    logs,
                    receivers.stop.subscribe(),
                    &mut receivers.tasks,
                )
                .map_err(|e| format!("receivers::{id}: {e}"))?;
                listening.push(format!("{id} following {}", c.include.join(", ")));
            }
            ReceiverConfig::Loki(c) => {
                let (Some(h), [_, _, Some(logs)]) = (&c.protocols.http, per_signal) else { continue };
                let listener = tokio::net::TcpListener::bind(&h.endpoint).await.map_err(|e| {
                    format!("receivers::{id}::protocols::http::endpoint: listen tcp {}: {e}", h.endpoint)
                })?;
                listening.push(format!(
                    "{id} (http) on {}",
                    listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
                ));
                let router = crate::receiver::loki::router(&id.to_string(), c, logs);
                let mut stop = receivers.stop.subscribe();
                receivers.tasks.push(tokio::spawn(async move {
                    let done = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(done).await {
                        tracing::error!(error = %e, "the Loki receiver stopped");
                    }
                }));
            }
            ReceiverConfig::Jaeger(c) => {
                let Some(g) = &c.protocols.grpc else { continue };
                let listener = tokio::net::TcpListener::bind(&g.endpoint).await.map_err(|e| {
                    format!("receivers::{id}::protocols::grpc::endpoint: listen tcp {}: {e}", g.endpoint)
                })?;
                listening.push(format!(
                    "{id} (grpc) on {}",
                    listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
                ));
                let [traces, _, _] = per_signal;
                let route = crate::receiver::otlp::Traces(crate::receiver::otlp::Route::new(
                    &id.to_string(),
                    "grpc",
                    Signal::Traces,
                    traces,
                ));
                let mut stop = receivers.stop.subscribe();
                receivers.tasks.push(tokio::spawn(async move {
                    let done = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    if let Err(e) = crate::receiver::jaeger::serve(listener, route, done).await {
                        tracing::error!(error = %e, "the Jaeger receiver stopped");
                    }
                }));
            }
        }
    }
    Ok(Running { receivers, connectors: connector_stage, processors, exporters, listening })
}
