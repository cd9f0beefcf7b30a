//! OTLP metrics to Prometheus series, as the OpenTelemetry–Prometheus compatibility spec
//! and Prometheus's OTLP receiver map them: names with unit and type suffixes
//! (`_seconds`, `_total`, `_ratio`), sanitised label names, `service.name` → `job`,
//! `service.instance.id` → `instance`, other resource attributes on `target_info`,
//! scope name and version as labels; histograms as `_bucket{le}`/`_sum`/`_count`,
//! exponential histograms as classic buckets, summaries as `{quantile}`; delta
//! temporality accumulated into cumulative series; exemplars with `trace_id`/`span_id`.

use std::collections::HashMap;

use bumpalo::Bump;
use lantern_core::{is_stale_nan, Exemplar, Labels, Sample, METRIC_NAME, STALE_NAN};
use lantern_tsdb::batch::{labels_key, LabelsKey};
use lantern_tsdb::metadata::MetricMeta;
use lantern_tsdb::Batch;
use parking_lot::Mutex;

use lantern_otlp_wire::metrics::{
    Common, Data, Exemplar as OtlpExemplar, ExpHistogramPoint, HistogramPoint, Kv, Metric, NumberPoint,
    ResourceMetrics, Value,
};

/// Running totals of delta series, so they are stored as cumulative ones.
#[derive(Debug, Default)]
pub struct DeltaState {
    totals: Mutex<HashMap<LabelsKey, f64>>,
}

/// Most delta series tracked; past this, the oldest state is dropped (the series restarts
/// from zero, which PromQL's `rate` treats as a counter reset).
const MAX_DELTA_SERIES: usize = 1_000_000;

impl DeltaState {
    fn add(&self, series: LabelsKey, v: f64) -> f64 {
        let mut t = self.totals.lock();
        if t.len() >= MAX_DELTA_SERIES && !t.contains_key(&series) {
            t.clear();
        }
        let e = t.entry(series).or_insert(0.0);
        *e += v;
        *e
    }
}

fn text(v: &Value) -> String {
    match *v {
        Value::Str(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => hex(b),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(json_of).collect();
            format!("[{}]", items.join(","))
        }
        Value::KvList(kv) => {
            let items: Vec<String> = kv
                .iter()
                .map(|k| format!("{}:{}", serde_json::Value::String(k.key.into()), json_of(&k.value)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Empty => String::new(),
    }
}

fn json_of(v: &Value) -> String {
    match *v {
        Value::Str(s) => serde_json::Value::String(s.into()).to_string(),
        Value::Empty => "null".into(),
        _ => text(v),
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

fn ms(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exemplar_of(e: &OtlpExemplar, fallback_t: i64) -> Exemplar {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for kv in e.filtered_attributes {
        let v = text(&kv.value);
        if !v.is_empty() {
            pairs.push((label_name(kv.key), v));
        }
    }
    if !e.trace_id.is_empty() {
        pairs.push(("trace_id".into(), hex(e.trace_id)));
    }
    if !e.span_id.is_empty() {
        pairs.push(("span_id".into(), hex(e.span_id)));
    }
    let t = if e.time_unix_nano == 0 { fallback_t } else { ms(e.time_unix_nano) };
    Exemplar { labels: Labels::from_pairs(pairs), value: e.value, t }
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

/// A label pair borrowed from the request or from the request's arena.
type Pair<'a> = (&'a str, &'a str);

/// What a request becomes: a batch for the store (label bytes borrowed from the request
/// and from `bump`), metadata, and the points refused.
pub struct Sink<'a> {
    /// The series and samples to store.
    pub batch: Batch<'a>,
    /// Metadata per metric family.
    pub metadata: Vec<(String, MetricMeta)>,
    /// Data points refused.
    pub rejected: usize,
    /// Why (the first few reasons).
    pub errors: Vec<String>,
    /// Samples written into the batch.
    pub samples: usize,
}

impl Sink<'_> {
    fn reject(&mut self, n: usize, why: String) {
        self.rejected += n;
        if self.errors.len() < 5 {
            self.errors.push(why);
        }
    }
}

impl Default for Sink<'_> {
    fn default() -> Self {
        Self { batch: Batch::new(), metadata: Vec::new(), rejected: 0, errors: Vec::new(), samples: 0 }
    }
}

/// Per-request state: the arena for strings the request does not hold, the sanitised
/// attribute keys seen so far, and a scratch list for one series' labels.
struct Ctx<'a, 'd> {
    bump: &'a Bump,
    keys: HashMap<&'a str, &'a str, foldhash::fast::RandomState>,
    scratch: Vec<(Pair<'a>, &'a str)>,
    delta: &'d DeltaState,
}

impl<'a> Ctx<'a, '_> {
    fn key(&mut self, k: &'a str) -> &'a str {
        if let Some(s) = self.keys.get(k) {
            return s;
        }
        let s = label_name(k);
        let s: &'a str = if s == k { k } else { self.bump.alloc_str(&s) };
        self.keys.insert(k, s);
        s
    }

    fn value(&self, v: &Value<'a>) -> &'a str {
        value_text(self.bump, v)
    }

    /// Writes one sample of the series `base` + `attrs` + name (+ `extra`) into the
    /// batch. Attributes that sanitise to the same name join their values with `;`
    /// (in key order); `base` labels win over attributes.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        sink: &mut Sink<'a>,
        base: &[Pair<'a>],
        attrs: &'a [Kv<'a>],
        name: &'a str,
        extra: Option<Pair<'a>>,
        sample: Sample,
        delta: bool,
        exemplars: Vec<Exemplar>,
    ) {
        self.scratch.clear();
        for kv in attrs {
            let v = self.value(&kv.value);
            if v.is_empty() {
                continue;
            }
            let k = self.key(kv.key);
            self.scratch.push(((k, v), kv.key));
        }
        self.scratch.sort_unstable_by(|a, b| a.0 .0.cmp(b.0 .0).then(a.1.cmp(b.1)));
        // Join collisions (rare: two keys that sanitise alike).
        let mut i = 1;
        while i < self.scratch.len() {
            if self.scratch[i].0 .0 == self.scratch[i - 1].0 .0 {
                let joined = format!("{};{}", self.scratch[i - 1].0 .1, self.scratch[i].0 .1);
                self.scratch[i - 1].0 .1 = self.bump.alloc_str(&joined);
                self.scratch.remove(i);
            } else {
                i += 1;
            }
        }
        let overridden =
            |n: &str| base.iter().any(|(b, _)| *b == n) || n == METRIC_NAME || extra.is_some_and(|(e, _)| e == n);
        self.scratch.retain(|((n, _), _)| !overridden(n));
        for &p in base {
            self.scratch.push((p, ""));
        }
        self.scratch.push(((METRIC_NAME, name), ""));
        if let Some(p) = extra {
            self.scratch.push((p, ""));
        }
        self.scratch.sort_unstable_by(|a, b| a.0 .0.cmp(b.0 .0));
        let mut sample = sample;
        if delta && !is_stale_nan(sample.v) {
            let key = labels_key(self.scratch.iter().map(|((n, v), _)| (n.as_bytes(), v.as_bytes())));
            sample.v = self.delta.add(key, sample.v);
        }
        sink.batch.begin_series();
        for ((n, v), _) in &self.scratch {
            sink.batch.label(n.as_bytes(), v.as_bytes());
        }
        sink.batch.sample(sample);
        for e in exemplars {
            sink.batch.exemplar(e);
        }
        sink.batch.end_series();
        sink.samples += 1;
    }
}

/// Converts a decoded request into `sink`; `delta` keeps the running totals of delta
/// series.
pub fn convert<'a>(req: &'a [ResourceMetrics<'a>], bump: &'a Bump, delta: &DeltaState, sink: &mut Sink<'a>) {
    let mut ctx = Ctx { bump, keys: HashMap::default(), scratch: Vec::new(), delta };
    for rm in req {
        let attrs: &'a [Kv<'a>] = rm.resource;
        let get =
            |k: &str| attrs.iter().find(|a| a.key == k).map(|a| value_text(bump, &a.value)).filter(|s| !s.is_empty());
        let mut base: Vec<Pair<'a>> = Vec::new();
        match (get("service.namespace"), get("service.name")) {
            (Some(ns), Some(n)) => base.push(("job", bump.alloc_str(&format!("{ns}/{n}")))),
            (None, Some(n)) => base.push(("job", n)),
            _ => {}
        }
        if let Some(i) = get("service.instance.id") {
            base.push(("instance", i));
        }
        let before = sink.samples;
        let mut newest = 0i64;
        for sm in rm.scopes {
            let mut scoped = base.clone();
            if let Some(s) = &sm.scope {
                if !s.name.is_empty() {
                    scoped.push(("otel_scope_name", s.name));
                }
                if !s.version.is_empty() {
                    scoped.push(("otel_scope_version", s.version));
                }
            }
            for m in sm.items {
                newest = newest.max(metric(&mut ctx, m, &scoped, sink));
            }
        }
        // The other resource attributes describe the target: one `target_info` series.
        let others = bumpalo::collections::Vec::from_iter_in(
            attrs
                .iter()
                .filter(|a| !matches!(a.key, "service.name" | "service.namespace" | "service.instance.id"))
                .copied(),
            bump,
        );
        if !others.is_empty() && sink.samples > before {
            let others: &'a [Kv<'a>] = others.into_bump_slice();
            ctx.emit(sink, &base, others, "target_info", None, Sample::new(newest, 1.0), false, Vec::new());
            sink.metadata.push((
                "target_info".into(),
                MetricMeta { kind: "gauge".into(), help: "Target metadata".into(), unit: String::new() },
            ));
        }
    }
}

/// An attribute value as a label value: borrowed when it is a string, else written
/// into the arena.
fn value_text<'a>(bump: &'a Bump, v: &Value<'a>) -> &'a str {
    match *v {
        Value::Str(s) => s,
        _ => bump.alloc_str(&text(v)),
    }
}

/// Writes one metric's points; returns the newest timestamp seen (ms).
fn metric<'a>(ctx: &mut Ctx<'a, '_>, m: &Metric<'a>, base: &[Pair<'a>], sink: &mut Sink<'a>) -> i64 {
    let Some(data) = m.data else { return 0 };
    if m.name.is_empty() {
        sink.reject(data.points(), "a metric without a name".into());
        return 0;
    }
    let (kind, counter, gauge) = match data {
        Data::Gauge(_) => ("gauge", false, true),
        Data::Sum(_, _, true) => ("counter", true, false),
        Data::Sum(_, _, false) => ("gauge", false, true),
        Data::Histogram(..) | Data::ExponentialHistogram(..) => ("histogram", false, false),
        Data::Summary(_) => ("summary", false, false),
    };
    let owned = metric_name(m.name, m.unit, counter, gauge);
    let name: &'a str = ctx.bump.alloc_str(&owned);
    let (unit_main, _) = unit_words(m.unit);
    sink.metadata.push((owned, MetricMeta { kind: kind.into(), help: m.description.into(), unit: unit_main }));
    let value = |stale: bool, v: f64| if stale { STALE_NAN } else { v };
    let mut newest = 0;
    match data {
        Data::Gauge(points) => newest = numbers(ctx, sink, base, name, points, false),
        Data::Sum(points, is_delta, _) => newest = numbers(ctx, sink, base, name, points, is_delta),
        Data::Histogram(points, is_delta) => {
            for p in points {
                newest = newest.max(ms(p.common.time_unix_nano));
                histogram(ctx, p, base, name, is_delta, sink);
            }
        }
        Data::ExponentialHistogram(points, is_delta) => {
            for p in points {
                newest = newest.max(ms(p.common.time_unix_nano));
                let (bounds, counts) = exponential_buckets(p);
                let classic = HistogramPoint {
                    common: p.common,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: ctx.bump.alloc_slice_copy(&counts),
                    explicit_bounds: ctx.bump.alloc_slice_copy(&bounds),
                };
                histogram(ctx, &classic, base, name, is_delta, sink);
            }
        }
        Data::Summary(points) => {
            let (sum_name, count_name) =
                (ctx.bump.alloc_str(&format!("{name}_sum")), ctx.bump.alloc_str(&format!("{name}_count")));
            for p in points {
                let t = ms(p.common.time_unix_nano);
                newest = newest.max(t);
                let st = p.common.flags & 1 == 1;
                let attrs = p.common.attributes;
                for &(q, qv) in p.quantiles {
                    let ql: &'a str = ctx.bump.alloc_str(&format_bound(q));
                    let sample = Sample::new(t, value(st, qv));
                    ctx.emit(sink, base, attrs, name, Some(("quantile", ql)), sample, false, Vec::new());
                }
                let sample = Sample::new(t, value(st, p.sum));
                ctx.emit(sink, base, attrs, sum_name, None, sample, false, Vec::new());
                let sample = Sample::new(t, value(st, p.count as f64));
                ctx.emit(sink, base, attrs, count_name, None, sample, false, Vec::new());
            }
        }
    }
    newest
}

/// Writes gauge or sum points; returns the newest timestamp (ms).
fn numbers<'a>(
    ctx: &mut Ctx<'a, '_>,
    sink: &mut Sink<'a>,
    base: &[Pair<'a>],
    name: &'a str,
    points: &'a [NumberPoint<'a>],
    is_delta: bool,
) -> i64 {
    let mut newest = 0;
    for p in points {
        let Common { attributes, time_unix_nano, flags, exemplars } = p.common;
        let t = ms(time_unix_nano);
        newest = newest.max(t);
        let ex = exemplars.iter().map(|e| exemplar_of(e, t)).collect();
        let v = if flags & 1 == 1 { STALE_NAN } else { p.value };
        ctx.emit(sink, base, attributes, name, None, Sample::new(t, v), is_delta, ex);
    }
    newest
}

fn histogram<'a>(
    ctx: &mut Ctx<'a, '_>,
    p: &HistogramPoint<'a>,
    base: &[Pair<'a>],
    name: &'a str,
    is_delta: bool,
    sink: &mut Sink<'a>,
) {
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        sink.reject(
            1,
            format!(
                "histogram {name}: {} bucket counts for {} bounds (want bounds + 1)",
                p.bucket_counts.len(),
                p.explicit_bounds.len()
            ),
        );
        return;
    }
    let t = ms(p.common.time_unix_nano);
    let attrs = p.common.attributes;
    let stale = p.common.flags & 1 == 1;
    let v = |x: f64| if stale { STALE_NAN } else { x };
    let bucket_name: &'a str = ctx.bump.alloc_str(&format!("{name}_bucket"));
    let mut exemplars: Vec<Option<&OtlpExemplar>> = vec![None; p.bucket_counts.len()];
    for e in p.common.exemplars {
        let i = p.explicit_bounds.iter().position(|b| e.value <= *b).unwrap_or(p.explicit_bounds.len());
        if i < exemplars.len() {
            exemplars[i] = Some(e);
        }
    }
    let mut cumulative = 0u64;
    for (i, c) in p.bucket_counts.iter().enumerate() {
        cumulative += c;
        let le = p.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
        let le: &'a str = ctx.bump.alloc_str(&format_bound(le));
        let ex = exemplars[i].map(|e| vec![exemplar_of(e, t)]).unwrap_or_default();
        let sample = Sample::new(t, v(cumulative as f64));
        ctx.emit(sink, base, attrs, bucket_name, Some(("le", le)), sample, is_delta, ex);
    }
    if p.bucket_counts.is_empty() {
        let sample = Sample::new(t, v(p.count as f64));
        ctx.emit(sink, base, attrs, bucket_name, Some(("le", "+Inf")), sample, is_delta, Vec::new());
    }
    if let Some(sum) = p.sum {
        let n = ctx.bump.alloc_str(&format!("{name}_sum"));
        ctx.emit(sink, base, attrs, n, None, Sample::new(t, v(sum)), is_delta, Vec::new());
    }
    let n = ctx.bump.alloc_str(&format!("{name}_count"));
    ctx.emit(sink, base, attrs, n, None, Sample::new(t, v(p.count as f64)), is_delta, Vec::new());
}

/// Most classic buckets an exponential histogram becomes; finer scales are merged down.
const MAX_BUCKETS: usize = 160;

/// Classic bounds and per-bucket counts of an exponential histogram: negative buckets
/// (most negative first), the zero bucket, positive buckets, then `+Inf`.
fn exponential_buckets(p: &ExpHistogramPoint) -> (Vec<f64>, Vec<u64>) {
    let (mut pos_off, mut pos) = (p.positive.0, p.positive.1.to_vec());
    let (mut neg_off, mut neg) = (p.negative.0, p.negative.1.to_vec());
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
