//! `trace_bench`: pushes spans over OTLP/gRPC as instrumented services do — requests of
//! `--batch` spans (one service's resource per request, traces of 8 spans, ~10
//! attributes each: HTTP method, route, status, peer, user and request IDs, database
//! system and statement…), timestamps spread over the hour before the run — and prints
//! what it sent as JSON, including the size of the same requests as zstd-3-compressed
//! OTLP protobuf. Every 1000th trace ID is written to `--ids`. `bench/traces.sh`
//! measures the server around it.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

#[derive(Parser, Debug)]
struct Args {
    /// The OTLP/gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    url: String,
    /// Spans in all.
    #[arg(long, default_value_t = 1_000_000)]
    spans: usize,
    /// Spans per request.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Services.
    #[arg(long, default_value_t = 20)]
    services: usize,
    /// Concurrent streams.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// File for sampled trace IDs (hex, one per line).
    #[arg(long, default_value = "trace_ids.txt")]
    ids: String,
    /// Spans per second at most (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Retry a request the server refuses as UNAVAILABLE or RESOURCE_EXHAUSTED (after
    /// 50 ms), as SDKs do, instead of stopping.
    #[arg(long)]
    retry: bool,
    /// Skip measuring the requests' zstd-compressed size (less load-generator CPU).
    #[arg(long)]
    no_zstd: bool,
}

/// xorshift64*: fast, deterministic per stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn s(k: &str, v: String) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v)) }) }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(v)) }) }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request: `n` spans of `service`, starting at `t0` (ns); returns it and the trace
/// IDs it holds.
fn request(
    rng: &mut Rng,
    service: usize,
    services: usize,
    n: usize,
    t0: u64,
) -> (ExportTraceServiceRequest, Vec<[u8; 16]>) {
    let mut spans = Vec::with_capacity(n);
    let mut ids = Vec::new();
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let ops = ["GET /api/v1/orders", "POST /api/v1/orders", "GET /api/v1/items", "GET /api/v1/users"];
    let mut k = 0;
    while k < n {
        let mut tid = [0u8; 16];
        tid[..8].copy_from_slice(&rng.next().to_le_bytes());
        tid[8..].copy_from_slice(&rng.next().to_le_bytes());
        ids.push(tid);
        let root_id = rng.next().to_le_bytes();
        let start = t0 + rng.below(1_000_000_000);
        let user = format!("user-{}", rng.below(100_000));
        let request_id = format!("req-{:016x}", rng.next());
        let route = format!("/api/v1/item/{}", rng.below(200));
        let status = [200, 200, 200, 200, 200, 200, 200, 201, 404, 500][rng.below(10) as usize];
        for j in 0..8.min(n - k) {
            let id = if j == 0 { root_id } else { rng.next().to_le_bytes() };
            let (kind, name, parent) = match j {
                0 => (span::SpanKind::Server, ops[rng.below(4) as usize].to_string(), Vec::new()),
                1 | 2 => (span::SpanKind::Client, format!("call svc-{}", rng.below(services as u64)), root_id.to_vec()),
                3 | 4 => (span::SpanKind::Internal, "SELECT orders".to_string(), root_id.to_vec()),
                _ => (
                    span::SpanKind::Internal,
                    ["validate_order", "process_payment", "create_fulfillment"][j % 3].to_string(),
                    root_id.to_vec(),
                ),
            };
            let begin = start + j as u64 * 1_000_000;
            let dur = 200_000 + rng.below(if j == 0 { 200_000_000 } else { 20_000_000 });
            let mut attrs = vec![
                s("http.method", methods[rng.below(6) as usize].to_string()),
                s("http.route", route.clone()),
                i("http.status_code", status),
                s("net.peer.name", format!("svc-{}", rng.below(services as u64))),
                s("user.id", user.clone()),
                s("request.id", request_id.clone()),
                i("thread.id", rng.below(64) as i64),
                s("component", "http".to_string()),
            ];
            if name == "SELECT orders" {
                attrs.push(s("db.system", "postgresql".to_string()));
                attrs.push(s("db.statement", "SELECT * FROM orders WHERE user_id = $1".to_string()));
            } else {
                attrs.push(s("http.scheme", "https".to_string()));
                attrs.push(i("http.response_content_length", rng.below(100_000) as i64));
            }
            spans.push(Span {
                trace_id: tid.to_vec(),
                span_id: id.to_vec(),
                parent_span_id: parent,
                name,
                kind: kind as i32,
                start_time_unix_nano: begin,
                end_time_unix_nano: begin + dur,
                attributes: attrs,
                status: Some(Status {
                    code: if status == 500 && j == 0 { 2 } else { 0 },
                    message: if status == 500 && j == 0 { "internal error".into() } else { String::new() },
                }),
                ..Default::default()
            });
        }
        k += 8;
    }
    spans.truncate(n);
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", format!("svc-{service}")),
                    s("service.version", "1.4.2".into()),
                    s("host.name", format!("node-{}", service % 7)),
                    s("telemetry.sdk.language", "python".into()),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope { name: "bench".into(), version: "1.0".into(), ..Default::default() }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (req, ids)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = tonic::transport::Endpoint::from_shared(args.url.clone())?.connect().await?;
    let requests = args.spans.div_ceil(args.batch);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let t_start = now - 3_600_000_000_000;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.concurrency {
        let mut client = TraceServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
        let args_batch = args.batch;
        let (services, total, rate, retry, no_zstd) = (args.services, args.spans, args.rate, args.retry, args.no_zstd);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
            let (mut rejected, mut zstd_bytes, mut raw_bytes, mut sampled) = (0i64, 0usize, 0usize, Vec::new());
            let mut retries = 0u64;
            let mut r = c;
            while r < requests {
                let n = args_batch.min(total - r * args_batch);
                let t = t_start + (r as u64 * 3_590_000_000_000) / requests as u64;
                let (req, ids) = request(&mut rng, r % services, services, n, t);
                let bytes = req.encode_to_vec();
                raw_bytes += bytes.len();
                if !no_zstd {
                    zstd_bytes += zstd::bulk::compress(&bytes, 3)?.len();
                }
                sampled.extend(ids.iter().enumerate().filter(|(k, _)| (r * 64 + k) % 1000 == 0).map(|(_, id)| hex(id)));
                if rate > 0 {
                    // This stream's share of the rate.
                    let due = std::time::Duration::from_secs_f64((r * args_batch) as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let resp = loop {
                    match client.export(req.clone()).await {
                        Ok(r) => break r.into_inner(),
                        Err(s)
                            if retry
                                && matches!(s.code(), tonic::Code::Unavailable | tonic::Code::ResourceExhausted) =>
                        {
                            retries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                        Err(s) => return Err(s.into()),
                    }
                };
                rejected += resp.partial_success.map_or(0, |p| p.rejected_spans);
                r += args.concurrency;
            }
            anyhow::Ok((rejected, zstd_bytes, raw_bytes, sampled, retries))
        }));
    }
    let (mut rejected, mut zstd_bytes, mut raw_bytes, mut retries) = (0, 0, 0, 0);
    let mut f = std::fs::File::create(&args.ids)?;
    for t in tasks {
        let (r, z, w, ids, n) = t.await??;
        retries += n;
        rejected += r;
        zstd_bytes += z;
        raw_bytes += w;
        for id in ids {
            writeln!(f, "{id}")?;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{{\"spans\":{},\"seconds\":{secs:.3},\"rejected\":{rejected},\"zstd_bytes\":{zstd_bytes},\"raw_bytes\":{raw_bytes},\"retries\":{retries}}}",
        args.spans
    );
    Ok(())
}
