//! `lantern test rules`: promtool's rule unit-test files (`rule_files`,
//! `evaluation_interval`, `group_eval_order`, `tests` with `input_series` in the
//! `a+bxn` notation, `alert_rule_test`, `promql_expr_test`, `external_labels`), run
//! the way promtool runs them: series loaded in memory, every group evaluated at each
//! evaluation interval from 0 to the last time a test asks about, firing alerts
//! compared at their `eval_time`, expressions evaluated at theirs once the rules have
//! run. The report reads like promtool's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use lantern_core::PromDuration;
use lantern_promql::Engine;
use lantern_promqltest::{load_samples, parse_points, parse_series_labels};
use serde::Deserialize;

use crate::alerts::{LabelSet, State};
use crate::eval::{Env, GroupState};
use crate::mem::MemStorage;
use crate::querier::{label_set, EngineQuerier};
use crate::template::go_exp;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    fuzzy_compare: bool,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: Option<String>,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: PromDuration,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: PromDuration,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    labels: String,
    value: f64,
}

/// The outcome of one test file: what promtool writes to standard output (the
/// heading, `SUCCESS`, blank lines) and to standard error (`FAILED:` and each failure).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every test passed.
    pub passed: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn ms(d: PromDuration) -> i64 {
    d.0.as_millis() as i64
}

/// Runs one unit-test file.
pub fn run_file(path: &Path) -> Outcome {
    let mut stdout = format!("Unit Testing:  {}\n", path.display());
    let mut stderr = String::new();
    let errors = match run(path) {
        Ok(errors) => errors,
        Err(e) => vec![format!("    {e}")],
    };
    let passed = errors.is_empty();
    if passed {
        stdout.push_str("  SUCCESS\n");
    } else {
        stderr.push_str("  FAILED:\n");
        for e in &errors {
            stderr.push_str(e);
            stderr.push('\n');
            stdout.push('\n');
        }
    }
    stdout.push('\n');
    Outcome { passed, stdout, stderr }
}

/// The rule files a test file names, relative to its directory, globs expanded.
fn rule_paths(path: &Path, patterns: &[String]) -> Result<Vec<String>, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let full: Vec<String> = patterns.iter().map(|p| dir.join(p).display().to_string()).collect();
    crate::expand_globs(&full).map_err(|errs| format!("rule_files: {}", errs.join("; ")))
}

/// The errors of every test group, or why the file could not run at all.
fn run(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: TestFile = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    let eval_ms = file.evaluation_interval.map_or(60_000, ms).max(1);
    let mut loaded = Vec::new();
    for p in rule_paths(path, &file.rule_files)? {
        let rf = crate::load(Path::new(&p))
            .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n    "))?;
        loaded.push((p, rf));
    }
    let mut groups: Vec<(String, crate::Group)> =
        loaded.iter().flat_map(|(f, rf)| rf.groups.iter().map(move |g| (f.clone(), g.clone()))).collect();
    if !file.group_eval_order.is_empty() {
        let mut ordered = Vec::new();
        for name in &file.group_eval_order {
            let i = groups
                .iter()
                .position(|(_, g)| &g.name == name)
                .ok_or_else(|| format!("group name provided in group_eval_order not present in rule files: {name}"))?;
            ordered.push(groups.remove(i));
        }
        ordered.append(&mut groups);
        groups = ordered;
    }
    let mut errors = Vec::new();
    for tg in &file.tests {
        errors.extend(run_group(tg, &groups, eval_ms, file.fuzzy_compare));
    }
    Ok(errors)
}

/// Go's `time.Duration` text of `ms` (`0s`, `1m0s`, `1h2m3.5s`, `250ms`).
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let s = (ms % 60_000) as f64 / 1000.0;
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

fn labels_text(l: &LabelSet) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// promtool's list of alerts (labels and annotations).
fn alerts_text(list: &[(LabelSet, LabelSet)]) -> String {
    if list.is_empty() {
        return "[]".into();
    }
    let one = |(l, a): &(LabelSet, LabelSet)| {
        let body = format!("\nLabels:{}\nAnnotations:{}", labels_text(l), labels_text(a));
        body.replace('\n', "\n  ")
    };
    let mut s = format!("[\n0:{}", one(&list[0]));
    for (i, x) in list[1..].iter().enumerate() {
        let _ = write!(s, ",\n{}:{}", i + 1, one(x));
    }
    s.push_str("\n]");
    s
}

fn indent(s: &str, by: &str) -> String {
    s.replace('\n', &format!("\n{by}"))
}

fn samples_text(list: &[(LabelSet, f64)]) -> String {
    if list.is_empty() {
        return "nil".into();
    }
    list.iter().map(|(l, v)| format!("{} {}", labels_text(l), go_exp(*v, true))).collect::<Vec<_>>().join(", ")
}

fn run_group(tg: &TestGroup, groups: &[(String, crate::Group)], eval_ms: i64, fuzzy: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let prefix = if tg.name.is_empty() { String::new() } else { format!("    name: {},\n", tg.name) };
    let db = MemStorage::default();
    let interval = tg.interval.map_or(eval_ms, ms).max(1);
    for s in &tg.input_series {
        let labels = match parse_series_labels(&s.series) {
            Ok(l) => label_set(&l),
            Err(e) => return vec![format!("{prefix}    {e}")],
        };
        let points = match parse_points(&s.values) {
            Ok(p) => p,
            Err(e) => return vec![format!("{prefix}    series {:?}: {e}", s.series)],
        };
        let spec = lantern_promqltest::SeriesSpec { labels: Default::default(), points, line: 0 };
        for x in load_samples(&spec, interval).0 {
            db.append(&labels, x.t, x.v);
        }
    }
    let env =
        Env { external_labels: tg.external_labels.clone(), external_url: tg.external_url.clone().unwrap_or_default() };
    let mut states: Vec<GroupState> = groups.iter().map(|(f, g)| GroupState::new(f, g, eval_ms)).collect();
    let engine = Engine { default_step_ms: eval_ms, ..Engine::default() };
    let mut alert_times: Vec<i64> = tg.alert_rule_test.iter().map(|t| ms(t.eval_time)).collect();
    alert_times.sort_unstable();
    alert_times.dedup();
    let max_t = tg
        .alert_rule_test
        .iter()
        .map(|t| ms(t.eval_time))
        .chain(tg.promql_expr_test.iter().map(|t| ms(t.eval_time)))
        .max()
        .unwrap_or(0);
    let mut next = 0;
    let mut ts = 0;
    while ts <= max_t {
        let q = EngineQuerier { engine: &engine, storage: &db, logql: None };
        let mut eval_errors = Vec::new();
        for g in &mut states {
            g.eval(&q, ts, &env, &mut |w| {
                for (l, v) in &w.series {
                    db.append(l, w.t, *v);
                }
            });
            for r in &g.rules {
                if let Some(e) = &r.last_error {
                    eval_errors.push(format!("    rule: {}, time: {}, err: {e}", r.rule.name(), go_duration(ts)));
                }
            }
        }
        // As promtool: an evaluation error ends the test group.
        if !eval_errors.is_empty() {
            errors.extend(eval_errors);
            return errors;
        }
        while next < alert_times.len() && alert_times[next] >= ts && alert_times[next] < ts + eval_ms {
            let t = alert_times[next];
            for test in tg.alert_rule_test.iter().filter(|x| ms(x.eval_time) == t) {
                let mut got: Vec<(LabelSet, LabelSet)> = states
                    .iter()
                    .flat_map(|g| &g.rules)
                    .filter(|r| r.rule.alert.as_deref() == Some(test.alertname.as_str()))
                    .flat_map(|r| r.alerts.alerts())
                    .filter(|a| a.state == State::Firing)
                    .map(|a| (a.labels.clone(), a.annotations.clone()))
                    .collect();
                let mut exp: Vec<(LabelSet, LabelSet)> = test
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut l = a.exp_labels.clone();
                        l.insert("alertname".into(), test.alertname.clone());
                        (l, a.exp_annotations.clone())
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errors.push(format!(
                        "{prefix}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        test.alertname,
                        test.eval_time,
                        indent(&alerts_text(&exp), "            "),
                        indent(&alerts_text(&got), "            ")
                    ));
                }
            }
            next += 1;
        }
        ts += eval_ms;
    }
    let q = EngineQuerier { engine: &engine, storage: &db, logql: None };
    'tests: for test in &tg.promql_expr_test {
        let head = format!("    expr: {:?}, time: {}", test.expr, test.eval_time);
        let got = lantern_promql::parse(&test.expr)
            .map_err(|e| e.to_string())
            .and_then(|e| crate::eval::Querier::promql(&q, &e, ms(test.eval_time)).map_err(|e| e.to_string()));
        let mut got = match got {
            Ok(g) => g,
            Err(e) => {
                errors.push(format!("{head}, err: {e}"));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &test.exp_samples {
            match parse_series_labels(&s.labels) {
                Ok(l) => exp.push((label_set(&l), s.value)),
                Err(e) => {
                    errors.push(format!("{head}, err: labels {:?}: {e}", s.labels));
                    continue 'tests;
                }
            }
        }
        got.sort_by(|a, b| a.0.cmp(&b.0));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        let same = got.len() == exp.len()
            && got.iter().zip(&exp).all(|((gl, gv), (el, ev))| {
                gl == el
                    // As promtool: exact (so NaN never equals NaN) unless `fuzzy_compare`.
                    && (gv == ev || (fuzzy && lantern_promqltest::almost_equal(*gv, *ev)))
            });
        if !same {
            errors.push(format!("{head},\n        exp: {}\n        got: {}", samples_text(&exp), samples_text(&got)));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_exp(5.0, true), "5E+00");
        assert_eq!(go_exp(0.25, true), "2.5E-01");
        assert_eq!(go_exp(1234.5, true), "1.2345E+03");
        assert_eq!(go_exp(1e100, true), "1E+100");
        assert_eq!(go_exp(3.0, false), "3e+00");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(go_duration(250), "250ms");
    }
}
