//! `scrape_targets`: many exporters in one process for the scraping benchmark — one
//! listener per target on consecutive ports, each serving `--series` series in the
//! Prometheus text format whose counters grow with time, like node exporters do.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    /// First port; targets use `base_port .. base_port + targets`.
    #[arg(long)]
    base_port: u16,
    /// Number of targets.
    #[arg(long, default_value_t = 1000)]
    targets: u16,
    /// Series per target.
    #[arg(long, default_value_t = 1000)]
    series: usize,
}

fn body(target: u16, series: usize) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut out = String::with_capacity(series * 90);
    let families = 20;
    for f in 0..families {
        let kind = if f % 2 == 0 { "counter" } else { "gauge" };
        out.push_str(&format!("# HELP bench_metric_{f} A benchmark metric.\n# TYPE bench_metric_{f} {kind}\n"));
        for i in (f..series).step_by(families) {
            let v = if kind == "counter" { (now / 15) * (i as u64 % 7 + 1) } else { (now / 15 + i as u64) % 1000 };
            // Unique per target: the item number is the series number.
            out.push_str(&format!(
                "bench_metric_{f}{{handler=\"/api/v1/item{i}\",code=\"{}\",worker=\"w{}\"}} {v}\n",
                [200, 404, 500][i % 3],
                i % 4 + target as usize % 3
            ));
        }
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    for k in 0..args.targets {
        let port = args.base_port + k;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let a = args.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let a = a.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body(k, a.series)) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}
