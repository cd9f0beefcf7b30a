//! The rule engine in the running server: the seed's rules and SLOs on a real client,
//! alerts reaching Debian's Alertmanager and resolving, webhooks, reloads, restarts,
//! and the rules APIs and notifications compared with Debian's Prometheus.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::harness::{
    eventually, first_value, free_port, get_json, http, py_script, python, query, seed_app, Proc, Server,
};

/// A running Alertmanager from Debian's package, killed on drop.
struct Alertmanager {
    _proc: Proc,
    url: String,
}

impl Alertmanager {
    fn start(dir: &Path) -> Alertmanager {
        let port = free_port();
        let cfg = dir.join("alertmanager.yml");
        std::fs::write(
            &cfg,
            "route:\n  receiver: team\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: team\n",
        )
        .unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Alertmanager is not installed: run ./test.sh, which installs Debian's prometheus-alertmanager");
        let am = Alertmanager { _proc: Proc(child), url: format!("http://127.0.0.1:{port}") };
        eventually(60, "alertmanager to be ready", || {
            http().get(format!("{}/-/ready", am.url)).send().ok().filter(|r| r.status().is_success())
        });
        am
    }

    /// Alertmanager's active alerts named `name`.
    fn alerts(&self, name: &str) -> Vec<serde_json::Value> {
        let v = get_json(&format!("{}/api/v2/alerts", self.url));
        v.as_array().unwrap().iter().filter(|a| a["labels"]["alertname"] == name).cloned().collect()
    }
}

/// A webhook receiver on loopback: answers 500 to its first `fail_first` requests
/// (so the sender must retry), then 200; keeps every body it received.
fn webhook_receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            seen += 1;
            let status = if seen <= fail_first { "500 Internal Server Error" } else { "200 OK" };
            if seen > fail_first {
                if let Ok(v) = serde_json::from_slice(&body) {
                    kept.lock().unwrap().push(v);
                }
            }
            let _ = write!(conn, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

fn rules_doc(srv: &Server) -> Vec<serde_json::Value> {
    let v = get_json(&srv.url("/api/v1/rules"));
    v["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect()
}

fn rule(srv: &Server, name: &str) -> Option<serde_json::Value> {
    rules_doc(srv).into_iter().find(|r| r["name"] == name)
}

/// An OpenSLO SLO (bad events over a calendar month) and a Sloth SLO on the seed
/// app's counters.
const MORE_SLOS: [(&str, &str); 2] = [
    (
        "openslo.yml",
        r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: seed-errors
spec:
  indicator:
    metadata:
      name: seed-errors-sli
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{status=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: "2026-01-01 00:00:00"
        timeZone: UTC
  budgetingMethod: Occurrences
  objectives:
    - target: 0.995
"#,
    ),
    (
        "sloth.yml",
        r#"version: "prometheus/v1"
service: "seed"
slos:
  - name: "availability"
    objective: 99
    sli:
      events:
        error_query: sum(rate(http_requests_total{status=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
"#,
    ),
];

const FAST_RULES: &str = r#"groups:
  - name: fast
    interval: 1s
    rules:
      - record: job:http_requests:rate30s
        expr: sum by (job) (rate(http_requests_total[30s]))
      - alert: ErrorsSeen
        expr: sum by (job) (rate(http_requests_total{status=~"5.."}[10s])) > 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} answers {{ $value | humanize }} errors per second"
      - alert: SlowBurn
        expr: sum(rate(http_requests_total{status=~"5.."}[10m])) > 0
        for: 15m
      - alert: PaymentFailuresLogged
        lang: logql
        expr: sum(count_over_time({service="payment"} |= "payment_failed" [5m])) > 2
        labels:
          severity: ticket
"#;

#[test]
fn the_seeds_rules_and_slos_run_on_a_real_client_and_alerts_reach_alertmanager_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(dir.path());
    let (hook, hook_bodies) = webhook_receiver(2);
    let (_app, metrics_port, app) = seed_app();
    // One failure before Lantern starts: the failure counter exists from the first
    // scrape, so its increases are seen (a counter first seen at 5 shows no rate).
    http().get(format!("{app}/fail/warmup")).send().unwrap();

    // The seed's rule and SLO files, unmodified, beside a fast rule file.
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata");
    std::fs::copy(testdata.join("seed-alerts.yml"), dir.path().join("seed-alerts.yml")).unwrap();
    std::fs::copy(testdata.join("seed-slos.yml"), dir.path().join("seed-slos.yml")).unwrap();
    std::fs::write(dir.path().join("fast.yml"), FAST_RULES).unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    for (name, text) in MORE_SLOS {
        std::fs::write(dir.path().join("more").join(name), text).unwrap();
    }
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"global:
  evaluation_interval: 1s
  external_labels: {{cluster: test}}
scrape_configs:
  - job_name: seed
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:{metrics_port}']
rule_files: ['seed-alerts.yml', 'fast*.yml']
slo_files: ['seed-slos.yml', 'more/*.yml']
alerting:
  resend_delay: 1s
  alert_relabel_configs:
    - source_labels: [alertname]
      regex: PaymentFailuresLogged
      action: drop
    - target_label: team
      replacement: payments
  alertmanagers:
    - static_configs:
        - targets: ['{}']
  webhooks:
    - url: {hook}
"#,
            am.url.trim_start_matches("http://")
        ),
    )
    .unwrap();
    let mut srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);

    // 20 good requests and 5 failures (plus the two warm-ups), from the real client
    // library, over a few scrapes.
    for i in 0..25 {
        if i % 5 == 4 {
            assert_eq!(http().get(format!("{app}/fail/warmup")).send().unwrap().status().as_u16(), 500);
        } else {
            http().get(format!("{app}/api/users")).send().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    // Three payment failures in the logs, for the LogQL rule.
    let lines =
        (0..3).map(|i| format!("{{\"level\":\"error\",\"event\":\"payment_failed\",\"n\":{i}}}\n")).collect::<String>();
    let r = http().post(srv.url("/api/v1/logs/jsonl?service=payment")).body(lines).send().unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());

    // The fast alert fires and reaches Alertmanager with the external label, the
    // template expanded and a link back.
    let sent = eventually(60, "ErrorsSeen in alertmanager", || am.alerts("ErrorsSeen").into_iter().next());
    assert_eq!(sent["labels"]["severity"], "page");
    assert_eq!(sent["labels"]["job"], "seed");
    assert_eq!(sent["labels"]["cluster"], "test");
    assert_eq!(sent["labels"]["team"], "payments", "alert_relabel_configs applied: {sent}");
    let summary = sent["annotations"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("seed answers ") && summary.ends_with(" errors per second"), "{summary}");
    assert!(sent["generatorURL"].as_str().unwrap().contains("/graph?g0.expr=sum+by+%28job%29"), "{sent}");
    assert!(sent["startsAt"].as_str().unwrap().starts_with("20"), "{sent}");

    // The seed's rules evaluate on the same data: 6 of 27 requests failed, far above
    // 1%; they are pending (their `for` is 5 minutes).
    for name in ["HighErrorRate", "ErrorBudgetBurn"] {
        let r = eventually(30, name, || rule(&srv, name).filter(|r| r["state"] == "pending"));
        assert_eq!(r["health"], "ok", "{r}");
        assert_eq!(r["duration"], 300.0, "{r}");
        let v: f64 = r["alerts"][0]["value"].as_str().unwrap().parse().unwrap();
        assert!(v > 0.01, "{r}");
    }
    // The LogQL rule fired; the recording rule wrote its series.
    let logged =
        eventually(30, "the LogQL alert", || rule(&srv, "PaymentFailuresLogged").filter(|r| r["state"] == "firing"));
    assert_eq!(logged["lang"], "logql");
    assert_eq!(logged["alerts"][0]["value"], "3e+00");
    eventually(30, "the recording rule's series", || {
        first_value(&query(&srv, "job:http_requests:rate30s{job=\"seed\"}"))
    });
    let alerts = get_json(&srv.url("/api/v1/alerts"));
    let names: Vec<&str> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap())
        .collect();
    for n in ["ErrorsSeen", "HighErrorRate", "ErrorBudgetBurn", "PaymentFailuresLogged"] {
        assert!(names.contains(&n), "{names:?}");
    }

    // SLOs: the budget is the seed's function on the client's counts.
    let slo = eventually(30, "the availability SLO to count every request", || {
        let v = get_json(&srv.url("/api/v1/slos/api-availability"));
        (v["data"]["total"] == 27.0).then_some(v)
    });
    let d = &slo["data"];
    assert_eq!((d["good"].as_f64(), d["failed"].as_f64()), (Some(21.0), Some(6.0)), "{d}");
    let out = Command::new(python()).arg(py_script("seed_budget.py")).args(["99.9", "27", "6"]).output().unwrap();
    let seed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["budget_total", "budget_used", "budget_remaining", "budget_remaining_percent"] {
        let (ours, theirs) = (d[k].as_f64().unwrap(), seed[k].as_f64().unwrap());
        assert!((ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0), "{k}: {ours} vs the seed's {theirs}");
    }
    assert!((d["sli"].as_f64().unwrap() - 21.0 / 27.0 * 100.0).abs() < 1e-9, "{d}");
    assert_eq!(d["time_to_exhaustion_seconds"], 0.0, "the budget is spent: {d}");
    assert!(d["burn_rates"]["5m"].as_f64().unwrap() > 14.4, "{d}");
    // The seed's latency SLO counts a bucket its histogram does not have.
    let lat = get_json(&srv.url("/api/v1/slos/api-latency"));
    assert_eq!(lat["data"]["status"], "flagged", "{lat}");
    assert!(lat["data"]["sli"].is_null(), "never shown as 100%: {lat}");
    let w = lat["data"]["warnings"][0].as_str().unwrap();
    assert!(w.contains("le=\"0.2\"") && w.contains("le=\"0.1\" and le=\"0.25\""), "{w}");
    // OpenSLO: bad events over the calendar month, the same counts and the seed's
    // function at 99.5%.
    let open = get_json(&srv.url("/api/v1/slos/seed-errors"));
    let d = &open["data"];
    assert_eq!(
        (d["total"].as_f64(), d["failed"].as_f64(), d["status"].as_str()),
        (Some(27.0), Some(6.0), Some("exhausted")),
        "{d}"
    );
    assert_eq!(d["window"], "30d (calendar)");
    let out = Command::new(python()).arg(py_script("seed_budget.py")).args(["99.5", "27", "6"]).output().unwrap();
    let seed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        (d["budget_remaining"].as_f64().unwrap() - seed["budget_remaining"].as_f64().unwrap()).abs() < 1e-9,
        "{d} {seed}"
    );
    // Sloth: rate queries, burning far above 1x: its budget is gone.
    let sloth = get_json(&srv.url("/api/v1/slos/seed-availability"));
    assert_eq!(sloth["data"]["status"], "exhausted", "{sloth}");
    assert!(sloth["data"]["burn_rates"]["5m"].as_f64().unwrap() > 1.0, "{sloth}");
    let all = get_json(&srv.url("/api/v1/slos"));
    assert_eq!(all["data"]["slos"].as_array().unwrap().len(), 4);
    // The SLO's burn-rate alerts are rules like any other, and page.
    let page = eventually(60, "the SLO page", || {
        rules_doc(&srv).into_iter().find(|r| {
            r["name"] == "SLOErrorBudgetBurn" && r["labels"]["slo"] == "api-availability" && r["state"] == "firing"
        })
    });
    assert_eq!(page["labels"]["severity"], "page");

    // Failures stop: the alert resolves in Lantern and in Alertmanager, and the
    // webhook (after two refused attempts, retried) gets the resolution.
    eventually(60, "ErrorsSeen to resolve in alertmanager", || am.alerts("ErrorsSeen").is_empty().then_some(()));
    assert_eq!(rule(&srv, "ErrorsSeen").unwrap()["state"], "inactive");
    assert!(am.alerts("PaymentFailuresLogged").is_empty(), "dropped by alert_relabel_configs, though firing");
    let resolved = eventually(30, "the webhook's resolution", || {
        hook_bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b["groupLabels"]["alertname"] == "ErrorsSeen" && b["status"] == "resolved")
            .cloned()
    });
    assert_eq!(resolved["version"], "4");
    assert_eq!(resolved["alerts"][0]["labels"]["cluster"], "test");
    let notifiers = get_json(&srv.url("/api/v1/notifiers"));
    let hook_stats =
        notifiers["data"]["notifiers"].as_array().unwrap().iter().find(|n| n["kind"] == "webhook").unwrap().clone();
    assert!(hook_stats["retries"].as_u64().unwrap() >= 2, "{hook_stats}");
    assert!(hook_stats["sent"].as_u64().unwrap() >= 2, "{hook_stats}");

    // A bad reload keeps the rules in force and says where the problem is.
    std::fs::write(dir.path().join("fast.yml"), FAST_RULES.replace("> 0\n", "> \n")).unwrap();
    let r = http().post(srv.url("/-/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let text = r.text().unwrap();
    assert!(text.contains("fast.yml:7: group \"fast\", rule \"ErrorsSeen\": could not parse expression"), "{text}");
    assert!(rule(&srv, "ErrorsSeen").is_some());
    // SIGHUP reloads a good file.
    std::fs::write(dir.path().join("fast.yml"), FAST_RULES.replace("ErrorsSeen", "ErrorsSeenAgain")).unwrap();
    let pid = srv.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    eventually(30, "the reloaded rule", || rule(&srv, "ErrorsSeenAgain"));
    assert!(rule(&srv, "ErrorsSeen").is_none());

    // kill -9: the pending SlowBurn (for: 15m) keeps its activity time, moved on by the
    // time Lantern was down (as Prometheus restores `for` from ALERTS_FOR_STATE).
    let active_at = |r: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(r["alerts"][0]["activeAt"].as_str().unwrap()).unwrap().timestamp_millis()
    };
    let before = active_at(&rule(&srv, "SlowBurn").unwrap());
    assert_eq!(rule(&srv, "SlowBurn").unwrap()["state"], "pending");
    srv.kill9();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let restarted = chrono::Utc::now().timestamp_millis();
    srv.restart();
    let after = eventually(30, "SlowBurn pending again", || {
        rule(&srv, "SlowBurn").filter(|r| r["state"] == "pending").map(|r| active_at(&r))
    });
    assert!(
        after >= before + 2000 && after < restarted,
        "activeAt {before} before, {after} after a restart at {restarted}"
    );
}

#[test]
fn a_bad_rule_file_stops_start_up_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n",
    )
    .unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(&cfg, "rule_files: ['bad.yml']\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--http-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key rule_files/slo_files:") && err.contains("bad.yml:4: group \"g\", rule \"A\""), "{err}");
}

/// Every key path of a JSON document with the JSON types found there.
fn shape(
    v: &serde_json::Value,
    path: String,
    out: &mut std::collections::BTreeMap<String, std::collections::BTreeSet<&'static str>>,
) {
    use serde_json::Value as V;
    let kind = match v {
        V::Null => "null",
        V::Bool(_) => "bool",
        V::Number(n) if n.is_f64() => "float",
        V::Number(_) => "int",
        V::String(_) => "string",
        V::Array(_) => "array",
        V::Object(_) => "object",
    };
    out.entry(path.clone()).or_default().insert(kind);
    match v {
        V::Object(m) => {
            for (k, x) in m {
                // Label and annotation names are data, not shape.
                let p = if path.ends_with(".labels") || path.ends_with(".annotations") {
                    format!("{path}.*")
                } else {
                    format!("{path}.{k}")
                };
                shape(x, p, out);
            }
        }
        V::Array(a) => a.iter().for_each(|x| shape(x, format!("{path}[]"), out)),
        _ => {}
    }
}

/// What must match between Prometheus's and Lantern's rules answers: everything but
/// times and evaluation durations.
fn rules_summary(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let rules: Vec<serde_json::Value> = g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    let o = r.as_object_mut().unwrap();
                    o.remove("lastEvaluation");
                    o.remove("evaluationTime");
                    for a in o.get_mut("alerts").and_then(|a| a.as_array_mut()).into_iter().flatten() {
                        a.as_object_mut().unwrap().remove("activeAt");
                    }
                    r
                })
                .collect();
            serde_json::json!({"name": g["name"], "file": g["file"], "interval": g["interval"], "limit": g["limit"], "rules": rules})
        })
        .collect()
}

#[test]
fn rules_and_alerts_answer_in_prometheus_json_as_prometheus_does() {
    let dir = tempfile::tempdir().unwrap();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata");
    std::fs::copy(testdata.join("seed-alerts.yml"), dir.path().join("seed-alerts.yml")).unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        r#"groups:
  - name: g
    interval: 1s
    limit: 5
    rules:
      - record: r:one
        expr: vector(1)
      - record: r:labelled
        expr: vector(1)
        labels: {team: a}
      - alert: Pending
        expr: vector(1) > 0
        for: 1h
        labels: {severity: page}
        annotations: {summary: "at {{ $value }} of {{ $labels.severity }}"}
      - alert: Firing
        expr: label_replace(vector(2.5), "instance", "db-1", "", "")
        keep_firing_for: 90s
      - alert: Failing
        expr: vector(1) + on() group_left() (label_replace(vector(1), "a", "x", "", "") or label_replace(vector(1), "a", "y", "", ""))
"#,
    )
    .unwrap();
    let config = "global:\n  evaluation_interval: 1s\nrule_files: ['seed-alerts.yml', 'r.yml']\n";
    let prom = crate::harness::Prometheus::start(dir.path(), config, &[]);
    std::fs::write(dir.path().join("lantern.yaml"), config).unwrap();
    let srv =
        Server::start_with(&dir.path().join("data"), &["--config", dir.path().join("lantern.yaml").to_str().unwrap()]);
    let evaluated = |url: &str| {
        let v = get_json(&format!("{url}/api/v1/rules"));
        let ok = v["data"]["groups"]
            .as_array()
            .is_some_and(|gs| gs.iter().flat_map(|g| g["rules"].as_array().unwrap()).all(|r| r["health"] != "unknown"));
        ok.then_some(v)
    };
    let theirs = eventually(60, "prometheus to evaluate the rules", || evaluated(&prom.url));
    let ours = eventually(60, "lantern to evaluate the rules", || evaluated(&format!("http://{}", srv.addr)));
    // The rule whose expression fails has health err and a lastError in both; the
    // texts may differ.
    let strip_errors = |mut v: Vec<serde_json::Value>| {
        for g in &mut v {
            for r in g["rules"].as_array_mut().unwrap() {
                if let Some(e) = r.as_object_mut().unwrap().remove("lastError") {
                    assert!(e.as_str().is_some_and(|s| !s.is_empty()));
                    r["lastError"] = serde_json::json!("…");
                }
            }
        }
        v
    };
    let failing = rule(&srv, "Failing").unwrap();
    assert_eq!(failing["health"], "err", "{failing}");
    assert_eq!(strip_errors(rules_summary(&ours)), strip_errors(rules_summary(&theirs)));
    let (mut a, mut b) = (Default::default(), Default::default());
    shape(&ours, String::new(), &mut a);
    shape(&theirs, String::new(), &mut b);
    assert_eq!(a, b, "the rules answers' shapes differ");
    // Filtered by type, as Prometheus filters.
    for kind in ["alert", "record"] {
        let get = |url: &str| strip_errors(rules_summary(&get_json(&format!("{url}/api/v1/rules?type={kind}"))));
        let theirs = get(&prom.url);
        assert!(theirs.iter().any(|g| !g["rules"].as_array().unwrap().is_empty()), "{kind}");
        assert_eq!(get(&format!("http://{}", srv.addr)), theirs, "type={kind}");
    }
    let alerts = |url: &str| {
        let mut v = get_json(&format!("{url}/api/v1/alerts"));
        let list = v["data"]["alerts"].as_array_mut().unwrap();
        for a in list.iter_mut() {
            a.as_object_mut().unwrap().remove("activeAt");
        }
        list.sort_by_key(|a| a["labels"]["alertname"].as_str().unwrap_or_default().to_string());
        v
    };
    assert_eq!(alerts(&format!("http://{}", srv.addr)), alerts(&prom.url));
    // The series rules write: recording rules' values, ALERTS, ALERTS_FOR_STATE.
    let series = |url: &str, q: &str, with_values: bool| {
        let r = http().post(format!("{url}/api/v1/query")).form(&[("query", q)]).send().unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        let mut out: Vec<String> = v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| if with_values { format!("{} {}", s["metric"], s["value"][1]) } else { s["metric"].to_string() })
            .collect();
        out.sort();
        out
    };
    // (Prometheus writes ALERTS from a group's second evaluation on, once `for` state
    // is restored.)
    for (q, with_values) in [("{__name__=~\"r:.*\"}", true), ("ALERTS", true), ("ALERTS_FOR_STATE", false)] {
        let theirs = eventually(30, q, || Some(series(&prom.url, q, with_values)).filter(|s| !s.is_empty()));
        assert_eq!(series(&format!("http://{}", srv.addr), q, with_values), theirs, "{q}");
    }
}

#[test]
fn alerts_reach_an_alertmanager_as_prometheus_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Firing\n        expr: label_replace(vector(2.5), \"instance\", \"db-1\", \"\", \"\")\n        labels: {severity: page}\n        annotations: {summary: \"{{ $labels.instance }} at {{ $value }}\"}\n",
    )
    .unwrap();
    // Each side gets its own capturing "Alertmanager".
    let (prom_am, prom_got) = webhook_receiver(0);
    let (our_am, our_got) = webhook_receiver(0);
    let target = |u: &str| u.trim_start_matches("http://").trim_end_matches("/hook").to_string();
    let config = |am: &str| {
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['r.yml']\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: ['{}']\n", target(am))
    };
    // Resend every second on both sides (Prometheus drops what it sends before it has
    // discovered its Alertmanagers, then waits the resend delay).
    let _prom = crate::harness::Prometheus::start(dir.path(), &config(&prom_am), &["--rules.alert.resend-delay=1s"]);
    let ours = config(&our_am).replace("alerting:\n", "alerting:\n  resend_delay: 1s\n");
    std::fs::write(dir.path().join("lantern.yaml"), ours).unwrap();
    let _srv =
        Server::start_with(&dir.path().join("data"), &["--config", dir.path().join("lantern.yaml").to_str().unwrap()]);
    let first = |got: &Arc<Mutex<Vec<serde_json::Value>>>, who: &str| {
        eventually(60, who, || got.lock().unwrap().first().cloned())
    };
    let (theirs, ours) = (first(&prom_got, "prometheus's first alert"), first(&our_got, "lantern's first alert"));
    let (t, o) = (&theirs[0], &ours[0]);
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(o), keys(t), "{o} vs {t}");
    assert_eq!((&o["labels"], &o["annotations"]), (&t["labels"], &t["annotations"]));
    // The link: each side's external URL, then the same path and query.
    let link = |v: &serde_json::Value| v["generatorURL"].as_str().unwrap().split_once("/graph").unwrap().1.to_string();
    assert_eq!(link(o), link(t));
    // A firing alert holds for four resend delays (here 1s) past the evaluation that
    // sent it, then ends unless sent again.
    let last = |got: &Arc<Mutex<Vec<serde_json::Value>>>| {
        let v = got.lock().unwrap().last().cloned().unwrap();
        let at = |k: &str| chrono::DateTime::parse_from_rfc3339(v[0][k].as_str().unwrap()).unwrap().timestamp_millis();
        (at("startsAt"), at("endsAt"))
    };
    std::thread::sleep(std::time::Duration::from_secs(3));
    for (who, got) in [("prometheus", &prom_got), ("lantern", &our_got)] {
        let n = got.lock().unwrap().len();
        assert!(n >= 2, "{who} resends every second: {n} sends");
        let (starts, ends) = last(got);
        let now = chrono::Utc::now().timestamp_millis();
        assert!(ends > now && ends - now <= 4_500, "{who}: endsAt {ends} about 4 s after the send at ~{now}");
        assert!(starts < now - 2_000, "{who}: startsAt stays the firing time");
    }
}
