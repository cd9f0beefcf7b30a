//! `lantern serve`: builds every component from the typed config, in one place, and
//! shuts them down in order (stop accepting, finish requests, sync the log, exit).

use std::fs::File;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use lantern_logs::LogStore;
use lantern_objstore::Store;
use lantern_prom_api::{Limits, PromApi, RuntimeInfo};
use lantern_traces::{SpanMetrics, TraceStore};
use lantern_tsdb::Tsdb;
use tokio::sync::watch;

use crate::config::{resolve_addr, Config};

/// Runs the server until `shutdown` completes (SIGINT or SIGTERM for `lantern serve`);
/// `flags` are the command line's, for `/api/v1/status/flags`.
pub async fn run(
    cfg: Config,
    flags: std::collections::BTreeMap<String, String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&cfg)?;
    let self_metrics = crate::selfmon::SelfMetrics::install().context("installing the self-monitoring recorder")?;
    log_start(&cfg);
    // The one clock every store, the rule engine and the APIs read "now" from.
    let clock = lantern_core::clock::system();
    // Rule and SLO files are checked before anything listens: a bad one stops start-up.
    let rule_opts = rule_options(&cfg);
    let rule_files = lantern_alerting::manager::load_all(&rule_opts)
        .map_err(|errs| anyhow::anyhow!("key rule_files/slo_files: {}", errs.join("; ")))?;
    let Listeners { http: listener, grpc: grpc_listener, otlp_http: otlp_http_listener, jaeger_grpc } =
        Listeners::bind(&cfg).await?;
    let db_slot: Arc<OnceLock<Arc<Tsdb>>> = Arc::new(OnceLock::new());
    let otlp = lantern_otlp::MetricsIngest::new(db_slot.clone());
    let trace_slot: Arc<OnceLock<Arc<TraceStore>>> = Arc::new(OnceLock::new());
    let span_metrics = Arc::new(SpanMetrics::default());
    let traces_in = lantern_otlp::TraceIngest::new(trace_slot.clone(), span_metrics.clone());
    let log_slot: Arc<OnceLock<Arc<LogStore>>> = Arc::new(OnceLock::new());
    let (log_limits, log_rate) = cfg.log_limits();
    let logs_in = lantern_otlp::LogIngest::new(log_slot.clone());
    let scrape_slot: lantern_scrape::api::Slot = Arc::new(OnceLock::new());
    let rules_slot: lantern_alerting::api::Slot = Arc::new(OnceLock::new());
    let dash_slot: lantern_dashboards::api::Slot = Arc::new(OnceLock::new());
    let correlate_slot: lantern_correlate::api::Slot = Arc::new(OnceLock::new());
    let limits = Limits {
        max_request_bytes: usize::try_from(cfg.limits.max_request_body_size.0).unwrap_or(usize::MAX),
        max_decompressed_bytes: usize::try_from(cfg.limits.max_decompressed_body_size.0).unwrap_or(usize::MAX),
    };
    let app = Router::new()
        .route("/-/healthy", get(|| async { "Lantern is Healthy.\n" }))
        .route(
            "/-/ready",
            get(ready).with_state((db_slot.clone(), trace_slot.clone(), log_slot.clone(), rules_slot.clone())),
        )
        .merge(lantern_logs_api::router(lantern_logs_api::LogsApi::new(log_slot.clone(), log_limits, log_rate)))
        .merge(lantern_jaeger::router(lantern_jaeger::JaegerApi::new(trace_slot.clone(), db_slot.clone())))
        .merge(lantern_scrape::api::router(scrape_slot.clone()))
        .merge(lantern_alerting::router(rules_slot.clone()))
        .merge(lantern_dashboards::router(dash_slot.clone()))
        .merge(lantern_correlate::router(correlate_slot.clone()))
        .merge(lantern_ui::router())
        .merge(crate::selfmon::router(self_metrics.clone()))
        .merge(lantern_prom_api::router(
            PromApi::new(db_slot.clone(), limits)
                .with_clock(clock.clone())
                .with_engine(cfg.query.engine())
                .with_runtime_info(RuntimeInfo {
                    start_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    storage_retention: retention_text(&cfg),
                    config_yaml: cfg.masked_yaml(),
                    flags,
                }),
        ))
        .layer(axum::middleware::from_fn(lantern_http::track));

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    // OTLP (and Jaeger) data goes through the configured processors, then to its store.
    let [trace_steps, metric_steps, log_steps] =
        cfg.ingest_steps().map_err(|errs| anyhow::anyhow!("{}", errs.join("; ")))?;
    let shaped = |protocol: &'static str| {
        use lantern_pipeline::id::Signal;
        use lantern_pipeline::shape::Shaped;
        (
            Shaped::new(otlp.clone().via(protocol), Signal::Metrics, metric_steps.clone()),
            Shaped::new(traces_in.clone().via(protocol), Signal::Traces, trace_steps.clone()),
            Shaped::new(logs_in.clone().via(protocol), Signal::Logs, log_steps.clone()),
        )
    };
    let (grpc_metrics, grpc_traces, grpc_logs) = shaped(lantern_otlp::ingest::GRPC);
    let (http_metrics, http_traces, http_logs) = shaped(lantern_otlp::ingest::HTTP);
    let (_, jaeger_traces, _) = shaped("jaeger_grpc");
    let mut grpc_stop = stop_rx.clone();
    let grpc = tokio::spawn(lantern_otlp::grpc::serve_for(
        grpc_listener,
        Some(grpc_metrics),
        Some(grpc_traces),
        Some(grpc_logs),
        async move {
            let _ = grpc_stop.wait_for(|s| *s).await;
        },
    ));
    let jaeger = jaeger_grpc.map(|l| {
        let mut stop = stop_rx.clone();
        let handler = jaeger_traces;
        tokio::spawn(async move {
            let done = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = lantern_pipeline::receiver::jaeger::serve(l, handler, done).await {
                tracing::error!(error = %e, "the Jaeger gRPC listener stopped");
            }
        })
    });
    let mut otlp_http_stop = stop_rx.clone();
    let otlp_http = tokio::spawn(async move {
        let receivers =
            lantern_otlp::http::Receivers { metrics: http_metrics, traces: http_traces, logs: http_logs, limits };
        let app = lantern_otlp::http::router_for(receivers, lantern_otlp::http::Paths::default())
            .layer(axum::middleware::from_fn(lantern_http::track));
        axum::serve(otlp_http_listener, app)
            .with_graceful_shutdown(async move {
                let _ = otlp_http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    let signals = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests, finishing those in flight");
        let _ = stop_tx.send(true);
    });

    let stores = Stores::open(&cfg, clock.clone()).await?;
    let Stores { db, traces, logs } = stores.clone();
    let _ = db_slot.set(db.clone());
    let _ = trace_slot.set(traces.clone());
    let _ = log_slot.set(logs.clone());
    let warm_traces = traces.clone();
    tokio::spawn(async move { warm_traces.events().warm().await });
    let warm_logs = logs.clone();
    tokio::spawn(async move { warm_logs.warm().await });
    let scraper = lantern_scrape::ScrapeManager::start(db.clone(), cfg.global.clone(), cfg.scrape_configs.clone())
        .map_err(|errs| anyhow::anyhow!(errs.join("; ")))?;
    let _ = scrape_slot.set(scraper.clone());
    let notifier = lantern_alerting::Notifier::start(&cfg.alerting, &rule_opts.env.external_url);
    let rules =
        lantern_alerting::RuleManager::start(rule_opts, rule_files, db.clone(), Some(logs.clone()), notifier.clone());
    self_metrics.set_sources(crate::selfmon::Sources {
        db: db.clone(),
        logs: logs.clone(),
        traces: traces.clone(),
        notifier,
    });
    let _ = rules_slot.set(rules.clone());
    let boards = lantern_dashboards::Dashboards::open(
        &cfg.data_dir.join("dashboards"),
        cfg.dashboards_dir.as_deref().map(std::path::Path::new),
        db.clone(),
    )
    .map_err(|e| anyhow::anyhow!("key data_dir: dashboards: {e}"))?;
    let _ = dash_slot.set(boards.clone());
    let correlator =
        lantern_correlate::Correlator::new(logs.clone(), traces.clone(), db.clone(), cfg.correlation.keys.clone());
    let _ = correlate_slot.set(lantern_correlate::Investigator::new(
        correlator,
        Arc::new(cfg.query.engine()),
        Some(Arc::new(AlertRules(rules.clone()))),
    ));
    let reload_rules = rules.clone();
    let reloader = tokio::spawn(async move {
        #[cfg(unix)]
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while hup.recv().await.is_some() {
                // The rule manager logs what a reload did or why it failed.
                let _ = reload_rules.reload().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    });
    tracing::info!(
        scrape_jobs = cfg.scrape_configs.len(),
        rule_groups = rules.groups().len(),
        slos = rules.slos().slos.len(),
        dashboards = boards.list().len(),
        log_files = cfg.log_files.len(),
        "ready"
    );

    // Scraped samples are logged without waiting for fsync; this makes them durable
    // within a second.
    let mut tasks = Vec::new();
    let sync_db = db.clone();
    tasks.push(periodic("syncing the metrics write-ahead log", Duration::from_secs(1), stop_rx.clone(), move || {
        let d = sync_db.clone();
        async move { Ok(tokio::task::spawn_blocking(move || d.sync()).await??) }
    }));
    let maint_db = db.clone();
    tasks.push(periodic("metrics store maintenance", cfg.metrics.maintenance_interval.0, stop_rx.clone(), move || {
        let d = maint_db.clone();
        async move { Ok(d.maintain().await?) }
    }));
    // Spans and lines in memory are sealed into segments when due; retention applies.
    // Lines every second: they come fast; memory holds at most `logs.segment_max_lines`
    // besides those being sealed (appends wait for a running seal past that).
    let maint_traces = traces.clone();
    tasks.push(periodic("span store maintenance", Duration::from_secs(10), stop_rx.clone(), move || {
        let t = maint_traces.clone();
        async move { Ok(t.events().maintain().await?) }
    }));
    let maint_logs = logs.clone();
    tasks.push(periodic("log store maintenance", Duration::from_secs(1), stop_rx.clone(), move || {
        let l = maint_logs.clone();
        async move { Ok(l.maintain().await?) }
    }));
    // Span metrics (RED, service graph) go into the metrics store on their period.
    let (sm_db, sm) = (db.clone(), span_metrics.clone());
    tasks.push(periodic("writing span metrics", cfg.traces.span_metrics_interval.0, stop_rx.clone(), move || {
        let (d, m) = (sm_db.clone(), sm.clone());
        async move { write_span_metrics(&d, &m).await }
    }));
    // Provisioned dashboards are read again when a file in dashboards_dir changes.
    if cfg.dashboards_dir.is_some() {
        let b = boards.clone();
        tasks.push(periodic("reading provisioned dashboards", Duration::from_secs(5), stop_rx.clone(), move || {
            let b = b.clone();
            async move {
                tokio::task::spawn_blocking(move || b.reload_provisioned()).await?;
                Ok(())
            }
        }));
    }
    let tailer = lantern_logs::files::Tailer::new(
        logs.clone(),
        cfg.file_inputs(),
        lantern_logs::files::positions_path(&cfg.data_dir.join("logs")),
        usize::try_from(cfg.logs.max_line_size.0).unwrap_or(usize::MAX),
    );
    if !cfg.log_files.is_empty() {
        tasks.push(tokio::spawn(tailer.run(cfg.logs.file_poll_interval.0, stop_rx.clone())));
    }

    let served = http.await.context("http server task")?;
    served.context("http server")?;
    grpc.await.context("otlp grpc server task")?.context("otlp grpc server")?;
    otlp_http.await.context("otlp http server task")?.context("otlp http server")?;
    if let Some(j) = jaeger {
        j.await.context("jaeger grpc server task")?;
    }
    signals.abort();
    reloader.abort();
    rules.stop();
    for t in tasks {
        let _ = t.await;
    }
    // The span metrics of the last period, then the scrape loops, which end by marking
    // their series stale: both before the stores close.
    if let Err(e) = write_span_metrics(&db, &span_metrics).await {
        tracing::error!(error = %e, "writing span metrics failed");
    }
    scraper.stop().await;
    stores.close()?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The three stores, each in its directory under `data_dir`.
#[derive(Clone)]
struct Stores {
    db: Arc<Tsdb>,
    traces: Arc<TraceStore>,
    logs: Arc<LogStore>,
}

impl Stores {
    /// Opens (and replays) the metrics, span and log stores, all reading `clock`.
    async fn open(cfg: &Config, clock: lantern_core::clock::SharedClock) -> anyhow::Result<Stores> {
        let data = |signal: &str| {
            Store::local(&cfg.data_dir.join(signal))
                .with_context(|| format!("key data_dir: cannot use {}", cfg.data_dir.display()))
        };
        let wal = |signal: &str| cfg.data_dir.join(signal).join("wal");
        let db = Tsdb::open(
            &wal("metrics"),
            data("metrics")?,
            lantern_tsdb::Options { clock: clock.clone(), ..cfg.tsdb_options() },
        )
        .await
        .context("opening the metrics store")?;
        let traces = TraceStore::open(
            &wal("traces"),
            data("traces")?,
            lantern_events::Options { clock: clock.clone(), ..cfg.trace_options() },
        )
        .await
        .context("opening the span store")?;
        let logs = LogStore::open(&wal("logs"), data("logs")?, lantern_events::Options { clock, ..cfg.log_options() })
            .await
            .context("opening the log store")?
            .with_id_fields(cfg.log_id_fields());
        Ok(Stores { db: Arc::new(db), traces: Arc::new(traces), logs: Arc::new(logs) })
    }

    /// Stops every store taking writes and makes all they logged durable.
    fn close(&self) -> anyhow::Result<()> {
        self.db.close().context("closing the metrics store")?;
        self.traces.events().close().context("closing the span store")?;
        self.logs.close().context("closing the log store")?;
        Ok(())
    }
}

/// Runs `work` every `every` (first after one period) until `stop` turns true; a
/// failure is logged with `what` and retried at the next period.
fn periodic<F, Fut>(
    what: &'static str,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut work: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = work().await {
                        tracing::error!(error = %e, "{what} failed; will retry");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    })
}

/// Says what is starting: the version, the config file, the data directory, retention.
fn log_start(cfg: &Config) {
    let data_dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %cfg.source.as_ref().map_or_else(|| "none (the defaults)".to_string(), |p| p.display().to_string()),
        data_dir = %data_dir.display(),
        "lantern starting"
    );
    tracing::info!(
        metrics = %retention_text(cfg),
        logs = %retention(cfg.logs.retention_time, cfg.logs.retention_size),
        traces = %retention(cfg.traces.retention_time, cfg.traces.retention_size),
        "retention"
    );
}

/// The three listening sockets, bound before any store opens so a taken address fails
/// start-up at once.
struct Listeners {
    http: tokio::net::TcpListener,
    grpc: tokio::net::TcpListener,
    otlp_http: tokio::net::TcpListener,
    /// Jaeger's gRPC collector API, if configured.
    jaeger_grpc: Option<tokio::net::TcpListener>,
}

impl Listeners {
    async fn bind(cfg: &Config) -> anyhow::Result<Listeners> {
        let http_addr = resolve_addr(&cfg.http_addr).map_err(|e| anyhow::anyhow!("key http_addr: {e}"))?;
        let listener = tokio::net::TcpListener::bind(http_addr)
            .await
            .with_context(|| format!("key http_addr: cannot listen on {http_addr}"))?;
        let shown = listener.local_addr().unwrap_or(http_addr);
        tracing::info!(addr = %shown, "http listening: every HTTP API, and the web UI at http://{shown}/");

        let grpc_addr = resolve_addr(&cfg.otlp_grpc_addr).map_err(|e| anyhow::anyhow!("key otlp_grpc_addr: {e}"))?;
        let grpc_listener = tokio::net::TcpListener::bind(grpc_addr)
            .await
            .with_context(|| format!("key otlp_grpc_addr: cannot listen on {grpc_addr}"))?;
        let otlp_http_addr =
            resolve_addr(&cfg.otlp_http_addr).map_err(|e| anyhow::anyhow!("key otlp_http_addr: {e}"))?;
        let otlp_http_listener = tokio::net::TcpListener::bind(otlp_http_addr)
            .await
            .with_context(|| format!("key otlp_http_addr: cannot listen on {otlp_http_addr}"))?;
        tracing::info!(grpc = %grpc_addr, http = %otlp_http_addr, "otlp listening");
        let jaeger_grpc = match cfg.jaeger_grpc_addr.as_str() {
            "" => None,
            a => {
                let addr = resolve_addr(a).map_err(|e| anyhow::anyhow!("key jaeger_grpc_addr: {e}"))?;
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("key jaeger_grpc_addr: cannot listen on {addr}"))?;
                tracing::info!(addr = %addr, "jaeger grpc listening (PostSpans)");
                Some(l)
            }
        };
        Ok(Listeners { http: listener, grpc: grpc_listener, otlp_http: otlp_http_listener, jaeger_grpc })
    }
}

/// Alerting rules' expressions for the investigation (`alert=NAME`).
struct AlertRules(lantern_alerting::RuleManager);

impl lantern_correlate::investigate::RuleSource for AlertRules {
    fn alert_expr(&self, name: &str) -> Option<String> {
        self.0.groups().iter().find_map(|g| {
            let g = g.lock();
            g.rules.iter().find(|r| r.rule.alert.as_deref() == Some(name)).map(|r| r.query_text())
        })
    }
}

/// The rule manager's settings from the config.
pub(crate) fn rule_options(cfg: &Config) -> lantern_alerting::Options {
    let external_url = cfg.external_url.clone().unwrap_or_else(|| format!("http://{}", cfg.http_addr));
    lantern_alerting::Options {
        rule_files: cfg.rule_files.clone(),
        slo_files: cfg.slo_files.clone(),
        default_interval_ms: cfg.global.evaluation_interval.0.as_millis() as i64,
        env: lantern_rules::eval::Env {
            external_labels: cfg.global.external_labels.clone(),
            external_url: external_url.trim_end_matches('/').to_string(),
        },
        resend_delay_ms: cfg.alerting.resend_delay.0.as_millis() as i64,
        engine: cfg.query.engine(),
    }
}

/// Writes the span metrics' current values into the metrics store.
async fn write_span_metrics(db: &Arc<Tsdb>, sm: &Arc<SpanMetrics>) -> anyhow::Result<()> {
    let now = db.clock().now_ms();
    let rows = sm.flush(now);
    if rows.is_empty() {
        return Ok(());
    }
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut batch = lantern_tsdb::Batch::new();
        for (labels, sample, exemplars) in &rows {
            batch.begin_series();
            for l in labels {
                batch.label(l.name.as_bytes(), l.value.as_bytes());
            }
            batch.sample(*sample);
            for e in exemplars {
                batch.exemplar(e.clone());
            }
            batch.end_series();
        }
        db.append_batch(&batch)
    })
    .await??;
    Ok(())
}

type ReadySlots = (
    Arc<OnceLock<Arc<Tsdb>>>,
    Arc<OnceLock<Arc<TraceStore>>>,
    Arc<OnceLock<Arc<LogStore>>>,
    lantern_alerting::api::Slot,
);

/// Ready once every store is open and the rule engine runs.
async fn ready(
    axum::extract::State((db, traces, logs, rules)): axum::extract::State<ReadySlots>,
) -> axum::response::Response {
    if db.get().is_some() && traces.get().is_some() && logs.get().is_some() && rules.get().is_some() {
        "Lantern is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable: replaying the write-ahead log\n").into_response()
    }
}

/// Creates the data directory and takes an exclusive lock on it, so two processes never
/// share one store.
fn lock_data_dir(cfg: &Config) -> anyhow::Result<File> {
    let dir = &cfg.data_dir;
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("key data_dir: {} is a file, not a directory", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("key data_dir: cannot create directory {}", dir.display()))?;
    let path = dir.join("lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("key data_dir: directory {} is not writable", dir.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("key data_dir: directory {} is in use by another lantern process", dir.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("key data_dir: cannot lock {}", path.display()))
        }
    }
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The retention as Prometheus prints it in runtimeinfo (`15d`, `15d or 10GiB`).
fn retention_text(cfg: &Config) -> String {
    let m = &cfg.metrics;
    retention(m.retention_time, m.retention_size)
}

/// A retention as people read it: `15d`, `50GB`, `7d or 50GB`, `unlimited`.
fn retention(time: lantern_core::PromDuration, size: lantern_core::ByteSize) -> String {
    match (time.0.is_zero(), size.0) {
        (true, 0) => "unlimited".into(),
        (false, 0) => time.to_string(),
        (true, _) => size.to_string(),
        (false, _) => format!("{time} or {size}"),
    }
}
