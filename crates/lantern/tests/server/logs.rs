//! The seed's structlog configuration, run with the real library from PyPI, writes its
//! JSON lines to Lantern; the seed's search syntax and LogQL (Loki's API) find the
//! `payment_failed` line, also after a `kill -9`. Loki's own Python client pushes, and
//! a WebSocket client follows the live tail.

use std::io::BufRead;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::harness::{get_json, http, py_script, python, Proc, Server};

fn structlog(mode: &str, target: &str) {
    let out =
        Command::new(python()).arg(py_script("seed_logs.py")).args([mode, target]).output().expect("run structlog");
    assert!(out.status.success(), "structlog script failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn search(srv: &Server, body: Value) -> Value {
    let r = http()
        .post(srv.url("/api/v1/logs/search"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status();
    let text = r.text().unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn window() -> (String, String) {
    let now = chrono::Utc::now();
    let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    (f(now - chrono::Duration::minutes(5)), f(now + chrono::Duration::minutes(5)))
}

/// The seed's query (`level:error AND timestamp:[a TO b]`, sorted, limited) over the
/// last minutes finds exactly the seed's failed payment, with its fields.
fn check_payment_failed(srv: &Server, service: &str) {
    let (a, b) = window();
    let v = search(
        srv,
        json!({"query": format!("level:error AND service:{service} AND timestamp:[{a} TO {b}]"), "sort": "timestamp:asc", "limit": 100}),
    );
    assert_eq!(v["total"], 1, "{v}");
    let hit = &v["hits"][0];
    for (k, want) in [
        ("message", "payment_failed"),
        ("event", "payment_failed"),
        ("level", "error"),
        ("service", service),
        ("request_id", "req-123"),
        ("user_id", "user-456"),
        ("error", "Card declined"),
        ("error_code", "CARD_DECLINED"),
    ] {
        assert_eq!(hit[k], want, "{k} in {hit}");
    }
    let ts = hit["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts >= a.as_str(), "{ts}");
    // Every line of the request, by its request ID; the completed one by a field.
    let v = search(srv, json!({"query": format!("request_id:req-123 AND service:{service}"), "sort": "timestamp:asc"}));
    let events: Vec<&str> = v["hits"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["request_started", "payment_failed"], "{v}");
    let v = search(srv, json!({"query": format!("service:{service} AND items:2 AND -level:error")}));
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["hits"][0]["order_id"], "order-789");
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The same line through LogQL: a log query with the json parser, and a metric query.
fn check_logql(srv: &Server, service: &str) {
    let now = chrono::Utc::now().timestamp();
    let range = format!("&start={}&end={}", now - 300, now + 60);
    let q = enc(&format!(r#"{{service="{service}"}} |= "payment_failed" | json | error_code="CARD_DECLINED""#));
    let v = get_json(&srv.url(&format!("/loki/api/v1/query_range?query={q}{range}&limit=10")));
    assert_eq!(v["data"]["resultType"], "streams", "{v}");
    let streams = v["data"]["result"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{v}");
    assert_eq!(streams[0]["stream"]["request_id"], "req-123");
    assert_eq!(streams[0]["stream"]["level"], "error");
    let line: Value = serde_json::from_str(streams[0]["values"][0][1].as_str().unwrap()).unwrap();
    assert_eq!(line["event"], "payment_failed", "the line is structlog's JSON");
    assert_eq!(line["error"], "Card declined");
    let q = enc(&format!(r#"sum by (level) (count_over_time({{service="{service}"}}[10m]))"#));
    let v = get_json(&srv.url(&format!("/loki/api/v1/query?query={q}")));
    let mut counts: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["metric"]["level"].as_str().unwrap().to_string(), r["value"][1].as_str().unwrap().to_string()))
        .collect();
    counts.sort();
    assert_eq!(counts, [("error".to_string(), "1".to_string()), ("info".to_string(), "3".to_string())], "{v}");
}

#[test]
fn structlog_lines_come_back_through_the_seeds_search_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(&dir.path().join("data"));
    structlog("http", &srv.url("/api/v1/logs/jsonl?service=checkout"));
    check_payment_failed(&srv, "checkout");
    check_logql(&srv, "checkout");
    // A syntax error is a 400 naming the position.
    let r = http().post(srv.url("/api/v1/logs/search")).body(r#"{"query": "level:(error OR"}"#).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("syntax error at position"));
    // Acknowledged lines survive kill -9.
    srv.restart();
    check_payment_failed(&srv, "checkout");
    check_logql(&srv, "checkout");
}

#[test]
fn structlog_lines_reach_lantern_through_a_followed_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("app-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = dir.path().join("lantern.yml");
    let pattern = logs.join("*.log");
    std::fs::write(
        &cfg,
        format!(
            "logs:\n  file_poll_interval: 100ms\nlog_files:\n  - paths: [{:?}]\n    service: checkout-file\n    labels: {{env: test}}\n",
            pattern.to_string_lossy()
        ),
    )
    .unwrap();
    let mut srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let file = logs.join("app.log");
    structlog("file", file.to_str().unwrap());
    let total = |srv: &Server| search(srv, json!({"query": "service:checkout-file"}))["total"].as_u64().unwrap();
    crate::harness::eventually(20, "the file's four lines", || (total(&srv) == 4).then_some(()));
    check_payment_failed(&srv, "checkout-file");
    let v = search(&srv, json!({"query": "service:checkout-file AND env:test AND event:request_completed"}));
    assert_eq!(v["total"], 1, "{v}");
    // kill -9, more lines while down, a restart: every line once.
    srv.kill9();
    structlog("file", file.to_str().unwrap());
    srv.restart();
    crate::harness::eventually(20, "eight lines", || (total(&srv) == 8).then_some(()));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(total(&srv), 8, "no line is stored twice");
}

#[test]
fn a_python_traceback_in_a_followed_file_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payment.log");
    let cfg = dir.path().join("lantern.yml");
    std::fs::write(
        &cfg,
        "logs:\n  file_poll_interval: 100ms\nlog_files:\n  - paths: [payment.log]\n    service: payment\n    multiline: {preset: python, force_flush_period: 200ms}\n",
    )
    .unwrap();
    let srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let out = Command::new(python()).arg(py_script("traceback_log.py")).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.lines().count() > 10, "the traceback spans many lines: {written}");
    let total = |q: &str| search(&srv, json!({"query": q}))["total"].as_u64().unwrap();
    crate::harness::eventually(20, "the three records", || (total("service:payment") == 3).then_some(()));
    let v = search(&srv, json!({"query": "ZeroDivisionError"}));
    assert_eq!(v["total"], 1, "{v}");
    let record = v["hits"][0]["message"].as_str().unwrap();
    assert!(record.contains("charge failed for order-1\nTraceback (most recent call last):"), "{record}");
    assert!(record.contains("The above exception was the direct cause"), "{record}");
    assert!(record.ends_with("RuntimeError: gateway rejected the charge"), "{record}");
    assert_eq!(v["hits"][0]["level"], "error", "{v}");
    assert_eq!(total("order-2"), 1);
}

fn otlp_logs(transport: &str, endpoint: &str, service: &str) -> String {
    let out = Command::new(python())
        .arg(py_script("otlp_logs.py"))
        .args([transport, endpoint, service])
        .output()
        .expect("run the OpenTelemetry logging exporter");
    assert!(out.status.success(), "OTLP logs script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_opentelemetry_logging_exporter_over_grpc_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(&dir.path().join("data"));
    let grpc = otlp_logs("grpc", &format!("http://{}", srv.otlp_grpc), "orders-grpc");
    let over_http = otlp_logs("http", &format!("http://{}/v1/logs", srv.otlp_http), "orders-http");
    let check = |srv: &Server, service: &str, trace_id: &str| {
        let v = search(srv, json!({"query": format!("service:{service} AND level:error")}));
        assert_eq!(v["total"], 1, "{v}");
        let hit = &v["hits"][0];
        assert_eq!(hit["message"], "payment_failed", "{hit}");
        assert_eq!(hit["request_id"], "req-123");
        assert_eq!(hit["error_code"], "CARD_DECLINED");
        assert_eq!(hit["severity_text"], "ERROR");
        assert_eq!(hit["trace_id"], trace_id, "the record carries its span's trace id");
        assert_eq!(hit["span_id"].as_str().map(str::len), Some(16));
        // The trace ID finds every record of the request.
        let v = search(srv, json!({"query": format!("trace_id:{trace_id}")}));
        assert_eq!(v["total"], 2, "{v}");
        let q = enc(&format!(r#"{{service="{service}"}} | request_id="req-123""#));
        let v = get_json(&srv.url(&format!("/loki/api/v1/query_range?query={q}")));
        assert_eq!(v["data"]["result"][0]["values"][0][1], "payment_failed", "{v}");
    };
    check(&srv, "orders-grpc", &grpc);
    check(&srv, "orders-http", &over_http);
    srv.restart();
    check(&srv, "orders-grpc", &grpc);
    check(&srv, "orders-http", &over_http);
}

#[test]
fn loki_clients_push_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(&dir.path().join("data"));
    let base = srv.url("");
    let base = base.trim_end_matches('/');
    // The live tail, connected before the lines are pushed.
    let mut tail = Proc(
        Command::new(python())
            .arg(py_script("loki_client.py"))
            .args(["tail", base, r#"{service="payment"} |= "declined""#, "1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the tail client"),
    );
    let mut out = std::io::BufReader::new(tail.0.stdout.take().unwrap()).lines();
    assert_eq!(out.next().unwrap().unwrap(), "connected");
    let push = Command::new(python()).arg(py_script("loki_client.py")).args(["push", base]).output().unwrap();
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let got: Value = serde_json::from_str(&out.next().expect("a tailed line").unwrap()).unwrap();
    assert_eq!(got["line"], "card declined for req-123", "{got}");
    assert_eq!(got["labels"]["service"], "payment");
    assert_eq!(got["labels"]["severity"], "error", "python-logging-loki tags the level");
    // Pushed lines come back through LogQL and the search syntax.
    let q = enc(r#"{service="payment"} |~ "req-12[34]""#);
    // The lines a log query answers, oldest first.
    let lines_of = |srv: &Server| -> Vec<String> {
        let v = get_json(&srv.url(&format!("/loki/api/v1/query_range?query={q}&direction=forward")));
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().iter().map(|v| v[1].as_str().unwrap().to_string()))
            .collect()
    };
    let lines = lines_of(&srv);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let v = search(&srv, json!({"query": "service:payment AND level:error"}));
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["hits"][0]["message"], "card declined for req-123");
    // The log holds the push requests themselves: after kill -9 they are read again,
    // and the same lines come back.
    srv.restart();
    assert_eq!(lines_of(&srv), lines);
    let v = search(&srv, json!({"query": "service:payment AND level:error"}));
    assert_eq!(v["total"], 1, "{v}");
}
