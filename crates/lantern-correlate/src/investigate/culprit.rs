//! Where, in a trace, a failure or a slowdown started. A failing trace's origin is each
//! failed span none of whose descendants failed: a caller that only passes its callee's
//! failure on is not an origin. A slow trace's origin is the span with the most time of
//! its own on the critical path. Candidates are compared across the window and the
//! baseline, so a service that failed as often before the symptom is not blamed. Pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use lantern_traces::critical::critical_path;
use lantern_traces::model::hex;
use lantern_traces::Span;

/// A service and operation.
pub type Op = (String, String);

/// Where one failing trace's failure started: each origin span's service, operation
/// and what it said (status message, or the exception's type).
pub fn error_origins(spans: &[Span]) -> Vec<(Op, String)> {
    let by_id: HashMap<[u8; 8], &Span> = spans.iter().map(|s| (s.span_id, s)).collect();
    // Spans with a failed descendant: walk up from every failed span.
    let mut has_failed_below: HashSet<[u8; 8]> = HashSet::new();
    for s in spans.iter().filter(|s| s.status_code == 2) {
        let mut p = s.parent_span_id;
        let mut guard = 0;
        while let Some(pid) = p {
            if !has_failed_below.insert(pid) || guard > spans.len() {
                break;
            }
            guard += 1;
            p = by_id.get(&pid).and_then(|x| x.parent_span_id);
        }
    }
    let mut out: Vec<(Op, String)> = spans
        .iter()
        .filter(|s| s.status_code == 2 && !has_failed_below.contains(&s.span_id))
        .map(|s| ((s.origin.service.clone(), s.name.clone()), what_failed(s)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a failed span says about its failure: its status message, else the type or
/// message of its exception event.
pub fn what_failed(s: &Span) -> String {
    if !s.status_message.is_empty() {
        return s.status_message.clone();
    }
    for e in &s.events {
        for key in ["exception.type", "exception.message"] {
            if let Some(a) = e.attributes.iter().find(|a| a.key == key) {
                return a.value.text();
            }
        }
    }
    "error".into()
}

/// Where one trace spent its time: the span with the most self time on the critical
/// path, and that time (ns).
pub fn latency_origin(spans: &[Span]) -> Option<(Op, i64)> {
    let cp = critical_path(spans);
    let by_hex: HashMap<String, &Span> = spans.iter().map(|s| (hex(&s.span_id), s)).collect();
    cp.spans
        .iter()
        .filter_map(|t| by_hex.get(&t.span_id).map(|s| (s, t.critical_ns.min(t.self_ns).max(0))))
        .max_by(|a, b| {
            a.1.cmp(&b.1).then_with(|| (&b.0.origin.service, &b.0.name).cmp(&(&a.0.origin.service, &a.0.name)))
        })
        .map(|(s, ns)| ((s.origin.service.clone(), s.name.clone()), ns))
}

/// A candidate and how it stands out.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// Service and operation.
    pub op: Op,
    /// Share of the window's failing (or slow) traces it is the origin of.
    pub share: f64,
    /// The same share in the baseline.
    pub baseline_share: f64,
    /// Traces in the window it is the origin of.
    pub traces: usize,
    /// What its failures said, most frequent first.
    pub failures: Vec<(String, usize)>,
    /// Its share lift, in [0, 1]: how sure the blame is.
    pub confidence: f64,
}

/// Ranks origins: by how much more often each is the origin of a failing trace in the
/// window than in the baseline. `window` and `baseline` hold each trace's origins.
pub fn rank(window: &[Vec<(Op, String)>], baseline: &[Vec<(Op, String)>]) -> Vec<Suspect> {
    let tally = |traces: &[Vec<(Op, String)>]| {
        let mut m: BTreeMap<Op, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
        for t in traces {
            let mut seen = HashSet::new();
            for (op, what) in t {
                let e = m.entry(op.clone()).or_default();
                if seen.insert(op.clone()) {
                    e.0 += 1;
                }
                *e.1.entry(what.clone()).or_default() += 1;
            }
        }
        m
    };
    let (w, b) = (tally(window), tally(baseline));
    let (nw, nb) = (window.len().max(1) as f64, baseline.len().max(1) as f64);
    let mut out: Vec<Suspect> = w
        .into_iter()
        .map(|(op, (n, whats))| {
            let share = n as f64 / nw;
            let baseline_share = if baseline.is_empty() { 0.0 } else { b.get(&op).map_or(0.0, |x| x.0 as f64 / nb) };
            let mut failures: Vec<(String, usize)> = whats.into_iter().collect();
            failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Suspect {
                op,
                share,
                baseline_share,
                traces: n,
                failures,
                confidence: (share - baseline_share).clamp(0.0, 1.0),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.confidence.total_cmp(&a.confidence).then_with(|| b.traces.cmp(&a.traces)).then_with(|| a.op.cmp(&b.op))
    });
    out
}

/// Mean self time on the critical path per operation, over traces.
pub fn self_times(traces: &[Vec<Span>]) -> BTreeMap<Op, f64> {
    let mut sum: BTreeMap<Op, (i64, usize)> = BTreeMap::new();
    for spans in traces {
        let cp = critical_path(spans);
        let by_hex: HashMap<String, &Span> = spans.iter().map(|s| (hex(&s.span_id), s)).collect();
        for t in &cp.spans {
            if let Some(s) = by_hex.get(&t.span_id) {
                let e = sum.entry((s.origin.service.clone(), s.name.clone())).or_default();
                e.0 += t.critical_ns.min(t.self_ns).max(0);
                e.1 += 1;
            }
        }
    }
    sum.into_iter().map(|(op, (ns, n))| (op, ns as f64 / n.max(1) as f64)).collect()
}

/// For a latency symptom: the operation whose critical-path self time grew the most
/// between the baseline's traces and the window's, with its mean self time before and
/// after (ns), and the share of the window's growth it accounts for.
pub fn slowest_growth(window: &[Vec<Span>], baseline: &[Vec<Span>]) -> Option<(Op, f64, f64, f64)> {
    let (w, b) = (self_times(window), self_times(baseline));
    let growth: Vec<(Op, f64, f64, f64)> = w
        .iter()
        .map(|(op, after)| {
            let before = b.get(op).copied().unwrap_or(0.0);
            (op.clone(), before, *after, after - before)
        })
        .collect();
    let total: f64 = growth.iter().map(|g| g.3.max(0.0)).sum();
    growth
        .into_iter()
        .filter(|g| g.3 > 0.0)
        .max_by(|a, b| a.3.total_cmp(&b.3).then_with(|| b.0.cmp(&a.0)))
        .map(|(op, before, after, d)| (op, before, after, if total > 0.0 { d / total } else { 0.0 }))
}

/// The p95 of some durations (ns), `None` when there are none.
pub fn p95(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::span;

    const T: i64 = 1_770_836_400_000;

    fn failing_chain(trace: u8, leaf_fails: bool) -> Vec<Span> {
        let t = [trace; 16];
        vec![
            span(t, 1, None, ("gateway", "GET /"), (T, 300), true, &[]),
            span(t, 2, Some(1), ("orders", "POST /orders"), (T + 1, 290), true, &[]),
            span(t, 3, Some(2), ("payment", "charge"), (T + 2, 280), leaf_fails, &[]),
            span(t, 4, Some(2), ("inventory", "reserve"), (T + 2, 10), false, &[]),
        ]
    }

    #[test]
    fn the_origin_is_the_deepest_failure_not_the_callers_passing_it_on() {
        assert_eq!(error_origins(&failing_chain(1, true)), [(("payment".into(), "charge".into()), "timeout".into())]);
        // When the callee says nothing, its caller is where the failure shows first.
        assert_eq!(
            error_origins(&failing_chain(2, false)),
            [(("orders".into(), "POST /orders".into()), "timeout".into())]
        );
    }

    #[test]
    fn a_service_failing_as_often_before_is_not_the_suspect() {
        let pay = || vec![(("payment".to_string(), "charge".to_string()), "timeout".to_string())];
        let noisy = || vec![(("search".to_string(), "query".to_string()), "boom".to_string())];
        // Before: only the noisy service fails. In the window: payment fails often and
        // the noisy service as before.
        let baseline: Vec<_> = (0..10).map(|_| noisy()).collect();
        let mut window: Vec<_> = (0..30).map(|_| pay()).collect();
        window.extend((0..10).map(|_| noisy()));
        let r = rank(&window, &baseline);
        assert_eq!(r[0].op, ("payment".to_string(), "charge".to_string()));
        assert!((r[0].confidence - 0.75).abs() < 1e-9);
        assert_eq!(r[0].failures, [("timeout".to_string(), 30)]);
        assert_eq!(r[1].confidence, 0.0, "{r:?}");
    }

    #[test]
    fn a_slowdown_is_blamed_on_the_span_whose_own_time_grew() {
        let trace = |id: u8, pay_ms: i64| {
            let t = [id; 16];
            vec![
                span(t, 1, None, ("gateway", "GET /"), (T, pay_ms + 20), false, &[]),
                span(t, 2, Some(1), ("orders", "POST /orders"), (T + 5, pay_ms + 10), false, &[]),
                span(t, 3, Some(2), ("payment", "charge"), (T + 10, pay_ms), false, &[]),
            ]
        };
        let before: Vec<_> = (0..5).map(|i| trace(i, 40)).collect();
        let after: Vec<_> = (10..15).map(|i| trace(i, 2500)).collect();
        let (op, b, a, share) = slowest_growth(&after, &before).unwrap();
        assert_eq!(op, ("payment".to_string(), "charge".to_string()));
        assert!(b < 50e6 && a > 2400e6 && share > 0.99, "{b} {a} {share}");
        assert_eq!(latency_origin(&after[0]).unwrap().0, ("payment".to_string(), "charge".to_string()));
        assert_eq!(p95((1..=100).collect()), Some(95));
    }
}
