//! The automated investigation: the seed's debugging workflow, done by Lantern.
//!
//! 1. The symptom: which signal rose, when and by how much (`changepoint.rs` on the
//!    error ratio or p95 latency per service, or on the alert's, SLO's or query's
//!    series), against the baseline before it.
//! 2. The error logs of the window, in patterns, and the field values that set them
//!    apart from the baseline's (`patterns.rs`).
//! 3. The failing requests (request IDs with their trace IDs).
//! 4. Where those traces' failures (or the slowdown) started, compared with the
//!    baseline's traces (`culprit.rs`).
//! 5. That service's saturation series, now against before.
//! 6. A verdict naming the service and operation, with links to every piece of evidence.
//!
//! Deterministic on the same data: every choice is sorted, ties by name.

use std::collections::BTreeSet;
use std::sync::Arc;

use lantern_core::{Labels, Matcher};
use lantern_logs::{LogRow, Order};
use lantern_promql::Engine;
use lantern_traces::model::hex;
use lantern_traces::Span;
use lantern_tsdb::TsdbStorage;
use serde_json::{json, Value};

use crate::correlate::{quote, Correlator};
use crate::{Error, Result};

pub mod changepoint;
pub mod culprit;
pub mod patterns;
mod report;

pub use report::render_text;

/// Alert rules' expressions, by alert name (the rule engine's).
pub trait RuleSource: Send + Sync {
    /// The expression of the alerting rule named `name`, if there is one.
    fn alert_expr(&self, name: &str) -> Option<String>;
}

/// What to investigate.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Window start (ms).
    pub start_ms: i64,
    /// Window end (ms).
    pub end_ms: i64,
    /// Start from this alert's expression.
    pub alert: Option<String>,
    /// Start from this PromQL expression.
    pub query: Option<String>,
    /// Start from this SLO's error ratio.
    pub slo: Option<String>,
}

/// What kind of signal a symptom is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A ratio of failed requests.
    Errors,
    /// A latency.
    Latency,
    /// An expression given (alert, SLO, query): any rise.
    Given,
}

/// A series to watch for a rise.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// What it measures.
    pub kind: Kind,
    /// For a person: "the 5xx ratio", "p95 latency".
    pub what: String,
    /// The PromQL.
    pub query: String,
}

/// The symptom found.
#[derive(Debug, Clone)]
pub struct Symptom {
    /// The candidate it came from.
    pub candidate: Candidate,
    /// The series' labels.
    pub labels: Labels,
    /// When the rise began (ms).
    pub onset_ms: i64,
    /// Mean before.
    pub before: f64,
    /// Mean after.
    pub after: f64,
    /// How clear the rise is.
    pub score: f64,
}

impl Symptom {
    /// The service the symptom is seen at (`job`, `service`, `slo`), if the series names one.
    pub fn service(&self) -> Option<&str> {
        self.labels.get("service").or_else(|| self.labels.get("job"))
    }
}

/// The rates of the auto-detected symptoms, by service.
fn auto_candidates(range: &str) -> Vec<Candidate> {
    let server = r#"span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER""#;
    vec![
        Candidate {
            kind: Kind::Errors,
            what: "the 5xx ratio".into(),
            // `or … * 0`: a service without a single 5xx has a ratio of 0, not no ratio.
            query: format!(
                r#"(sum by (job) (rate(http_requests_total{{status=~"5.."}}[{range}])) or sum by (job) (rate(http_requests_total[{range}])) * 0) / sum by (job) (rate(http_requests_total[{range}]))"#
            ),
        },
        Candidate {
            kind: Kind::Errors,
            what: "the ratio of failed server spans".into(),
            query: format!(
                r#"(sum by (service) (rate(traces_spanmetrics_calls_total{{{server}, status_code="STATUS_CODE_ERROR"}}[{range}])) or sum by (service) (rate(traces_spanmetrics_calls_total{{{server}}}[{range}])) * 0) / sum by (service) (rate(traces_spanmetrics_calls_total{{{server}}}[{range}]))"#
            ),
        },
        Candidate {
            kind: Kind::Latency,
            what: "p95 latency".into(),
            query: format!("histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[{range}])))"),
        },
        Candidate {
            kind: Kind::Latency,
            what: "p95 latency of server spans".into(),
            query: format!(
                "histogram_quantile(0.95, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{{{server}}}[{range}])))"
            ),
        },
    ]
}

/// The window of the symptom's rates: four steps, at least 30 s (two samples at a 15 s
/// scrape interval).
fn rate_window_ms(step: i64) -> i64 {
    (4 * step).max(30_000)
}

/// Whether a rise is large enough to be an incident rather than noise.
fn significant(kind: Kind, c: &changepoint::Change) -> bool {
    match kind {
        Kind::Errors => c.score >= 3.0 && c.after - c.before >= 0.01 && c.after >= 2.0 * c.before + 0.002,
        Kind::Latency => c.score >= 3.0 && c.after >= 1.5 * c.before && c.after - c.before >= 0.02,
        Kind::Given => c.score >= 3.0 && c.after > c.before * 1.2 && c.after - c.before > 1e-9,
    }
}

/// The expression an alert watches, without its threshold (`(…) > 0.01` → `(…)`).
fn without_threshold(expr: &str) -> String {
    use promql_parser::parser::Expr;
    match promql_parser::parser::parse(expr) {
        // A comparison with a number (`> 0.01`, `> (1 - 0.999) * 14.4`): what is compared.
        Ok(Expr::Binary(b))
            if b.op.is_comparison_operator()
                && lantern_promql::selector_matchers(&b.rhs).is_ok_and(|m| m.is_empty()) =>
        {
            b.lhs.to_string()
        }
        _ => expr.to_string(),
    }
}

/// The investigation's findings.
#[derive(Debug, Clone)]
pub struct Report {
    /// The request.
    pub request: Request,
    /// One or two sentences.
    pub verdict: String,
    /// The suspect, if any: service, operation, confidence.
    pub suspect: Option<(String, String, f64)>,
    /// Everything, as the API answers it.
    pub json: Value,
}

/// Runs investigations over the stores.
#[derive(Clone)]
pub struct Investigator {
    correlator: Correlator,
    engine: Arc<Engine>,
    rules: Option<Arc<dyn RuleSource>>,
}

/// At most this many traces are read per window.
const TRACES: usize = 60;
/// At most this many error lines are read per window.
const LINES: usize = 5000;

pub(crate) fn fmt_ts(ms: i64) -> String {
    lantern_logs::model::rfc3339(ms * 1_000_000)
}

pub(crate) fn link(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    format!("{path}?{}", q.join("&"))
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Investigator {
    /// An investigator over the correlator's stores.
    pub fn new(correlator: Correlator, engine: Arc<Engine>, rules: Option<Arc<dyn RuleSource>>) -> Self {
        Self { correlator, engine, rules }
    }

    /// The correlator it reads through.
    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    fn candidates(&self, req: &Request, range: &str) -> Result<Vec<Candidate>> {
        if let Some(q) = &req.query {
            lantern_promql::parse(q).map_err(|e| Error::BadRequest(format!("query: {e}")))?;
            return Ok(vec![Candidate { kind: Kind::Given, what: format!("the query {q}"), query: q.clone() }]);
        }
        if let Some(name) = &req.slo {
            return Ok(vec![Candidate {
                kind: Kind::Errors,
                what: format!("the error ratio of SLO {name}"),
                query: format!(r#"slo:sli_error:ratio_rate5m{{slo="{}"}}"#, name.replace('"', "\\\"")),
            }]);
        }
        if let Some(name) = &req.alert {
            let expr = self
                .rules
                .as_ref()
                .and_then(|r| r.alert_expr(name))
                .ok_or_else(|| Error::BadRequest(format!("alert: no alerting rule named {name:?}")))?;
            return Ok(vec![Candidate {
                kind: Kind::Given,
                what: format!("what alert {name} watches"),
                query: without_threshold(&expr),
            }]);
        }
        Ok(auto_candidates(range))
    }

    /// Evaluates the candidates and returns the clearest significant rise in the window,
    /// and the largest rise seen at all (for a "no incident" answer).
    async fn symptom(&self, req: &Request, from: i64, step: i64) -> Result<(Option<Symptom>, Option<Symptom>)> {
        let range = format!("{}s", rate_window_ms(step) / 1000);
        let cands = self.candidates(req, &range)?;
        let engine = self.engine.clone();
        let db = self.correlator.stores().2.clone();
        let rt = tokio::runtime::Handle::current();
        let (end, start) = (req.end_ms, req.start_ms);
        tokio::task::spawn_blocking(move || {
            let storage = TsdbStorage::new(db, rt);
            let mut best: Option<Symptom> = None;
            let mut largest: Option<Symptom> = None;
            for c in cands {
                let Ok(series) = engine.query_range(&storage, &c.query, from, end, step) else { continue };
                for (labels, samples) in series {
                    let n = ((end - from) / step + 1) as usize;
                    let mut v = vec![f64::NAN; n];
                    for s in &samples {
                        let i = ((s.t - from) / step) as usize;
                        if i < n {
                            v[i] = s.v;
                        }
                    }
                    let Some(ch) = changepoint::rise(&v, 3, 2) else { continue };
                    let onset_ms = from + ch.onset as i64 * step;
                    let sym = Symptom {
                        candidate: c.clone(),
                        labels,
                        onset_ms,
                        before: ch.before,
                        after: ch.after,
                        score: ch.score,
                    };
                    if largest.as_ref().is_none_or(|l| sym.score > l.score) {
                        largest = Some(sym.clone());
                    }
                    if onset_ms < start || !significant(c.kind, &ch) {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        // Failed requests are what users feel first; then the clearest rise.
                        Some(b) => (c.kind == Kind::Errors, sym.score) > (b.candidate.kind == Kind::Errors, b.score),
                    };
                    if better {
                        best = Some(sym);
                    }
                }
            }
            (best, largest)
        })
        .await
        .map_err(|e| Error::Store(format!("evaluating the symptom failed: {e}")))
    }

    async fn error_lines(&self, from_ms: i64, to_ms: i64) -> Result<(u64, Vec<LogRow>)> {
        let logs = self.correlator.stores().0;
        let s = logs
            .parse_search("level:error OR level:critical OR level:fatal")
            .map_err(|e| Error::Store(e.to_string()))?;
        let f = logs
            .search(&s, from_ms * 1_000_000, to_ms * 1_000_000, Order::Asc, LINES)
            .await
            .map_err(|e| Error::Store(format!("searching logs failed: {e}")))?;
        Ok((f.total, f.hits))
    }

    async fn traces(
        &self,
        service: Option<&str>,
        operation: Option<&str>,
        error: bool,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Vec<Span>>> {
        let traces = self.correlator.stores().1;
        let q = lantern_traces::Search {
            service: service.map(str::to_string),
            operation: operation.map(str::to_string),
            tags: if error { vec![("error".into(), "true".into())] } else { vec![] },
            min_duration_ns: None,
            max_duration_ns: None,
            status_code: error.then_some(2),
            start_ns: from_ms * 1_000_000,
            end_ns: to_ms * 1_000_000,
            limit: TRACES,
        };
        let found = traces.search(&q).await.map_err(|e| Error::Store(format!("searching traces failed: {e}")))?;
        Ok(found)
    }

    /// Runs the investigation.
    pub async fn run(&self, req: Request) -> Result<Report> {
        if req.end_ms <= req.start_ms {
            return Err(Error::BadRequest("the window's end is not after its start".into()));
        }
        let len = req.end_ms - req.start_ms;
        // The baseline may reach back as far before the window as the window is long.
        let from = req.start_ms - len;
        let step = ((2 * len / 120) / 1000 * 1000).clamp(1000, 300_000);
        let (symptom, largest) = self.symptom(&req, from, step).await?;
        let Some(symptom) = symptom else {
            return Ok(report::no_incident(req, largest, step));
        };
        let onset = symptom.onset_ms;
        // The baseline ends a rate window before the onset: rates smooth the rise back
        // into the points before it.
        let rate_ms = rate_window_ms(step);
        let (b_from, b_to, w_from, w_to) = (from, (onset - rate_ms).max(from + step), onset, req.end_ms);
        let minutes = |a: i64, b: i64| ((b - a) as f64 / 60_000.0).max(1e-3);

        // 2. Error logs.
        let (w_total, w_lines) = self.error_lines(w_from, w_to).await?;
        let (b_total, b_lines) = self.error_lines(b_from, b_to).await?;
        let pats = patterns::patterns(&w_lines, &b_lines);
        let ids = self.correlator.stores().0.id_fields().clone();
        let fields = patterns::distinct_fields(&w_lines, minutes(w_from, w_to), &b_lines, minutes(b_from, b_to), &ids);

        // 3. Failing requests: request IDs with trace IDs from the window's error lines.
        let mut requests: Vec<(String, String)> = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &w_lines {
            let get = |k: &str| {
                r.fields.iter().find(|(f, _)| ids.contains(f) && same_key(f, k)).map(|(_, v)| v.text().into_owned())
            };
            if let (Some(rid), t) = (get("request_id"), get("trace_id").unwrap_or_default()) {
                if seen.insert(rid.clone()) {
                    requests.push((rid, t));
                }
            }
        }
        requests.truncate(10);

        // 4. Where the failures (or the slowdown) started.
        let service = symptom.service().map(str::to_string);
        let mut w_fail = self.traces(service.as_deref(), None, true, w_from, w_to).await?;
        if w_fail.is_empty() && service.is_some() {
            w_fail = self.traces(None, None, true, w_from, w_to).await?;
        }
        let errors_matter = symptom.candidate.kind != Kind::Latency && !w_fail.is_empty();
        let (suspect, culprit_json) = if errors_matter {
            let b_fail = self.traces(None, None, true, b_from, b_to).await?;
            let w_orig: Vec<_> = w_fail.iter().map(|t| culprit::error_origins(t)).collect();
            let b_orig: Vec<_> = b_fail.iter().map(|t| culprit::error_origins(t)).collect();
            let ranked = culprit::rank(&w_orig, &b_orig);
            let top = ranked.first().filter(|s| s.confidence > 0.0).cloned();
            let mut j = json!({
                "kind": "errors",
                "failing_traces": w_fail.len(),
                "baseline_failing_traces": b_fail.len(),
                "origins": ranked.iter().take(5).map(|s| json!({
                    "service": s.op.0, "operation": s.op.1, "traces": s.traces,
                    "share": s.share, "baseline_share": s.baseline_share, "failures": s.failures.iter().take(3).map(|f| json!({"what": f.0, "count": f.1})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "examples": w_fail.iter().take(5).map(|t| link(&format!("/api/traces/{}", hex(&t[0].trace_id)), &[])).collect::<Vec<_>>(),
            });
            if let Some(s) = &top {
                j["compare"] = self.compare(&s.op, &w_fail, b_from, b_to).await?;
            }
            (
                top.map(|s| {
                    (
                        s.op.0.clone(),
                        s.op.1.clone(),
                        s.confidence,
                        s.failures.first().map(|f| f.0.clone()).unwrap_or_default(),
                        s.share,
                    )
                }),
                j,
            )
        } else {
            let w = self.traces(service.as_deref(), None, false, w_from, w_to).await?;
            let b = self.traces(service.as_deref(), None, false, b_from, b_to).await?;
            let slow = culprit::slowest_growth(&w, &b);
            let j = json!({
                "kind": "latency",
                "traces": w.len(),
                "baseline_traces": b.len(),
                "slowest": slow.as_ref().map(|(op, before, after, share)| json!({
                    "service": op.0, "operation": op.1, "self_time_before_ns": before, "self_time_after_ns": after, "share_of_growth": share,
                })),
                "examples": w.iter().take(5).map(|t| link(&format!("/api/traces/{}", hex(&t[0].trace_id)), &[])).collect::<Vec<_>>(),
            });
            (
                slow.map(|(op, before, after, share)| {
                    (
                        op.0,
                        op.1,
                        share.clamp(0.0, 1.0),
                        format!("self time {:.0} ms vs {:.0} ms before", after / 1e6, before / 1e6),
                        share,
                    )
                }),
                j,
            )
        };

        // 5. The suspect's saturation.
        // Gauges are not smoothed like rates: their baseline runs up to the onset.
        let saturation = match &suspect {
            Some((svc, ..)) => self.saturation(svc, b_from, w_from - 1, w_from, w_to).await?,
            None => Vec::new(),
        };

        Ok(report::build(report::Findings {
            req,
            symptom,
            step,
            windows: (b_from, b_to, w_from, w_to),
            logs: (w_total, b_total, pats, fields),
            requests,
            suspect,
            culprit: culprit_json,
            saturation,
        }))
    }

    /// The suspect operation's spans now (in the failing traces) against before: p95
    /// duration and failure ratio.
    async fn compare(&self, op: &culprit::Op, window: &[Vec<Span>], b_from: i64, b_to: i64) -> Result<Value> {
        let pick = |traces: &[Vec<Span>]| -> (Vec<i64>, usize, usize) {
            let spans: Vec<&Span> =
                traces.iter().flatten().filter(|s| s.origin.service == op.0 && s.name == op.1).collect();
            (
                spans.iter().map(|s| s.duration_ns()).collect(),
                spans.iter().filter(|s| s.status_code == 2).count(),
                spans.len(),
            )
        };
        let before = self.traces(Some(&op.0), Some(&op.1), false, b_from, b_to).await?;
        let (wd, wf, wn) = pick(window);
        let (bd, bf, bn) = pick(&before);
        Ok(json!({
            "p95_ns": culprit::p95(wd), "baseline_p95_ns": culprit::p95(bd),
            "failed": wf, "spans": wn, "baseline_failed": bf, "baseline_spans": bn,
        }))
    }

    /// The saturation series of a service, mean before and after (rates for counters).
    async fn saturation(
        &self,
        service: &str,
        b_from: i64,
        b_to: i64,
        w_from: i64,
        w_to: i64,
    ) -> Result<Vec<(String, f64, f64)>> {
        let db = self.correlator.stores().2;
        let mut out = Vec::new();
        for label in ["job", "service"] {
            let names = db.label_values("__name__", &[vec![Matcher::equal(label, service)]], b_from, w_to);
            for name in names.into_iter().filter(|n| lantern_core::names::is_saturation_metric(n)) {
                if out.iter().any(|(n, _, _): &(String, f64, f64)| *n == name) {
                    continue;
                }
                let ms = [Matcher::equal("__name__", name.as_str()), Matcher::equal(label, service)];
                let series = db.select(&ms, b_from, w_to).await.map_err(|e| Error::Store(e.to_string()))?;
                let mean = |from: i64, to: i64| -> Option<f64> {
                    let mut sum = 0.0;
                    let mut n = 0usize;
                    for (_, samples) in &series {
                        let pts: Vec<_> =
                            samples.iter().filter(|s| s.t >= from && s.t <= to && s.v.is_finite()).collect();
                        if name.ends_with("_total") {
                            if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
                                if b.t > a.t && b.v >= a.v {
                                    sum += (b.v - a.v) / ((b.t - a.t) as f64 / 1000.0);
                                    n += 1;
                                }
                            }
                        } else if !pts.is_empty() {
                            sum += pts.iter().map(|s| s.v).sum::<f64>() / pts.len() as f64;
                            n += 1;
                        }
                    }
                    (n > 0).then(|| sum / n as f64)
                };
                if let (Some(b), Some(w)) = (mean(b_from, b_to), mean(w_from, w_to)) {
                    out.push((name, b, w));
                }
            }
        }
        // Most changed first.
        out.sort_by(|a, b| {
            let ch = |x: &(String, f64, f64)| (x.2 - x.1).abs() / x.1.abs().max(1e-9);
            ch(b).total_cmp(&ch(a)).then_with(|| a.0.cmp(&b.0))
        });
        Ok(out)
    }
}

/// Whether two field names are one key (`request_id`, `requestId`, `request.id`).
fn same_key(a: &str, b: &str) -> bool {
    let n = |s: &str| s.chars().filter(|c| *c != '_' && *c != '.').flat_map(char::to_lowercase).collect::<String>();
    n(a) == n(b)
}

/// The search syntax's query for one request's lines.
pub fn request_query(rid: &str) -> String {
    format!("request_id:{}", quote(rid))
}

pub(crate) use fmt_ts as rfc3339_ms;
pub(crate) use link as api_link;
