//! The rule manager: loads `rule_files` (and the rules SLOs generate), evaluates each
//! group on its own schedule (aligned to its interval, at a per-group offset, as
//! Prometheus spreads groups), writes what rules produce into the metrics store, hands
//! due alerts to the [`Notifier`], and reloads: a reload that finds any problem
//! changes nothing; one that succeeds keeps the alerts of unchanged rules.

use std::sync::Arc;
use std::time::Duration;

use lantern_core::Sample;
use lantern_logs::LogStore;
use lantern_promql::Engine;
use lantern_rules::alerts::{LabelSet, State};
use lantern_rules::eval::{Env, GroupState, Written};
use lantern_rules::querier::EngineQuerier;
use lantern_rules::EvalError;
use lantern_rules::{Group, RuleFile};
use lantern_tsdb::Tsdb;
use lantern_tsdb::TsdbStorage;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::notify::{Notification, Notifier};
use crate::slo::SloSet;

/// What the manager needs.
#[derive(Clone)]
pub struct Options {
    /// `rule_files` globs.
    pub rule_files: Vec<String>,
    /// `slo_files` globs.
    pub slo_files: Vec<String>,
    /// Groups that set no interval use this (ms).
    pub default_interval_ms: i64,
    /// External labels and URL.
    pub env: Env,
    /// How often firing alerts are sent again (ms).
    pub resend_delay_ms: i64,
    /// The PromQL engine's settings.
    pub engine: Engine,
}

/// A loaded group and its evaluation state.
pub type SharedGroup = Arc<Mutex<GroupState>>;

struct Loaded {
    groups: Vec<SharedGroup>,
    slos: Arc<SloSet>,
    tasks: Vec<JoinHandle<()>>,
}

/// The rule engine of the server.
#[derive(Clone)]
pub struct RuleManager {
    opts: Arc<Options>,
    db: Arc<Tsdb>,
    logs: Option<Arc<LogStore>>,
    notifier: Notifier,
    loaded: Arc<Mutex<Loaded>>,
    reload_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Rule groups with the file each came from.
pub type FileGroups = Vec<(String, Group)>;

/// Reads every rule and SLO file: the groups, or every problem found.
pub fn load_all(opts: &Options) -> Result<(FileGroups, SloSet), Vec<String>> {
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    match lantern_rules::expand_globs(&opts.rule_files) {
        Ok(files) => {
            for f in files {
                match lantern_rules::load(std::path::Path::new(&f)) {
                    Ok(RuleFile { groups: gs }) => groups.extend(gs.into_iter().map(|g| (f.clone(), g))),
                    Err(es) => errors.extend(es.iter().map(ToString::to_string)),
                }
            }
        }
        Err(es) => errors.extend(es.into_iter().map(|e| format!("rule_files: {e}"))),
    }
    let slos = match lantern_rules::expand_globs(&opts.slo_files) {
        Ok(files) => match SloSet::load(&files) {
            Ok(s) => s,
            Err(es) => {
                errors.extend(es);
                SloSet::default()
            }
        },
        Err(es) => {
            errors.extend(es.into_iter().map(|e| format!("slo_files: {e}")));
            SloSet::default()
        }
    };
    for (file, g) in slos.rule_groups() {
        groups.push((file, g));
    }
    if errors.is_empty() {
        Ok((groups, slos))
    } else {
        Err(errors)
    }
}

impl RuleManager {
    /// Starts evaluating the rules [`load_all`] read (the caller reads them before
    /// anything listens, so a problem in any file stops start-up early).
    pub fn start(
        opts: Options,
        (groups, slos): (FileGroups, SloSet),
        db: Arc<Tsdb>,
        logs: Option<Arc<LogStore>>,
        notifier: Notifier,
    ) -> RuleManager {
        let m = RuleManager {
            opts: Arc::new(opts),
            db,
            logs,
            notifier,
            loaded: Arc::new(Mutex::new(Loaded {
                groups: Vec::new(),
                slos: Arc::new(SloSet::default()),
                tasks: vec![],
            })),
            reload_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        m.install(groups, slos, true);
        m
    }

    /// Reads the files again. On any problem the rules in force stay and the problems
    /// are returned.
    pub async fn reload(&self) -> Result<(), Vec<String>> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let opts = self.opts.clone();
        let loaded = tokio::task::spawn_blocking(move || load_all(&opts))
            .await
            .map_err(|e| vec![format!("reload failed: {e}")])
            .and_then(|r| r);
        // Logged here, whoever asked (SIGHUP or /-/reload): the operator sees it either way.
        match loaded {
            Ok((groups, slos)) => {
                self.install(groups, slos, false);
                tracing::info!(groups = self.groups().len(), "rules reloaded");
                Ok(())
            }
            Err(errs) => {
                for e in &errs {
                    tracing::error!(problem = %e, "reloading rules failed; the rules in force are kept");
                }
                Err(errs)
            }
        }
    }

    fn install(&self, groups: FileGroups, slos: SloSet, restore: bool) {
        let mut loaded = self.loaded.lock();
        for t in loaded.tasks.drain(..) {
            t.abort();
        }
        let old = std::mem::take(&mut loaded.groups);
        let mut new = Vec::with_capacity(groups.len());
        // Series no rule writes any more get a staleness marker, as Prometheus writes
        // for the rules and groups a reload removes.
        let mut gone = Vec::new();
        let mut carried = vec![false; old.len()];
        for (file, g) in groups {
            let mut state = GroupState::new(&file, &g, self.opts.default_interval_ms);
            let found = old.iter().enumerate().find(|(_, o)| {
                let o = o.lock();
                o.file == file && o.name == g.name
            });
            if let Some((i, o)) = found {
                carried[i] = true;
                gone.extend(state.carry_over(&o.lock()));
            } else if restore {
                state.restore_at_next_eval();
            }
            new.push(Arc::new(Mutex::new(state)));
        }
        for (o, _) in old.iter().zip(carried).filter(|(_, c)| !c) {
            gone.extend(o.lock().written());
        }
        if !gone.is_empty() {
            let series = gone.into_iter().map(|l| (l, lantern_core::STALE_NAN)).collect();
            let (db, w) = (self.db.clone(), Written { t: self.db.clock().now_ms(), series });
            tokio::task::spawn_blocking(move || write(&db, &w));
        }
        loaded.tasks = new.iter().map(|g| tokio::spawn(self.clone().run_group(g.clone()))).collect();
        loaded.groups = new;
        loaded.slos = Arc::new(slos);
        // SLOs whose selectors match no stored series are flagged once the first
        // scrapes and evaluations have had time to store some (right at start, every
        // selector matches nothing yet); a reload cancels the check with the tasks.
        let (db, slos, rt) = (self.db.clone(), loaded.slos.clone(), tokio::runtime::Handle::current());
        let delay = std::time::Duration::from_millis((2 * self.opts.default_interval_ms).clamp(5_000, 300_000) as u64);
        loaded.tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tokio::task::spawn_blocking(move || {
                let now = db.clock().now_ms();
                let storage = TsdbStorage::new(db, rt);
                for (file, slo) in &slos.slos {
                    for w in crate::slo::warnings(&storage, slo, crate::slo::window_start(slo, now), now) {
                        tracing::warn!(slo = %slo.name, file = %file, "{w}");
                    }
                }
            })
            .await;
        }));
    }

    /// The groups in force.
    pub fn groups(&self) -> Vec<SharedGroup> {
        self.loaded.lock().groups.clone()
    }

    /// The SLOs in force.
    pub fn slos(&self) -> Arc<SloSet> {
        self.loaded.lock().slos.clone()
    }

    /// The notifier (for its counters).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The metrics store.
    pub fn db(&self) -> &Arc<Tsdb> {
        &self.db
    }

    /// The PromQL engine settings.
    pub fn engine(&self) -> &Engine {
        &self.opts.engine
    }

    /// Stops every evaluation.
    pub fn stop(&self) {
        for t in self.loaded.lock().tasks.drain(..) {
            t.abort();
        }
    }

    async fn run_group(self, group: SharedGroup) {
        let (interval, offset) = {
            let g = group.lock();
            let h = xxhash_rust::xxh64::xxh64(format!("{}\u{0}{}", g.file, g.name).as_bytes(), 0);
            (g.interval_ms, (h % g.interval_ms as u64) as i64)
        };
        loop {
            let now = self.db.clock().now_ms();
            // The next slot: t ≡ offset (mod interval).
            let next = now - (now - offset).rem_euclid(interval) + interval;
            tokio::time::sleep(Duration::from_millis((next - now).max(0) as u64)).await;
            let (m, g) = (self.clone(), group.clone());
            if let Err(e) = tokio::task::spawn_blocking(move || m.eval_once(&g, next)).await {
                tracing::error!(error = %e, "rule evaluation task failed");
            }
        }
    }

    /// Evaluates a group at `t` (ms) on this blocking thread: rule output goes to the
    /// store before the next rule runs; due alerts go to the notifier.
    pub fn eval_once(&self, group: &SharedGroup, t: i64) {
        let rt = tokio::runtime::Handle::current();
        let storage = TsdbStorage::new(self.db.clone(), rt.clone());
        let logs = self.logs.clone();
        let logql = move |expr: &lantern_logql::Expr, t: i64| -> Result<Vec<(LabelSet, f64)>, EvalError> {
            let Some(store) = &logs else { return Err(EvalError::Query("the log store is not available".into())) };
            let ns = t.saturating_mul(1_000_000);
            let p = lantern_logs::logql::engine::Params {
                start: ns,
                end: ns,
                step: 1,
                limit: 0,
                direction: lantern_logs::store::Order::Desc,
            };
            use lantern_logs::logql::engine::Answer;
            match rt
                .block_on(lantern_logs::logql::engine::run(store, expr, &p))
                .map_err(|e| EvalError::Query(e.to_string()))?
            {
                Answer::Series(s) => {
                    Ok(s.into_iter().filter_map(|s| s.points.last().map(|p| (s.labels, p.1))).collect())
                }
                Answer::Scalar(v) => Ok(v.last().map(|p| vec![(LabelSet::new(), p.1)]).unwrap_or_default()),
                Answer::Streams(_) => {
                    Err(EvalError::Query("a LogQL rule needs a metric query, not a log query".into()))
                }
            }
        };
        let q = EngineQuerier { engine: &self.opts.engine, storage: &storage, logql: Some(&logql) };
        let mut g = group.lock();
        let db = self.db.clone();
        g.eval(&q, t, &self.opts.env, &mut |w| write(&db, &w));
        let failures = g.rules.iter().filter(|r| r.health == lantern_rules::eval::Health::Err).count();
        lantern_core::selfmon::rule_group_evaluated(&format!("{};{}", g.file, g.name), g.eval_seconds, failures as u64);
        let mut batch = Vec::new();
        let interval = g.interval_ms;
        for r in &mut g.rules {
            let Some(_) = r.rule.alert else { continue };
            let url = generator_url(&self.opts.env.external_url, &r.query_text());
            for a in r.alerts.due(t, self.opts.resend_delay_ms, interval) {
                let mut labels = a.labels.clone();
                for (k, v) in &self.opts.env.external_labels {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let resolved = a.state == State::Inactive;
                let ends = if resolved { a.resolved_at.unwrap_or(t) } else { a.valid_until };
                batch.push(Notification {
                    labels,
                    annotations: a.annotations.clone(),
                    starts_at: rfc3339(a.fired_at.unwrap_or(a.active_at)),
                    ends_at: rfc3339(ends),
                    generator_url: url.clone(),
                    resolved,
                });
            }
        }
        drop(g);
        self.notifier.send(batch);
    }
}

/// Writes one rule's output (staleness markers included).
fn write(db: &Tsdb, w: &Written) {
    let mut batch = lantern_tsdb::Batch::new();
    for (labels, v) in &w.series {
        batch.begin_series();
        for (k, val) in labels {
            batch.label(k.as_bytes(), val.as_bytes());
        }
        batch.sample(Sample::new(w.t, *v));
        batch.end_series();
    }
    if let Err(e) = db.append_batch(&batch) {
        tracing::error!(error = %e, "writing rule output failed");
    }
}

/// Milliseconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Prometheus's link to an expression in its graph page.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("{}/graph?g0.expr={q}&g0.tab=1", external_url.trim_end_matches('/'))
}
