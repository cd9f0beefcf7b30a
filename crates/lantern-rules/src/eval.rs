//! Evaluating rule groups as Prometheus does: each rule in order at the group's
//! evaluation time (minus its `query_offset`); a recording rule's result becomes series
//! named by its `record`, an alerting rule's result becomes alerts (labels and
//! annotations expanded from templates) and the `ALERTS`/`ALERTS_FOR_STATE` series.
//! Series a rule wrote at its previous evaluation and no longer writes get a staleness
//! marker. After a restart, pending alerts take back the activity time their
//! `ALERTS_FOR_STATE` series kept. Expressions run through a [`Querier`], so the same
//! code serves the server (the metrics and log stores) and `lantern test rules` (series
//! in memory).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use lantern_core::STALE_NAN;

use crate::alerts::{Active, AlertState, LabelSet, State};
use crate::error::EvalError;
use crate::template::{Data, Template};
use crate::{Group, Lang, Rule};

/// What rule expressions are evaluated against.
pub trait Querier {
    /// A PromQL expression at `t` (ms): its instant vector, or a scalar as one sample
    /// without labels.
    fn promql(&self, expr: &promql_parser::parser::Expr, t: i64) -> Result<Vec<(LabelSet, f64)>, EvalError>;

    /// A LogQL metric query at `t` (ms).
    fn logql(&self, expr: &lantern_logql::Expr, t: i64) -> Result<Vec<(LabelSet, f64)>, EvalError>;

    /// The newest sample, in `[mint, maxt]`, of the series with exactly these labels.
    fn last_sample(&self, labels: &LabelSet, mint: i64, maxt: i64) -> Result<Option<(i64, f64)>, EvalError>;
}

/// How long after a restart a restored alert waits at least before firing
/// (Prometheus's `rules.alert.for-grace-period`).
pub const FOR_GRACE_PERIOD_MS: i64 = 10 * 60 * 1000;
/// How far back `ALERTS_FOR_STATE` is looked for after a restart
/// (Prometheus's `rules.alert.for-outage-tolerance`).
pub const OUTAGE_TOLERANCE_MS: i64 = 60 * 60 * 1000;

/// A parsed expression.
#[derive(Debug, Clone)]
enum Query {
    Promql(Box<promql_parser::parser::Expr>),
    Logql(Box<lantern_logql::Expr>),
    /// Did not parse (the file was not checked): every evaluation reports this.
    Invalid(String),
}

/// The health of a rule after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed.
    Err,
}

impl Health {
    /// The name Prometheus's rules API uses.
    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule and what its evaluations left.
#[derive(Debug, Clone)]
pub struct RuleState {
    /// The rule as loaded.
    pub rule: Rule,
    query: Query,
    /// Group labels, then the rule's (the rule's win): as templates for alerts…
    labels: Vec<(String, Template)>,
    /// …and as written for recording rules.
    raw_labels: BTreeMap<String, String>,
    annotations: Vec<(String, Template)>,
    /// Alerts of an alerting rule.
    pub alerts: AlertState,
    /// Health after the last evaluation.
    pub health: Health,
    /// The last evaluation's error.
    pub last_error: Option<String>,
    /// When it was last evaluated (ms).
    pub last_eval: Option<i64>,
    /// How long the last evaluation took (s).
    pub eval_seconds: f64,
    /// Series written at the last evaluation (to mark them stale once gone).
    written: BTreeSet<LabelSet>,
}

/// A group of rules and its schedule.
#[derive(Debug, Clone)]
pub struct GroupState {
    /// The file the group came from.
    pub file: String,
    /// The group's name.
    pub name: String,
    /// Evaluation interval (ms).
    pub interval_ms: i64,
    /// Most series or alerts a rule may produce (0: no limit).
    pub limit: usize,
    /// How far in the past rules are evaluated (ms).
    pub query_offset_ms: i64,
    /// The rules, in order.
    pub rules: Vec<RuleState>,
    /// When it was last evaluated (ms).
    pub last_eval: Option<i64>,
    /// How long the last evaluation took (s).
    pub eval_seconds: f64,
    /// Pending alerts take back their activity time at the next evaluation.
    restore_pending: bool,
}

/// What templates read besides the alert: the server's external labels and URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    /// `$externalLabels`.
    pub external_labels: LabelSet,
    /// `$externalURL`.
    pub external_url: String,
}

/// What one evaluation writes: series at one time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// The samples' time (ms).
    pub t: i64,
    /// Labels (with `__name__`) and value; staleness markers are [`STALE_NAN`].
    pub series: Vec<(LabelSet, f64)>,
}

fn templates(map: &BTreeMap<String, String>) -> Vec<(String, Template)> {
    // Templates were checked when the file loaded; one that does not parse (a group
    // label, say) is taken as written.
    map.iter().map(|(k, v)| (k.clone(), Template::parse(v).unwrap_or_else(|_| Template::literal(v)))).collect()
}

impl GroupState {
    /// A group loaded from `file`, with `default_interval_ms` when it sets none.
    /// Expressions were checked by [`crate::parse`]; one that fails to parse here
    /// still makes a rule whose every evaluation reports the error.
    pub fn new(file: &str, g: &Group, default_interval_ms: i64) -> GroupState {
        let rules = g
            .rules
            .iter()
            .map(|r| {
                let query = match r.lang {
                    Lang::Promql => lantern_promql::parse(&r.expr)
                        .map_or_else(|e| Query::Invalid(e.to_string()), |e| Query::Promql(Box::new(e))),
                    Lang::Logql => lantern_logql::parse(&r.expr)
                        .map_or_else(|e| Query::Invalid(e.to_string()), |e| Query::Logql(Box::new(e))),
                };
                let mut raw_labels = g.labels.clone();
                raw_labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                RuleState {
                    rule: r.clone(),
                    query,
                    labels: templates(&raw_labels),
                    raw_labels,
                    annotations: templates(&r.annotations),
                    alerts: AlertState::default(),
                    health: Health::Unknown,
                    last_error: None,
                    last_eval: None,
                    eval_seconds: 0.0,
                    written: BTreeSet::new(),
                }
            })
            .collect();
        GroupState {
            file: file.to_string(),
            name: g.name.clone(),
            interval_ms: g.interval.map_or(default_interval_ms, |d| d.0.as_millis() as i64).max(1),
            limit: g.limit,
            query_offset_ms: g.query_offset.map_or(0, |d| d.0.as_millis() as i64),
            rules,
            last_eval: None,
            eval_seconds: 0.0,
            restore_pending: false,
        }
    }

    /// Asks the next evaluation to restore pending alerts' activity times from
    /// `ALERTS_FOR_STATE` (after a restart).
    pub fn restore_at_next_eval(&mut self) {
        self.restore_pending = true;
    }

    /// Carries alert state over from the group this one replaces (a reload): rules
    /// with the same name and expression keep their alerts. Returns the series the old
    /// group's other rules wrote, which nothing writes any more (to mark them stale).
    pub fn carry_over(&mut self, old: &GroupState) -> Vec<LabelSet> {
        let mut kept = vec![false; old.rules.len()];
        for r in &mut self.rules {
            let found = old
                .rules
                .iter()
                .enumerate()
                .find(|(i, o)| !kept[*i] && o.rule.name() == r.rule.name() && o.rule.expr == r.rule.expr);
            if let Some((i, o)) = found {
                kept[i] = true;
                r.alerts = o.alerts.clone();
                r.written = o.written.clone();
                r.health = o.health;
                r.last_error = o.last_error.clone();
                r.last_eval = o.last_eval;
            }
        }
        self.last_eval = old.last_eval;
        old.rules.iter().zip(kept).filter(|(_, k)| !k).flat_map(|(r, _)| r.written.iter().cloned()).collect()
    }

    /// Every series the group's rules wrote at their last evaluation (to mark them
    /// stale when the group goes away).
    pub fn written(&self) -> Vec<LabelSet> {
        self.rules.iter().flat_map(|r| r.written.iter().cloned()).collect()
    }

    /// Evaluates every rule at `t` (ms), in order; `write` stores each rule's series
    /// before the next rule runs (a later rule may read an earlier one's output).
    pub fn eval(&mut self, q: &dyn Querier, t: i64, env: &Env, write: &mut dyn FnMut(Written)) {
        let started = Instant::now();
        let ts = t - self.query_offset_ms;
        let restore = std::mem::take(&mut self.restore_pending);
        for r in &mut self.rules {
            let began = Instant::now();
            let result = r.eval(q, ts, self.limit, env);
            let mut series = match result {
                Ok(s) => {
                    r.health = Health::Ok;
                    r.last_error = None;
                    s
                }
                Err(e) => {
                    r.health = Health::Err;
                    r.last_error = Some(e.to_string());
                    Vec::new()
                }
            };
            if restore && r.rule.alert.is_some() {
                r.restore_for_state(q, ts);
            }
            let now: BTreeSet<LabelSet> = series.iter().map(|(l, _)| l.clone()).collect();
            for gone in r.written.difference(&now) {
                series.push((gone.clone(), STALE_NAN));
            }
            r.written = now;
            r.last_eval = Some(t);
            r.eval_seconds = began.elapsed().as_secs_f64();
            if !series.is_empty() {
                write(Written { t: ts, series });
            }
        }
        self.last_eval = Some(t);
        self.eval_seconds = started.elapsed().as_secs_f64();
    }
}

fn strip_name(mut l: LabelSet) -> LabelSet {
    l.remove("__name__");
    l
}

impl RuleState {
    /// The expression as Prometheus shows it in its rules API: PromQL printed from its
    /// syntax tree (`sum by (job) (x)`), LogQL as written.
    pub fn query_text(&self) -> String {
        match &self.query {
            Query::Promql(e) => e.to_string(),
            Query::Logql(_) | Query::Invalid(_) => self.rule.expr.trim().to_string(),
        }
    }

    fn query(&self, q: &dyn Querier, ts: i64) -> Result<Vec<(LabelSet, f64)>, EvalError> {
        match &self.query {
            Query::Promql(e) => q.promql(e, ts),
            Query::Logql(e) => q.logql(e, ts),
            Query::Invalid(e) => Err(EvalError::Invalid(e.clone())),
        }
    }

    /// The series this evaluation writes, or why it failed.
    fn eval(&mut self, q: &dyn Querier, ts: i64, limit: usize, env: &Env) -> Result<Vec<(LabelSet, f64)>, EvalError> {
        let result = self.query(q, ts)?;
        match (&self.rule.record, &self.rule.alert) {
            (Some(record), _) => {
                let mut out = Vec::with_capacity(result.len());
                let mut seen = BTreeSet::new();
                for (labels, v) in result {
                    let mut l = labels;
                    l.insert("__name__".into(), record.clone());
                    for (k, v) in &self.raw_labels {
                        set_or_remove(&mut l, k, v);
                    }
                    if !seen.insert(l.clone()) {
                        return Err(EvalError::DuplicateLabels("rule"));
                    }
                    out.push((l, v));
                }
                if limit > 0 && out.len() > limit {
                    return Err(EvalError::Limit { limit, n: out.len(), what: "series" });
                }
                Ok(out)
            }
            (None, Some(name)) => {
                let mut active = Vec::with_capacity(result.len());
                let mut seen = BTreeSet::new();
                // Templates' `query` runs at the evaluation's time.
                let query = |text: &str| -> Result<Vec<(LabelSet, f64)>, String> {
                    let e = lantern_promql::parse(text).map_err(|e| e.to_string())?;
                    q.promql(&e, ts).map_err(|e| e.to_string())
                };
                for (labels, v) in result {
                    let base = strip_name(labels);
                    let data = Data {
                        labels: &base,
                        value: v,
                        external: &env.external_labels,
                        external_url: &env.external_url,
                        query: Some(&query),
                    };
                    let mut l = base.clone();
                    for (k, t) in &self.labels {
                        set_or_remove(&mut l, k, &expand(t, &data));
                    }
                    l.insert("alertname".into(), name.clone());
                    let annotations = self.annotations.iter().map(|(k, t)| (k.clone(), expand(t, &data))).collect();
                    if !seen.insert(l.clone()) {
                        return Err(EvalError::DuplicateLabels("alert"));
                    }
                    active.push(Active { labels: l, annotations, value: v });
                }
                let ms = |d: Option<lantern_core::PromDuration>| d.map_or(0, |d| d.0.as_millis() as i64);
                let out = self.alerts.update(active, ts, ms(self.rule.for_), ms(self.rule.keep_firing_for));
                let n = self.alerts.alerts().filter(|a| a.state != State::Inactive).count();
                if limit > 0 && n > limit {
                    self.alerts = AlertState::default();
                    return Err(EvalError::Limit { limit, n, what: "alerts" });
                }
                Ok(out)
            }
            (None, None) => Ok(Vec::new()),
        }
    }

    /// Takes back pending alerts' activity times from `ALERTS_FOR_STATE`, as
    /// Prometheus does after a restart: time spent pending before going down counts;
    /// the downtime does not; an alert that would fire at once waits the grace period.
    fn restore_for_state(&mut self, q: &dyn Querier, ts: i64) {
        let hold = self.rule.for_.map_or(0, |d| d.0.as_millis() as i64);
        // A `for` shorter than the grace period is not restored: waiting it out anew is
        // shorter than the grace would be.
        if hold < FOR_GRACE_PERIOD_MS {
            return;
        }
        let pending: Vec<LabelSet> =
            self.alerts.alerts().filter(|a| a.state == State::Pending).map(|a| a.labels.clone()).collect();
        for labels in pending {
            let mut series = labels.clone();
            series.insert("__name__".into(), "ALERTS_FOR_STATE".into());
            let Ok(Some((down_at, v))) = q.last_sample(&series, ts - OUTAGE_TOLERANCE_MS, ts - 1) else { continue };
            if !v.is_finite() {
                continue;
            }
            let mut active_at = (v * 1000.0) as i64;
            let remaining = hold - (down_at - active_at);
            if remaining <= 0 {
                // It was firing before the restart.
            } else if remaining < FOR_GRACE_PERIOD_MS {
                active_at = ts + FOR_GRACE_PERIOD_MS - hold;
            } else {
                active_at += ts - down_at;
            }
            self.alerts.restore(&labels, active_at);
        }
    }
}

fn expand(t: &Template, d: &Data) -> String {
    t.expand(d).unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

fn set_or_remove(l: &mut LabelSet, k: &str, v: &str) {
    if v.is_empty() {
        l.remove(k);
    } else {
        l.insert(k.to_string(), v.to_string());
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
