//! The `tail_sampling` processor: spans are held per trace for `decision_wait` after the
//! trace's first span, then the policies decide on the whole trace, and a sampled
//! trace's spans go on together. At most `num_traces` traces are held: past that the
//! oldest is decided early. Decisions are remembered (as many as `num_traces`), so a
//! late span follows its trace. Policies: `always_sample`, `status_code`, `latency`,
//! `probabilistic`, `string_attribute`, `numeric_attribute`, `boolean_attribute`,
//! `span_count`, `rate_limiting`, `and`, `drop` and `composite`. As in the Collector,
//! any `drop` (or an inverted match) wins, then any sample samples.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use parking_lot::Mutex;
use regex::Regex;
use serde::Deserialize;
use tokio::sync::watch;

use crate::consumer::{BoxFuture, ConsumeError, Consumer, Next};
use crate::data::{Decoded, Payload};
use crate::settings::GoDuration;

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How long after a trace's first span it is decided.
    pub decision_wait: GoDuration,
    /// Traces held at most.
    pub num_traces: usize,
    /// Accepted for compatibility (a sizing hint).
    pub expected_new_traces_per_sec: u64,
    /// Accepted for compatibility (decisions are remembered for `num_traces` traces).
    pub decision_cache: Option<serde_yaml::Value>,
    /// Stop at the first policy that samples.
    pub sample_on_first_match: bool,
    /// Whether traces held at shutdown are dropped rather than decided.
    pub drop_pending_traces_on_shutdown: bool,
    /// The policies.
    pub policies: Vec<PolicyConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            decision_wait: GoDuration(Duration::from_secs(30)),
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: None,
            sample_on_first_match: false,
            drop_pending_traces_on_shutdown: false,
            policies: Vec::new(),
        }
    }
}

/// One policy as configured: `name`, `type` and the type's own block.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct PolicyConfig {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its type.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The rest: the type's block (`status_code: {…}`, `and: {…}`).
    #[serde(flatten)]
    pub rest: HashMap<String, serde_yaml::Value>,
}

/// A trace's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep it.
    Sampled,
    /// Not kept by this policy.
    NotSampled,
    /// Dropped, whatever other policies say.
    Dropped,
}

/// A compiled policy.
#[derive(Debug, Clone)]
enum Policy {
    Always,
    Status(Vec<i32>),
    Latency { min_ms: i64, max_ms: Option<i64> },
    Probabilistic { pct: f64, salt: String },
    StringAttr { key: String, values: Vec<Regex>, exact: Vec<String>, invert: bool },
    NumericAttr { key: String, min: Option<i64>, max: Option<i64>, invert: bool },
    BoolAttr { key: String, value: bool, invert: bool },
    SpanCount { min: usize, max: Option<usize> },
    RateLimit { per_sec: u64, window: Arc<Mutex<(Instant, u64)>> },
    And(Vec<Policy>),
    Drop(Vec<Policy>),
    Composite { max_per_sec: u64, subs: Vec<(Policy, u64)>, window: Arc<Mutex<(Instant, Vec<u64>)>> },
}

/// The policy's own block, under its type's name (`status_code: {…}`).
fn block(p: &PolicyConfig) -> serde_yaml::Value {
    p.rest.get(&p.kind).cloned().unwrap_or(serde_yaml::Value::Null)
}

fn get<T: serde::de::DeserializeOwned + Default>(v: &serde_yaml::Value, key: &str) -> Result<T, String> {
    match v.get(key) {
        None | Some(serde_yaml::Value::Null) => Ok(T::default()),
        Some(x) => serde_yaml::from_value(x.clone()).map_err(|e| format!("{key}: {e}")),
    }
}

fn compile(p: &PolicyConfig) -> Result<Policy, String> {
    let b = block(p);
    let at = |e: String| format!("policy {:?} ({}): {e}", p.name, p.kind);
    let pol = match p.kind.as_str() {
        "always_sample" => Policy::Always,
        "status_code" => {
            let codes: Vec<String> = get(&b, "status_codes").map_err(at)?;
            if codes.is_empty() {
                return Err(at("status_codes must not be empty".into()));
            }
            Policy::Status(
                codes
                    .iter()
                    .map(|c| match c.as_str() {
                        "UNSET" => Ok(0),
                        "OK" => Ok(1),
                        "ERROR" => Ok(2),
                        other => Err(at(format!("unknown status code {other:?}"))),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        "latency" => Policy::Latency {
            min_ms: get(&b, "threshold_ms").map_err(at)?,
            max_ms: Some(get::<i64>(&b, "upper_threshold_ms").map_err(at)?).filter(|x| *x > 0),
        },
        "probabilistic" => Policy::Probabilistic {
            pct: get(&b, "sampling_percentage").map_err(at)?,
            salt: get(&b, "hash_salt").map_err(at)?,
        },
        "string_attribute" => {
            let values: Vec<String> = get(&b, "values").map_err(at)?;
            let regex: bool = get(&b, "enabled_regex_matching").map_err(at)?;
            Policy::StringAttr {
                key: get(&b, "key").map_err(at)?,
                values: if regex {
                    values.iter().map(|v| Regex::new(v).map_err(|e| at(e.to_string()))).collect::<Result<_, _>>()?
                } else {
                    Vec::new()
                },
                exact: if regex { Vec::new() } else { values },
                invert: get(&b, "invert_match").map_err(at)?,
            }
        }
        "numeric_attribute" => Policy::NumericAttr {
            key: get(&b, "key").map_err(at)?,
            min: get(&b, "min_value").map_err(at)?,
            max: get(&b, "max_value").map_err(at)?,
            invert: get(&b, "invert_match").map_err(at)?,
        },
        "boolean_attribute" => Policy::BoolAttr {
            key: get(&b, "key").map_err(at)?,
            value: get(&b, "value").map_err(at)?,
            invert: get(&b, "invert_match").map_err(at)?,
        },
        "span_count" => Policy::SpanCount {
            min: get(&b, "min_spans").map_err(at)?,
            max: Some(get::<usize>(&b, "max_spans").map_err(at)?).filter(|x| *x > 0),
        },
        "rate_limiting" => Policy::RateLimit {
            per_sec: get(&b, "spans_per_second").map_err(at)?,
            window: Arc::new(Mutex::new((Instant::now(), 0))),
        },
        "and" => Policy::And(subs(&b, "and_sub_policy").map_err(at)?),
        "drop" => Policy::Drop(subs(&b, "drop_sub_policy").map_err(at)?),
        "composite" => {
            let list: Vec<PolicyConfig> = get(&b, "composite_sub_policy").map_err(at)?;
            #[derive(Deserialize, Default)]
            struct Share {
                policy: String,
                percent: u64,
            }
            let shares: Vec<Share> = get(&b, "rate_allocation").map_err(at)?;
            let max_per_sec: u64 = get(&b, "max_total_spans_per_second").map_err(at)?;
            let subs = list
                .iter()
                .map(|s| {
                    let pct = shares.iter().find(|x| x.policy == s.name).map_or(100, |x| x.percent);
                    Ok((compile(s)?, max_per_sec * pct / 100))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let n = subs.len();
            Policy::Composite { max_per_sec, subs, window: Arc::new(Mutex::new((Instant::now(), vec![0; n]))) }
        }
        "" => return Err(format!("policy {:?}: type is required", p.name)),
        other => return Err(format!("policy {:?}: the {other} policy is not supported by Lantern", p.name)),
    };
    Ok(pol)
}

fn subs(b: &serde_yaml::Value, key: &str) -> Result<Vec<Policy>, String> {
    let list: Vec<PolicyConfig> = get(b, key)?;
    if list.is_empty() {
        return Err(format!("{key} must not be empty"));
    }
    list.iter().map(compile).collect()
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.policies.is_empty() {
            p.push("policies must not be empty".into());
        }
        if self.num_traces == 0 {
            p.push("num_traces must be positive".into());
        }
        p.extend(self.policies.iter().filter_map(|x| compile(x).err()));
        p
    }
}

/// The spans of one trace held for a decision.
struct Held {
    first: Instant,
    spans: Vec<(Arc<Resource>, Arc<InstrumentationScope>, Span)>,
}

/// A span's attributes and its resource's, in that order of lookup.
fn attr<'a>(r: &'a Resource, s: &'a Span, key: &str) -> Option<&'a any_value::Value> {
    let find = |a: &'a [KeyValue]| a.iter().find(|k| k.key == key).and_then(|k| k.value.as_ref()?.value.as_ref());
    find(&s.attributes).or_else(|| find(&r.attributes))
}

fn evaluate(p: &Policy, t: &Held, id: &[u8]) -> Decision {
    use Decision::*;
    let any = |f: &dyn Fn(&Resource, &Span) -> bool| t.spans.iter().any(|(r, _, s)| f(r, s));
    let yes = |b: bool| if b { Sampled } else { NotSampled };
    let inverted = |hit: bool, invert: bool| match (hit, invert) {
        (true, false) => Sampled,
        (false, false) => NotSampled,
        (false, true) => Sampled,
        (true, true) => Dropped,
    };
    match p {
        Policy::Always => Sampled,
        Policy::Status(codes) => yes(any(&|_, s| codes.contains(&s.status.as_ref().map_or(0, |x| x.code)))),
        Policy::Latency { min_ms, max_ms } => {
            let start = t.spans.iter().map(|(_, _, s)| s.start_time_unix_nano).min().unwrap_or(0);
            let end = t.spans.iter().map(|(_, _, s)| s.end_time_unix_nano).max().unwrap_or(0);
            let ms = (end.saturating_sub(start) / 1_000_000) as i64;
            yes(ms >= *min_ms && max_ms.is_none_or(|m| ms <= m))
        }
        Policy::Probabilistic { pct, salt } => {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in salt.as_bytes().iter().chain(id) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            yes((h as f64 / u64::MAX as f64) * 100.0 < *pct)
        }
        Policy::StringAttr { key, values, exact, invert } => {
            let hit = any(&|r, s| match attr(r, s, key) {
                Some(any_value::Value::StringValue(v)) => {
                    exact.iter().any(|e| e == v) || values.iter().any(|re| re.is_match(v))
                }
                _ => false,
            });
            inverted(hit, *invert)
        }
        Policy::NumericAttr { key, min, max, invert } => {
            let hit = any(&|r, s| match attr(r, s, key) {
                Some(any_value::Value::IntValue(v)) => min.is_none_or(|m| *v >= m) && max.is_none_or(|m| *v <= m),
                Some(any_value::Value::DoubleValue(v)) => {
                    min.is_none_or(|m| *v >= m as f64) && max.is_none_or(|m| *v <= m as f64)
                }
                _ => false,
            });
            inverted(hit, *invert)
        }
        Policy::BoolAttr { key, value, invert } => {
            let hit = any(&|r, s| matches!(attr(r, s, key), Some(any_value::Value::BoolValue(v)) if v == value));
            inverted(hit, *invert)
        }
        Policy::SpanCount { min, max } => yes(t.spans.len() >= *min && max.is_none_or(|m| t.spans.len() <= m)),
        Policy::RateLimit { per_sec, window } => {
            let mut w = window.lock();
            if w.0.elapsed() >= Duration::from_secs(1) {
                *w = (Instant::now(), 0);
            }
            let n = t.spans.len() as u64;
            if w.1 + n <= *per_sec {
                w.1 += n;
                Sampled
            } else {
                NotSampled
            }
        }
        Policy::And(subs) => yes(subs.iter().all(|s| evaluate(s, t, id) == Sampled)),
        Policy::Drop(subs) => {
            if subs.iter().all(|s| evaluate(s, t, id) == Sampled) {
                Dropped
            } else {
                NotSampled
            }
        }
        Policy::Composite { max_per_sec, subs, window } => {
            let n = t.spans.len() as u64;
            for (i, (sub, budget)) in subs.iter().enumerate() {
                if evaluate(sub, t, id) != Sampled {
                    continue;
                }
                let mut w = window.lock();
                if w.0.elapsed() >= Duration::from_secs(1) {
                    w.0 = Instant::now();
                    w.1.iter_mut().for_each(|x| *x = 0);
                }
                let total: u64 = w.1.iter().sum();
                if w.1[i] + n <= *budget && total + n <= *max_per_sec {
                    w.1[i] += n;
                    return Sampled;
                }
            }
            NotSampled
        }
    }
}

/// The processor.
pub struct TailSampler {
    id: String,
    config: Config,
    policies: Vec<Policy>,
    state: Mutex<State>,
    next: Next,
}

#[derive(Default)]
struct State {
    held: HashMap<Vec<u8>, Held>,
    /// Held traces, oldest first.
    order: VecDeque<Vec<u8>>,
    /// Decisions made, newest last (bounded by `num_traces`).
    decided: HashMap<Vec<u8>, bool>,
    decided_order: VecDeque<Vec<u8>>,
}

impl TailSampler {
    /// Starts the sampler in front of `next`; traces are decided every second, and the
    /// held ones when `shutdown` turns true.
    pub fn start(
        id: &str,
        config: &Config,
        next: Next,
        mut shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Result<Arc<Self>, String> {
        let policies = config.policies.iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        let me = Arc::new(Self { id: id.to_string(), config: config.clone(), policies, state: Mutex::default(), next });
        let ticker = me.clone();
        let tick = config.decision_wait.0.clamp(Duration::from_millis(50), Duration::from_secs(1));
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            loop {
                let stop = tokio::select! {
                    _ = every.tick() => false,
                    _ = async { let _ = shutdown.wait_for(|s| *s).await; } => true,
                };
                if !stop {
                    ticker.decide_due(false).await;
                    continue;
                }
                if !ticker.config.drop_pending_traces_on_shutdown {
                    ticker.decide_due(true).await;
                }
                break;
            }
        }));
        Ok(me)
    }

    fn decide(&self, id: &[u8], t: &Held) -> bool {
        let mut sampled = false;
        for p in &self.policies {
            match evaluate(p, t, id) {
                Decision::Dropped => return false,
                Decision::Sampled => {
                    sampled = true;
                    if self.config.sample_on_first_match {
                        break;
                    }
                }
                Decision::NotSampled => {}
            }
        }
        sampled
    }

    fn remember(&self, s: &mut State, id: Vec<u8>, sampled: bool) {
        if s.decided.insert(id.clone(), sampled).is_none() {
            s.decided_order.push_back(id);
        }
        while s.decided_order.len() > self.config.num_traces {
            if let Some(old) = s.decided_order.pop_front() {
                s.decided.remove(&old);
            }
        }
    }

    /// Decides the traces whose wait is over (all of them if `all`), sends the sampled.
    async fn decide_due(&self, all: bool) {
        let wait = self.config.decision_wait.0;
        let mut out = Vec::new();
        let mut dropped = 0usize;
        {
            let mut s = self.state.lock();
            while let Some(id) = s.order.front().cloned() {
                let due = all || s.held.get(&id).is_none_or(|h| h.first.elapsed() >= wait);
                if !due {
                    break;
                }
                s.order.pop_front();
                let Some(t) = s.held.remove(&id) else { continue };
                let sampled = self.decide(&id, &t);
                self.remember(&mut s, id, sampled);
                if sampled {
                    out.extend(t.spans);
                } else {
                    dropped += t.spans.len();
                }
            }
        }
        if dropped > 0 {
            lantern_core::selfmon::pipeline::dropped(&self.id, "traces", "sampled", dropped as u64);
        }
        if !out.is_empty() {
            if let Err(e) = self.next.consume(request(out)).await {
                tracing::warn!(processor = %self.id, error = %e, "sending sampled traces on failed");
            }
        }
    }
}

/// Spans with their resources and scopes as one request.
fn request(spans: Vec<(Arc<Resource>, Arc<InstrumentationScope>, Span)>) -> Payload {
    let mut rs: Vec<ResourceSpans> = Vec::new();
    for (r, sc, span) in spans {
        let i = match rs.iter().position(|x| x.resource.as_ref() == Some(&*r)) {
            Some(i) => i,
            None => {
                rs.push(ResourceSpans { resource: Some((*r).clone()), ..Default::default() });
                rs.len() - 1
            }
        };
        let scopes = &mut rs[i].scope_spans;
        match scopes.iter_mut().find(|x| x.scope.as_ref() == Some(&*sc)) {
            Some(x) => x.spans.push(span),
            None => scopes.push(ScopeSpans { scope: Some((*sc).clone()), spans: vec![span], ..Default::default() }),
        }
    }
    Decoded::Traces(ExportTraceServiceRequest { resource_spans: rs }).encode()
}

impl Consumer for TailSampler {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Decoded::Traces(req) = data
                .decode()
                .map_err(|e| ConsumeError::permanent(format!("processor {}: cannot decode the spans: {e}", self.id)))?
            else {
                return Ok(());
            };
            let mut late = Vec::new();
            let mut early = Vec::new();
            {
                let mut s = self.state.lock();
                for rs in req.resource_spans {
                    let r = Arc::new(rs.resource.unwrap_or_default());
                    for ss in rs.scope_spans {
                        let sc = Arc::new(ss.scope.unwrap_or_default());
                        for span in ss.spans {
                            let id = span.trace_id.clone();
                            if let Some(sampled) = s.decided.get(&id) {
                                if *sampled {
                                    late.push((r.clone(), sc.clone(), span));
                                }
                                continue;
                            }
                            if !s.held.contains_key(&id) {
                                s.order.push_back(id.clone());
                            }
                            s.held
                                .entry(id)
                                .or_insert_with(|| Held { first: Instant::now(), spans: Vec::new() })
                                .spans
                                .push((r.clone(), sc.clone(), span));
                        }
                    }
                }
                // Past `num_traces`, the oldest are decided now.
                while s.held.len() > self.config.num_traces {
                    let Some(id) = s.order.pop_front() else { break };
                    if let Some(t) = s.held.remove(&id) {
                        let sampled = self.decide(&id, &t);
                        self.remember(&mut s, id, sampled);
                        if sampled {
                            early.extend(t.spans);
                        }
                    }
                }
            }
            late.extend(early);
            if !late.is_empty() {
                return self.next.consume(request(late)).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message;

    use super::*;
    use crate::id::Signal;

    #[derive(Default)]
    struct Collect(Mutex<Vec<Span>>);

    impl Consumer for Collect {
        fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                let Ok(Decoded::Traces(r)) = data.decode() else { panic!() };
                let mut got = self.0.lock();
                for rs in r.resource_spans {
                    for ss in rs.scope_spans {
                        got.extend(ss.spans);
                    }
                }
                Ok(())
            })
        }
    }

    fn span(trace: u8, n: u8, code: i32, ms: u64, attrs: Vec<KeyValue>) -> pt::Span {
        pt::Span {
            trace_id: vec![trace; 16],
            span_id: vec![n + 1; 8],
            name: format!("t{trace}s{n}"),
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
            status: Some(pt::Status { code, message: String::new() }),
            attributes: attrs,
            ..Default::default()
        }
    }

    fn payload(spans: Vec<pt::Span>) -> Payload {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                scope_spans: vec![pt::ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        };
        Payload::new(Signal::Traces, req.encode_to_vec().into()).unwrap()
    }

    #[tokio::test]
    async fn whole_traces_are_kept_by_their_errors_latency_and_attributes() {
        let c: Config = serde_yaml::from_str(
            r#"
decision_wait: 100ms
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}
  - {name: vip, type: and, and: {and_sub_policy: [
      {name: a, type: string_attribute, string_attribute: {key: tier, values: [gold]}},
      {name: b, type: numeric_attribute, numeric_attribute: {key: items, min_value: 3}}]}}
  - {name: no-health, type: drop, drop: {drop_sub_policy: [
      {name: h, type: string_attribute, string_attribute: {key: route, values: ['/health.*'], enabled_regex_matching: true}}]}}
"#,
        )
        .unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let sink = Arc::new(Collect::default());
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let ts = TailSampler::start("tail_sampling", &c, sink.clone(), rx, &mut tasks).unwrap();
        let s = |k: &str, v: &str| crate::testing::kv(k, v);
        let i = |k: &str, v: i64| KeyValue {
            key: k.into(),
            value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                value: Some(any_value::Value::IntValue(v)),
            }),
        };
        ts.consume(payload(vec![
            span(1, 0, 0, 10, vec![]),
            span(1, 1, 2, 10, vec![]),                                 // trace 1: an error
            span(2, 0, 0, 10, vec![]),                                 // trace 2: fast, fine
            span(3, 0, 0, 900, vec![]),                                // trace 3: slow
            span(4, 0, 0, 10, vec![s("tier", "gold"), i("items", 5)]), // trace 4: vip
            span(5, 0, 0, 10, vec![s("tier", "gold"), i("items", 1)]), // trace 5: not vip
            span(6, 0, 2, 10, vec![s("route", "/healthz")]),           // trace 6: an error, but health
        ]))
        .await
        .unwrap();
        assert!(sink.0.lock().is_empty(), "held for decision_wait");
        tokio::time::sleep(Duration::from_millis(400)).await;
        // A late span of a sampled trace follows it; one of a dropped trace does not.
        ts.consume(payload(vec![span(1, 2, 0, 10, vec![]), span(2, 1, 0, 10, vec![])])).await.unwrap();
        tx.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let mut names: Vec<String> = sink.0.lock().iter().map(|s| s.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["t1s0", "t1s1", "t1s2", "t3s0", "t4s0"]);
    }
}
