//! `lantern-bench`: generates realistic fleet metrics (node-exporter-like hosts with CPU,
//! memory, network, filesystem, HTTP and histogram series) and sends them over Prometheus
//! remote write to any receiver (Lantern, Prometheus, VictoriaMetrics), time-major like a
//! real fleet of scrapers. The data is deterministic for given flags, so every system gets
//! the same samples. `bench/run.sh` drives it.

mod fleet;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use lantern_prom_api::proto::{TimeSeries, WriteRequest};
use prost::Message;

/// Remote-write load generator.
#[derive(Parser, Debug)]
struct Args {
    /// Remote-write URL.
    #[arg(long)]
    url: String,
    /// Number of hosts (each has about 200 series).
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Scrapes per series.
    #[arg(long, default_value_t = 1440)]
    scrapes: usize,
    /// Scrape interval in seconds.
    #[arg(long, default_value_t = 15)]
    interval: i64,
    /// Timestamp of the first scrape, Unix ms (default: so the last scrape is now).
    #[arg(long)]
    start_ms: Option<i64>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Series per request.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// Extra label making every series unique per run (for the memory test: many series).
    #[arg(long)]
    series_multiplier: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let interval_ms = args.interval * 1000;
    let start = args.start_ms.unwrap_or(now_ms - (args.scrapes as i64 - 1) * interval_ms);
    let mut fleet = fleet::Fleet::new(args.hosts, args.series_multiplier.unwrap_or(1));
    let n_series = fleet.series_count();
    eprintln!("lantern-bench: {} series x {} scrapes = {} samples", n_series, args.scrapes, n_series * args.scrapes);

    // Like Prometheus's remote-write shards: each series always goes through the same
    // connection, so every series arrives in time order.
    let failures = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(2);
            senders.push(tx);
            let (url, failures) = (args.url.clone(), failures.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build()?;
                loop {
                    let body = match rx.recv() {
                        Ok(b) => b,
                        Err(_) => return Ok(()),
                    };
                    let mut attempt = 0;
                    loop {
                        let r = client
                            .post(&url)
                            .header("Content-Encoding", "snappy")
                            .header("Content-Type", "application/x-protobuf")
                            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                            .body(body.clone())
                            .send();
                        match r {
                            Ok(resp) if resp.status().is_success() => break,
                            Ok(resp) if resp.status().as_u16() == 400 => {
                                failures.fetch_add(1, Ordering::Relaxed);
                                let t = resp.text().unwrap_or_default();
                                eprintln!("lantern-bench: 400: {}", t.chars().take(300).collect::<String>());
                                break;
                            }
                            other => {
                                attempt += 1;
                                if attempt > 20 {
                                    bail!("giving up after 20 attempts: {:?}", other.map(|r| r.status()));
                                }
                                std::thread::sleep(Duration::from_millis(200 * attempt));
                            }
                        }
                    }
                }
            })
        })
        .collect();

    let t0 = Instant::now();
    let shards = args.concurrency;
    let mut batches: Vec<Vec<TimeSeries>> = (0..shards).map(|_| Vec::with_capacity(args.batch)).collect();
    for scrape in 0..args.scrapes {
        for (i, ts) in fleet.scrape(start, scrape, interval_ms).enumerate() {
            let shard = i % shards;
            batches[shard].push(ts);
            if batches[shard].len() == args.batch {
                senders[shard].send(encode(std::mem::take(&mut batches[shard]))).context("workers stopped")?;
            }
        }
    }
    for (shard, batch) in batches.into_iter().enumerate() {
        if !batch.is_empty() {
            senders[shard].send(encode(batch)).context("workers stopped")?;
        }
    }
    drop(senders);
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let samples = n_series * args.scrapes;
    println!(
        "{{\"series\":{n_series},\"samples\":{samples},\"seconds\":{secs:.3},\"failed_requests\":{}}}",
        failures.load(Ordering::Relaxed)
    );
    Ok(())
}

fn encode(series: Vec<TimeSeries>) -> Vec<u8> {
    let raw = WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}
