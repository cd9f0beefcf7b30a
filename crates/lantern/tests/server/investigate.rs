//! The investigation on incidents made through the real protocols: the shop of
//! `tests/python/shop.py` (prometheus_client scraped, the OpenTelemetry SDK over OTLP,
//! structlog lines as JSON lines) plays each scenario against its own Lantern, and
//! `lantern investigate --json` must name the service and operation where it started —
//! through a decoy service's steady errors, a latency-only incident, a failure two hops
//! below the service users call, and no logs at all — and say "no incident found" for
//! a calm window. Also: the correlation of one of the failing requests.

use std::process::{Command, Stdio};

use crate::harness::{eventually, free_port, get_json, py_script, python, Proc, Server};

/// Starts the shop on `services` (name, metrics port) against `srv`.
pub fn shop<'a>(
    srv: &Server,
    services: impl Iterator<Item = (&'a str, u16)>,
    calm: u32,
    incident: u32,
    scenario: &str,
) -> Proc {
    let ports: serde_json::Map<String, serde_json::Value> = services.map(|(s, p)| (s.to_string(), p.into())).collect();
    Proc(
        Command::new(python())
            .arg(py_script("shop.py"))
            .arg(&srv.otlp_grpc)
            .arg(srv.url(""))
            .args([calm.to_string(), incident.to_string(), scenario.to_string()])
            .arg(serde_json::Value::Object(ports).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the shop"),
    )
}

/// Waits for the shop to finish and returns what it printed.
pub fn shop_output(mut shop: Proc) -> String {
    use std::io::Read;
    let mut out = String::new();
    shop.0.stdout.take().expect("piped").read_to_string(&mut out).unwrap();
    let status = shop.0.wait().unwrap();
    assert!(status.success(), "the shop failed: {out}");
    out
}

/// Plays a scenario on a fresh Lantern and returns the server, the shop's summary and
/// the window (Unix seconds) it ran in.
fn play(
    dir: &std::path::Path,
    scenario: &str,
    services: &[&str],
    calm: u32,
    incident: u32,
) -> (Server, serde_json::Value, f64, f64) {
    let ports: Vec<(&str, u16)> = services.iter().map(|s| (*s, free_port())).collect();
    let jobs: String = ports
        .iter()
        .map(|(job, p)| format!("  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{p}']}}]\n"))
        .collect();
    let cfg = dir.join("lantern.yaml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\ntraces:\n  span_metrics_interval: 1s\nscrape_configs:\n{jobs}"),
    )
    .unwrap();
    let srv = Server::start_with(&dir.join("data"), &["--config", cfg.to_str().unwrap()]);
    let began = now();
    let out = shop_output(shop(&srv, ports.iter().copied(), calm, incident, scenario));
    // Spans go out in batches and span metrics every second: wait for the last of both.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("the shop's summary");
    (srv, summary, began, now())
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// `lantern investigate --json` over the window.
fn investigate(srv: &Server, from: f64, to: f64) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args([
            "investigate",
            "--json",
            "--url",
            &srv.url(""),
            "--from",
            &format!("{from:.0}"),
            "--to",
            &format!("{to:.0}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "lantern investigate failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn suspect(v: &serde_json::Value) -> (String, String) {
    let s = &v["suspect"];
    (s["service"].as_str().unwrap_or("none").to_string(), s["operation"].as_str().unwrap_or("none").to_string())
}

const SHOP: [&str; 3] = ["api-gateway", "order-service", "payment-service"];

#[test]
fn a_timeout_is_traced_to_its_service_and_a_request_correlates_across_signals() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, summary, from, to) = play(dir.path(), "timeout", &SHOP, 30, 25);
    let v = investigate(&srv, from, to);
    assert_eq!(suspect(&v), ("payment-service".into(), "charge_card".into()), "{v:#}");
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.contains("payment-service `charge_card`") && verdict.contains("timed out"), "{verdict}");
    let e = &v["evidence"];
    assert!(
        e["logs"]["distinct_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "error_code" && d["value"] == "TIMEOUT"),
        "{e:#}"
    );
    assert!(!e["requests"].as_array().unwrap().is_empty());
    assert!(e["saturation"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["metric"] == "queue_depth" && s["after"].as_f64() > s["before"].as_f64()));
    assert!(v["suspect"]["confidence"].as_f64().unwrap() > 0.8);

    // A failing request, in one call: its trace, its lines across the three services,
    // and the exemplars pointing at its trace. The request is found as a user would:
    // from a slow bucket's exemplar to its trace, to the request ID its lines carry.
    let ex = get_json(&srv.url(&format!(
        "/api/v1/query_exemplars?query={}&start={from}&end={}",
        "http_request_duration_seconds_bucket%7Bjob%3D%22api-gateway%22%2Cle%3D%225.0%22%7D",
        to + 5.0
    )));
    let tid = ex["data"][0]["exemplars"][0]["labels"]["trace_id"]
        .as_str()
        .expect("an exemplar of a slow request")
        .to_string();
    let tl = &get_json(&srv.url(&format!("/api/v1/traces/{tid}/logs")))["data"];
    assert!(tl["logs"].as_array().unwrap().iter().any(|l| l["message"] == "payment_failed"), "{tl:#}");
    let rid = tl["logs"][0]["request_id"].as_str().unwrap().to_string();
    let c = &get_json(&srv.url(&format!("/api/v1/correlate?id={rid}")))["data"];
    assert_eq!(c["traces"].as_array().unwrap().len(), 1, "{c:#}");
    assert_eq!(c["traces"][0]["traceId"], tid.as_str());
    assert_eq!(c["traces"][0]["spanCount"], 7);
    let services: std::collections::BTreeSet<&str> =
        c["logs"].as_array().unwrap().iter().filter_map(|l| l["service"].as_str()).collect();
    assert_eq!(services.into_iter().collect::<Vec<_>>(), SHOP);
    let pointing: Vec<&str> =
        c["exemplars"].as_array().unwrap().iter().filter_map(|e| e["seriesLabels"]["job"].as_str()).collect();
    assert!(pointing.contains(&"api-gateway"), "{:#}", c["exemplars"]);
    assert!(c["exemplars"].as_array().unwrap().iter().all(|e| e["exemplars"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["labels"]["trace_id"] == tid.as_str())));
    assert!(summary["failed"].as_u64().unwrap() > 10);
    // From the trace's end, the same lines.
    let by_trace = &get_json(&srv.url(&format!("/api/v1/correlate?id={tid}")))["data"];
    assert_eq!(by_trace["logs"], c["logs"]);
    let unknown = &get_json(&srv.url("/api/v1/correlate?id=req-nobody"))["data"];
    assert_eq!(unknown["logs"].as_array().unwrap().len(), 0);
    assert!(unknown["searched"]["keys"].as_array().unwrap().len() >= 4);
}

#[test]
fn a_decoy_with_steady_errors_is_not_blamed() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _, from, to) = play(
        dir.path(),
        "decoy",
        &["api-gateway", "order-service", "payment-service", "recommendation-service"],
        30,
        25,
    );
    let v = investigate(&srv, from, to);
    assert_eq!(suspect(&v), ("payment-service".into(), "charge_card".into()), "{v:#}");
}

#[test]
fn a_latency_only_incident_is_traced_to_the_slow_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, summary, from, to) = play(dir.path(), "latency", &SHOP, 30, 25);
    assert_eq!(summary["failed"], 0);
    let v = investigate(&srv, from, to);
    assert_eq!(suspect(&v), ("payment-service".into(), "charge_card".into()), "{v:#}");
    assert_eq!(v["evidence"]["traces"]["kind"], "latency");
}

#[test]
fn a_failure_two_hops_below_is_found_where_it_starts_and_without_logs_too() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _, from, to) =
        play(dir.path(), "leaf", &["api-gateway", "order-service", "payment-service", "ledger-service"], 30, 25);
    let v = investigate(&srv, from, to);
    assert_eq!(suspect(&v), ("ledger-service".into(), "write_entry".into()), "{v:#}");
    assert!(v["verdict"].as_str().unwrap().contains("no space left on device"));

    let dir = tempfile::tempdir().unwrap();
    let (srv, _, from, to) = play(dir.path(), "nologs", &SHOP, 30, 25);
    let v = investigate(&srv, from, to);
    assert_eq!(suspect(&v), ("payment-service".into(), "charge_card".into()), "{v:#}");
    assert_eq!(v["evidence"]["logs"]["error_lines"], 0);
}

#[test]
fn a_calm_window_is_no_incident_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _, from, to) = play(dir.path(), "calm", &SHOP, 50, 0);
    eventually(10, "the shop's series", || {
        let r = get_json(&srv.url("/api/v1/series?match[]=http_requests_total"));
        r["data"].as_array().filter(|a| !a.is_empty()).map(|_| ())
    });
    let v = investigate(&srv, from, to);
    assert_eq!(v["incident"], false, "{v:#}");
    assert!(v["suspect"].is_null());
    assert!(v["verdict"].as_str().unwrap().starts_with("no incident found"), "{}", v["verdict"]);
}
