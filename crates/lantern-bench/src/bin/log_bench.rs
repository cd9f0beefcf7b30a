//! `log_bench`: structlog-like JSON lines for the logs benchmark.
//!
//! `log_bench gen --lines N --out FILE --ids FILE` writes N lines (~250 bytes, keys in
//! structlog's order, spread over the hour before now, deterministic for N) in batches
//! of one service, and a sample of request IDs. `log_bench send --url BASE --file FILE
//! --mode jsonl|loki` sends the file in batches (`/api/v1/logs/jsonl?service=…`, or
//! Loki push JSON with a `service` stream label) over several connections and prints
//! `{"lines": …, "seconds": …, "rejected": …}`.

use std::io::{BufRead, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes the lines.
    Gen {
        #[arg(long, default_value_t = 10_000_000)]
        lines: u64,
        #[arg(long)]
        out: String,
        #[arg(long)]
        ids: String,
        /// Lines per batch (one service each).
        #[arg(long, default_value_t = 5000)]
        batch: u64,
    },
    /// Sends the lines.
    Send {
        #[arg(long)]
        url: String,
        #[arg(long)]
        file: String,
        #[arg(long, default_value = "jsonl")]
        mode: String,
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
}

const SERVICES: [&str; 20] = [
    "checkout",
    "payment",
    "cart",
    "catalog",
    "search",
    "auth",
    "users",
    "orders",
    "shipping",
    "inventory",
    "pricing",
    "reviews",
    "recommendations",
    "notifications",
    "email",
    "gateway",
    "billing",
    "fraud",
    "ads",
    "media",
];
const PATHS: [&str; 12] = [
    "/api/orders",
    "/api/cart",
    "/api/items",
    "/api/users/me",
    "/api/search",
    "/api/checkout",
    "/api/payments",
    "/api/shipping/quote",
    "/api/reviews",
    "/api/recommendations",
    "/healthz",
    "/api/login",
];
const INFO_EVENTS: [&str; 8] = [
    "request_started",
    "request_completed",
    "cache_hit",
    "cache_miss",
    "db_query",
    "item_added",
    "order_created",
    "session_refreshed",
];
const WARN_EVENTS: [&str; 3] = ["slow_query", "retrying_request", "rate_limit_near"];
const ERRORS: [(&str, &str, &str); 5] = [
    ("payment_failed", "Card declined", "CARD_DECLINED"),
    ("payment_failed", "Insufficient funds", "INSUFFICIENT_FUNDS"),
    ("upstream_error", "upstream timeout after 30s", "UPSTREAM_TIMEOUT"),
    ("db_error", "connection reset by peer", "DB_CONN_RESET"),
    ("validation_failed", "missing field shipping_address", "VALIDATION"),
];

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen(lines: u64, out: &str, ids: &str, batch: u64) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() as i64;
    let start = now - 3_600_000_000;
    let step = 3_600_000_000f64 / lines as f64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    let mut id_out = BufWriter::new(std::fs::File::create(ids)?);
    let mut line = String::with_capacity(512);
    for i in 0..lines {
        let service = SERVICES[((i / batch) % SERVICES.len() as u64) as usize];
        let t = start + (i as f64 * step) as i64;
        let ts = chrono::DateTime::from_timestamp_micros(t)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .unwrap_or_default();
        let req = format!("req-{:012x}{:08x}", rng.next() >> 16, i);
        if i % 100_003 == 7 {
            writeln!(id_out, "{req}")?;
        }
        let user = rng.below(100_000);
        let roll = rng.below(100);
        let level = match roll {
            0..=4 => "error",
            5..=11 => "warn",
            12..=14 => "debug",
            _ => "info",
        };
        let path = PATHS[rng.below(PATHS.len() as u64) as usize];
        let method = if rng.below(4) == 0 { "POST" } else { "GET" };
        let dur = (rng.below(200_000) as f64) / 100.0;
        line.clear();
        use std::fmt::Write as _;
        let _ = write!(line, r#"{{"request_id": "{req}", "user_id": "user-{user}", "#);
        match level {
            "error" => {
                let (ev, err, code) = ERRORS[rng.below(ERRORS.len() as u64) as usize];
                let _ = write!(
                    line,
                    r#""event": "{ev}", "error": "{err}", "error_code": "{code}", "path": "{path}", "method": "{method}", "status": 500, "duration_ms": {dur}, "#
                );
            }
            "warn" => {
                let ev = WARN_EVENTS[rng.below(WARN_EVENTS.len() as u64) as usize];
                let _ = write!(
                    line,
                    r#""event": "{ev}", "path": "{path}", "method": "{method}", "status": 200, "duration_ms": {dur}, "attempt": {}, "#,
                    1 + rng.below(3)
                );
            }
            _ => {
                let ev = INFO_EVENTS[rng.below(INFO_EVENTS.len() as u64) as usize];
                let status = [200, 200, 200, 201, 204, 304, 404][rng.below(7) as usize];
                let _ = write!(
                    line,
                    r#""event": "{ev}", "path": "{path}", "method": "{method}", "status": {status}, "duration_ms": {dur}, "#
                );
            }
        }
        let _ = write!(
            line,
            r#""service": "{service}", "logger": "app.{service}", "level": "{level}", "timestamp": "{ts}"}}"#
        );
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    id_out.flush()?;
    Ok(())
}

fn service_of(line: &str) -> &str {
    line.split_once(r#""service": ""#).and_then(|(_, r)| r.split_once('"')).map_or("unknown", |(s, _)| s)
}

fn send(url: &str, file: &str, mode: &str, batch: usize, concurrency: usize) -> anyhow::Result<()> {
    if mode != "jsonl" && mode != "loki" {
        bail!("mode must be jsonl or loki");
    }
    let (tx, rx) = mpsc::sync_channel::<(String, Vec<String>)>(concurrency * 2);
    let rx = Arc::new(Mutex::new(rx));
    let rejected = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (rx, rejected, sent) = (rx.clone(), rejected.clone(), sent.clone());
            let (url, mode) = (url.to_string(), mode.to_string());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let client =
                    reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(300)).build()?;
                loop {
                    let next = rx.lock().map_err(|_| anyhow::anyhow!("lock"))?.recv();
                    let Ok((service, lines)) = next else { return Ok(()) };
                    let n = lines.len() as u64;
                    let resp = if mode == "jsonl" {
                        let mut body = lines.join("\n");
                        body.push('\n');
                        client.post(format!("{url}/api/v1/logs/jsonl?service={service}")).body(body).send()?
                    } else {
                        // Loki push: the timestamp of each line from its JSON.
                        let values: Vec<serde_json::Value> = lines
                            .iter()
                            .map(|l| {
                                let ts = l
                                    .rsplit_once(r#""timestamp": ""#)
                                    .and_then(|(_, r)| r.split_once('"'))
                                    .and_then(|(t, _)| chrono::DateTime::parse_from_rfc3339(t).ok())
                                    .and_then(|t| t.timestamp_nanos_opt())
                                    .unwrap_or(0);
                                serde_json::json!([ts.to_string(), l])
                            })
                            .collect();
                        let body = serde_json::json!({"streams": [{"stream": {"service": service}, "values": values}]});
                        client
                            .post(format!("{url}/loki/api/v1/push"))
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()?
                    };
                    if !resp.status().is_success() {
                        rejected.fetch_add(n, Ordering::Relaxed);
                        eprintln!("{}: {}", resp.status(), resp.text().unwrap_or_default());
                    } else {
                        sent.fetch_add(n, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).context("open the lines")?);
    let mut cur: Vec<String> = Vec::with_capacity(batch);
    let mut cur_service = String::new();
    for line in f.lines() {
        let line = line?;
        let s = service_of(&line);
        if (s != cur_service || cur.len() >= batch) && !cur.is_empty() {
            tx.send((std::mem::take(&mut cur_service), std::mem::take(&mut cur)))?;
        }
        if cur.is_empty() {
            cur_service = s.to_string();
        }
        cur.push(line);
    }
    if !cur.is_empty() {
        tx.send((cur_service, cur))?;
    }
    drop(tx);
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    println!(
        "{}",
        serde_json::json!({"lines": sent.load(Ordering::Relaxed), "seconds": t0.elapsed().as_secs_f64(), "rejected": rejected.load(Ordering::Relaxed)})
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Args::parse().cmd {
        Cmd::Gen { lines, out, ids, batch } => gen(lines, &out, &ids, batch),
        Cmd::Send { url, file, mode, batch, concurrency } => send(&url, &file, &mode, batch, concurrency),
    }
}
