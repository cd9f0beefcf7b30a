//! `lantern serve`: builds every component from the typed config, in one place, and
//! shuts them down in order (stop accepting, finish requests, sync the log, exit).

use std::fs::File;
use std::sync::{Arc, OnceLock};

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

/// Runs the server until SIGINT or SIGTERM; `flags` are the command line's, for
/// `/api/v1/status/flags`.
pub async fn run(cfg: Config, flags: std::collections::BTreeMap<String, String>) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&cfg)?;
    let self_metrics = crate::selfmon::SelfMetrics::install().context("installing the self-monitoring recorder")?;
    let data_dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %cfg.source.as_ref().map_or_else(|| "none (the defaults)".to_string(), |p| p.display().to_string()),
        data_dir = %data_dir.display(),
        "lantern starting"
    );
    tracing::info!(
        metrics = %retention_text(&cfg),
        logs = %retention(cfg.logs.retention_time, cfg.logs.retention_size),
        traces = %retention(cfg.traces.retention_time, cfg.traces.retention_size),
        "retention"
    );
    // Rule and SLO files are checked before anything listens: a bad one stops start-up.
    let rule_opts = rule_options(&cfg);
    let rule_files = lantern_alerting::manager::load_all(&rule_opts)
        .map_err(|errs| anyhow::anyhow!("key rule_files/slo_files: {}", errs.join("; ")))?;
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
    let otlp_http_addr = resolve_addr(&cfg.otlp_http_addr).map_err(|e| anyhow::anyhow!("key otlp_http_addr: {e}"))?;
    let otlp_http_listener = tokio::net::TcpListener::bind(otlp_http_addr)
        .await
        .with_context(|| format!("key otlp_http_addr: cannot listen on {otlp_http_addr}"))?;
    tracing::info!(grpc = %grpc_addr, http = %otlp_http_addr, "otlp listening");
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
            PromApi::new(db_slot.clone(), limits).with_engine(cfg.query.engine()).with_runtime_info(RuntimeInfo {
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
    let mut grpc_stop = stop_rx.clone();
    let grpc = tokio::spawn(lantern_otlp::grpc::serve(
        grpc_listener,
        otlp.clone(),
        traces_in.clone(),
        logs_in.clone(),
        async move {
            let _ = grpc_stop.wait_for(|s| *s).await;
        },
    ));
    let mut otlp_http_stop = stop_rx.clone();
    let otlp_http = tokio::spawn(async move {
        let app = lantern_otlp::http::router(otlp, traces_in, logs_in, limits)
            .layer(axum::middleware::from_fn(lantern_http::track));
        axum::serve(otlp_http_listener, app)
            .with_graceful_shutdown(async move {
                let _ = otlp_http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: no new requests, finishing those in flight");
        let _ = stop_tx.send(true);
    });

    let store = Store::local(&cfg.data_dir.join("metrics"))
        .with_context(|| format!("key data_dir: cannot use {}", cfg.data_dir.display()))?;
    let db = Arc::new(
        Tsdb::open(&cfg.data_dir.join("metrics").join("wal"), store, cfg.tsdb_options())
            .await
            .context("opening the metrics store")?,
    );
    let _ = db_slot.set(db.clone());
    let trace_data = Store::local(&cfg.data_dir.join("traces"))
        .with_context(|| format!("key data_dir: cannot use {}", cfg.data_dir.display()))?;
    let traces = Arc::new(
        TraceStore::open(&cfg.data_dir.join("traces").join("wal"), trace_data, cfg.trace_options())
            .await
            .context("opening the span store")?,
    );
    let _ = trace_slot.set(traces.clone());
    let warm_traces = traces.clone();
    tokio::spawn(async move { warm_traces.events().warm().await });
    let log_data = Store::local(&cfg.data_dir.join("logs"))
        .with_context(|| format!("key data_dir: cannot use {}", cfg.data_dir.display()))?;
    let logs = Arc::new(
        LogStore::open(&cfg.data_dir.join("logs").join("wal"), log_data, cfg.log_options())
            .await
            .context("opening the log store")?
            .with_id_fields(cfg.log_id_fields()),
    );
    let _ = log_slot.set(logs.clone());
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
    let sync_db = db.clone();
    let mut sync_stop = stop_rx.clone();
    let syncer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let d = sync_db.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || d.sync()).await {
                        tracing::error!(error = %e, "syncing the write-ahead log failed; will retry");
                    }
                }
                _ = sync_stop.changed() => break,
            }
        }
    });
    let maint_db = db.clone();
    let interval = cfg.metrics.maintenance_interval.0;
    let mut maint_stop = stop_rx.clone();
    let maintenance = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = maint_db.maintain().await {
                        tracing::error!(error = %e, "metrics store maintenance failed; will retry");
                    }
                }
                _ = maint_stop.changed() => break,
            }
        }
    });

    // Spans in memory are sealed into segments when due; retention applies.
    let maint_traces = traces.clone();
    let mut trace_stop = stop_rx.clone();
    let trace_maintenance = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = maint_traces.events().maintain().await {
                        tracing::error!(error = %e, "span store maintenance failed; will retry");
                    }
                }
                _ = trace_stop.changed() => break,
            }
        }
    });
    let tailer = lantern_logs::files::Tailer::new(
        logs.clone(),
        cfg.file_inputs(),
        lantern_logs::files::positions_path(&cfg.data_dir.join("logs")),
        usize::try_from(cfg.logs.max_line_size.0).unwrap_or(usize::MAX),
    );
    let file_input =
        (!cfg.log_files.is_empty()).then(|| tokio::spawn(tailer.run(cfg.logs.file_poll_interval.0, stop_rx.clone())));
    let maint_logs = logs.clone();
    let mut log_stop = stop_rx.clone();
    let log_maintenance = tokio::spawn(async move {
        // Every second: lines come fast, and lines in memory are sealed once there are
        // `logs.segment_max_lines` of them (memory stays bounded).
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = maint_logs.maintain().await {
                        tracing::error!(error = %e, "log store maintenance failed; will retry");
                    }
                }
                _ = log_stop.changed() => break,
            }
        }
    });
    // Span metrics (RED, service graph) go into the metrics store on their period.
    let (sm_db, sm) = (db.clone(), span_metrics.clone());
    let sm_interval = cfg.traces.span_metrics_interval.0;
    let mut sm_stop = stop_rx.clone();
    let span_metrics_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(sm_interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => write_span_metrics(&sm_db, &sm).await,
                _ = sm_stop.changed() => break,
            }
        }
        write_span_metrics(&sm_db, &sm).await;
    });

    // Provisioned dashboards are read again when a file in dashboards_dir changes.
    let mut dash_stop = stop_rx.clone();
    let dash_reload = cfg.dashboards_dir.is_some().then(|| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let b = boards.clone();
                        let _ = tokio::task::spawn_blocking(move || b.reload_provisioned()).await;
                    }
                    _ = dash_stop.changed() => break,
                }
            }
        })
    });

    let served = http.await.context("http server task")?;
    served.context("http server")?;
    grpc.await.context("otlp grpc server task")?.context("otlp grpc server")?;
    otlp_http.await.context("otlp http server task")?.context("otlp http server")?;
    signals.abort();
    reloader.abort();
    rules.stop();
    let _ = maintenance.await;
    let _ = trace_maintenance.await;
    let _ = log_maintenance.await;
    if let Some(f) = file_input {
        let _ = f.await;
    }
    let _ = span_metrics_task.await;
    if let Some(t) = dash_reload {
        let _ = t.await;
    }
    let _ = syncer.await;
    // Scrape loops end by marking their series stale, so they stop before the store.
    scraper.stop().await;
    db.close().context("syncing the metrics write-ahead log")?;
    tracing::info!("stopped cleanly");
    Ok(())
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
async fn write_span_metrics(db: &Arc<Tsdb>, sm: &Arc<SpanMetrics>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let rows = sm.flush(now);
    if rows.is_empty() {
        return;
    }
    let db = db.clone();
    let stored = tokio::task::spawn_blocking(move || {
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
    .await;
    match stored {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "writing span metrics failed"),
        Err(e) => tracing::error!(error = %e, "span metrics task failed"),
    }
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

async fn wait_for_signal() {
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
