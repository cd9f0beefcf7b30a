//! The seed's traced Flask service, run with the real OpenTelemetry SDK and Flask
//! instrumentation from PyPI, exports its `create_order` trace over OTLP gRPC and HTTP;
//! Jaeger's API returns it with its parent/child references and attributes, also after a
//! `kill -9`; span metrics are queryable with PromQL and their exemplars point at the
//! stored trace.

use std::process::Command;

use serde_json::Value;

use crate::harness::{eventually, get_json, http, py_script, python, query, Server};

fn send(transport: &str, endpoint: &str, service: &str) -> String {
    let out = Command::new(python())
        .arg(py_script("seed_traces.py"))
        .args([transport, endpoint, service])
        .output()
        .expect("run the seed's traced service");
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Checks the trace as Jaeger's API returns it.
fn check_trace(srv: &Server, id: &str, service: &str) {
    let v = get_json(&srv.url(&format!("/api/traces/{id}")));
    let t = &v["data"][0];
    assert_eq!(t["traceID"], id, "{v}");
    let spans = t["spans"].as_array().unwrap();
    let by_name = |n: &str| -> &Value {
        spans.iter().find(|s| s["operationName"] == n).unwrap_or_else(|| panic!("no span {n} in {v}"))
    };
    let tag = |s: &Value, k: &str| -> Value {
        s["tags"].as_array().unwrap().iter().find(|t| t["key"] == k).map(|t| t["value"].clone()).unwrap_or(Value::Null)
    };
    let root = by_name("create_order");
    assert_eq!(tag(root, "user.id"), "user-456");
    // Flask's server span is create_order's parent.
    let server = by_name("POST /api/orders");
    assert_eq!(tag(server, "span.kind"), "server");
    assert_eq!(root["references"][0]["refType"], "CHILD_OF");
    assert_eq!(root["references"][0]["spanID"], server["spanID"]);
    for child in ["validate_order", "process_payment", "create_fulfillment"] {
        let c = by_name(child);
        assert_eq!(
            c["references"],
            serde_json::json!([{"refType": "CHILD_OF", "traceID": id, "spanID": root["spanID"]}])
        );
        assert!(c["startTime"].as_i64().unwrap() >= root["startTime"].as_i64().unwrap());
    }
    let pay = by_name("process_payment");
    assert_eq!(tag(pay, "payment.amount"), 99.5);
    assert_eq!(tag(pay, "payment.status"), "success");
    let pid = root["processID"].as_str().unwrap();
    assert_eq!(t["processes"][pid]["serviceName"], service);
    // The payment call: a client span under process_payment, and the payment service's
    // server span under it, in its own process.
    let client =
        spans.iter().find(|s| tag(s, "span.kind") == "client").unwrap_or_else(|| panic!("no client span: {v}"));
    assert_eq!(client["references"][0]["spanID"], pay["spanID"]);
    let server = spans
        .iter()
        .find(|s| s["references"][0]["spanID"] == client["spanID"])
        .unwrap_or_else(|| panic!("no server span under the client span: {v}"));
    assert_eq!(tag(server, "span.kind"), "server");
    let spid = server["processID"].as_str().unwrap();
    assert_eq!(t["processes"][spid]["serviceName"], format!("{service}-payment"));
}

#[test]
fn the_seed_trace_comes_back_from_the_jaeger_api() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yml");
    std::fs::write(&cfg, "traces:\n  span_metrics_interval: 1s\n").unwrap();
    let mut srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);
    let over_grpc = send("grpc", &format!("http://{}", srv.otlp_grpc), "order-service");
    let over_http = send("http", &format!("http://{}/v1/traces", srv.otlp_http), "order-service-http");
    check_trace(&srv, &over_grpc, "order-service");
    check_trace(&srv, &over_http, "order-service-http");

    let services = get_json(&srv.url("/api/services"));
    assert_eq!(
        services["data"],
        serde_json::json!([
            "order-service",
            "order-service-http",
            "order-service-http-payment",
            "order-service-payment"
        ])
    );
    let ops = get_json(&srv.url("/api/services/order-service/operations"));
    assert!(ops["data"].as_array().unwrap().contains(&Value::from("process_payment")), "{ops}");
    let found = get_json(&srv.url(
        "/api/traces?service=order-service&operation=process_payment&tags=%7B%22payment.status%22%3A%22success%22%7D&lookback=1h",
    ));
    assert_eq!(found["data"][0]["traceID"], over_grpc.as_str(), "{found}");

    // RED metrics from the spans, through PromQL; the latency exemplar names the trace.
    let calls = eventually(20, "span metrics", || {
        let v = query(&srv, "traces_spanmetrics_calls_total{service=\"order-service\", span_name=\"process_payment\"}");
        let found = v["data"]["result"].as_array().is_some_and(|r| !r.is_empty());
        found.then_some(v)
    });
    assert_eq!(calls["data"]["result"][0]["value"][1], "1", "{calls}");
    assert_eq!(calls["data"]["result"][0]["metric"]["span_kind"], "SPAN_KIND_INTERNAL");
    let ex = get_json(&srv.url(
        "/api/v1/query_exemplars?query=traces_spanmetrics_latency_bucket%7Bservice%3D%22order-service%22%7D&start=0&end=9999999999",
    ));
    let ids: Vec<&str> = ex["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["exemplars"].as_array().unwrap().iter().map(|e| e["labels"]["trace_id"].as_str().unwrap()))
        .collect();
    assert!(!ids.is_empty() && ids.iter().all(|i| *i == over_grpc), "{ex}");
    assert_eq!(http().get(srv.url(&format!("/api/traces/{}", ids[0]))).send().unwrap().status().as_u16(), 200);

    // The service graph: one call from the order service to its payment service.
    let edge = "traces_service_graph_request_total{client=\"order-service\", server=\"order-service-payment\"}";
    let calls = eventually(20, "service graph", || {
        let v = query(&srv, edge);
        let found = v["data"]["result"].as_array().is_some_and(|r| !r.is_empty());
        found.then_some(v)
    });
    assert_eq!(calls["data"]["result"][0]["value"][1], "1", "{calls}");
    let ex = get_json(&srv.url(
        "/api/v1/query_exemplars?query=traces_service_graph_request_server_seconds_bucket%7Bclient%3D%22order-service%22%7D&start=0&end=9999999999",
    ));
    assert_eq!(ex["data"][0]["exemplars"][0]["labels"]["trace_id"], over_grpc.as_str(), "{ex}");
    let deps = get_json(&srv.url("/api/dependencies?lookback=3600000"));
    assert!(
        deps["data"].as_array().unwrap().contains(
            &serde_json::json!({"parent": "order-service", "child": "order-service-payment", "callCount": 1})
        ),
        "{deps}"
    );

    // Acknowledged spans survive kill -9.
    srv.restart();
    check_trace(&srv, &over_grpc, "order-service");
    check_trace(&srv, &over_http, "order-service-http");
    let cp = get_json(&srv.url(&format!("/api/v1/traces/{over_grpc}/critical-path")));
    assert_eq!(cp["data"]["spans"].as_array().unwrap().len(), 7, "{cp}");

    // Unknown traces: 404 in Jaeger's envelope; undecodable bodies: 400 with a reason.
    let r = http().get(srv.url("/api/traces/0123456789abcdef0123456789abcdef")).send().unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(v["errors"][0]["msg"], "trace not found");
    let r = http()
        .post(format!("http://{}/v1/traces", srv.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(vec![0x0a, 0xff, 0x01])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("ExportTraceServiceRequest"));
}
