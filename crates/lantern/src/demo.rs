//! `lantern demo`: a Lantern server and a simulated shop that sends it all three signals
//! through the real protocols — spans over OTLP/HTTP to Lantern's OTLP port, structlog
//! lines to the JSON-lines endpoint, metrics on `/metrics` endpoints that Lantern scrapes
//! (and, for the hour of history written at start, remote write) — with the seed's alert
//! rules, SLOs and dashboard loaded. After a calm start `payment-service` saturates and
//! its card charges time out; the demo says what happens as it happens (the alert going
//! pending and firing, the SLO burning, the investigation's verdict) with the URLs to
//! open.
//!
//! Everything the demo writes is in its data directory: the stores, and under `demo/`
//! the config it runs with (`lantern serve --config DIR/demo/lantern.yaml` serves the
//! same data afterwards), the seed's files and `demo.json`, which marks the directory as
//! the demo's so that a later demo reuses it and nothing else is mixed into it.

mod shop;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Status};
use prost::Message;
use shop::{Order, Rng, Shop, SERVICES};

use crate::config::{resolve_addr, Config};

/// The seed's alert rules, SLOs and dashboard, as written there (the example's copies).
const SEED_ALERTS: &str = include_str!("../../../examples/python-flask/alerts.yml");
const SEED_SLOS: &str = include_str!("../../../examples/python-flask/slos.yml");
const SEED_DASHBOARD: &str = include_str!("../../../examples/python-flask/dashboards/service-overview.json");
/// The dashboard's uid: its file's name (as every provisioned dashboard's).
const DASHBOARD_UID: &str = "service-overview";
/// Orders per second through the gateway.
const RATE: u64 = 3;
/// How much history is written at start: an hour, and the five minutes before it that
/// its first `rate(…[5m])` reads.
const HISTORY: Duration = Duration::from_secs(3900);
/// The resolution of that history's metrics (the live scrape interval is 5 s).
const HISTORY_STEP: Duration = Duration::from_secs(15);
/// The incident reaches its full intensity this long after it starts.
const RAMP: Duration = Duration::from_secs(10);

/// Flags of `lantern demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Data directory: a new or empty one, or one an earlier demo wrote (its data is
    /// kept and the demo goes on from it); any other is refused
    #[arg(long, default_value = "lantern-demo")]
    data_dir: PathBuf,
    /// HTTP listen address: the web UI and every HTTP API
    #[arg(long, default_value = "127.0.0.1:9700")]
    http_addr: String,
    /// OTLP gRPC listen address
    #[arg(long, default_value = "127.0.0.1:4317")]
    otlp_grpc_addr: String,
    /// OTLP HTTP listen address (the shop sends its spans here)
    #[arg(long, default_value = "127.0.0.1:4318")]
    otlp_http_addr: String,
    /// How long the calm lasts before payment-service's incident begins (90s, 2m…)
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    incident_after: Duration,
    /// Stop after this long (15m, 1h…) [default: run until Ctrl-C]
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    lantern_core::PromDuration::parse(s).map(|d| d.0).map_err(|e| e.to_string())
}

/// What the data directory held.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Prior {
    /// Nothing: history is written for the last hour.
    Fresh,
    /// An earlier demo's data, last written at this time (ms).
    Demo { last_ms: i64 },
}

/// Runs the demo until Ctrl-C or `--duration`.
pub fn run(args: &DemoArgs) -> ExitCode {
    let prior = match prepare(&args.data_dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lantern demo: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(demo(args, prior)) {
        Ok(code) => code,
        Err(e) => {
            // The server names config keys; here they are the demo's flags.
            let text =
                ["http_addr", "otlp_grpc_addr", "otlp_http_addr", "data_dir"].iter().fold(format!("{e:#}"), |t, k| {
                    t.replacen(&format!("key {k}:"), &format!("--{}:", k.replace('_', "-")), 1)
                });
            eprintln!("lantern demo: {text}");
            crate::serve_failure(&e)
        }
    }
}

/// Checks the data directory: new, empty, or an earlier demo's.
fn prepare(dir: &Path) -> Result<Prior, String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--data-dir {} is a file, not a directory", dir.display()));
    }
    let marker = dir.join("demo").join("demo.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!("{} is not the demo's marker ({e}); remove it or choose another --data-dir", marker.display())
        })?;
        return Ok(Prior::Demo { last_ms: v["last_written_ms"].as_i64().unwrap_or(0) });
    }
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(format!("--data-dir {}: cannot read it: {e}", dir.display())),
    };
    if empty {
        Ok(Prior::Fresh)
    } else {
        Err(format!(
            "--data-dir {} holds data that `lantern demo` did not write (no demo/demo.json in it), and the demo \
             never mixes its simulated shop into other data: give a new or empty directory, or one an earlier \
             demo wrote",
            dir.display()
        ))
    }
}

/// The files the demo runs with, under `DIR/demo/`; the config returned.
fn write_files(args: &DemoArgs, metrics_port: u16) -> anyhow::Result<Config> {
    let dir = args.data_dir.join("demo");
    std::fs::create_dir_all(dir.join("dashboards"))
        .with_context(|| format!("key data_dir: cannot create {}", dir.display()))?;
    let jobs: String = SERVICES
        .iter()
        .map(|s| {
            format!(
                "  - job_name: {s}\n    metrics_path: /{s}/metrics\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}'], labels: {{instance: {s}}}}}]\n"
            )
        })
        .collect();
    let config = format!(
        "# Written by `lantern demo`. `lantern serve --config {}` serves the demo's data\n\
         # afterwards (its scrape targets are gone then).\n\
         data_dir: ..\n\
         http_addr: '{}'\n\
         otlp_grpc_addr: '{}'\n\
         otlp_http_addr: '{}'\n\
         global:\n  scrape_interval: 5s\n  evaluation_interval: 15s\n\
         scrape_configs:\n{jobs}\
         rule_files: [alerts.yml]\n\
         slo_files: [slos.yml]\n\
         dashboards_dir: dashboards\n",
        dir.join("lantern.yaml").display(),
        args.http_addr,
        args.otlp_grpc_addr,
        args.otlp_http_addr,
    );
    for (name, text) in [
        ("lantern.yaml", config.as_str()),
        ("alerts.yml", SEED_ALERTS),
        ("slos.yml", SEED_SLOS),
        ("dashboards/service-overview.json", SEED_DASHBOARD),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("key data_dir: cannot write {}", path.display()))?;
    }
    let cfg = Config::from_file(&dir.join("lantern.yaml")).map_err(|e| anyhow::anyhow!(e))?;
    let problems = cfg.validate();
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("; "));
    }
    Ok(cfg)
}

/// Writes the marker with the time the demo last sent data (0: none yet).
fn mark(data_dir: &Path, started: i64, last_written_ms: i64) {
    let body = serde_json::json!({
        "written_by": "lantern demo",
        "version": env!("CARGO_PKG_VERSION"),
        "started_ms": started,
        "last_written_ms": last_written_ms,
    });
    let path = data_dir.join("demo").join("demo.json");
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, body.to_string()).and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
        tracing::warn!(path = %path.display(), "cannot write the demo's marker");
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The address to reach a listener on (loopback for an unspecified address).
fn reach(addr: &str) -> anyhow::Result<String> {
    let mut a = resolve_addr(addr).map_err(|e| anyhow::anyhow!(e))?;
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(a.to_string())
}

async fn demo(args: &DemoArgs, prior: Prior) -> anyhow::Result<ExitCode> {
    let started = now_ms();
    let shop = Arc::new(Mutex::new(Shop::new(Rng::from_time())));
    // The shop's /metrics endpoints, one path per service, on a port of their own. They
    // answer 503 until the history is written: a scrape before then would store a
    // counter below the history's last value, which reads as a counter reset.
    let history_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let serving = history_done.clone();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the shop's /metrics")?;
    let metrics_port = metrics_listener.local_addr()?.port();
    let exposition = shop.clone();
    let metrics_app = axum::Router::new().route(
        "/{service}/metrics",
        axum::routing::get(move |axum::extract::Path(service): axum::extract::Path<String>| {
            let (shop, serving) = (exposition.clone(), serving.clone());
            async move {
                let Some(i) = SERVICES.iter().position(|s| *s == service) else {
                    return (axum::http::StatusCode::NOT_FOUND, [("content-type", "text/plain")], String::new());
                };
                if !serving.load(std::sync::atomic::Ordering::Acquire) {
                    let text = "the demo is writing its history\n".to_string();
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, [("content-type", "text/plain")], text);
                }
                let text = shop.lock().map(|s| s.exposition(i)).unwrap_or_default();
                (
                    axum::http::StatusCode::OK,
                    [("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                    text,
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(metrics_listener, metrics_app).await });

    let mut cfg = write_files(args, metrics_port)?;
    // The directory is the demo's from here on, even if the server then fails to start.
    let last_written = match prior {
        Prior::Fresh => 0,
        Prior::Demo { last_ms } => last_ms,
    };
    mark(&args.data_dir, started, last_written);
    let data_dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    cfg.data_dir = data_dir.clone();
    let http = reach(&cfg.http_addr)?;
    let otlp_http = reach(&cfg.otlp_http_addr)?;
    let flags: BTreeMap<String, String> = [
        ("data-dir", data_dir.display().to_string()),
        ("http-addr", cfg.http_addr.clone()),
        ("otlp-grpc-addr", cfg.otlp_grpc_addr.clone()),
        ("otlp-http-addr", cfg.otlp_http_addr.clone()),
        ("incident-after", format!("{}s", args.incident_after.as_secs())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    // Ctrl-C or SIGTERM stops the shop, then the server.
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        crate::serve::wait_for_signal().await;
        let _ = on_signal.send(true);
    });
    let mut server_stop = stop_rx.clone();
    let mut server = tokio::spawn(crate::serve::run(cfg, flags, async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));

    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let base = format!("http://{http}");
    // Wait for the server (or its start-up error). Ready is when our server says so:
    // another one already on the address answers too, with its own data directory.
    let ours = data_dir.display().to_string();
    let ready = async {
        loop {
            let flags = client.get(format!("{base}/api/v1/status/flags")).send().await;
            if let Ok(v) = async { flags?.json::<serde_json::Value>().await }.await {
                let ready = client.get(format!("{base}/-/ready")).send().await.is_ok_and(|r| r.status().is_success());
                if ready && v["data"]["data-dir"].as_str() == Some(ours.as_str()) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        () = ready => {}
        done = &mut server => {
            return match done.context("the server task")? {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Err(e),
            };
        }
    }
    let send = Sender { client: client.clone(), base: base.clone(), otlp: format!("http://{otlp_http}/v1/traces") };

    println!(
        "Lantern demo: a shop of four services (api-gateway → order-service → payment-service, fulfillment-service)"
    );
    println!("sending metrics, logs and traces to Lantern through its real protocols, with the seed's");
    println!("alert rules, SLOs and dashboard loaded. Data: {}", data_dir.display());
    let history_from = match prior {
        Prior::Fresh => started - HISTORY.as_millis() as i64,
        Prior::Demo { last_ms } => {
            if last_ms > 0 {
                println!("  (an earlier demo's data is there: kept, and the demo goes on from it)");
            }
            last_ms.max(started - HISTORY.as_millis() as i64)
        }
    };
    if started - history_from > 60_000 {
        let t = Instant::now();
        let (orders, samples, spans, lines) = backfill(&shop, &send, history_from).await?;
        println!(
            "  wrote the last {} of calm traffic in {:.1}s: {orders} orders, {samples} samples (remote write), {spans} spans (OTLP), {lines} log lines (JSON lines)",
            human((started - history_from) / 1000),
            t.elapsed().as_secs_f64()
        );
    }
    mark(&args.data_dir, started, now_ms());
    history_done.store(true, std::sync::atomic::Ordering::Release);
    println!();
    println!("Open {base}/dashboards/{DASHBOARD_UID}   the seed's dashboard");
    println!("     {base}/service-map                  the services and their calls");
    println!("     {base}/logs   {base}/traces   {base}/slos   {base}/alerts");
    println!();
    let incident_at = Instant::now() + args.incident_after;
    println!(
        "{} calm: {RATE} orders a second; payment-service's incident starts in {}",
        stamp(),
        human(args.incident_after.as_secs() as i64)
    );

    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut ticks = tokio::time::interval(Duration::from_millis(1000 / RATE));
    let mut pending = Order::default();
    let mut last_flush = Instant::now();
    let mut last_mark = Instant::now();
    let mut narrator = Narrator::new(client, base.clone());
    let mut incident_started: Option<i64> = None;
    let (mut orders, mut failed) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop_rx.changed() => break,
            done = &mut server => {
                done.context("the server task")??;
                return Ok(ExitCode::FAILURE);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let now = Instant::now();
        let load = if now >= incident_at {
            if incident_started.is_none() {
                incident_started = Some(now_ms());
                println!(
                    "{} incident: payment-service saturates (CPU, queue depth) and a third of its card charges time out",
                    stamp()
                );
                println!("        watch the 5xx rate climb on {base}/dashboards/{DASHBOARD_UID}");
            }
            (now - incident_at).as_secs_f64() / RAMP.as_secs_f64()
        } else {
            0.0
        }
        .min(1.0);
        {
            let mut s = shop.lock().map_err(|_| anyhow::anyhow!("the shop's state is poisoned"))?;
            s.saturate(load);
            let o = s.order(now_ns(), load);
            orders += 1;
            failed += u64::from(o.failed);
            pending.spans.extend(o.spans);
            pending.lines.extend(o.lines);
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            let batch = std::mem::take(&mut pending);
            if let Err(e) = send.spans(&batch.spans).await.and(send.lines(&batch.lines).await) {
                println!("{} could not send to Lantern: {e:#}", stamp());
            }
            last_flush = Instant::now();
            narrator.step(incident_started).await;
        }
        if last_mark.elapsed() >= Duration::from_secs(10) {
            mark(&args.data_dir, started, now_ms());
            last_mark = Instant::now();
        }
    }
    let _ = send.spans(&pending.spans).await;
    let _ = send.lines(&pending.lines).await;
    mark(&args.data_dir, started, now_ms());
    println!("{} stopping after {orders} orders ({failed} failed); the data stays in {}", stamp(), data_dir.display());
    println!(
        "        browse it again: lantern serve --config {}",
        data_dir.join("demo").join("lantern.yaml").display()
    );
    let _ = stop_tx.send(true);
    server.await.context("the server task")??;
    Ok(ExitCode::SUCCESS)
}

/// Samples (ms, value) per series (sorted label pairs, `__name__` among them).
type SeriesSamples = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

/// Writes the history from `from_ms` to now: the same shop, calm, in recorded time.
async fn backfill(shop: &Mutex<Shop>, send: &Sender, from_ms: i64) -> anyhow::Result<(u64, usize, usize, usize)> {
    let to_ms = now_ms();
    let step_ms = HISTORY_STEP.as_millis() as i64;
    let mut series = SeriesSamples::new();
    let (mut orders, mut spans, mut lines) = (0u64, 0usize, 0usize);
    let mut batch = Order::default();
    let mut t = from_ms;
    while t < to_ms {
        let end = (t + step_ms).min(to_ms);
        {
            let mut s = shop.lock().map_err(|_| anyhow::anyhow!("the shop's state is poisoned"))?;
            let n = (end - t) as u64 * RATE / 1000;
            for k in 0..n {
                let at_ms = t + ((k as i64 + 1) * (end - t)) / n as i64;
                let o = s.order(at_ms as u64 * 1_000_000, 0.0);
                batch.spans.extend(o.spans);
                batch.lines.extend(o.lines);
                orders += 1;
            }
            s.saturate(0.0);
            for (i, service) in SERVICES.iter().enumerate() {
                for sample in s.samples(i) {
                    let mut labels: Vec<(String, String)> = vec![
                        ("__name__".into(), sample.name.into()),
                        ("instance".into(), service.to_string()),
                        ("job".into(), service.to_string()),
                    ];
                    labels.extend(sample.labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
                    labels.sort();
                    series.entry(labels).or_default().push((end, sample.value));
                }
            }
        }
        if batch.spans.len() > 20_000 || end >= to_ms {
            spans += batch.spans.len();
            lines += batch.lines.len();
            send.spans(&batch.spans).await?;
            send.lines(&batch.lines).await?;
            batch = Order::default();
        }
        t = end;
    }
    let samples = series.values().map(Vec::len).sum();
    send.remote_write(&series).await?;
    Ok((orders, samples, spans, lines))
}

/// Sends the shop's data to Lantern through its protocols.
struct Sender {
    client: reqwest::Client,
    base: String,
    otlp: String,
}

impl Sender {
    /// Spans as OTLP/HTTP protobuf, one resource per service.
    async fn spans(&self, spans: &[shop::Span]) -> anyhow::Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        let mut by_service: BTreeMap<usize, Vec<opentelemetry_proto::tonic::trace::v1::Span>> = BTreeMap::new();
        for s in spans {
            by_service.entry(s.service).or_default().push(otlp_span(s));
        }
        let req = ExportTraceServiceRequest {
            resource_spans: by_service
                .into_iter()
                .map(|(i, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", any_value::Value::StringValue(SERVICES[i].into())),
                            kv("deployment.environment", any_value::Value::StringValue("demo".into())),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope { name: "lantern-demo".into(), ..Default::default() }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        };
        let r = self
            .client
            .post(&self.otlp)
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .context("OTLP/HTTP")?;
        check(r, "OTLP/HTTP /v1/traces").await
    }

    /// Log lines per service to the JSON-lines endpoint.
    async fn lines(&self, lines: &[shop::Line]) -> anyhow::Result<()> {
        for (i, service) in SERVICES.iter().enumerate() {
            let body: Vec<&str> = lines.iter().filter(|l| l.service == i).map(|l| l.json.as_str()).collect();
            if body.is_empty() {
                continue;
            }
            let r = self
                .client
                .post(format!("{}/api/v1/logs/jsonl?service={service}", self.base))
                .body(body.join("\n"))
                .send()
                .await
                .context("JSON lines")?;
            check(r, "/api/v1/logs/jsonl").await?;
        }
        Ok(())
    }

    /// Series as Prometheus remote write 1.0.
    async fn remote_write(&self, series: &SeriesSamples) -> anyhow::Result<()> {
        use lantern_prom_api::proto::{Label, Sample, TimeSeries, WriteRequest};
        let req = WriteRequest {
            timeseries: series
                .iter()
                .map(|(labels, samples)| TimeSeries {
                    labels: labels.iter().map(|(n, v)| Label { name: n.clone(), value: v.clone() }).collect(),
                    samples: samples.iter().map(|(t, v)| Sample { value: *v, timestamp: *t }).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
        let r = self
            .client
            .post(format!("{}/api/v1/write", self.base))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body)
            .send()
            .await
            .context("remote write")?;
        check(r, "/api/v1/write").await
    }
}

async fn check(r: reqwest::Response, what: &str) -> anyhow::Result<()> {
    let status = r.status();
    if status.is_success() {
        return Ok(());
    }
    let text = r.text().await.unwrap_or_default();
    anyhow::bail!("{what} answered {status}: {}", text.trim())
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }) }
}

fn otlp_span(s: &shop::Span) -> opentelemetry_proto::tonic::trace::v1::Span {
    let attributes = s
        .attributes
        .iter()
        .map(|(k, v)| {
            kv(
                k,
                match v {
                    shop::Value::Str(s) => any_value::Value::StringValue(s.clone()),
                    shop::Value::Int(i) => any_value::Value::IntValue(*i),
                    shop::Value::Float(f) => any_value::Value::DoubleValue(*f),
                },
            )
        })
        .collect();
    let events = s
        .exception
        .map(|(ty, msg)| span::Event {
            time_unix_nano: s.end_ns,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", any_value::Value::StringValue(ty.into())),
                kv("exception.message", any_value::Value::StringValue(msg.into())),
            ],
            ..Default::default()
        })
        .into_iter()
        .collect();
    opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: s.name.into(),
        kind: s.kind,
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns,
        attributes,
        events,
        status: s.error.map(|m| Status { message: m.into(), code: status::StatusCode::Error as i32 }),
        ..Default::default()
    }
}

/// Says what the alerts, the SLO and the investigation make of the incident, as they change.
struct Narrator {
    client: reqwest::Client,
    base: String,
    alerts: BTreeMap<String, String>,
    slo_status: Option<String>,
    verdict: bool,
    last: Option<Instant>,
}

impl Narrator {
    fn new(client: reqwest::Client, base: String) -> Narrator {
        Narrator { client, base, alerts: BTreeMap::new(), slo_status: None, verdict: false, last: None }
    }

    async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let r = self.client.get(format!("{}{path}", self.base)).send().await.ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        Some(v["data"].clone())
    }

    /// Looks again (every 5 s at most).
    async fn step(&mut self, incident_ms: Option<i64>) {
        if self.last.is_some_and(|l| l.elapsed() < Duration::from_secs(5)) {
            return;
        }
        self.last = Some(Instant::now());
        let base = self.base.clone();
        if let Some(data) = self.get("/api/v1/alerts").await {
            let mut now: BTreeMap<String, String> = BTreeMap::new();
            for a in data["alerts"].as_array().into_iter().flatten() {
                let name = a["labels"]["alertname"].as_str().unwrap_or("?").to_string();
                let state = a["state"].as_str().unwrap_or("?").to_string();
                let e = now.entry(name).or_insert_with(|| state.clone());
                if state == "firing" {
                    *e = state;
                }
            }
            for (name, state) in &now {
                if self.alerts.get(name) == Some(state) {
                    continue;
                }
                match state.as_str() {
                    "pending" => println!(
                        "{} alert {name} is pending: its condition holds; the seed's rule waits `for: 5m` before it fires",
                        stamp()
                    ),
                    "firing" => println!("{} alert {name} is FIRING → {base}/alerts", stamp()),
                    other => println!("{} alert {name} is {other}", stamp()),
                }
            }
            for name in self.alerts.keys() {
                if !now.contains_key(name) {
                    println!("{} alert {name} resolved", stamp());
                }
            }
            self.alerts = now;
        }
        if let Some(slo) = self.get("/api/v1/slos/api-availability").await {
            let status = slo["status"].as_str().unwrap_or("").to_string();
            if !status.is_empty() && self.slo_status.as_deref() != Some(&status) {
                let left = slo["budget_remaining_percent"]
                    .as_f64()
                    .map_or(String::new(), |p| format!(", {p:.1}% of its error budget left"));
                println!("{} SLO api-availability: {status}{left} → {base}/slos", stamp());
                self.slo_status = Some(status);
            }
        }
        if let (Some(at), false) = (incident_ms, self.verdict) {
            // The investigation over the incident and the quarter hour before it.
            let (start, end) = ((at - 900_000) / 1000, now_ms() / 1000);
            if end * 1000 - at < 15_000 {
                return;
            }
            if let Some(v) = self.get(&format!("/api/v1/investigate?start={start}&end={end}")).await {
                if let Some(service) = v["suspect"]["service"].as_str() {
                    println!("{} investigation: suspect {service}", stamp());
                    for line in v["verdict"].as_str().unwrap_or("").lines() {
                        println!("        {line}");
                    }
                    println!("        → {base}/investigate?from={start}&to=now   (or: lantern investigate --url {base} --from -20m)");
                    self.verdict = true;
                }
            }
        }
    }
}

/// The wall-clock time, for the narration.
fn stamp() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// Seconds as people say them: `90s`, `1h`, `12m`.
fn human(secs: i64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 120 => format!("{}m", (s + 30) / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_dir_is_new_the_demos_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("new");
        assert_eq!(prepare(&d), Ok(Prior::Fresh));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(prepare(&d), Ok(Prior::Fresh));
        std::fs::create_dir_all(d.join("metrics")).unwrap();
        let e = prepare(&d).unwrap_err();
        assert!(e.contains("did not write") && e.contains("new or empty"), "{e}");
        mark(&d, 5, 7);
        let e = prepare(&d).unwrap_err();
        assert!(e.contains("did not write"), "no demo/ yet: {e}");
        std::fs::create_dir_all(d.join("demo")).unwrap();
        mark(&d, 5, 7);
        assert_eq!(prepare(&d), Ok(Prior::Demo { last_ms: 7 }));
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(prepare(&f).unwrap_err().contains("is a file"));
    }
}
