//! The seed's Python service (prometheus_client from PyPI, behind Flask) is scraped by
//! Lantern: names and labels as the seed defines them, the synthetic series, metadata,
//! the targets API, and histogram exemplars that point to trace IDs after a restart.

use crate::harness::{eventually, first_value, get_json, http, query, seed_app, Server};

#[test]
fn the_seed_prometheus_client_app_is_scraped_with_its_names_labels_and_exemplars() {
    let (_app, metrics_port, app) = seed_app();

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(
        &cfg,
        format!("scrape_configs:\n  - job_name: seed\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"),
    )
    .unwrap();
    let mut srv = Server::start_with(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()]);

    for _ in 0..5 {
        http().get(format!("{app}/api/users")).send().unwrap();
    }
    for _ in 0..3 {
        http().get(format!("{app}/api/orders")).send().unwrap();
    }
    http().get(format!("{app}/traced/payments?trace_id=0af7651916cd43dd8448eb211c80319c")).send().unwrap();

    let users = eventually(30, "the counter to be scraped", || {
        first_value(&query(&srv, "http_requests_total{endpoint=\"users\"}")).filter(|v| *v == 5.0)
    });
    assert_eq!(users, 5.0);
    let v = query(&srv, "http_requests_total{endpoint=\"users\"}");
    let labels = &v["data"]["result"][0]["metric"];
    assert_eq!(labels["job"], "seed");
    assert_eq!(labels["instance"], format!("127.0.0.1:{metrics_port}"));
    assert_eq!(labels["method"], "GET");
    assert_eq!(labels["status"], "200");
    assert_eq!(labels.as_object().unwrap().len(), 6, "{labels}");

    // The seed's buckets, +Inf added by the client.
    let b = query(&srv, "http_request_duration_seconds_bucket{endpoint=\"orders\"}");
    let mut les: Vec<f64> = b["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"]["le"].as_str().unwrap().replace("+Inf", "inf").parse::<f64>().unwrap())
        .collect();
    les.sort_by(f64::total_cmp);
    assert_eq!(les, vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY]);
    assert_eq!(first_value(&query(&srv, "http_request_duration_seconds_count{endpoint=\"orders\"}")), Some(3.0));
    assert_eq!(first_value(&query(&srv, "active_connections")), Some(0.0));
    assert_eq!(first_value(&query(&srv, "up{job=\"seed\"}")), Some(1.0));
    assert!(first_value(&query(&srv, "scrape_samples_scraped{job=\"seed\"}")).is_some_and(|n| n > 20.0));
    assert!(
        first_value(&query(&srv, "http_requests_created{endpoint=\"users\"}")).is_some(),
        "OpenMetrics _created series"
    );
    let q = "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))";
    assert!(query(&srv, q)["status"] == "success");

    let t = get_json(&srv.url("/api/v1/targets"));
    let active = &t["data"]["activeTargets"][0];
    assert_eq!(active["health"], "up", "{t}");
    assert_eq!(active["scrapePool"], "seed");
    assert_eq!(active["lastError"], "");
    let md = get_json(&srv.url("/api/v1/metadata?metric=http_request_duration_seconds"));
    assert_eq!(md["data"]["http_request_duration_seconds"][0]["type"], "histogram", "{md}");
    assert_eq!(md["data"]["http_request_duration_seconds"][0]["help"], "Request duration in seconds");
    let tm = get_json(&srv.url("/api/v1/targets/metadata?metric=active_connections"));
    assert_eq!(tm["data"][0]["type"], "gauge", "{tm}");

    // The exemplar links the histogram bucket to the trace, and survives kill -9.
    let exemplars = |srv: &Server| {
        get_json(&srv.url(
            "/api/v1/query_exemplars?query=http_request_duration_seconds_bucket%7Bendpoint%3D%22payments%22%7D&start=0&end=9999999999",
        ))
    };
    let found = eventually(30, "the exemplar", || {
        let e = exemplars(&srv);
        let found = e["data"].as_array().is_some_and(|a| !a.is_empty());
        found.then_some(e)
    });
    let ex = &found["data"][0]["exemplars"][0];
    assert_eq!(ex["labels"]["trace_id"], "0af7651916cd43dd8448eb211c80319c", "{found}");
    assert_eq!(found["data"][0]["seriesLabels"]["le"], "0.25");
    srv.restart();
    let after = exemplars(&srv);
    assert_eq!(after["data"][0]["exemplars"][0]["labels"]["trace_id"], "0af7651916cd43dd8448eb211c80319c", "{after}");
}
