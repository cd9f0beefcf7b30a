//! Metrics made from spans, written into the metrics store so PromQL, alerts and SLOs
//! can use them. Names and labels are those of Tempo's metrics generator, which
//! Grafana's trace views read:
//!
//! - RED metrics per service, span name, kind and status:
//!   `traces_spanmetrics_calls_total` and the histogram `traces_spanmetrics_latency`
//!   (seconds), each bucket carrying the newest span in it as a `trace_id` exemplar;
//! - the service graph, from client (or producer) spans paired with the server (or
//!   consumer) spans they called: `traces_service_graph_request_total`,
//!   `traces_service_graph_request_failed_total` and the histograms
//!   `traces_service_graph_request_server_seconds` and `…_client_seconds`, labelled
//!   `client` and `server`.
//!
//! Counters are cumulative from process start and written every flush (the caller's
//! period), stamped with the flush time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lantern_core::{Exemplar, Labels, Sample};
use parking_lot::Mutex;

use crate::model::{hex, Span};

/// Histogram bounds (seconds), Tempo's defaults.
pub const BUCKETS: [f64; 12] = [0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096];

/// How long a client or server span waits for its other half.
const PAIR_WAIT: Duration = Duration::from_secs(10);
/// Most unpaired spans kept.
const MAX_PENDING: usize = 100_000;
/// Most distinct series of each kind (beyond, new ones are not counted).
const MAX_SERIES: usize = 50_000;

/// An observation kept as an exemplar: trace, span, value, time (ms).
type Observed = ([u8; 16], [u8; 8], f64, i64);

#[derive(Debug, Clone, Default)]
struct Hist {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len() + 1],
    /// Newest observation per bucket since the last flush: trace, span, value, time (ms).
    exemplars: [Option<Observed>; BUCKETS.len() + 1],
}

impl Hist {
    fn observe(&mut self, h: &Half) {
        self.count += 1;
        self.sum += h.seconds;
        let i = BUCKETS.iter().position(|b| h.seconds <= *b).unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
        self.exemplars[i] = Some((h.trace_id, h.span_id, h.seconds, h.end_ms));
    }
}

#[derive(Debug, Clone, Default)]
struct Edge {
    total: u64,
    failed: u64,
    server: Hist,
    client: Hist,
}

/// What the metrics need of a span.
#[derive(Debug, Clone)]
struct Half {
    service: Arc<crate::model::Origin>,
    failed: bool,
    seconds: f64,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    end_ms: i64,
}

impl Half {
    fn of(s: &Span) -> Self {
        Half {
            service: s.origin.clone(),
            failed: s.status_code == 2,
            seconds: seconds(s),
            trace_id: s.trace_id,
            span_id: s.span_id,
            end_ms: s.end_ns / 1_000_000,
        }
    }
}

/// Service, span name, kind, status.
type CallKey = (String, String, i32, i32);

#[derive(Default)]
struct State {
    /// Calls by a hash of their key; the key is kept to tell collisions apart.
    calls: HashMap<u64, Vec<(CallKey, Hist)>>,
    n_calls: usize,
    /// When unpaired halves were last swept.
    swept: Option<Instant>,
    edges: HashMap<(String, String), Edge>,
    /// Client spans by (trace, own span ID), waiting for their server.
    clients: HashMap<([u8; 16], [u8; 8]), (Half, Instant)>,
    /// Server spans by (trace, parent span ID), waiting for their client.
    servers: HashMap<([u8; 16], [u8; 8]), (Half, Instant)>,
}

/// The generator: fed spans as they are stored, flushed into a metrics batch.
#[derive(Default)]
pub struct SpanMetrics {
    state: Mutex<State>,
}

fn kind_name(k: i32) -> &'static str {
    [
        "SPAN_KIND_UNSPECIFIED",
        "SPAN_KIND_INTERNAL",
        "SPAN_KIND_SERVER",
        "SPAN_KIND_CLIENT",
        "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ][k.clamp(0, 5) as usize]
}

fn status_name(c: i32) -> &'static str {
    ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"][c.clamp(0, 2) as usize]
}

fn seconds(s: &Span) -> f64 {
    s.duration_ns() as f64 / 1e9
}

impl SpanMetrics {
    /// Counts spans.
    pub fn observe(&self, spans: &[Span]) {
        let mut st = self.state.lock();
        let now = Instant::now();
        for s in spans {
            let half = Half::of(s);
            let h = {
                use std::hash::BuildHasher;
                foldhash::fast::FixedState::with_seed(7).hash_one((&s.origin.service, &s.name, s.kind, s.status_code))
            };
            let full = st.n_calls >= MAX_SERIES;
            let list = st.calls.entry(h).or_default();
            let same = |k: &CallKey| k.0 == s.origin.service && k.1 == s.name && k.2 == s.kind && k.3 == s.status_code;
            match list.iter_mut().find(|(k, _)| same(k)) {
                Some((_, hist)) => hist.observe(&half),
                None if !full => {
                    let mut hist = Hist::default();
                    hist.observe(&half);
                    list.push(((s.origin.service.clone(), s.name.clone(), s.kind, s.status_code), hist));
                    st.n_calls += 1;
                }
                None => {}
            }
            match s.kind {
                3 | 4 => {
                    let k = (s.trace_id, s.span_id);
                    match st.servers.remove(&k) {
                        Some((server, _)) => pair(&mut st, &half, &server),
                        None if st.clients.len() < MAX_PENDING => {
                            st.clients.insert(k, (half, now));
                        }
                        None => {}
                    }
                }
                2 | 5 => {
                    let Some(parent) = s.parent_span_id else { continue };
                    let k = (s.trace_id, parent);
                    match st.clients.remove(&k) {
                        Some((client, _)) => pair(&mut st, &client, &half),
                        None if st.servers.len() < MAX_PENDING => {
                            st.servers.insert(k, (half, now));
                        }
                        None => {}
                    }
                }
                _ => {}
            }
        }
        // Halves whose other half never came are dropped, looked for once a second.
        if st.swept.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            st.clients.retain(|_, (_, seen)| now.duration_since(*seen) < PAIR_WAIT);
            st.servers.retain(|_, (_, seen)| now.duration_since(*seen) < PAIR_WAIT);
            st.swept = Some(now);
        }
    }

    /// Every series's current value at `t_ms`, with the exemplars gathered since the
    /// last flush.
    pub fn flush(&self, t_ms: i64) -> Vec<(Labels, Sample, Vec<Exemplar>)> {
        let mut st = self.state.lock();
        let mut out = Vec::new();
        for ((service, name, kind, status), h) in st.calls.values_mut().flat_map(|l| l.iter_mut()) {
            let base = [
                ("service", service.as_str()),
                ("span_name", name),
                ("span_kind", kind_name(*kind)),
                ("status_code", status_name(*status)),
            ];
            let labels = |metric: &str, extra: Option<(&str, &str)>| {
                Labels::from_pairs(base.iter().copied().chain([("__name__", metric)]).chain(extra))
            };
            out.push((labels("traces_spanmetrics_calls_total", None), Sample::new(t_ms, h.count as f64), Vec::new()));
            histogram(&mut out, h, "traces_spanmetrics_latency", &labels, t_ms);
        }
        for ((client, server), e) in st.edges.iter_mut() {
            let base = [("client", client.as_str()), ("server", server.as_str())];
            let labels = |metric: &str, extra: Option<(&str, &str)>| {
                Labels::from_pairs(base.iter().copied().chain([("__name__", metric)]).chain(extra))
            };
            out.push((labels("traces_service_graph_request_total", None), Sample::new(t_ms, e.total as f64), vec![]));
            out.push((
                labels("traces_service_graph_request_failed_total", None),
                Sample::new(t_ms, e.failed as f64),
                vec![],
            ));
            histogram(&mut out, &mut e.server, "traces_service_graph_request_server_seconds", &labels, t_ms);
            histogram(&mut out, &mut e.client, "traces_service_graph_request_client_seconds", &labels, t_ms);
        }
        out
    }
}

fn pair(st: &mut State, client: &Half, server: &Half) {
    let key = (client.service.service.clone(), server.service.service.clone());
    if st.edges.len() >= MAX_SERIES && !st.edges.contains_key(&key) {
        return;
    }
    let e = st.edges.entry(key).or_default();
    e.total += 1;
    if client.failed || server.failed {
        e.failed += 1;
    }
    e.server.observe(server);
    e.client.observe(client);
}

/// Makes a series' labels from its metric name and an extra label.
type LabelsFn<'a> = dyn Fn(&str, Option<(&str, &str)>) -> Labels + 'a;

fn histogram(
    out: &mut Vec<(Labels, Sample, Vec<Exemplar>)>,
    h: &mut Hist,
    name: &str,
    labels: &LabelsFn<'_>,
    t_ms: i64,
) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    for (i, c) in h.buckets.iter().enumerate() {
        cumulative += c;
        let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
        let ex = h.exemplars[i]
            .take()
            .map(|(trace, span, v, t)| Exemplar {
                labels: Labels::from_pairs([("trace_id", hex(&trace)), ("span_id", hex(&span))]),
                value: v,
                t,
            })
            .into_iter()
            .collect();
        out.push((labels(&bucket, Some(("le", &le))), Sample::new(t_ms, cumulative as f64), ex));
    }
    out.push((labels(&format!("{name}_sum"), None), Sample::new(t_ms, h.sum), vec![]));
    out.push((labels(&format!("{name}_count"), None), Sample::new(t_ms, h.count as f64), vec![]));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Origin;

    fn span(service: &str, id: u8, parent: Option<u8>, kind: i32, ms: i64, status: i32) -> Span {
        Span {
            trace_id: [9; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            trace_state: String::new(),
            flags: 0,
            name: format!("op{id}"),
            kind,
            start_ns: 1_000_000_000,
            end_ns: 1_000_000_000 + ms * 1_000_000,
            status_code: status,
            status_message: String::new(),
            attributes: vec![],
            dropped_attributes: 0,
            events: vec![],
            dropped_events: 0,
            links: vec![],
            dropped_links: 0,
            origin: Arc::new(Origin { service: service.into(), ..Origin::default() }),
        }
    }

    fn value(rows: &[(Labels, Sample, Vec<Exemplar>)], want: &[(&str, &str)]) -> Option<f64> {
        rows.iter()
            .find(|(l, _, _)| want.iter().all(|(n, v)| l.get(n) == Some(v)) && l.len() == want.len())
            .map(|r| r.1.v)
    }

    #[test]
    fn red_metrics_and_service_graph_edges_with_exemplars() {
        let m = SpanMetrics::default();
        // The server half arrives first; the client pairs with it later.
        m.observe(&[span("payment", 2, Some(1), 2, 30, 2)]);
        m.observe(&[span("checkout", 1, None, 3, 50, 0), span("checkout", 3, None, 1, 1, 0)]);
        let rows = m.flush(5_000);
        let calls = |svc: &str, op: &str, kind: &str, status: &str| {
            value(
                &rows,
                &[
                    ("__name__", "traces_spanmetrics_calls_total"),
                    ("service", svc),
                    ("span_name", op),
                    ("span_kind", kind),
                    ("status_code", status),
                ],
            )
        };
        assert_eq!(calls("payment", "op2", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"), Some(1.0));
        assert_eq!(calls("checkout", "op1", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), Some(1.0));
        let edge = [("client", "checkout"), ("server", "payment")];
        let with = |name: &str| {
            let mut v = vec![("__name__", name)];
            v.extend(edge);
            value(&rows, &v)
        };
        assert_eq!(with("traces_service_graph_request_total"), Some(1.0));
        assert_eq!(with("traces_service_graph_request_failed_total"), Some(1.0));
        assert_eq!(with("traces_service_graph_request_server_seconds_count"), Some(1.0));
        // 30 ms falls in the 0.032 bucket, whose exemplar names the trace.
        let b = rows
            .iter()
            .find(|(l, _, _)| {
                l.get("__name__") == Some("traces_spanmetrics_latency_bucket")
                    && l.get("service") == Some("payment")
                    && l.get("le") == Some("0.032")
            })
            .unwrap();
        assert_eq!(b.1.v, 1.0);
        assert_eq!(b.2[0].labels.get("trace_id"), Some("09090909090909090909090909090909"));
        assert!((b.2[0].value - 0.03).abs() < 1e-9);
        // Exemplars are handed over once; counts stay cumulative.
        let again = m.flush(6_000);
        assert!(again.iter().all(|r| r.2.is_empty()));
        assert_eq!(
            value(
                &again,
                &[("__name__", "traces_service_graph_request_total"), ("client", "checkout"), ("server", "payment")]
            ),
            Some(1.0)
        );
    }
}
