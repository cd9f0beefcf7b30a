//! The span store and its queries: trace by ID (no time range needed: every segment's
//! filter knows its trace IDs, and row groups are skipped by trace-ID range), search by
//! service, operation, attributes, status and duration, services and operations.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use lantern_events::{EventStore, Options, Scan};
use lantern_objstore::Store;
use parking_lot::Mutex;

use crate::model::Span;
use crate::table::{attr_key, operation_key, prefilter, service_key, trace_key, Spans};

/// A trace search, as Jaeger's `/api/traces` and the UI ask it.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Service name (required by Jaeger; optional here).
    pub service: Option<String>,
    /// Span name.
    pub operation: Option<String>,
    /// Attributes every matching span has (span or resource attributes, by text).
    pub tags: Vec<(String, String)>,
    /// Shortest span duration (ns).
    pub min_duration_ns: Option<i64>,
    /// Longest span duration (ns).
    pub max_duration_ns: Option<i64>,
    /// Only spans with this status code (0 unset, 1 ok, 2 error).
    pub status_code: Option<i32>,
    /// Oldest span start (ns).
    pub start_ns: i64,
    /// Newest span start (ns).
    pub end_ns: i64,
    /// Most traces returned.
    pub limit: usize,
}

/// One service's operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    /// Span name.
    pub name: String,
    /// Span kind, as OTLP numbers it.
    pub kind: i32,
}

/// Service, span name, kind.
type OpKey = (String, String, i32);

/// The span store.
pub struct TraceStore {
    events: EventStore<Spans>,
    /// Operations of spans not yet sealed (sealed ones are in segment summaries), with
    /// the oldest and newest start seen.
    recent_ops: Mutex<HashMap<OpKey, (i64, i64)>>,
}

fn matches(s: &Span, q: &Search) -> bool {
    if q.service.as_deref().is_some_and(|v| v != s.origin.service) {
        return false;
    }
    if q.operation.as_deref().is_some_and(|v| v != s.name) {
        return false;
    }
    let d = s.duration_ns();
    if q.min_duration_ns.is_some_and(|m| d < m) || q.max_duration_ns.is_some_and(|m| d > m) {
        return false;
    }
    if q.status_code.is_some_and(|c| c != s.status_code) {
        return false;
    }
    q.tags.iter().all(|(k, v)| {
        let special = match k.as_str() {
            "error" => Some((s.status_code == 2).to_string()),
            "otel.status_code" => Some(["UNSET", "OK", "ERROR"][s.status_code.clamp(0, 2) as usize].to_string()),
            "span.kind" => Some(crate::model::KINDS[s.kind.clamp(0, 5) as usize].to_string()),
            _ => None,
        };
        if let Some(t) = special {
            return &t == v;
        }
        s.attributes.iter().chain(&s.origin.resource).any(|a| &a.key == k && &a.value.text() == v)
    })
}

impl TraceStore {
    /// Opens the store (log in `log_dir`, segments under `spans/` of `store`).
    pub async fn open(log_dir: &Path, store: Store, opts: Options) -> lantern_events::Result<Self> {
        let events = EventStore::open(log_dir, store, opts).await?;
        let me = Self { events, recent_ops: Mutex::default() };
        me.note_operations(&me.events.head_rows(i64::MIN, i64::MAX));
        Ok(me)
    }

    fn note_operations(&self, spans: &[Span]) {
        let mut ops = self.recent_ops.lock();
        for s in spans {
            let e = ops.entry((s.origin.service.clone(), s.name.clone(), s.kind)).or_insert((s.start_ns, s.start_ns));
            e.0 = e.0.min(s.start_ns);
            e.1 = e.1.max(s.start_ns);
        }
    }

    /// Stores spans; returns once they are durable. `payload` is the log record they
    /// come from (an OTLP request, see [`crate::table::otlp_payload`]); without one, the
    /// spans themselves are logged.
    pub fn append(&self, spans: Vec<Span>, payload: Option<&[&[u8]]>) -> lantern_events::Result<()> {
        self.note_operations(&spans);
        match payload {
            Some(p) => self.events.append_payload(spans, p),
            None => self.events.append(spans),
        }
    }

    /// The event store underneath (maintenance, stats; append through [`TraceStore::append`]).
    pub fn events(&self) -> &EventStore<Spans> {
        &self.events
    }

    /// Every span of a trace, ordered by start time; empty if unknown.
    pub async fn trace(&self, id: &[u8; 16]) -> lantern_events::Result<Vec<Span>> {
        Ok(self.traces(&[*id]).await?.remove(id).unwrap_or_default())
    }

    /// Every span of each of `ids`, ordered by start time (unknown traces are absent),
    /// in one pass over the row groups that may hold any of them.
    pub async fn traces(&self, ids: &[[u8; 16]]) -> lantern_events::Result<HashMap<[u8; 16], Vec<Span>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: HashSet<[u8; 16]> = ids.iter().copied().collect();
        let scan = Scan {
            any_keys: ids.iter().map(trace_key).collect(),
            filter: Some(prefilter::traces(wanted.clone())),
            ..Scan::all()
        };
        let mut out: HashMap<[u8; 16], Vec<Span>> = HashMap::new();
        let mut seen = HashSet::new();
        self.events
            .scan(&scan, |s| {
                // A span sent twice (a client retry) is shown once.
                if wanted.contains(&s.trace_id) && seen.insert((s.trace_id, s.span_id)) {
                    out.entry(s.trace_id).or_default().push(s.clone());
                }
                ControlFlow::Continue(())
            })
            .await?;
        for spans in out.values_mut() {
            spans.sort_by_key(|s| (s.start_ns, s.span_id));
        }
        Ok(out)
    }

    /// IDs of the newest traces with a span matching `q` (at most `q.limit`), newest first.
    pub async fn search_ids(&self, q: &Search) -> lantern_events::Result<Vec<[u8; 16]>> {
        let mut keys = Vec::new();
        if let Some(s) = &q.service {
            keys.push(service_key(s));
            if let Some(o) = &q.operation {
                keys.push(operation_key(s, o));
            }
        }
        for (k, v) in &q.tags {
            if !matches!(k.as_str(), "error" | "otel.status_code" | "span.kind") {
                keys.push(attr_key(k, v));
            }
        }
        let tags: Vec<(String, String)> = q
            .tags
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "error" | "otel.status_code" | "span.kind"))
            .cloned()
            .collect();
        let filter =
            prefilter::search(q.service.clone(), q.operation.clone(), &tags, q.min_duration_ns, q.max_duration_ns);
        // Segments come newest first: once `limit` traces are found, a segment whose
        // newest span is older than all of them cannot change the answer.
        let floor = Arc::new(AtomicI64::new(i64::MIN));
        let scan = Scan {
            min_t: q.start_ns,
            max_t: q.end_ns,
            keys,
            filter: Some(filter),
            floor: Some(floor.clone()),
            ..Scan::all()
        };
        // The newest start per trace, to order the answer.
        let mut found: BTreeMap<[u8; 16], i64> = BTreeMap::new();
        let limit = q.limit.max(1);
        self.events
            .scan(&scan, |s| {
                if matches(s, q) {
                    let new = !found.contains_key(&s.trace_id);
                    let e = found.entry(s.trace_id).or_insert(s.start_ns);
                    *e = (*e).max(s.start_ns);
                    if new && found.len() >= limit {
                        let mut starts: Vec<i64> = found.values().copied().collect();
                        starts.sort_unstable_by(|a, b| b.cmp(a));
                        floor.store(starts[limit - 1], Ordering::Relaxed);
                    }
                }
                ControlFlow::Continue(())
            })
            .await?;
        let mut v: Vec<([u8; 16], i64)> = found.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(v.into_iter().take(limit).map(|(id, _)| id).collect())
    }

    /// The newest traces with a span matching `q`, each whole.
    pub async fn search(&self, q: &Search) -> lantern_events::Result<Vec<Vec<Span>>> {
        let ids = self.search_ids(q).await?;
        let mut all = self.traces(&ids).await?;
        Ok(ids.iter().filter_map(|id| all.remove(id)).collect())
    }

    /// Every service with spans between `start_ns` and `end_ns`, sorted.
    pub fn services(&self, start_ns: i64, end_ns: i64) -> Vec<String> {
        self.operations_all(start_ns, end_ns).into_keys().collect()
    }

    /// The operations of every service.
    pub fn operations_all(&self, start_ns: i64, end_ns: i64) -> BTreeMap<String, BTreeSet<Operation>> {
        let mut out: BTreeMap<String, BTreeSet<Operation>> = BTreeMap::new();
        for summary in self.events.summaries(start_ns, end_ns) {
            let Some(ops) = summary.get("operations").and_then(|v| v.as_array()) else { continue };
            for op in ops {
                if let (Some(svc), Some(name), Some(kind)) = (
                    op.get(0).and_then(|v| v.as_str()),
                    op.get(1).and_then(|v| v.as_str()),
                    op.get(2).and_then(|v| v.as_i64()),
                ) {
                    out.entry(svc.to_string())
                        .or_default()
                        .insert(Operation { name: name.to_string(), kind: kind as i32 });
                }
            }
        }
        for ((svc, name, kind), (lo, hi)) in self.recent_ops.lock().iter() {
            if *hi >= start_ns && *lo <= end_ns {
                out.entry(svc.clone()).or_default().insert(Operation { name: name.clone(), kind: *kind });
            }
        }
        out
    }

    /// The operations of one service.
    pub fn operations(&self, service: &str, start_ns: i64, end_ns: i64) -> Vec<Operation> {
        self.operations_all(start_ns, end_ns).remove(service).map(|s| s.into_iter().collect()).unwrap_or_default()
    }
}
