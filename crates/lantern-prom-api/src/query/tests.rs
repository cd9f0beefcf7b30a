//! Router tests of the query APIs over a real store.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lantern_core::{Labels, Sample};
use lantern_objstore::Store;
use lantern_promql::Engine;
use lantern_tsdb::{Options, Tsdb};
use tower::ServiceExt;

use crate::{router, Limits, PromApi};

async fn setup(engine: Engine) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(&dir.path().join("data")).unwrap();
    let db = Tsdb::open(&dir.path().join("wal"), store, Options::default()).await.unwrap();
    // http_requests_total{job="api", code="200"|"500"}: 0, 10, 20, … every 15s for 10 minutes.
    let mut batch = Vec::new();
    for (code, step) in [("200", 10.0), ("500", 1.0)] {
        let labels = Labels::from_pairs([("__name__", "http_requests_total"), ("job", "api"), ("code", code)]);
        let samples: Vec<Sample> = (0..=40).map(|i| Sample::new(i * 15_000, i as f64 * step)).collect();
        batch.push((labels, samples));
    }
    db.append(batch).unwrap();
    let bucket = Labels::from_pairs([("__name__", "latency_bucket"), ("job", "api"), ("le", "0.5")]);
    let mut b = lantern_tsdb::Batch::new();
    b.begin_series();
    for l in &bucket {
        b.label(l.name.as_bytes(), l.value.as_bytes());
    }
    b.sample(Sample::new(60_000, 3.0));
    b.exemplar(lantern_core::Exemplar {
        labels: Labels::from_pairs([("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("span_id", "00f067aa0ba902b7")]),
        value: 0.25,
        t: 59_500,
    });
    b.end_series();
    db.append_batch(&b).unwrap();
    let slot = Arc::new(OnceLock::new());
    let _ = slot.set(Arc::new(db));
    let api = PromApi::new(slot, Limits::default())
        .with_engine(engine)
        .with_clock(lantern_core::clock::ManualClock::new(600_000_000_000));
    (router(api), dir)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    (status, String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

fn enc(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_and_range_queries_answer_in_prometheus_json() {
    let (app, _d) = setup(Engine::default()).await;
    let (s, body) =
        get(&app, &format!("/api/v1/query?query={}&time=600", enc("sum by (code) (rate(http_requests_total[5m]))")))
            .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["data"]["resultType"], "vector");
    let mut got: Vec<(String, String)> = j["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["metric"]["code"].as_str().unwrap().to_string(), r["value"][1].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    // 10 per 15s is 0.6666…/s; 1 per 15s is 0.0666…/s.
    assert_eq!(got, vec![("200".into(), "0.6666666666666666".into()), ("500".into(), "0.06666666666666667".into())]);
    assert!(body.contains("\"value\":[600,"), "{body}");

    // Without `time`, "now" comes from the injected clock (600 s).
    let (_, body) = get(&app, "/api/v1/query?query=1%2B1").await;
    assert_eq!(body, r#"{"status":"success","data":{"resultType":"scalar","result":[600,"2"]}}"#);

    let (s, body) = get(
        &app,
        &format!("/api/v1/query_range?query={}&start=0&end=60&step=30s", enc("http_requests_total{code=\"500\"}")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"http_requests_total","code":"500","job":"api"},"values":[[0,"0"],[30,"2"],[60,"4"]]}]}}"#
    );

    // POST with a form body, RFC 3339 time, and `limit`.
    let req = Request::post("/api/v1/query")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("query={}&time=1970-01-01T00:10:00Z&limit=1", enc("http_requests_total"))))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(j["warnings"][0], "results truncated due to limit");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_prometheus_types_and_statuses() {
    let (app, _d) = setup(Engine::default()).await;
    let cases = [
        ("/api/v1/query?query=sum(", StatusCode::BAD_REQUEST, "bad_data"),
        ("/api/v1/query?query=up&time=yesterday", StatusCode::BAD_REQUEST, "bad_data"),
        ("/api/v1/query_range?query=up&start=10&end=0&step=1", StatusCode::BAD_REQUEST, "bad_data"),
        ("/api/v1/query_range?query=up&start=0&end=10&step=0", StatusCode::BAD_REQUEST, "bad_data"),
        ("/api/v1/query_range?query=up&start=0&end=100000&step=1", StatusCode::BAD_REQUEST, "bad_data"),
        ("/api/v1/query_range?query=up&end=10&step=1", StatusCode::BAD_REQUEST, "bad_data"),
        (
            "/api/v1/query?query=http_requests_total%20%2B%20on()%20http_requests_total",
            StatusCode::UNPROCESSABLE_ENTITY,
            "execution",
        ),
    ];
    for (uri, status, kind) in cases {
        let (s, body) = get(&app, uri).await;
        assert_eq!(s, status, "{uri}: {body}");
        let j: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(j["status"], "error", "{uri}");
        assert_eq!(j["errorType"], kind, "{uri}: {body}");
        assert!(!j["error"].as_str().unwrap().is_empty());
    }

    let (app, _d) = setup(Engine { max_samples: 10, ..Engine::default() }).await;
    let (s, body) = get(&app, "/api/v1/query?query=http_requests_total%5B10m%5D&time=600").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("too many samples"), "{body}");

    let (app, _d) = setup(Engine { timeout: Some(std::time::Duration::ZERO), ..Engine::default() }).await;
    let (s, body) = get(&app, "/api/v1/query?query=http_requests_total").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains(r#""errorType":"timeout""#), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn format_status_metadata_and_exemplars() {
    let (app, _d) = setup(Engine::default()).await;
    let (s, body) =
        get(&app, &format!("/api/v1/format_query?query={}", enc("sum(rate(foo{bar=\"baz\"}[5m]))by(job)"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, r#"{"status":"success","data":"sum by (job) (rate(foo{bar=\"baz\"}[5m]))"}"#);
    let (s, body) = get(&app, "/api/v1/status/buildinfo").await;
    assert_eq!(s, StatusCode::OK);
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(j["data"]["version"].as_str().unwrap().starts_with('3'), "{body}");
    let (s, body) = get(&app, "/api/v1/status/runtimeinfo").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("\"GOMAXPROCS\":"), "{body}");
    assert_eq!(get(&app, "/api/v1/metadata").await.1, r#"{"status":"success","data":{}}"#);
    assert_eq!(
        get(&app, "/api/v1/query_exemplars?query=up&start=0&end=10").await.1,
        r#"{"status":"success","data":[]}"#
    );
    assert_eq!(get(&app, "/api/v1/query_exemplars?query=up(").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn tsdb_status_reports_the_heads_cardinality_as_prometheus_does() {
    let (app, _d) = setup(Engine::default()).await;
    let (s, body) = get(&app, "/api/v1/status/tsdb").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    let d = &j["data"];
    assert_eq!(d["headStats"]["numSeries"], 3, "{body}");
    assert_eq!(d["headStats"]["minTime"], 0);
    assert_eq!(d["headStats"]["maxTime"], 600_000);
    assert!(d["headStats"]["chunkCount"].as_u64().unwrap() >= 3, "{body}");
    assert_eq!(d["seriesCountByMetricName"][0], serde_json::json!({"name": "http_requests_total", "value": 2}));
    assert_eq!(d["seriesCountByLabelValuePair"][0], serde_json::json!({"name": "job=api", "value": 3}));
    assert_eq!(d["labelValueCountByLabelName"][0], serde_json::json!({"name": "__name__", "value": 2}));
    assert_eq!(d["labelValueCountByLabelName"][1], serde_json::json!({"name": "code", "value": 2}));
    assert!(d["memoryInBytesByLabelName"].is_array());
    let (_, body) = get(&app, "/api/v1/status/tsdb?limit=1").await;
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["data"]["seriesCountByLabelValuePair"].as_array().unwrap().len(), 1);
    assert_eq!(get(&app, "/api/v1/status/tsdb?limit=0").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_and_flags_status_answer_what_the_server_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let db = Tsdb::open(&dir.path().join("wal"), Store::local(&dir.path().join("data")).unwrap(), Options::default())
        .await
        .unwrap();
    let slot = Arc::new(OnceLock::new());
    let _ = slot.set(Arc::new(db));
    let info = crate::RuntimeInfo {
        config_yaml: "data_dir: /var/lib/lantern\n".into(),
        flags: [("data-dir".to_string(), "/var/lib/lantern".to_string())].into(),
        ..Default::default()
    };
    let app = router(PromApi::new(slot, Limits::default()).with_runtime_info(info));
    assert_eq!(
        get(&app, "/api/v1/status/config").await.1,
        r#"{"status":"success","data":{"yaml":"data_dir: /var/lib/lantern\n"}}"#
    );
    assert_eq!(
        get(&app, "/api/v1/status/flags").await.1,
        r#"{"status":"success","data":{"data-dir":"/var/lib/lantern"}}"#
    );
}
