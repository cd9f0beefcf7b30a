use super::*;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point, AggregationTemporality,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }) }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "checkout"),
                    kv("service.instance.id", "pod-1"),
                    kv("host.name", "node-7"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope { name: "shop".into(), version: "1.2".into(), ..Default::default() }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn point(v: f64, t_ms: u64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: t_ms * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

/// A request converted, as plain values.
struct Converted {
    rows: Vec<(Labels, Sample, Vec<Exemplar>)>,
    metadata: Vec<(String, MetricMeta)>,
    rejected: usize,
    errors: Vec<String>,
}

fn convert(req: &ExportMetricsServiceRequest, delta: &DeltaState) -> Converted {
    let bytes = req.encode_to_vec();
    let bump = Bump::new();
    let mut sink = Sink::default();
    let view = lantern_otlp_wire::metrics::metrics_request(&bytes, &bump).unwrap();
    super::convert(view, &bump, delta, &mut sink);
    let rows = sink
        .batch
        .iter()
        .zip(sink.batch.exemplars())
        .map(|((pairs, samples), ex)| {
            let labels = Labels::from_pairs(pairs.iter().map(|(n, v)| {
                (std::str::from_utf8(n).unwrap().to_string(), std::str::from_utf8(v).unwrap().to_string())
            }));
            (labels, samples[0], ex.to_vec())
        })
        .collect();
    Converted { rows, metadata: sink.metadata, rejected: sink.rejected, errors: sink.errors }
}

fn rows(c: &Converted) -> Vec<(String, f64)> {
    c.rows.iter().map(|(l, s, _)| (l.to_string(), s.v)).collect()
}

#[test]
fn names_follow_the_compatibility_spec() {
    assert_eq!(metric_name("http.server.request.duration", "s", false, false), "http_server_request_duration_seconds");
    assert_eq!(metric_name("http.server.requests", "{request}", true, false), "http_server_requests_total");
    assert_eq!(metric_name("system.memory.usage", "By", false, true), "system_memory_usage_bytes");
    assert_eq!(metric_name("system.cpu.utilization", "1", false, true), "system_cpu_utilization_ratio");
    assert_eq!(metric_name("speed", "m/s", false, true), "speed_meters_per_second");
    assert_eq!(metric_name("requests_total", "", true, false), "requests_total");
    assert_eq!(metric_name("2xx.count", "", true, false), "_2xx_count_total");
    assert_eq!(label_name("http.method"), "http_method");
    assert_eq!(label_name("_private"), "key_private");
    assert_eq!(label_name("1st"), "key_1st");
}

#[test]
fn gauges_sums_resources_and_scopes() {
    let req = request(vec![
        Metric {
            name: "queue.depth".into(),
            unit: "{item}".into(),
            description: "Items waiting".into(),
            data: Some(metric::Data::Gauge(Gauge { data_points: vec![point(3.0, 1000, vec![kv("queue", "a")])] })),
            ..Default::default()
        },
        Metric {
            name: "orders".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![point(5.0, 1000, vec![])],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        },
    ]);
    let c = convert(&req, &DeltaState::default());
    let r = rows(&c);
    assert_eq!(
        r[0].0,
        "queue_depth{instance=\"pod-1\", job=\"checkout\", otel_scope_name=\"shop\", otel_scope_version=\"1.2\", queue=\"a\"}"
    );
    assert_eq!(
        r[1].0,
        "orders_total{instance=\"pod-1\", job=\"checkout\", otel_scope_name=\"shop\", otel_scope_version=\"1.2\"}"
    );
    assert_eq!(r[2], ("target_info{host_name=\"node-7\", instance=\"pod-1\", job=\"checkout\"}".to_string(), 1.0));
    assert_eq!(
        c.metadata[0],
        ("queue_depth".into(), MetricMeta { kind: "gauge".into(), help: "Items waiting".into(), unit: String::new() })
    );
}

#[test]
fn delta_sums_become_cumulative() {
    let delta = DeltaState::default();
    let m = |v: f64, t: u64| Metric {
        name: "bytes.sent".into(),
        unit: "By".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![point(v, t, vec![])],
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let a = convert(&request(vec![m(10.0, 1000)]), &delta);
    let b = convert(&request(vec![m(5.0, 2000)]), &delta);
    assert_eq!(a.rows[0].1.v, 10.0);
    assert_eq!(b.rows[0].1.v, 15.0);
    // The unit is in the name already: not repeated.
    assert!(a.rows[0].0.to_string().starts_with("bytes_sent_total{"), "{}", a.rows[0].0);
}

#[test]
fn histograms_become_cumulative_buckets_with_exemplars() {
    let h = HistogramDataPoint {
        time_unix_nano: 2_000_000_000,
        count: 6,
        sum: Some(1.5),
        bucket_counts: vec![1, 2, 3],
        explicit_bounds: vec![0.1, 0.5],
        exemplars: vec![opentelemetry_proto::tonic::metrics::v1::Exemplar {
            value: Some(exemplar::Value::AsDouble(0.3)),
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            time_unix_nano: 1_900_000_000,
            ..Default::default()
        }],
        ..Default::default()
    };
    let req = request(vec![Metric {
        name: "rpc.duration".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![h],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    }]);
    let c = convert(&req, &DeltaState::default());
    let got: Vec<(String, f64)> = c
        .rows
        .iter()
        .filter(|(l, _, _)| l.metric_name() != Some("target_info"))
        .map(|(l, s, _)| {
            (format!("{}{}", l.metric_name().unwrap(), l.get("le").map(|x| format!("/{x}")).unwrap_or_default()), s.v)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("rpc_duration_seconds_bucket/0.1".into(), 1.0),
            ("rpc_duration_seconds_bucket/0.5".into(), 3.0),
            ("rpc_duration_seconds_bucket/+Inf".into(), 6.0),
            ("rpc_duration_seconds_sum".into(), 1.5),
            ("rpc_duration_seconds_count".into(), 6.0),
        ]
    );
    let ex = &c.rows[1].2[0];
    assert_eq!(ex.labels.get("trace_id"), Some("abababababababababababababababab"));
    assert_eq!(ex.labels.get("span_id"), Some("cdcdcdcdcdcdcdcd"));
    assert_eq!((ex.value, ex.t), (0.3, 1900));
    assert_eq!(c.metadata[0].1.kind, "histogram");

    let bad = request(vec![Metric {
        name: "bad".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                bucket_counts: vec![1],
                explicit_bounds: vec![1.0, 2.0],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    }]);
    let c = convert(&bad, &DeltaState::default());
    assert_eq!(c.rejected, 1);
    assert!(c.errors[0].contains("bucket counts"), "{:?}", c.errors);
}

#[test]
fn exponential_histograms_and_summaries() {
    // Scale 0: base 2. Positive buckets at offset 0: (1,2], (2,4]; one zero observation.
    let p = ExponentialHistogramDataPoint {
        time_unix_nano: 1_000_000_000,
        count: 4,
        sum: Some(7.0),
        scale: 0,
        zero_count: 1,
        positive: Some(Buckets { offset: 0, bucket_counts: vec![1, 2] }),
        ..Default::default()
    };
    let view =
        ExpHistogramPoint { count: 4, sum: Some(7.0), zero_count: 1, positive: (0, &[1, 2]), ..Default::default() };
    let (bounds, counts) = exponential_buckets(&view);
    assert_eq!(bounds, vec![0.0, 2.0, 4.0]);
    assert_eq!(counts, vec![1, 1, 2, 0]);
    let req = request(vec![
        Metric {
            name: "latency".into(),
            unit: "ms".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![p],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        },
        Metric {
            name: "gc.pause".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: 1_000_000_000,
                    count: 3,
                    sum: 0.6,
                    quantile_values: vec![
                        opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 0.2,
                        },
                    ],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        },
    ]);
    let c = convert(&req, &DeltaState::default());
    let names: Vec<String> = c
        .rows
        .iter()
        .map(|(l, _, _)| {
            format!(
                "{}{}",
                l.metric_name().unwrap(),
                l.get("le").or(l.get("quantile")).map(|x| format!("/{x}")).unwrap_or_default()
            )
        })
        .collect();
    assert!(names.contains(&"latency_milliseconds_bucket/4".to_string()), "{names:?}");
    assert!(names.contains(&"latency_milliseconds_bucket/+Inf".to_string()));
    assert!(names.contains(&"gc_pause/0.5".to_string()));
    assert!(names.contains(&"gc_pause_count".to_string()));
    let inf = c.rows.iter().find(|(l, _, _)| l.get("le") == Some("+Inf")).unwrap();
    assert_eq!(inf.1.v, 4.0);
}
