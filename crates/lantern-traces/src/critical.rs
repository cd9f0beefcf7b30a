//! The critical path of a trace: the chain of span sections that determines its
//! end-to-end latency, and each span's self time (its duration not covered by any of
//! its children).
//!
//! The walk starts at the root's end and goes backwards in time: within a span, the
//! child that finished last (before the point reached) is what the span was waiting
//! for; the time between that child's end and the point reached is the span's own
//! work on the path; the walk then descends into that child. When no child is left,
//! the span's remaining time back to its start is on the path and the walk resumes in
//! the parent at the span's start. Children are first clipped to their parent's
//! interval (clock skew between hosts must not stretch the path).

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{hex, Span};

/// One section of the critical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// The span, in hex.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Section start (ns since the epoch).
    pub start_ns: i64,
    /// Section end (ns since the epoch).
    pub end_ns: i64,
}

/// A span's share of the trace's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTime {
    /// The span, in hex.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Its duration not covered by its children (ns).
    pub self_ns: i64,
    /// Its time on the critical path (ns).
    pub critical_ns: i64,
}

/// The critical path (newest section first) and every span's self time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CriticalPath {
    /// Sections, from the end of the trace backwards.
    pub sections: Vec<Section>,
    /// Per span, in the trace's span order.
    pub spans: Vec<SelfTime>,
}

struct Node {
    start: i64,
    end: i64,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// Computes the critical path of the spans of one trace.
pub fn critical_path(spans: &[Span]) -> CriticalPath {
    if spans.is_empty() {
        return CriticalPath::default();
    }
    let index: HashMap<[u8; 8], usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id, i)).collect();
    let mut nodes: Vec<Node> = spans
        .iter()
        .map(|s| Node { start: s.start_ns, end: s.end_ns.max(s.start_ns), parent: None, children: Vec::new() })
        .collect();
    for (i, s) in spans.iter().enumerate() {
        if let Some(p) = s.parent_span_id.and_then(|p| index.get(&p).copied()) {
            if p != i {
                nodes[i].parent = Some(p);
                nodes[p].children.push(i);
            }
        }
    }
    // Break any cycle (bad data): a node whose ancestry loops becomes a root.
    for i in 0..nodes.len() {
        let (mut cur, mut steps) = (nodes[i].parent, 0);
        while let Some(p) = cur {
            steps += 1;
            if p == i || steps > nodes.len() {
                if let Some(pp) = nodes[i].parent.take() {
                    nodes[pp].children.retain(|&c| c != i);
                }
                break;
            }
            cur = nodes[p].parent;
        }
    }
    // Clip children to their parents, top-down.
    let roots: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].parent.is_none()).collect();
    let mut stack = roots.clone();
    while let Some(i) = stack.pop() {
        let (s, e) = (nodes[i].start, nodes[i].end);
        for c in nodes[i].children.clone() {
            nodes[c].start = nodes[c].start.clamp(s, e);
            nodes[c].end = nodes[c].end.clamp(nodes[c].start, e);
            stack.push(c);
        }
    }
    // Self time: duration minus the union of the children's intervals.
    let self_ns: Vec<i64> = (0..nodes.len())
        .map(|i| {
            let mut iv: Vec<(i64, i64)> = nodes[i].children.iter().map(|&c| (nodes[c].start, nodes[c].end)).collect();
            iv.sort_unstable();
            let (mut covered, mut cur): (i64, Option<(i64, i64)>) = (0, None);
            for (a, b) in iv {
                match cur {
                    Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
                    Some((ca, cb)) => {
                        covered += cb - ca;
                        cur = Some((a, b));
                    }
                    None => cur = Some((a, b)),
                }
            }
            if let Some((ca, cb)) = cur {
                covered += cb - ca;
            }
            (nodes[i].end - nodes[i].start - covered).max(0)
        })
        .collect();
    // The trace's root: the root that ends last (a trace with missing parents has several).
    let root = roots.iter().copied().max_by_key(|&r| (nodes[r].end, std::cmp::Reverse(nodes[r].start))).unwrap_or(0);
    let mut sections = Vec::new();
    let mut critical = vec![0i64; nodes.len()];
    let (mut cur, mut point) = (root, nodes[root].end);
    loop {
        // The child of `cur` that ended last, at or before `point`.
        let child = nodes[cur]
            .children
            .iter()
            .copied()
            .filter(|&c| nodes[c].end <= point && nodes[c].start < point)
            .max_by_key(|&c| (nodes[c].end, nodes[c].start));
        match child {
            Some(c) => {
                if point > nodes[c].end {
                    sections.push((cur, nodes[c].end, point));
                }
                point = nodes[c].end;
                cur = c;
            }
            None => {
                if point > nodes[cur].start {
                    sections.push((cur, nodes[cur].start, point));
                }
                point = nodes[cur].start;
                match nodes[cur].parent {
                    Some(p) => cur = p,
                    None => break,
                }
            }
        }
        if sections.len() > 4 * nodes.len() + 4 {
            break;
        }
    }
    for &(i, a, b) in &sections {
        critical[i] += b - a;
    }
    CriticalPath {
        sections: sections
            .iter()
            .map(|&(i, a, b)| Section { span_id: hex(&spans[i].span_id), start_ns: a, end_ns: b })
            .collect(),
        spans: (0..nodes.len())
            .map(|i| SelfTime { span_id: hex(&spans[i].span_id), self_ns: self_ns[i], critical_ns: critical[i] })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn span(id: u8, parent: Option<u8>, start: i64, end: i64) -> Span {
        Span {
            trace_id: [1; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            trace_state: String::new(),
            flags: 0,
            name: format!("s{id}"),
            kind: 1,
            start_ns: start,
            end_ns: end,
            status_code: 0,
            status_message: String::new(),
            attributes: vec![],
            dropped_attributes: 0,
            events: vec![],
            dropped_events: 0,
            links: vec![],
            dropped_links: 0,
            origin: Arc::default(),
        }
    }

    #[test]
    fn the_path_follows_what_each_span_waited_for() {
        // root 0..100; a 10..40 and b 20..90 in parallel; c 50..80 inside b; a's
        // child d 15..35.
        let spans = vec![
            span(1, None, 0, 100),
            span(2, Some(1), 10, 40),
            span(3, Some(1), 20, 90),
            span(4, Some(3), 50, 80),
            span(5, Some(2), 15, 35),
        ];
        let cp = critical_path(&spans);
        let got: Vec<(String, i64, i64)> =
            cp.sections.iter().map(|s| (s.span_id[..2].to_string(), s.start_ns, s.end_ns)).collect();
        // root 90..100, b 80..90, c 50..80, b 20..50, then root 0..20: a ended at 40,
        // after the point the walk reached, so the root was not waiting for it.
        assert_eq!(
            got,
            vec![
                ("01".into(), 90, 100),
                ("03".into(), 80, 90),
                ("04".into(), 50, 80),
                ("03".into(), 20, 50),
                ("01".into(), 0, 20)
            ]
        );
        let st: Vec<(i64, i64)> = cp.spans.iter().map(|s| (s.self_ns, s.critical_ns)).collect();
        // root: 100 - union(10..90) = 20; a: 30 - 20 = 10; b: 70 - 30 = 40; c: 30; d: 20.
        assert_eq!(st, vec![(20, 30), (10, 0), (40, 40), (30, 30), (20, 0)]);
        let total: i64 = cp.sections.iter().map(|s| s.end_ns - s.start_ns).sum();
        assert_eq!(total, 100, "the path covers the root's duration exactly");
    }

    #[test]
    fn skewed_children_are_clipped_and_orphans_tolerated() {
        let spans = vec![span(1, None, 0, 10), span(2, Some(1), 5, 30), span(3, Some(9), 100, 200)];
        let cp = critical_path(&spans);
        // The orphan (parent 9 unknown) ends last: it is the path.
        assert_eq!(cp.sections, vec![Section { span_id: "0303030303030303".into(), start_ns: 100, end_ns: 200 }]);
        assert_eq!(cp.spans[1].self_ns, 5, "child 5..30 clipped to 5..10");
        assert_eq!(critical_path(&[]), CriticalPath::default());
    }
}
