//! The OpenTelemetry Python SDK (from PyPI) pushes metrics over OTLP gRPC and HTTP; the
//! series come back through PromQL with the names and labels of the compatibility spec,
//! delta temporality ends up cumulative, and histogram exemplars carry trace IDs.

use std::process::Command;

use crate::harness::{first_value, get_json, http, py_script, python, query, Server};

fn push(transport: &str, endpoint: &str, service: &str, extra: &[&str]) -> String {
    let out = Command::new(python())
        .arg(py_script("otlp_metrics.py"))
        .args([transport, endpoint, service])
        .args(extra)
        .output()
        .expect("run the OpenTelemetry SDK script");
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_opentelemetry_sdk_pushes_metrics_over_grpc_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path());
    let trace_grpc = push("grpc", &format!("http://{}", srv.otlp_grpc), "checkout", &[]);
    let trace_http = push("http", &format!("http://{}/v1/metrics", srv.otlp_http), "payments", &["delta"]);

    // Cumulative over gRPC: the second export holds the total.
    let orders = query(&srv, "orders_placed_total{job=\"checkout\"}");
    assert_eq!(first_value(&orders), Some(5.0), "{orders}");
    let labels = &orders["data"]["result"][0]["metric"];
    assert_eq!(labels["instance"], "instance-1");
    assert_eq!(labels["payment_method"], "card");
    assert_eq!(labels["otel_scope_name"], "checkout");
    assert_eq!(labels["otel_scope_version"], "1.0.0");
    // Delta over HTTP, accumulated into a cumulative series.
    assert_eq!(first_value(&query(&srv, "orders_placed_total{job=\"payments\"}")), Some(5.0));
    assert_eq!(first_value(&query(&srv, "http_server_request_duration_seconds_count{job=\"payments\"}")), Some(2.0));

    assert_eq!(first_value(&query(&srv, "http_server_request_duration_seconds_count{job=\"checkout\"}")), Some(2.0));
    assert_eq!(first_value(&query(&srv, "http_server_request_duration_seconds_sum{job=\"checkout\"}")), Some(2.0));
    let b = query(&srv, "http_server_request_duration_seconds_bucket{job=\"checkout\", le=\"+Inf\"}");
    assert_eq!(first_value(&b), Some(2.0), "{b}");
    assert_eq!(first_value(&query(&srv, "http_server_active_requests{job=\"checkout\"}")), Some(2.0));
    assert_eq!(first_value(&query(&srv, "process_memory_usage_bytes{job=\"checkout\"}")), Some(1048576.0));
    let info = query(&srv, "target_info{job=\"checkout\"}");
    assert_eq!(info["data"]["result"][0]["metric"]["deployment_environment"], "test", "{info}");
    let q = "histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{job=\"checkout\"}))";
    assert!(first_value(&query(&srv, q)).is_some());
    let md = get_json(&srv.url("/api/v1/metadata?metric=orders_placed_total"));
    assert_eq!(md["data"]["orders_placed_total"][0]["type"], "counter", "{md}");

    // The exemplar of the histogram points to the span's trace, also after a restart.
    let ex_url = "/api/v1/query_exemplars?query=http_server_request_duration_seconds_bucket&start=0&end=9999999999";
    let traces = |srv: &Server| -> Vec<String> {
        get_json(&srv.url(ex_url))["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["exemplars"].as_array().unwrap().iter().map(|e| e["labels"]["trace_id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let before = traces(&srv);
    assert!(before.contains(&trace_grpc) && before.contains(&trace_http), "{before:?} vs {trace_grpc} {trace_http}");
    srv.restart();
    assert_eq!(traces(&srv), before);

    // Undecodable bodies are refused with 400 and a reason.
    let r = http()
        .post(format!("http://{}/v1/metrics", srv.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http()
        .post(format!("http://{}/v1/metrics", srv.otlp_http))
        .header("content-type", "application/json")
        .body("{\"resourceMetrics\": 5}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("OTLP/JSON"));
}
