//! `lantern demo` as a newcomer runs it: the shop's hour of history and live traffic in
//! every store, the seed's rules, SLOs and dashboard loaded, the incident making
//! `HighErrorRate` pending and the investigation name payment-service, the narration
//! saying so with the URLs, the browser showing it (`ui/e2e/demo.mjs` in Chromium),
//! and the data directory reused by a second demo and refused when it is not a demo's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::harness::{eventually, free_port, get_json, Proc};

struct Demo {
    proc: Proc,
    out: Arc<Mutex<String>>,
    base: String,
}

impl Demo {
    fn start(data: &Path, incident_after: &str, duration: &str) -> Demo {
        let http = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["demo", "--data-dir"])
            .arg(data)
            .args(["--http-addr", &http])
            .args(["--otlp-grpc-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--otlp-http-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--incident-after", incident_after, "--duration", duration])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lantern demo");
        let out = Arc::new(Mutex::new(String::new()));
        let (stdout, sink) = (child.stdout.take().unwrap(), out.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("demo| {line}");
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Demo { proc: Proc(child), out, base: format!("http://{http}") }
    }

    fn said(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits for the demo to end and returns its exit code.
    fn wait(mut self) -> i32 {
        self.proc.0.wait().unwrap().code().unwrap_or(-1)
    }
}

#[test]
fn the_demo_plays_the_incident_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let demo = Demo::start(&data, "20s", "10m");
    // The narration: history written, URLs to open, the incident, the alert, the verdict.
    eventually(120, "the investigation's verdict in the narration", || {
        demo.said().contains("investigation: suspect payment-service").then_some(())
    });
    let said = demo.said();
    assert!(said.contains("wrote the last 65m of calm traffic"), "{said}");
    assert!(said.contains(&demo.url("/dashboards/service-overview")), "{said}");
    assert!(said.contains("incident: payment-service saturates"), "{said}");
    assert!(said.contains("charge_card"), "{said}");
    eventually(120, "HighErrorRate pending in the narration", || {
        demo.said().contains("alert HighErrorRate is pending").then_some(())
    });

    // What Lantern holds. Metrics of the four services, live (scraped) and an hour back
    // (remote write), as one series each.
    let q = |e: &str| -> serde_json::Value {
        let r = crate::harness::http().post(demo.url("/api/v1/query")).form(&[("query", e)]).send().unwrap();
        r.json().unwrap()
    };
    let jobs = q("count by (job) (http_requests_total)");
    assert_eq!(jobs["data"]["result"].as_array().unwrap().len(), 4, "{jobs}");
    let hour_ago = q(r#"sum(increase(http_requests_total{job="api-gateway"}[10m] offset 45m))"#);
    let n = crate::harness::first_value(&hour_ago).unwrap_or(0.0);
    assert!(n > 1000.0, "an hour of history: {n} requests in 10 minutes 45 minutes ago ({hour_ago})");
    let up = q(r#"up{job="payment-service"}"#);
    assert_eq!(crate::harness::first_value(&up), Some(1.0), "{up}");
    let series = q(r#"count(http_requests_total{job="payment-service"})"#);
    assert!(crate::harness::first_value(&series).unwrap() <= 4.0, "scraped and written series are the same: {series}");
    // The seed's rules, SLOs and dashboard.
    let rules = get_json(&demo.url("/api/v1/rules"));
    let names: Vec<&str> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()))
        .collect();
    assert!(names.contains(&"HighErrorRate") && names.contains(&"ErrorBudgetBurn"), "{names:?}");
    let slo = get_json(&demo.url("/api/v1/slos/api-availability"))["data"].clone();
    assert!(slo["budget_remaining_percent"].as_f64().is_some(), "{slo}");
    let board = get_json(&demo.url("/api/v1/dashboards/service-overview"));
    assert_eq!(board["title"], "Service Overview");
    // Logs and traces, linked by request and trace ID.
    let r = crate::harness::http()
        .post(demo.url("/api/v1/logs/search"))
        .json(&serde_json::json!({"query": "event:payment_failed AND error_code:TIMEOUT", "limit": 1}))
        .send()
        .unwrap();
    let hits: serde_json::Value = r.json().unwrap();
    let hit = &hits["hits"][0];
    let (rid, tid) = (hit["request_id"].as_str().unwrap(), hit["trace_id"].as_str().unwrap());
    let c = &get_json(&demo.url(&format!("/api/v1/correlate?id={rid}")))["data"];
    assert_eq!(c["traces"][0]["traceId"], tid, "{c:#}");
    let services: std::collections::BTreeSet<&str> =
        c["logs"].as_array().unwrap().iter().filter_map(|l| l["service"].as_str()).collect();
    assert_eq!(services.into_iter().collect::<Vec<_>>(), ["api-gateway", "order-service", "payment-service"]);
    let trace = get_json(&demo.url(&format!("/api/traces/{tid}")));
    assert_eq!(trace["data"][0]["spans"].as_array().unwrap().len(), 9, "a failed order's spans");
    let v = get_json(&demo.url(&format!("/api/v1/investigate?start={}&end={}", now() - 600, now())));
    assert_eq!(v["data"]["suspect"]["service"], "payment-service", "{v:#}");
    assert_eq!(v["data"]["suspect"]["operation"], "charge_card");

    // The browser: every page a newcomer opens shows the incident.
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    let status = Command::new("node")
        .arg("e2e/demo.mjs")
        .current_dir(&ui)
        .env("LANTERN_URL", &demo.base)
        .env("SCREENSHOT_DIR", &shots)
        .status()
        .expect("run node (Node.js 20 is needed for the browser tests)");
    assert!(status.success(), "the demo's browser checks failed (screenshots in {})", shots.display());

    // A second demo on the address the first one holds says so, and leaves its directory
    // usable.
    let busy = dir.path().join("busy");
    let taken = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["demo", "--data-dir"])
        .arg(&busy)
        .args(["--http-addr", demo.base.trim_start_matches("http://")])
        .args(["--otlp-grpc-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--otlp-http-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&taken.stderr);
    assert_eq!(taken.status.code(), Some(2), "{err}");
    assert!(err.contains("--http-addr: cannot listen on"), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(busy.join("demo/demo.json")).unwrap()).unwrap();
    assert_eq!(json["last_written_ms"], 0, "nothing was written there");

    // Ctrl-C (or SIGTERM) stops it cleanly.
    let out = demo.out.clone();
    let pid = demo.proc.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(demo.wait(), 0, "{}", out.lock().unwrap());
    let said = out.lock().unwrap().clone();
    assert!(said.contains("failed); the data stays in"), "{said}");

    // A second demo on the same directory goes on from it; another directory's data is
    // refused with the reason.
    let again = Demo::start(&data, "1h", "6s");
    let out = again.out.clone();
    assert_eq!(again.wait(), 0);
    let said = out.lock().unwrap().clone();
    assert!(said.contains("an earlier demo's data is there"), "{said}");
    assert!(!said.contains("wrote the last"), "no second history over the first: {said}");
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("metrics")).unwrap();
    let refused =
        Command::new(env!("CARGO_BIN_EXE_lantern")).args(["demo", "--data-dir"]).arg(&other).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("did not write") && err.contains(other.to_str().unwrap()), "{err}");
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
