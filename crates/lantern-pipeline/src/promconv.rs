//! Prometheus series as OTLP metrics: what the `prometheus` receiver scrapes and what
//! the span-metrics connectors generate, sent on as OTLP. Families are told by their
//! metadata where known (else by their names): counters become cumulative monotonic
//! sums, histograms (`_bucket` with `le`, `_sum`, `_count`) histograms, summaries
//! (`quantile`) summaries, the rest gauges. `job` and `instance` become the resource's
//! `service.name` and `service.instance.id`, as the Collector's receiver does.
//! Staleness markers are not sent.

use std::collections::{BTreeMap, HashMap};

use lantern_core::{Exemplar, Labels, Sample};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::resource::v1::Resource;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }) }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

/// Points of one series group (family and labels without `le`/`quantile`).
#[derive(Default)]
struct Group {
    value: Option<f64>,
    bounds: Vec<(f64, f64)>,
    quantiles: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
    t: i64,
    exemplars: Vec<pm::Exemplar>,
}

/// Series (with `__name__`) as one OTLP request; `scope` names the instrumentation scope
/// and `kinds` gives families' types (`counter`, `gauge`, `histogram`, `summary`).
pub fn to_otlp(
    rows: &[(Labels, Sample, Vec<Exemplar>)],
    kinds: &HashMap<String, String>,
    scope: &str,
) -> ExportMetricsServiceRequest {
    let has_bucket: std::collections::HashSet<&str> =
        rows.iter().filter_map(|(l, _, _)| l.get("__name__")?.strip_suffix("_bucket")).collect();
    let kind_of = |name: &str| -> (String, Kind) {
        let named = |k: &str| match k {
            "counter" => Some(Kind::Counter),
            "gauge" => Some(Kind::Gauge),
            "histogram" => Some(Kind::Histogram),
            "summary" => Some(Kind::Summary),
            _ => None,
        };
        if let Some(k) = kinds.get(name).and_then(|k| named(k)) {
            return (name.to_string(), k);
        }
        for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if let Some(k) = kinds.get(base).and_then(|k| named(k)) {
                    return (base.to_string(), k);
                }
            }
        }
        if let Some(base) = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)) {
            if has_bucket.contains(base) {
                return (base.to_string(), Kind::Histogram);
            }
        }
        if name.ends_with("_total") {
            return (name.to_string(), Kind::Counter);
        }
        (name.to_string(), Kind::Gauge)
    };
    // (job, instance) → (family, kind, point labels) → points.
    type Key = (String, u8, Vec<(String, String)>);
    let mut by_resource: BTreeMap<(String, String), BTreeMap<Key, Group>> = BTreeMap::new();
    for (labels, s, ex) in rows {
        if lantern_core::is_stale_nan(s.v) {
            continue;
        }
        let Some(name) = labels.get("__name__") else { continue };
        let (family, kind) = kind_of(name);
        let job = labels.get("job").unwrap_or_default().to_string();
        let instance = labels.get("instance").unwrap_or_default().to_string();
        let attrs: Vec<(String, String)> = labels
            .iter()
            .filter(|l| !matches!(&*l.name, "__name__" | "le" | "quantile" | "job" | "instance"))
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        let g = by_resource.entry((job, instance)).or_default().entry((family.clone(), kind as u8, attrs)).or_default();
        g.t = g.t.max(s.t);
        match kind {
            Kind::Histogram if name.ends_with("_bucket") => {
                let le = labels.get("le").and_then(|l| l.parse::<f64>().ok()).unwrap_or(f64::INFINITY);
                g.bounds.push((le, s.v));
                for e in ex {
                    g.exemplars.push(pm::Exemplar {
                        time_unix_nano: (e.t.max(0) as u64).saturating_mul(1_000_000),
                        value: Some(pm::exemplar::Value::AsDouble(e.value)),
                        trace_id: e.labels.get("trace_id").map(hex_bytes).unwrap_or_default(),
                        span_id: e.labels.get("span_id").map(hex_bytes).unwrap_or_default(),
                        ..Default::default()
                    });
                }
            }
            Kind::Summary if labels.get("quantile").is_some() => {
                let q = labels.get("quantile").and_then(|q| q.parse::<f64>().ok()).unwrap_or(0.0);
                g.quantiles.push((q, s.v));
            }
            Kind::Histogram | Kind::Summary if name.ends_with("_sum") => g.sum = s.v,
            Kind::Histogram | Kind::Summary if name.ends_with("_count") => g.count = s.v,
            Kind::Histogram | Kind::Summary => {}
            Kind::Counter | Kind::Gauge => g.value = Some(s.v),
        }
    }
    let ns = |t: i64| (t.max(0) as u64).saturating_mul(1_000_000);
    let attrs = |a: &[(String, String)]| a.iter().map(|(k, v)| kv(k, v)).collect::<Vec<_>>();
    let mut resource_metrics = Vec::new();
    for ((job, instance), groups) in by_resource {
        let mut metrics: BTreeMap<String, pm::Metric> = BTreeMap::new();
        for ((family, kind, a), mut g) in groups {
            let data = |kind: u8| match kind {
                k if k == Kind::Counter as u8 => pm::metric::Data::Sum(pm::Sum {
                    data_points: vec![],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
                k if k == Kind::Histogram as u8 => {
                    pm::metric::Data::Histogram(pm::Histogram { data_points: vec![], aggregation_temporality: 2 })
                }
                k if k == Kind::Summary as u8 => pm::metric::Data::Summary(pm::Summary { data_points: vec![] }),
                _ => pm::metric::Data::Gauge(pm::Gauge { data_points: vec![] }),
            };
            // A counter's OTLP name has no `_total`; converting it back adds it.
            let name =
                if kind == Kind::Counter as u8 { family.strip_suffix("_total").unwrap_or(&family) } else { &family };
            let m = metrics.entry(format!("{name}\u{0}{kind}")).or_insert_with(|| pm::Metric {
                name: name.to_string(),
                data: Some(data(kind)),
                ..Default::default()
            });
            match &mut m.data {
                Some(pm::metric::Data::Sum(s)) => s.data_points.push(number(attrs(&a), ns(g.t), g.value)),
                Some(pm::metric::Data::Gauge(s)) => s.data_points.push(number(attrs(&a), ns(g.t), g.value)),
                Some(pm::metric::Data::Histogram(h)) => {
                    g.bounds.sort_by(|x, y| x.0.total_cmp(&y.0));
                    let mut last = 0.0;
                    let counts = g
                        .bounds
                        .iter()
                        .map(|(_, c)| {
                            let d = (c - last).max(0.0) as u64;
                            last = *c;
                            d
                        })
                        .collect();
                    h.data_points.push(pm::HistogramDataPoint {
                        attributes: attrs(&a),
                        time_unix_nano: ns(g.t),
                        count: g.count as u64,
                        sum: Some(g.sum),
                        bucket_counts: counts,
                        explicit_bounds: g.bounds.iter().map(|b| b.0).filter(|b| b.is_finite()).collect(),
                        exemplars: g.exemplars,
                        ..Default::default()
                    });
                }
                Some(pm::metric::Data::Summary(s)) => s.data_points.push(pm::SummaryDataPoint {
                    attributes: attrs(&a),
                    time_unix_nano: ns(g.t),
                    count: g.count as u64,
                    sum: g.sum,
                    quantile_values: g
                        .quantiles
                        .iter()
                        .map(|(q, v)| pm::summary_data_point::ValueAtQuantile { quantile: *q, value: *v })
                        .collect(),
                    ..Default::default()
                }),
                _ => {}
            }
        }
        let mut res = Vec::new();
        if !job.is_empty() {
            res.push(kv("service.name", &job));
        }
        if !instance.is_empty() {
            res.push(kv("service.instance.id", &instance));
        }
        resource_metrics.push(pm::ResourceMetrics {
            resource: Some(Resource { attributes: res, ..Default::default() }),
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(InstrumentationScope { name: scope.into(), ..Default::default() }),
                metrics: metrics.into_values().collect(),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest { resource_metrics }
}

fn number(attributes: Vec<KeyValue>, t: u64, v: Option<f64>) -> pm::NumberDataPoint {
    pm::NumberDataPoint {
        attributes,
        time_unix_nano: t,
        value: Some(pm::number_data_point::Value::AsDouble(v.unwrap_or(0.0))),
        ..Default::default()
    }
}
