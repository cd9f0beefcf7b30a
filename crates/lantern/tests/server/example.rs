//! `examples/python-flask`, run as a user would (`run.sh` against a running Lantern),
//! with the pinned packages from PyPI: the seed's Flask service and the payment service
//! it calls, scraped, their structlog lines followed from files, their spans over OTLP,
//! the seed's rules, SLOs and dashboard loaded. Lantern must hold the metrics, the lines
//! and the traces, linked by request ID and trace ID; the SLO must report a budget; the
//! investigation must find the injected failure.

use std::path::Path;
use std::process::Command;

use crate::harness::{eventually, free_port, get_json, python, Server};

#[test]
fn the_seeds_flask_app_is_correlated_budgeted_and_investigated() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/python-flask");
    let py = python();
    let ok = Command::new(&py)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r"])
        .arg(example.join("requirements.txt"))
        .status()
        .unwrap();
    assert!(ok.success(), "pip install -r examples/python-flask/requirements.txt");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let (app_metrics, pay_metrics) = (free_port(), free_port());
    // The example's config with this test's ports and paths.
    let cfg = std::fs::read_to_string(example.join("lantern.yaml"))
        .unwrap()
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 2s")
        .replace("127.0.0.1:8001", &format!("127.0.0.1:{app_metrics}"))
        .replace("127.0.0.1:8002", &format!("127.0.0.1:{pay_metrics}"))
        .replace("logs/", &format!("{}/", logs.display()))
        .replace("[alerts.yml]", &format!("['{}']", example.join("alerts.yml").display()))
        .replace("[slos.yml]", &format!("['{}']", example.join("slos.yml").display()))
        .replace("dashboards_dir: dashboards", &format!("dashboards_dir: {}", example.join("dashboards").display()));
    let cfg_path = dir.path().join("lantern.yaml");
    std::fs::write(&cfg_path, format!("traces:\n  span_metrics_interval: 1s\n{cfg}")).unwrap();
    let srv = Server::start_with(&dir.path().join("data"), &["--config", cfg_path.to_str().unwrap()]);
    let began = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();

    let out = Command::new("bash")
        .arg(example.join("run.sh"))
        .env("LANTERN_URL", srv.url(""))
        .env("PYTHON", &py)
        .env("OTLP", format!("http://{}", srv.otlp_grpc))
        .env("LOG_DIR", &logs)
        .env("APP_PORT", free_port().to_string())
        .env("PAYMENT_PORT", free_port().to_string())
        .env("APP_METRICS_PORT", app_metrics.to_string())
        .env("PAYMENT_METRICS_PORT", pay_metrics.to_string())
        .env("DURATION", "50")
        .env("FAIL_AFTER", "28")
        .env("SETTLE", "4")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "run.sh failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        stdout.lines().find_map(|l| serde_json::from_str(l).ok()).expect("traffic's summary");
    assert!(summary["failed"].as_u64().unwrap() > 5, "{summary}");
    // A failed request as a user finds one: an exemplar of a slow bucket names its trace,
    // whose lines carry its request ID.
    let to = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ex = get_json(&srv.url(&format!(
        "/api/v1/query_exemplars?query={}&start={began}&end={to}",
        "http_request_duration_seconds_bucket%7Bjob%3D%22order-service%22%2Cle%3D%222.5%22%7D"
    )));
    let ex_trace =
        ex["data"][0]["exemplars"][0]["labels"]["trace_id"].as_str().expect("an exemplar of a slow order").to_string();
    let tl = &get_json(&srv.url(&format!("/api/v1/traces/{ex_trace}/logs")))["data"];
    let rid = tl["logs"][0]["request_id"].as_str().expect("the trace's lines carry the request ID").to_string();
    let rid = rid.as_str();

    // Metrics of both services, scraped (over the last minutes: the services are gone,
    // their series stale, once run.sh has ended).
    let q = get_json(&srv.url("/api/v1/query?query=sum%20by%20(job)%20(max_over_time(http_requests_total%5B5m%5D))"));
    let jobs: std::collections::BTreeSet<&str> =
        q["data"]["result"].as_array().unwrap().iter().filter_map(|r| r["metric"]["job"].as_str()).collect();
    assert_eq!(jobs.into_iter().collect::<Vec<_>>(), ["order-service", "payment-service"], "{q}");
    // One failed request, linked across the signals by its X-Request-ID and trace ID.
    let c = eventually(20, "the failed request's lines and trace", || {
        let c = get_json(&srv.url(&format!("/api/v1/correlate?id={rid}")))["data"].clone();
        let services: std::collections::BTreeSet<String> =
            c["logs"].as_array()?.iter().filter_map(|l| l["service"].as_str().map(str::to_string)).collect();
        (c["traces"].as_array()?.len() == 1 && services.len() == 2).then_some(c)
    });
    let trace = &c["traces"][0];
    let span_services: std::collections::BTreeSet<&str> =
        trace["spans"].as_array().unwrap().iter().filter_map(|s| s["service"].as_str()).collect();
    assert_eq!(span_services.into_iter().collect::<Vec<_>>(), ["order-service", "payment-service"]);
    let names: Vec<&str> = trace["spans"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    for n in ["create_order", "validate_order", "process_payment", "charge_card"] {
        assert!(names.contains(&n), "the seed's span {n}: {names:?}");
    }
    let tid = trace["traceId"].as_str().unwrap();
    for l in c["logs"].as_array().unwrap() {
        assert_eq!(l["request_id"], rid, "every line carries the request ID: {l}");
        assert_eq!(l["trace_id"], tid, "and the trace ID (the seed's before_request): {l}");
    }
    assert!(c["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["service"] == "payment-service" && l["error_code"] == "TIMEOUT"));
    // From the trace's end, the same lines.
    let by_trace = &get_json(&srv.url(&format!("/api/v1/correlate?id={tid}")))["data"];
    assert_eq!(by_trace["logs"], c["logs"]);

    // The SLO reports a budget.
    let slo = eventually(20, "the SLO's numbers", || {
        let s = get_json(&srv.url("/api/v1/slos/api-availability"))["data"].clone();
        s["budget_total"].as_f64().map(|_| s)
    });
    assert!(slo["budget_used"].as_f64().unwrap() > 0.0 && slo["sli"].as_f64().unwrap() < 100.0, "{slo}");

    // The investigation finds the injected failure.
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["investigate", "--json", "--url", &srv.url(""), "--from", &began.to_string()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["suspect"]["service"], "payment-service", "{v:#}");
    assert_eq!(v["suspect"]["operation"], "charge_card", "{v:#}");
}
