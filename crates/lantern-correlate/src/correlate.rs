//! Everything one identifier touches, across the signals (see the crate's docs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lantern_core::{Exemplar, Labels, MatchOp, Matcher};
use lantern_logs::{LogRow, LogStore, Order};
use lantern_traces::model::{hex, parse_trace_id, Span};
use lantern_traces::TraceStore;
use lantern_tsdb::Tsdb;
use serde_json::{json, Value};

use crate::spans::trace_json;
use crate::{Error, Result};

/// At most this many traces are returned.
pub const MAX_TRACES: usize = 20;
/// At most this many log lines are returned.
pub const MAX_LOGS: usize = 1000;
/// How far around the records found exemplars and alerts are looked for (ms).
const AROUND_MS: i64 = 5 * 60_000;

/// Keys always searched besides the configured ones.
pub const ALWAYS: [&str; 2] = ["trace_id", "span_id"];

/// A lookup.
#[derive(Debug, Clone)]
pub struct Query {
    /// The value looked for.
    pub id: String,
    /// Only this key (`request_id`); every correlation key when `None`.
    pub key: Option<String>,
    /// Oldest record (ns); `i64::MIN` for no bound.
    pub start_ns: i64,
    /// Newest record (ns); `i64::MAX` for no bound.
    pub end_ns: i64,
}

/// An alert that was firing around the records found.
#[derive(Debug, Clone, PartialEq)]
pub struct FiringAlert {
    /// Its labels (`alertname`, …).
    pub labels: Labels,
    /// First and last evaluation seen firing (ms).
    pub from_ms: i64,
    /// Last evaluation seen firing (ms).
    pub to_ms: i64,
}

/// What one identifier touches.
#[derive(Debug, Clone)]
pub struct Correlation {
    /// The lookup.
    pub query: Query,
    /// The keys searched.
    pub keys: Vec<String>,
    /// Its traces, each with its spans.
    pub traces: Vec<Vec<Span>>,
    /// Log lines carrying it, its traces' IDs or the request IDs linked to it, by time.
    pub logs: Vec<LogRow>,
    /// Exemplars pointing at its traces, by series.
    pub exemplars: Vec<(Labels, Vec<Exemplar>)>,
    /// Alerts firing around its records.
    pub alerts: Vec<FiringAlert>,
    /// Other identifiers found with it (a trace's request ID, a request's trace ID).
    pub linked: BTreeMap<String, BTreeSet<String>>,
}

/// Quotes a value for the search syntax.
pub fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn text_of(v: &lantern_logs::Value) -> Option<String> {
    match v {
        lantern_logs::Value::Str(s) => Some(s.to_string()),
        lantern_logs::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Looks identifiers up in every store.
#[derive(Clone)]
pub struct Correlator {
    logs: Arc<LogStore>,
    traces: Arc<TraceStore>,
    db: Arc<Tsdb>,
    /// The configured keys (`correlation.keys`).
    keys: Vec<String>,
}

impl Correlator {
    /// Now, in nanoseconds, by the stores' clock.
    pub fn now_ns(&self) -> i64 {
        self.logs.clock().now_ns()
    }

    /// A correlator over the stores, with the configured keys.
    pub fn new(logs: Arc<LogStore>, traces: Arc<TraceStore>, db: Arc<Tsdb>, keys: Vec<String>) -> Self {
        Self { logs, traces, db, keys }
    }

    /// The stores.
    pub fn stores(&self) -> (&Arc<LogStore>, &Arc<TraceStore>, &Arc<Tsdb>) {
        (&self.logs, &self.traces, &self.db)
    }

    /// Every key a lookup without `key` searches.
    pub fn all_keys(&self) -> Vec<String> {
        let mut k: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
        k.extend(self.keys.iter().filter(|x| !ALWAYS.contains(&x.as_str())).cloned());
        k
    }

    /// Log lines matching any `key:value` pair, oldest first.
    async fn logs_with(&self, pairs: &[(String, String)], q: &Query) -> Result<Vec<LogRow>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let text = pairs.iter().map(|(k, v)| format!("{k}:{}", quote(v))).collect::<Vec<_>>().join(" OR ");
        let search = self.logs.parse_search(&text).map_err(|e| Error::BadRequest(format!("id: {e}")))?;
        let found = self
            .logs
            .search(&search, q.start_ns, q.end_ns, Order::Asc, MAX_LOGS)
            .await
            .map_err(|e| Error::Store(format!("searching logs failed: {e}")))?;
        Ok(found.hits)
    }

    /// Traces with a span (or resource) attribute `key` equal to `value`.
    async fn traces_with(&self, key: &str, value: &str, q: &Query) -> Result<Vec<[u8; 16]>> {
        let search = lantern_traces::Search {
            service: None,
            operation: None,
            tags: vec![(key.to_string(), value.to_string())],
            min_duration_ns: None,
            max_duration_ns: None,
            status_code: None,
            start_ns: q.start_ns,
            end_ns: q.end_ns,
            limit: MAX_TRACES,
        };
        self.traces.search_ids(&search).await.map_err(|e| Error::Store(format!("searching spans failed: {e}")))
    }

    /// Everything `q.id` touches.
    pub async fn correlate(&self, q: Query) -> Result<Correlation> {
        let id = q.id.trim().to_string();
        if id.is_empty() {
            return Err(Error::BadRequest("parameter 'id' is required".into()));
        }
        let keys = match &q.key {
            Some(k) if k.trim().is_empty() => return Err(Error::BadRequest("parameter 'key' is empty".into())),
            Some(k) => vec![k.clone()],
            None => self.all_keys(),
        };
        let mut trace_ids: BTreeSet<[u8; 16]> = BTreeSet::new();
        let mut linked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // The ID itself as a trace ID.
        if keys.iter().any(|k| k == "trace_id") {
            if let Some(t) = parse_trace_id(&id) {
                trace_ids.insert(t);
            }
        }
        // Log lines carrying it under any key, and the traces they name.
        let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), id.clone())).collect();
        let mut logs = self.logs_with(&pairs, &q).await?;
        // Spans carrying it as an attribute.
        for k in keys.iter().filter(|k| !ALWAYS.contains(&k.as_str())) {
            trace_ids.extend(self.traces_with(k, &id, &q).await?);
        }
        self.link(&logs, &id, &mut trace_ids, &mut linked);
        let ids: Vec<[u8; 16]> = trace_ids.iter().take(MAX_TRACES).copied().collect();
        let mut by_id =
            self.traces.traces(&ids).await.map_err(|e| Error::Store(format!("reading traces failed: {e}")))?;
        let traces: Vec<Vec<Span>> = ids.iter().filter_map(|t| by_id.remove(t)).filter(|s| !s.is_empty()).collect();
        // The other end of the link (the seed's X-Request-ID convention): lines of those
        // traces, and lines of the request IDs their spans and lines carry that have no
        // trace ID of their own (a service that logs the request but is not traced).
        // Entity IDs (a user's, an order's) are reported as linked but not followed: a
        // user's other requests are not this one's.
        let found: BTreeSet<String> = traces.iter().map(|t| hex(&t[0].trace_id)).collect();
        for t in &traces {
            for s in t {
                for a in &s.attributes {
                    if self.keys.contains(&a.key) {
                        let v = a.value.text();
                        if v != id {
                            linked.entry(a.key.clone()).or_default().insert(v);
                        }
                    }
                }
            }
        }
        let mut more: Vec<(String, String)> = found.iter().map(|t| ("trace_id".to_string(), t.clone())).collect();
        for (k, vs) in &linked {
            if request_scoped(k) {
                more.extend(vs.iter().map(|v| (k.clone(), v.clone())));
            }
        }
        more.retain(|p| !pairs.contains(p));
        let extra = self.logs_with(&more, &q).await?;
        logs.extend(extra.into_iter().filter(|r| {
            match r.fields.iter().find(|(k, _)| is_trace_field(k)).and_then(|(_, v)| text_of(v)) {
                Some(t) => found.contains(&t.to_ascii_lowercase()),
                None => true,
            }
        }));
        logs.sort_by_key(|r| r.time);
        // A line found both ways is kept once.
        let mut seen = std::collections::HashSet::new();
        logs.retain(|r| seen.insert((r.time, serde_json::Value::Object(r.hit()).to_string())));
        logs.truncate(MAX_LOGS);
        // Exemplars naming those traces, and alerts firing around the records.
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for t in &traces {
            for s in t {
                lo = lo.min(s.start_ns / 1_000_000);
                hi = hi.max(s.end_ns / 1_000_000);
            }
        }
        for l in &logs {
            lo = lo.min(l.time / 1_000_000);
            hi = hi.max(l.time / 1_000_000);
        }
        let (exemplars, alerts) = if lo <= hi {
            let hexes: BTreeSet<String> = traces.iter().map(|t| hex(&t[0].trace_id)).collect();
            (
                self.exemplars_of(&hexes, lo - AROUND_MS, hi + AROUND_MS),
                self.alerts_between(lo - AROUND_MS, hi + AROUND_MS).await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Correlation { query: q, keys, traces, logs, exemplars, alerts, linked })
    }

    /// Trace IDs and configured-key values the lines carry besides `id`.
    fn link(
        &self,
        logs: &[LogRow],
        id: &str,
        trace_ids: &mut BTreeSet<[u8; 16]>,
        linked: &mut BTreeMap<String, BTreeSet<String>>,
    ) {
        for l in logs {
            for (k, v) in &l.fields {
                let Some(text) = text_of(v) else { continue };
                if text == id {
                    continue;
                }
                if is_trace_field(k) {
                    if let Some(t) = parse_trace_id(&text) {
                        trace_ids.insert(t);
                        linked.entry("trace_id".into()).or_default().insert(text);
                    }
                } else if self.keys.iter().any(|c| **c == **k) {
                    linked.entry(k.to_string()).or_default().insert(text);
                }
            }
        }
    }

    /// Exemplars in `[mint, maxt]` (ms) whose `trace_id` is one of `traces`, by series.
    pub fn exemplars_of(&self, traces: &BTreeSet<String>, mint: i64, maxt: i64) -> Vec<(Labels, Vec<Exemplar>)> {
        if traces.is_empty() {
            return Vec::new();
        }
        let all = match Matcher::new(MatchOp::Regex, "__name__", ".+") {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        self.db
            .exemplars(&[all], mint, maxt)
            .into_iter()
            .filter_map(|(series, ex)| {
                let keep: Vec<Exemplar> =
                    ex.into_iter().filter(|e| exemplar_trace(&e.labels).is_some_and(|t| traces.contains(t))).collect();
                (!keep.is_empty()).then_some((series, keep))
            })
            .collect()
    }

    /// Alerts whose `ALERTS{alertstate="firing"}` series has samples in `[mint, maxt]` (ms).
    pub async fn alerts_between(&self, mint: i64, maxt: i64) -> Result<Vec<FiringAlert>> {
        let ms = [Matcher::equal("__name__", "ALERTS"), Matcher::equal("alertstate", "firing")];
        let series =
            self.db.select(&ms, mint, maxt).await.map_err(|e| Error::Store(format!("reading ALERTS failed: {e}")))?;
        Ok(series
            .into_iter()
            .filter_map(|(labels, samples)| {
                let live: Vec<i64> = samples.iter().filter(|s| s.v == 1.0).map(|s| s.t).collect();
                let (from_ms, to_ms) = (*live.first()?, *live.last()?);
                let labels = Labels::from_pairs(
                    labels
                        .iter()
                        .filter(|l| &*l.name != "__name__" && &*l.name != "alertstate")
                        .map(|l| (l.name.clone(), l.value.clone())),
                );
                Some(FiringAlert { labels, from_ms, to_ms })
            })
            .collect())
    }

    /// The log lines of one trace, by time (and those of the request IDs its spans carry).
    pub async fn trace_logs(&self, trace: &str, start_ns: i64, end_ns: i64) -> Result<Vec<LogRow>> {
        let q = Query { id: trace.to_string(), key: Some("trace_id".into()), start_ns, end_ns };
        Ok(self.correlate(q).await?.logs)
    }
}

/// Whether a key names something one request has (a request or correlation ID), as
/// opposed to an entity many requests share (a user, an order).
fn request_scoped(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("request") || k.contains("correlation")
}

/// Whether a log field holds a trace ID (`trace_id`, `traceId`, `trace.id`).
fn is_trace_field(k: &str) -> bool {
    ["trace_id", "traceid", "trace.id"].iter().any(|n| n.eq_ignore_ascii_case(k))
}

/// The trace an exemplar names, under the label names SDKs use.
pub fn exemplar_trace(l: &Labels) -> Option<&str> {
    l.get("trace_id").or_else(|| l.get("traceID")).or_else(|| l.get("traceId"))
}

fn labels_json(l: &Labels) -> Value {
    Value::Object(l.iter().map(|x| (x.name.to_string(), Value::String(x.value.to_string()))).collect())
}

/// Exemplars in Prometheus's JSON (`seriesLabels`, `exemplars`).
pub fn exemplars_json(e: &[(Labels, Vec<Exemplar>)]) -> Value {
    e.iter()
        .map(|(series, ex)| {
            json!({
                "seriesLabels": labels_json(series),
                "exemplars": ex.iter().map(|x| json!({
                    "labels": labels_json(&x.labels),
                    "value": x.value.to_string(),
                    "timestamp": x.t as f64 / 1000.0,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

impl Correlation {
    /// The answer of `/api/v1/correlate`.
    pub fn to_json(&self) -> Value {
        let span_count: usize = self.traces.iter().map(Vec::len).sum();
        let bound =
            |t: i64| if t == i64::MIN || t == i64::MAX { Value::Null } else { json!(lantern_logs::model::rfc3339(t)) };
        json!({
            "id": self.query.id,
            "traces": self.traces.iter().map(|t| trace_json(t)).collect::<Vec<_>>(),
            "logs": self.logs.iter().map(|r| Value::Object(r.hit())).collect::<Vec<_>>(),
            "exemplars": exemplars_json(&self.exemplars),
            "alerts": self.alerts.iter().map(|a| json!({
                "labels": labels_json(&a.labels),
                "firingFrom": lantern_logs::model::rfc3339(a.from_ms * 1_000_000),
                "firingTo": lantern_logs::model::rfc3339(a.to_ms * 1_000_000),
            })).collect::<Vec<_>>(),
            "linked": self.linked,
            "searched": {
                "keys": self.keys,
                "signals": {
                    "logs": {"fields": self.keys, "found": self.logs.len(), "limit": MAX_LOGS},
                    "traces": {"attributes": self.keys.iter().filter(|k| !ALWAYS.contains(&k.as_str())).collect::<Vec<_>>(),
                               "by_id": self.keys.iter().any(|k| k == "trace_id"), "found": self.traces.len(), "spans": span_count, "limit": MAX_TRACES},
                    "exemplars": {"label": "trace_id", "found": self.exemplars.iter().map(|e| e.1.len()).sum::<usize>()},
                    "alerts": {"series": "ALERTS{alertstate=\"firing\"}", "found": self.alerts.len()},
                },
                "start": bound(self.query.start_ns),
                "end": bound(self.query.end_ns),
            },
        })
    }
}
