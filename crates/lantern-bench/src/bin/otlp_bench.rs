//! `otlp_bench`: pushes OTLP metrics over gRPC as an OpenTelemetry SDK fleet would —
//! requests of `--points` data points (10 metrics of sums and gauges per request, one
//! resource per service) — and prints what it sent as JSON. `bench/otlp.sh` measures the
//! server's CPU around it.

use std::time::Instant;

use clap::Parser;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

#[derive(Parser, Debug)]
struct Args {
    /// The OTLP/gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    url: String,
    /// Services (each a resource sending its own requests).
    #[arg(long, default_value_t = 20)]
    services: usize,
    /// Data points per request.
    #[arg(long, default_value_t = 1000)]
    points: usize,
    /// Requests per service.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Concurrent streams.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v)) }) }
}

fn request(service: usize, round: usize, points: usize) -> ExportMetricsServiceRequest {
    let t = 1_700_000_000_000_000_000u64 + round as u64 * 15_000_000_000;
    let per_metric = points / 10;
    let metrics = (0..10)
        .map(|m| {
            let dps: Vec<NumberDataPoint> = (0..per_metric)
                .map(|i| NumberDataPoint {
                    attributes: vec![
                        kv("http.route", format!("/api/v1/item{}", i % 50)),
                        kv("http.response.status_code", ["200", "404", "500"][i % 3].to_string()),
                        kv("worker", format!("w{}", i / 50)),
                    ],
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    time_unix_nano: t,
                    value: Some(number_data_point::Value::AsDouble((round * (i + 1)) as f64)),
                    ..Default::default()
                })
                .collect();
            let data = if m < 5 {
                metric::Data::Sum(Sum {
                    data_points: dps,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })
            } else {
                metric::Data::Gauge(Gauge { data_points: dps })
            };
            Metric {
                name: format!("app.metric.{m}"),
                unit: if m < 5 { "{request}".into() } else { "By".into() },
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", format!("svc-{service}")),
                    kv("service.instance.id", format!("pod-{service}")),
                    kv("host.name", format!("node-{}", service % 7)),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope { name: "bench".into(), version: "1.0".into(), ..Default::default() }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = tonic::transport::Endpoint::from_shared(args.url.clone())?.connect().await?;
    // Build every request first, so the measured time is the server's.
    let mut work: Vec<Vec<ExportMetricsServiceRequest>> = (0..args.concurrency).map(|_| Vec::new()).collect();
    for round in 0..args.rounds {
        for s in 0..args.services {
            work[s % args.concurrency].push(request(s, round, args.points));
        }
    }
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for reqs in work {
        let mut client = MetricsServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
        tasks.push(tokio::spawn(async move {
            let mut rejected = 0i64;
            for r in reqs {
                let resp = client.export(r).await?.into_inner();
                rejected += resp.partial_success.map_or(0, |p| p.rejected_data_points);
            }
            anyhow::Ok(rejected)
        }));
    }
    let mut rejected = 0;
    for t in tasks {
        rejected += t.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let points = args.services * args.rounds * (args.points / 10) * 10;
    println!(
        "{{\"points\":{points},\"seconds\":{secs:.3},\"rejected\":{rejected},\"series\":{}}}",
        args.services * (args.points / 10) * 10
    );
    Ok(())
}
