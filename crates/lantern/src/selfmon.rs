//! `GET /metrics`: Lantern's own metrics in Prometheus's text format — ingest, HTTP
//! requests, the stores, rules, notifications and scrapes (recorded through
//! `lantern_core::selfmon`), the stores' sizes and the notifiers' counts read when
//! scraped, and the process's CPU, memory and file descriptors.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lantern_core::selfmon::{self, signal, StoreSizes};
use lantern_logs::LogStore;
use lantern_traces::TraceStore;
use lantern_tsdb::Tsdb;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The recorder's handle and what is read at each scrape.
pub struct SelfMetrics {
    handle: PrometheusHandle,
    sources: OnceLock<Sources>,
    started: SystemTime,
}

/// The components whose sizes and counts are read when `/metrics` is scraped.
pub struct Sources {
    /// The metrics store.
    pub db: Arc<Tsdb>,
    /// The log store.
    pub logs: Arc<LogStore>,
    /// The span store.
    pub traces: Arc<TraceStore>,
    /// Where alerts go.
    pub notifier: lantern_alerting::Notifier,
}

impl SelfMetrics {
    /// Installs the process's metrics recorder (once per process) and describes every
    /// metric.
    pub fn install() -> anyhow::Result<Arc<Self>> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), selfmon::DURATION_BUCKETS)?
            .install_recorder()?;
        selfmon::describe();
        let upkeep = handle.clone();
        // Histograms are drained into their buckets here as well as at each scrape, so
        // an unscraped server's memory stays bounded.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        Ok(Arc::new(Self { handle, sources: OnceLock::new(), started: SystemTime::now() }))
    }

    /// Starts reading the stores' sizes at each scrape (once they are open).
    pub fn set_sources(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }
}

/// The `/metrics` route.
pub fn router(m: Arc<SelfMetrics>) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(m)
}

async fn metrics(State(m): State<Arc<SelfMetrics>>) -> Response {
    let text = tokio::task::spawn_blocking(move || {
        if let Some(s) = m.sources.get() {
            read_sources(s);
        }
        let mut text = m.handle.render();
        process_metrics(m.started, &mut text);
        text
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

fn read_sources(s: &Sources) {
    let m = s.db.stats();
    selfmon::tsdb_head(m.head_series as u64, m.head_chunks as u64);
    selfmon::store_sizes(
        signal::METRICS,
        StoreSizes { wal_bytes: m.wal_bytes, sealed_bytes: m.block_bytes, files: m.blocks as u64, head_items: None },
    );
    for (sig, st) in [(signal::LOGS, s.logs.stats()), (signal::TRACES, s.traces.events().stats())] {
        selfmon::store_sizes(
            sig,
            StoreSizes {
                wal_bytes: st.log_bytes,
                sealed_bytes: st.sealed_bytes,
                files: st.segments as u64,
                head_items: Some(st.head_rows as u64),
            },
        );
    }
    use std::sync::atomic::Ordering::Relaxed;
    for c in s.notifier.counters() {
        selfmon::notifications(c.kind, &c.url, c.sent.load(Relaxed), c.failed.load(Relaxed), c.dropped.load(Relaxed));
    }
    selfmon::notification_queue(s.notifier.queued());
}

/// Appends the standard `process_*` metrics (as Prometheus's client libraries name
/// them) read from `/proc/self`; those that cannot be read are left out.
fn process_metrics(started: SystemTime, out: &mut String) {
    let mut put = |name: &str, kind: &str, help: &str, v: f64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
    };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces): utime is the 14th
        // field of the line, stime the 15th, both in clock ticks of 1/100 s.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        if let (Some(u), Some(s)) =
            (f.get(11).and_then(|v| v.parse::<f64>().ok()), f.get(12).and_then(|v| v.parse::<f64>().ok()))
        {
            put(
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (u + s) / 100.0,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        };
        if let Some(v) = kb("VmRSS:") {
            put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", v * 1024.0);
        }
        if let Some(v) = kb("VmSize:") {
            put("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", v * 1024.0);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        put("process_open_fds", "gauge", "Number of open file descriptors.", fds.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        let soft = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = soft {
            put("process_max_fds", "gauge", "Maximum number of open file descriptors.", v);
        }
    }
    if let Ok(d) = started.duration_since(UNIX_EPOCH) {
        put(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            d.as_secs_f64(),
        );
    }
}
