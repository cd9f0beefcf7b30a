//! The web UI in a real browser: Lantern filled by the shop of `tests/python/shop.py`
//! (prometheus_client scraped, the OpenTelemetry SDK over OTLP, structlog lines posted as
//! JSON lines; a calm start, then payment-service saturates and times out), the seed's
//! rules, SLOs and dashboard loaded, then `ui/e2e/run.mjs` drives Debian's Chromium
//! through playwright-core over every page and the seed's workflow. Screenshots land in
//! `target/ui-screenshots`.

use std::path::Path;
use std::process::Command;

use crate::harness::{eventually, free_port, get_json, Server};

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_page_works_in_chromium_on_real_client_data() {
    let ui = repo().join("ui");
    assert!(
        ui.join("node_modules/playwright-core").exists(),
        "ui/node_modules is missing: run `npm ci` in ui/ (test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let boards = dir.path().join("boards");
    std::fs::create_dir_all(&boards).unwrap();
    std::fs::copy(
        repo().join("crates/lantern-dashboards/testdata/seed-dashboard.json"),
        boards.join("seed-dashboard.json"),
    )
    .unwrap();
    let testdata = repo().join("crates/lantern-rules/testdata");
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 2s\ntraces:\n  span_metrics_interval: 2s\n\
             rule_files: ['{}']\nslo_files: ['{}']\ndashboards_dir: boards\nscrape_configs:\n{}",
            testdata.join("seed-alerts.yml").display(),
            testdata.join("seed-slos.yml").display(),
            ["api-gateway", "order-service", "payment-service"]
                .iter()
                .zip(ports)
                .map(|(job, p)| format!("  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{p}']}}]\n"))
                .collect::<String>()
        ),
    )
    .unwrap();
    let srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);

    // 20 s of calm traffic, then 40 s of the incident.
    let shop = crate::investigate::shop(
        &srv,
        ["api-gateway", "order-service", "payment-service"].iter().copied().zip(ports),
        20,
        40,
        "timeout",
    );
    let out = crate::investigate::shop_output(shop);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("the shop's summary");
    assert!(summary["failed"].as_u64().unwrap() > 10, "the incident produced failures: {summary}");
    // Span metrics, alerts and SLO numbers are there before the browser looks.
    eventually(30, "span metrics", || {
        let v = get_json(&srv.url("/api/v1/query?query=traces_service_graph_request_total"));
        v["data"]["result"].as_array().filter(|r| r.len() >= 2).map(|_| ())
    });
    eventually(30, "a pending or firing alert", || {
        get_json(&srv.url("/api/v1/alerts"))["data"]["alerts"].as_array().filter(|a| !a.is_empty()).map(|_| ())
    });

    // Dashboards shaped as Grafana exports them, imported through the API.
    for f in ["grafana-host-overview.json", "grafana-checkout-mixed.json"] {
        let body = std::fs::read(repo().join("crates/lantern-dashboards/testdata").join(f)).unwrap();
        let r = crate::harness::http().post(srv.url("/api/v1/dashboards")).body(body).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{f}: {}", r.text().unwrap_or_default());
    }

    let shots = repo().join("target/ui-screenshots");
    let status = Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(&ui)
        .env("LANTERN_URL", srv.url(""))
        .env("SCREENSHOT_DIR", &shots)
        .env("FAILING_TRACE_ID", summary["failing"]["trace_id"].as_str().unwrap_or_default())
        .status()
        .expect("run node (Node.js 20 is needed for the browser tests)");
    assert!(status.success(), "the browser tests failed (output above; screenshots in {})", shots.display());
}
