//! Lantern watching itself: `GET /metrics` in Prometheus's text format (checked by
//! promtool from Debian's package) counts what each ingest protocol stored and refused,
//! the HTTP requests, the stores, rules and scrapes; Lantern scrapes it with a one-line
//! config; `/api/v1/status/tsdb`, `config` and `flags` answer as Prometheus's do.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{eventually, free_port, get_json, http, query, remote_write, ts, Server};

/// The samples of a text exposition: name and labels → value.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line ends in its value");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect("labels end with }")),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        let mut rest = labels;
        while let Some((k, after)) = rest.split_once("=\"") {
            let end = after.find('"').expect("a closed label value");
            map.insert(k.trim_start_matches(',').to_string(), after[..end].to_string());
            rest = &after[end + 1..];
        }
        out.push((name.to_string(), map, value.parse().expect("a number")));
    }
    out
}

/// The value of the one sample of `name` carrying `labels` (among others).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
}

fn metrics(srv: &Server) -> String {
    let r = http().get(srv.url("/metrics")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    r.text().unwrap()
}

#[test]
fn lantern_reports_on_itself_and_scrapes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.path().join("lantern.yml");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: self\n    interval: 1s\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "logs: {{max_line_size: 100, max_request_size: 4KiB}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n\
             - {{job_name: lantern, scrape_interval: 1s, static_configs: [{{targets: ['{addr}']}}]}}\n\
             - {{job_name: guarded, basic_auth: {{username: ops, password: hunter2}}, static_configs: [{{targets: ['127.0.0.1:9']}}]}}\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let srv = Server::start_at(&data, addr, &["--config", cfg.to_str().unwrap()]);

    // Ingest through three protocols, each with something refused.
    let long = "x".repeat(200);
    let r = http()
        .post(srv.url("/api/v1/logs/jsonl?service=checkout"))
        .body(format!("{{\"event\": \"a\"}}\n{long}\n{{\"event\": \"b\"}}\n"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "the long line is refused, the others stored");
    let r = http().post(srv.url("/api/v1/logs/jsonl?service=checkout")).body("y\n".repeat(3000)).send().unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (status, _) = remote_write(
        &http(),
        &srv.url("/api/v1/write"),
        vec![
            ts(&[("__name__", "orders_total"), ("shop", "a")], &[(now - 1000, 1.0), (now, 2.0)]),
            ts(&[("__name__", "orders_total"), ("shop", "b")], &[(now, 5.0)]),
        ],
    )
    .unwrap();
    assert_eq!(status, 204);
    let span = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"op",
        "kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000"}]}]}]}"#;
    let r = http()
        .post(format!("http://{}/v1/traces", srv.otlp_http))
        .header("content-type", "application/json")
        .body(span)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The rule group and the self-scrape run; then the counts are checked.
    let text = eventually(30, "a self-scrape and a rule evaluation", || {
        let t = metrics(&srv);
        (value(&t, "lantern_scrapes_total", &[("job", "lantern")]).unwrap_or(0.0) >= 2.0
            && value(&t, "lantern_rule_group_evaluations_total", &[]).unwrap_or(0.0) >= 1.0)
            .then_some(t)
    });
    let logs = [("signal", "logs"), ("protocol", "jsonl")];
    assert_eq!(value(&text, "lantern_ingest_items_total", &logs), Some(2.0), "{text}");
    assert_eq!(
        value(&text, "lantern_ingest_refused_items_total", &[logs[0], logs[1], ("reason", "too_long")]),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "lantern_ingest_refused_requests_total", &[logs[0], logs[1], ("reason", "too_large")]),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "lantern_ingest_items_total", &[("signal", "metrics"), ("protocol", "remote_write")]),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "lantern_ingest_items_total", &[("signal", "traces"), ("protocol", "otlp_http")]),
        Some(1.0)
    );
    assert!(
        value(&text, "lantern_ingest_items_total", &[("signal", "metrics"), ("protocol", "scrape")]).unwrap() > 0.0
    );
    assert!(value(&text, "lantern_ingest_bytes_total", &logs).unwrap() > 0.0);
    assert_eq!(
        value(&text, "lantern_http_requests_total", &[("handler", "/api/v1/logs/jsonl"), ("code", "413")]),
        Some(1.0)
    );
    assert!(value(&text, "lantern_http_request_duration_seconds_count", &[("handler", "/api/v1/write")]).is_some());
    assert!(value(&text, "lantern_tsdb_head_series", &[]).unwrap() >= 2.0);
    assert!(value(&text, "lantern_wal_bytes", &[("signal", "metrics")]).unwrap() > 0.0);
    assert_eq!(value(&text, "lantern_head_items", &[("signal", "logs")]), Some(2.0));
    assert!(value(&text, "lantern_wal_fsync_duration_seconds_count", &[("signal", "logs")]).unwrap() >= 1.0);
    assert_eq!(value(&text, "lantern_rule_evaluation_failures_total", &[]), Some(0.0));
    assert!(value(&text, "lantern_scrape_duration_seconds_count", &[("job", "lantern")]).unwrap() >= 2.0);
    assert_eq!(value(&text, "lantern_scrape_failures_total", &[("job", "lantern")]), Some(0.0));
    assert!(value(&text, "lantern_notifications_queue_length", &[]).is_some());
    assert!(value(&text, "process_resident_memory_bytes", &[]).unwrap() > 1e6);
    assert!(value(&text, "process_open_fds", &[]).unwrap() > 3.0);
    assert_eq!(value(&text, "lantern_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));

    // Prometheus's own linter reads the exposition without a complaint.
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; ./test.sh installs it)");
    lint.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The self-scrape stored the same counts: PromQL reads them.
    let stored = eventually(20, "the self-scraped ingest count", || {
        let v = query(&srv, r#"lantern_ingest_items_total{job="lantern",signal="logs",protocol="jsonl"}"#);
        v["data"]["result"][0]["value"][1].as_str().map(str::to_string)
    });
    assert_eq!(stored, "2");
    let up = query(&srv, r#"up{job="lantern"}"#);
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");

    // Cardinality, configuration and flags as Prometheus reports them.
    let tsdb = get_json(&srv.url("/api/v1/status/tsdb?limit=100"));
    let by_name = tsdb["data"]["seriesCountByMetricName"].as_array().unwrap();
    assert!(by_name.iter().any(|c| c["name"] == "orders_total" && c["value"] == 2), "{tsdb}");
    assert!(tsdb["data"]["headStats"]["numSeries"].as_u64().unwrap() > 2);
    let config = get_json(&srv.url("/api/v1/status/config"));
    let yaml = config["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("job_name: lantern"), "{yaml}");
    assert!(!yaml.contains("hunter2") && yaml.contains("password: <secret>"), "{yaml}");
    let flags = get_json(&srv.url("/api/v1/status/flags"));
    assert_eq!(flags["data"]["data-dir"], data.to_str().unwrap(), "{flags}");
    assert_eq!(flags["data"]["config"], cfg.to_str().unwrap());
    assert_eq!(flags["data"]["http-addr"], srv.addr.as_str());
}
