//! `lantern collect`: the OpenTelemetry Collector's configuration run as an agent or
//! gateway (`lantern-pipeline`), with Lantern's own metrics at the address
//! `service::telemetry::metrics` names (`localhost:8888` by default).

use std::process::ExitCode;

use clap::Args;

/// Flags of `lantern collect`.
#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Collector configuration: a file, `file:PATH`, `env:VAR` or `yaml:KEY::PATH: VALUE`;
    /// repeat to merge several in order, as the Collector does
    #[arg(long, required = true)]
    config: Vec<String>,
    /// Validate the configuration, print the pipelines and exit
    #[arg(long)]
    dry_run: bool,
}

/// Runs until SIGINT or SIGTERM, then stops in stages (receivers, processors, exporters)
/// so queued data is sent.
pub fn run(args: &CollectArgs) -> ExitCode {
    let (config, warnings) = match lantern_pipeline::load(&args.config) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("lantern: invalid configuration:");
            for p in problems {
                eprintln!("  {p}");
            }
            return ExitCode::from(2);
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if args.dry_run {
        print!("{}", config.describe());
        return ExitCode::SUCCESS;
    }
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lantern: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(config: lantern_pipeline::Config) -> Result<(), String> {
    let self_metrics = crate::selfmon::SelfMetrics::install().map_err(|e| format!("self-monitoring: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut telemetry = None;
    if let Some(addr) = config.telemetry.metrics.address()? {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("service::telemetry::metrics: listen tcp {addr}: {e}"))?;
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
        tracing::info!(address = %local, "serving Lantern's own metrics at /metrics");
        let router = crate::selfmon::router(self_metrics);
        let mut stop = stop_rx.clone();
        telemetry = Some(tokio::spawn(async move {
            let done = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, router).with_graceful_shutdown(done).await;
        }));
    }
    let running = lantern_pipeline::start(&config).await?;
    for p in config.describe().lines() {
        tracing::info!("pipeline {p}");
    }
    for l in &running.listening {
        tracing::info!("listening: {l}");
    }
    tracing::info!("everything is ready; stop with Ctrl-C or SIGTERM");
    crate::serve::wait_for_signal().await;
    tracing::info!("stopping: receivers, then processors, then exporters");
    running.shutdown().await;
    let _ = stop_tx.send(true);
    if let Some(t) = telemetry {
        let _ = t.await;
    }
    tracing::info!("stopped");
    Ok(())
}
