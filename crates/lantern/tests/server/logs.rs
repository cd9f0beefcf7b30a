//! The seed's structlog configuration, run with the real library from PyPI, writes its
//! JSON lines to Lantern; the seed's search syntax finds the `payment_failed` line, also
//! after a `kill -9`.

use std::process::Command;

use serde_json::{json, Value};

use crate::harness::{http, py_script, python, Server};

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

#[test]
fn structlog_lines_come_back_through_the_seeds_search_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(&dir.path().join("data"));
    structlog("http", &srv.url("/api/v1/logs/jsonl?service=checkout"));
    check_payment_failed(&srv, "checkout");
    // A syntax error is a 400 naming the position.
    let r = http().post(srv.url("/api/v1/logs/search")).body(r#"{"query": "level:(error OR"}"#).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("syntax error at position"));
    // Acknowledged lines survive kill -9.
    srv.restart();
    check_payment_failed(&srv, "checkout");
}
