//! OTLP metrics to Prometheus series, as the OpenTelemetry–Prometheus compatibility spec
//! and Prometheus's OTLP receiver map them: names with unit and type suffixes
//! (`_seconds`, `_total`, `_ratio`), sanitised label names, `service.name` → `job`,
//! `service.instance.id` → `instance`, other resource attributes on `target_info`,
//! scope name and version as labels; histograms as `_bucket{le}`/`_sum`/`_count`,
//! exponential histograms as classic buckets, summaries as `{quantile}`; delta
//! temporality accumulated into cumulative series; exemplars with `trace_id`/`span_id`.

use std::collections::{BTreeMap, HashMap};

use lantern_core::{Exemplar, Labels, Sample, METRIC_NAME, STALE_NAN};
use lantern_tsdb::metadata::MetricMeta;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar as OtlpExemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
};
use parking_lot::Mutex;

/// One series' sample (with its exemplars) to store.
pub type Row = (Labels, Sample, Vec<Exemplar>);

/// What a request became.
#[derive(Debug, Default)]
pub struct Converted {
    /// Samples to store.
    pub rows: Vec<Row>,
    /// Metadata per metric family.
    pub metadata: Vec<(String, MetricMeta)>,
    /// Data points refused, and why (the first few reasons).
    pub rejected: usize,
    /// Why points were refused.
    pub errors: Vec<String>,
}

impl Converted {
    fn reject(&mut self, n: usize, why: String) {
        self.rejected += n;
        if self.errors.len() < 5 {
            self.errors.push(why);
        }
    }
}

/// Running totals of delta series, so they are stored as cumulative ones.
#[derive(Debug, Default)]
pub struct DeltaState {
    totals: Mutex<HashMap<Labels, f64>>,
}

/// Most delta series tracked; past this, the oldest state is dropped (the series restarts
/// from zero, which PromQL's `rate` treats as a counter reset).
const MAX_DELTA_SERIES: usize = 1_000_000;

impl DeltaState {
    fn add(&self, labels: &Labels, v: f64) -> f64 {
        let mut t = self.totals.lock();
        if t.len() >= MAX_DELTA_SERIES && !t.contains_key(labels) {
            t.clear();
        }
        let e = t.entry(labels.clone()).or_insert(0.0);
        *e += v;
        *e
    }
}

fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(json_of).collect();
            format!("[{}]", items.join(","))
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.key.clone()),
                        k.value.as_ref().map_or("null".into(), json_of)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        None => String::new(),
    }
}

fn json_of(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => serde_json::Value::String(s.clone()).to_string(),
        _ => text(&Some(v.clone())),
    }
}

/// A label name made of an attribute key: invalid characters become `_`, a leading
/// digit gets `key_`, a single leading underscore gets `key`.
pub fn label_name(key: &str) -> String {
    let mut s: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("key_{s}");
    } else if s.starts_with('_') && !s.starts_with("__") {
        s = format!("key{s}");
    }
    s
}

/// The unit as a name suffix: the main unit and the "per" unit, spelled as Prometheus
/// spells them.
fn unit_words(unit: &str) -> (String, String) {
    let mut u = unit.to_string();
    while let (Some(a), Some(b)) = (u.find('{'), u.find('}')) {
        if b < a {
            break;
        }
        u.replace_range(a..=b, "");
    }
    let (main, per) = u.split_once('/').unwrap_or((u.as_str(), ""));
    let main = match main.trim() {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => "",
        other => other,
    }
    .to_string();
    let per = match per.trim() {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
    .to_string();
    (main, per)
}

/// The Prometheus name of a metric: sanitised, with unit and type suffixes.
pub fn metric_name(name: &str, unit: &str, counter: bool, gauge: bool) -> String {
    let mut tokens: Vec<String> =
        name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let (main, per) = unit_words(unit);
    let has = |tokens: &Vec<String>, w: &str| tokens.iter().any(|t| t == w);
    let clean = |w: &str| -> String { w.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let main = clean(&main);
    if !main.is_empty() && !has(&tokens, &main) {
        tokens.push(main);
    }
    let per = clean(&per);
    if !per.is_empty() && !has(&tokens, &per) {
        tokens.push("per".into());
        tokens.push(per);
    }
    if counter && tokens.last().map(String::as_str) != Some("total") {
        tokens.push("total".into());
    }
    if gauge && unit.trim() == "1" && !has(&tokens, "ratio") {
        tokens.push("ratio".into());
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Labels from attributes; keys that sanitise to the same name join their values with `;`.
fn attr_labels(attrs: &[KeyValue], out: &mut BTreeMap<String, String>) {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in sorted {
        let v = text(&kv.value);
        if v.is_empty() {
            continue;
        }
        let name = label_name(&kv.key);
        out.entry(name)
            .and_modify(|e| {
                e.push(';');
                e.push_str(&v);
            })
            .or_insert(v);
    }
}

fn ms(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exemplar_of(e: &OtlpExemplar, fallback_t: i64) -> Exemplar {
    let mut l = BTreeMap::new();
    attr_labels(&e.filtered_attributes, &mut l);
    if !e.trace_id.is_empty() {
        l.insert("trace_id".into(), hex(&e.trace_id));
    }
    if !e.span_id.is_empty() {
        l.insert("span_id".into(), hex(&e.span_id));
    }
    let value = match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    let t = if e.time_unix_nano == 0 { fallback_t } else { ms(e.time_unix_nano) };
    Exemplar { labels: Labels::from_pairs(l), value, t }
}

fn exemplar_value(e: &OtlpExemplar) -> f64 {
    match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// Builds the series labels: base labels, point attributes, and the name.
fn series(base: &BTreeMap<String, String>, attrs: &[KeyValue], name: &str, extra: Option<(&str, String)>) -> Labels {
    let mut l = BTreeMap::new();
    attr_labels(attrs, &mut l);
    for (k, v) in base {
        l.insert(k.clone(), v.clone());
    }
    if let Some((k, v)) = extra {
        l.insert(k.to_string(), v);
    }
    l.insert(METRIC_NAME.into(), name.to_string());
    Labels::from_pairs(l)
}

fn format_bound(b: f64) -> String {
    if b == f64::INFINITY {
        "+Inf".into()
    } else if b == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{b}")
    }
}

/// Converts a request; `delta` keeps the running totals of delta series.
pub fn convert(req: &ExportMetricsServiceRequest, delta: &DeltaState) -> Converted {
    let mut out = Converted::default();
    for rm in &req.resource_metrics {
        let attrs = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let get = |k: &str| attrs.iter().find(|a| a.key == k).map(|a| text(&a.value)).filter(|s| !s.is_empty());
        let mut base = BTreeMap::new();
        match (get("service.namespace"), get("service.name")) {
            (Some(ns), Some(n)) => base.insert("job".to_string(), format!("{ns}/{n}")),
            (None, Some(n)) => base.insert("job".to_string(), n),
            _ => None,
        };
        if let Some(i) = get("service.instance.id") {
            base.insert("instance".to_string(), i);
        }
        let mut newest = 0i64;
        let before = out.rows.len();
        for sm in &rm.scope_metrics {
            let mut scoped = base.clone();
            if let Some(s) = &sm.scope {
                if !s.name.is_empty() {
                    scoped.insert("otel_scope_name".into(), s.name.clone());
                }
                if !s.version.is_empty() {
                    scoped.insert("otel_scope_version".into(), s.version.clone());
                }
            }
            for m in &sm.metrics {
                metric(m, &scoped, delta, &mut out);
            }
        }
        for r in &out.rows[before..] {
            newest = newest.max(r.1.t);
        }
        // The other resource attributes describe the target: one `target_info` series.
        let others: Vec<KeyValue> = attrs
            .iter()
            .filter(|a| !matches!(a.key.as_str(), "service.name" | "service.namespace" | "service.instance.id"))
            .cloned()
            .collect();
        if !others.is_empty() && out.rows.len() > before {
            out.rows.push((series(&base, &others, "target_info", None), Sample::new(newest, 1.0), Vec::new()));
            out.metadata.push((
                "target_info".into(),
                MetricMeta { kind: "gauge".into(), help: "Target metadata".into(), unit: String::new() },
            ));
        }
    }
    out
}

fn metric(m: &Metric, base: &BTreeMap<String, String>, delta: &DeltaState, out: &mut Converted) {
    if m.name.is_empty() {
        let n = points(m);
        out.reject(n, "a metric without a name".into());
        return;
    }
    let Some(data) = &m.data else {
        return;
    };
    let (kind, counter, gauge) = match data {
        metric::Data::Gauge(_) => ("gauge", false, true),
        metric::Data::Sum(s) if s.is_monotonic => ("counter", true, false),
        metric::Data::Sum(_) => ("gauge", false, true),
        metric::Data::Histogram(_) | metric::Data::ExponentialHistogram(_) => ("histogram", false, false),
        metric::Data::Summary(_) => ("summary", false, false),
    };
    let name = metric_name(&m.name, &m.unit, counter, gauge);
    let (unit_main, _) = unit_words(&m.unit);
    out.metadata.push((name.clone(), MetricMeta { kind: kind.into(), help: m.description.clone(), unit: unit_main }));
    let stale = |flags: u32| flags & 1 == 1;
    match data {
        metric::Data::Gauge(g) => {
            for p in &g.data_points {
                let v = number(&p.value);
                let t = ms(p.time_unix_nano);
                let ex = p.exemplars.iter().map(|e| exemplar_of(e, t)).collect();
                out.rows.push((
                    series(base, &p.attributes, &name, None),
                    Sample::new(t, if stale(p.flags) { STALE_NAN } else { v }),
                    ex,
                ));
            }
        }
        metric::Data::Sum(s) => {
            let is_delta = s.aggregation_temporality == AggregationTemporality::Delta as i32;
            for p in &s.data_points {
                let l = series(base, &p.attributes, &name, None);
                let t = ms(p.time_unix_nano);
                let mut v = number(&p.value);
                if stale(p.flags) {
                    v = STALE_NAN;
                } else if is_delta {
                    v = delta.add(&l, v);
                }
                let ex = p.exemplars.iter().map(|e| exemplar_of(e, t)).collect();
                out.rows.push((l, Sample::new(t, v), ex));
            }
        }
        metric::Data::Histogram(h) => {
            let is_delta = h.aggregation_temporality == AggregationTemporality::Delta as i32;
            for p in &h.data_points {
                histogram(p, base, &name, is_delta, delta, out);
            }
        }
        metric::Data::ExponentialHistogram(h) => {
            let is_delta = h.aggregation_temporality == AggregationTemporality::Delta as i32;
            for p in &h.data_points {
                let (bounds, counts) = exponential_buckets(p);
                let classic = HistogramDataPoint {
                    attributes: p.attributes.clone(),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    exemplars: p.exemplars.clone(),
                    flags: p.flags,
                    min: p.min,
                    max: p.max,
                };
                histogram(&classic, base, &name, is_delta, delta, out);
            }
        }
        metric::Data::Summary(s) => {
            for p in &s.data_points {
                let t = ms(p.time_unix_nano);
                let st = stale(p.flags);
                let val = |v: f64| if st { STALE_NAN } else { v };
                for q in &p.quantile_values {
                    let l = series(base, &p.attributes, &name, Some(("quantile", format_bound(q.quantile))));
                    out.rows.push((l, Sample::new(t, val(q.value)), Vec::new()));
                }
                out.rows.push((
                    series(base, &p.attributes, &format!("{name}_sum"), None),
                    Sample::new(t, val(p.sum)),
                    Vec::new(),
                ));
                out.rows.push((
                    series(base, &p.attributes, &format!("{name}_count"), None),
                    Sample::new(t, val(p.count as f64)),
                    Vec::new(),
                ));
            }
        }
    }
}

fn number(v: &Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => 0.0,
    }
}

fn points(m: &Metric) -> usize {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

fn histogram(
    p: &HistogramDataPoint,
    base: &BTreeMap<String, String>,
    name: &str,
    is_delta: bool,
    delta: &DeltaState,
    out: &mut Converted,
) {
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        out.reject(
            1,
            format!(
                "histogram {name}: {} bucket counts for {} bounds (want bounds + 1)",
                p.bucket_counts.len(),
                p.explicit_bounds.len()
            ),
        );
        return;
    }
    let t = ms(p.time_unix_nano);
    let stale = p.flags & 1 == 1;
    let mut emit = |l: Labels, v: f64, ex: Vec<Exemplar>| {
        let v = if stale {
            STALE_NAN
        } else if is_delta {
            delta.add(&l, v)
        } else {
            v
        };
        out.rows.push((l, Sample::new(t, v), ex));
    };
    let bucket_name = format!("{name}_bucket");
    let mut cumulative = 0u64;
    let mut exemplars: Vec<Option<&OtlpExemplar>> = Vec::new();
    exemplars.resize(p.bucket_counts.len(), None);
    for e in &p.exemplars {
        let v = exemplar_value(e);
        let i = p.explicit_bounds.iter().position(|b| v <= *b).unwrap_or(p.explicit_bounds.len());
        if i < exemplars.len() {
            exemplars[i] = Some(e);
        }
    }
    for (i, c) in p.bucket_counts.iter().enumerate() {
        cumulative += c;
        let le = p.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
        let ex = exemplars[i].map(|e| vec![exemplar_of(e, t)]).unwrap_or_default();
        emit(series(base, &p.attributes, &bucket_name, Some(("le", format_bound(le)))), cumulative as f64, ex);
    }
    if p.bucket_counts.is_empty() {
        emit(series(base, &p.attributes, &bucket_name, Some(("le", "+Inf".into()))), p.count as f64, Vec::new());
    }
    if let Some(sum) = p.sum {
        emit(series(base, &p.attributes, &format!("{name}_sum"), None), sum, Vec::new());
    }
    emit(series(base, &p.attributes, &format!("{name}_count"), None), p.count as f64, Vec::new());
}

/// Most classic buckets an exponential histogram becomes; finer scales are merged down.
const MAX_BUCKETS: usize = 160;

/// Classic bounds and per-bucket counts of an exponential histogram: negative buckets
/// (most negative first), the zero bucket, positive buckets, then `+Inf`.
fn exponential_buckets(p: &ExponentialHistogramDataPoint) -> (Vec<f64>, Vec<u64>) {
    let take = |b: &Option<opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets>| {
        b.as_ref().map(|b| (b.offset, b.bucket_counts.clone())).unwrap_or((0, Vec::new()))
    };
    let (mut pos_off, mut pos) = take(&p.positive);
    let (mut neg_off, mut neg) = take(&p.negative);
    let mut scale = p.scale;
    // Merging pairs of buckets lowers the scale by one: index i becomes i >> 1.
    let merge = |off: i32, counts: &[u64]| -> (i32, Vec<u64>) {
        if counts.is_empty() {
            return (off >> 1, Vec::new());
        }
        let first = off >> 1;
        let last = (off + counts.len() as i32 - 1) >> 1;
        let mut out = vec![0u64; (last - first + 1) as usize];
        for (k, c) in counts.iter().enumerate() {
            out[(((off + k as i32) >> 1) - first) as usize] += c;
        }
        (first, out)
    };
    while pos.len() + neg.len() > MAX_BUCKETS && scale > -10 {
        (pos_off, pos) = merge(pos_off, &pos);
        (neg_off, neg) = merge(neg_off, &neg);
        scale -= 1;
    }
    let base = 2f64.powf(2f64.powi(-scale));
    let mut bounds = Vec::new();
    let mut counts = Vec::new();
    // Negative bucket i holds [-base^(i+1), -base^i): its upper bound is -base^i.
    for (k, c) in neg.iter().enumerate().rev() {
        bounds.push(-base.powi(neg_off + k as i32));
        counts.push(*c);
    }
    bounds.push(p.zero_threshold);
    counts.push(p.zero_count);
    for (k, c) in pos.iter().enumerate() {
        bounds.push(base.powi(pos_off + k as i32 + 1));
        counts.push(*c);
    }
    counts.push(0);
    (bounds, counts)
}

#[cfg(test)]
mod tests;
