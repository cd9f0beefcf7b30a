use super::*;
use crate::mem::MemStorage;
use crate::querier::EngineQuerier;
use lantern_core::is_stale_nan;
use lantern_promql::Engine;

const M: i64 = 60_000;

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn group(yaml: &str) -> GroupState {
    let f = crate::parse("t.yml", yaml).unwrap();
    GroupState::new("t.yml", &f.groups[0], M)
}

/// Runs `g` every minute from `from` to `to` (minutes), writing its output back.
fn run(g: &mut GroupState, db: &MemStorage, from: i64, to: i64) -> Vec<Written> {
    let engine = Engine::default();
    let mut all = Vec::new();
    for minute in from..=to {
        let q = EngineQuerier { engine: &engine, storage: db, logql: None };
        g.eval(&q, minute * M, &Env::default(), &mut |w| {
            for (l, v) in &w.series {
                db.append(l, w.t, *v);
            }
            all.push(w);
        });
    }
    all
}

/// 100 requests a second, `errors` of them 500s, for `minutes` minutes from `start`.
fn traffic(db: &MemStorage, start: i64, minutes: i64, errors: f64) {
    let ok = ls(&[("__name__", "http_requests_total"), ("status", "200")]);
    let bad = ls(&[("__name__", "http_requests_total"), ("status", "500")]);
    for i in 0..=minutes * 4 {
        let t = start * M + i * 15_000;
        db.append(&ok, t, (100.0 - errors) * 15.0 * i as f64);
        db.append(&bad, t, errors * 15.0 * i as f64);
    }
}

#[test]
fn the_seeds_high_error_rate_fires_after_five_minutes_and_resolves() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed-alerts.yml")).unwrap();
    let f = crate::parse("seed-alerts.yml", &text).unwrap();
    let mut g = GroupState::new("seed-alerts.yml", &f.groups[0], M);
    let db = MemStorage::default();
    // 5% errors for 20 minutes.
    traffic(&db, 0, 20, 5.0);
    run(&mut g, &db, 1, 5);
    let high = &g.rules[0];
    assert_eq!(high.health, Health::Ok, "{:?}", high.last_error);
    let a = high.alerts.alerts().next().expect("an alert");
    assert_eq!(a.state, State::Pending);
    assert_eq!(a.labels, ls(&[("alertname", "HighErrorRate"), ("severity", "warning")]));
    assert_eq!(a.annotations["summary"], "Error rate above 1% for 5 minutes");
    assert!((a.value - 0.05).abs() < 1e-9, "{}", a.value);
    let out = run(&mut g, &db, 6, 6);
    assert_eq!(g.rules[0].alerts.alerts().next().unwrap().state, State::Firing);
    let alerts: Vec<_> = out.iter().flat_map(|w| &w.series).filter(|(l, _)| l["__name__"] == "ALERTS").collect();
    assert!(alerts.iter().any(|(l, v)| l["alertname"] == "HighErrorRate" && l["alertstate"] == "firing" && *v == 1.0));
    // 5% errors burn a 99.9% budget 50x: ErrorBudgetBurn fires too.
    assert_eq!(g.rules[1].alerts.alerts().next().unwrap().state, State::Firing);
    // Errors stop (counters stay flat): the rate drops to 0 once the window passes.
    let ok = ls(&[("__name__", "http_requests_total"), ("status", "200")]);
    let bad = ls(&[("__name__", "http_requests_total"), ("status", "500")]);
    for i in 1..=40 {
        let t = 20 * M + i * 15_000;
        db.append(&ok, t, 95.0 * 15.0 * 80.0 + 100.0 * 15.0 * i as f64);
        db.append(&bad, t, 5.0 * 15.0 * 80.0);
    }
    let out = run(&mut g, &db, 7, 30);
    let a = g.rules[0].alerts.alerts().next().unwrap();
    assert_eq!(a.state, State::Inactive);
    assert!(a.resolved_at.is_some());
    // The ALERTS series got a staleness marker when the alert resolved.
    assert!(out
        .iter()
        .flat_map(|w| &w.series)
        .any(|(l, v)| l["__name__"] == "ALERTS" && l["alertname"] == "HighErrorRate" && is_stale_nan(*v)));
}

#[test]
fn recording_rules_write_named_series_that_later_rules_read_and_go_stale() {
    let mut g = group(
        r#"
groups:
  - name: g
    labels: {team: pay}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: rule}
      - record: job:up:double
        expr: job:up:sum * 2
"#,
    );
    let db = MemStorage::default();
    for m in 0..=3 {
        db.append(&ls(&[("__name__", "up"), ("job", "a"), ("instance", "1")]), m * M, 1.0);
        db.append(&ls(&[("__name__", "up"), ("job", "a"), ("instance", "2")]), m * M, 1.0);
    }
    let out = run(&mut g, &db, 1, 1);
    assert_eq!(
        out[0].series,
        vec![(ls(&[("__name__", "job:up:sum"), ("job", "a"), ("source", "rule"), ("team", "pay")]), 2.0)]
    );
    // The second rule saw the first one's output of the same evaluation.
    assert_eq!(
        out[1].series,
        vec![(ls(&[("job", "a"), ("source", "rule"), ("team", "pay"), ("__name__", "job:up:double")]), 4.0)]
    );
    // The input stops: the outputs are marked stale once the lookback passes.
    let out = run(&mut g, &db, 4, 9);
    let stale: Vec<_> = out.iter().flat_map(|w| &w.series).filter(|(_, v)| is_stale_nan(*v)).collect();
    assert_eq!(stale.len(), 2, "{out:?}");
}

#[test]
fn errors_and_limits_mark_the_rule_unhealthy() {
    let mut g = group(
        r#"
groups:
  - name: g
    limit: 1
    rules:
      - record: x
        expr: up
      - alert: Dup
        expr: up
        labels: {instance: same}
"#,
    );
    let db = MemStorage::default();
    db.append(&ls(&[("__name__", "up"), ("instance", "1")]), 0, 1.0);
    db.append(&ls(&[("__name__", "up"), ("instance", "2")]), 0, 1.0);
    run(&mut g, &db, 0, 0);
    assert_eq!(g.rules[0].health, Health::Err);
    assert_eq!(g.rules[0].last_error.as_deref(), Some("exceeded limit of 1 with 2 series"));
    assert_eq!(g.rules[1].health, Health::Err);
    assert_eq!(
        g.rules[1].last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
}

#[test]
fn templates_expand_and_for_state_is_restored_after_a_restart() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 30m
        labels: {severity: "{{ if true }}x"}
        annotations:
          summary: "{{ $labels.instance }} is down ({{ $value }})"
"#;
    // An `if` never closed: refused at load with the rule's line.
    let errs = crate::parse("t.yml", yaml).unwrap_err();
    assert!(
        errs[0].to_string().starts_with("t.yml:5: group \"g\", rule \"Down\": label \"severity\": bad template"),
        "{errs:?}"
    );
    let yaml = yaml.replace(r#"{{ if true }}x"#, "page");
    let mut g = group(&yaml);
    let db = MemStorage::default();
    let up = ls(&[("__name__", "up"), ("instance", "db1")]);
    for m in 0..=200 {
        db.append(&up, m * M, 0.0);
    }
    run(&mut g, &db, 0, 20);
    let a = g.rules[0].alerts.alerts().next().unwrap();
    assert_eq!(a.annotations["summary"], "db1 is down (0)");
    assert_eq!((a.state, a.active_at), (State::Pending, 0));
    // Restart at minute 25 (down 5 minutes): the new group takes back the activity
    // time, shifted by the downtime (20 minutes pending before, 10 to go).
    let mut g = group(&yaml);
    g.restore_at_next_eval();
    run(&mut g, &db, 25, 25);
    let a = g.rules[0].alerts.alerts().next().unwrap();
    assert_eq!((a.state, a.active_at), (State::Pending, 5 * M));
    run(&mut g, &db, 26, 34);
    assert_eq!(g.rules[0].alerts.alerts().next().unwrap().state, State::Pending);
    run(&mut g, &db, 35, 35);
    assert_eq!(g.rules[0].alerts.alerts().next().unwrap().state, State::Firing);
    // Without the restore, the alert would start over at 25 and fire at 55.
}

#[test]
fn a_reload_keeps_unchanged_rules_alerts_and_names_the_series_nothing_writes_any_more() {
    let old_yaml = r#"
groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 10m
"#;
    let mut old = group(old_yaml);
    let db = MemStorage::default();
    for m in 0..=3 {
        db.append(&ls(&[("__name__", "up"), ("job", "a")]), m * M, 0.0);
    }
    run(&mut old, &db, 0, 3);
    assert_eq!(old.rules[1].alerts.alerts().next().unwrap().active_at, 0);
    // The recording rule is gone; the alert is unchanged and keeps its state.
    let mut new = group(&old_yaml.replace("      - record: job:up:sum\n        expr: sum by (job) (up)\n", ""));
    let gone = new.carry_over(&old);
    assert_eq!(gone, vec![ls(&[("__name__", "job:up:sum"), ("job", "a")])]);
    assert_eq!(new.rules[0].alerts.alerts().next().unwrap().active_at, 0);
    assert_eq!(old.written().len(), 3, "job:up:sum, ALERTS and ALERTS_FOR_STATE");
}
