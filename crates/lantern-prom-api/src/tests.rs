//! Router tests: the real handlers and store, no network.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lantern_objstore::Store;
use lantern_tsdb::{Options, Tsdb};
use prost::Message;
use tower::ServiceExt;

use crate::proto::{self, ReadRequest, ReadResponse, TimeSeries, WriteRequest};
use crate::{router, Limits, PromApi};

async fn setup(limits: Limits) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(&dir.path().join("data")).unwrap();
    let db = Tsdb::open(&dir.path().join("wal"), store, Options::default()).await.unwrap();
    let slot = Arc::new(OnceLock::new());
    let _ = slot.set(Arc::new(db));
    (router(PromApi::new(slot, limits)), dir)
}

fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| proto::Label { name: n.to_string(), value: v.to_string() }).collect(),
        samples: samples.iter().map(|&(t, v)| proto::Sample { value: v, timestamp: t }).collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn write_req(series: Vec<TimeSeries>) -> Request<Body> {
    let body = snappy(&WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec());
    Request::post("/api/v1/write")
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(Body::from(body))
        .unwrap()
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let (s, b) = call(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    (s, serde_json::from_slice(&b).unwrap_or_else(|_| panic!("not json: {}", String::from_utf8_lossy(&b))))
}

#[tokio::test]
async fn written_series_come_back_from_the_series_and_label_apis() {
    let (app, _d) = setup(Limits::default()).await;
    let (s, _) = call(
        &app,
        write_req(vec![
            ts(
                &[("__name__", "http_requests_total"), ("method", "GET"), ("status", "200")],
                &[(1000, 1.0), (2000, 2.0)],
            ),
            ts(&[("__name__", "up"), ("job", "api")], &[(1000, 1.0)]),
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, j) = get_json(&app, "/api/v1/series?match[]=http_requests_total&start=0&end=10").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        j,
        serde_json::json!({"status":"success","data":[{"__name__":"http_requests_total","method":"GET","status":"200"}]})
    );
    let (_, j) = get_json(&app, "/api/v1/labels").await;
    assert_eq!(j["data"], serde_json::json!(["__name__", "job", "method", "status"]));
    let (_, j) = get_json(&app, "/api/v1/label/__name__/values").await;
    assert_eq!(j["data"], serde_json::json!(["http_requests_total", "up"]));
    let (_, j) = get_json(&app, "/api/v1/label/job/values?match[]=%7Bjob%3D~%22a.*%22%7D").await;
    assert_eq!(j["data"], serde_json::json!(["api"]));
    // POST with a form body works as GET does.
    let (s, b) = call(
        &app,
        Request::post("/api/v1/series")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("match[]=up"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("\"job\":\"api\""));
}

#[tokio::test]
async fn bad_requests_get_reasons() {
    let (app, _d) = setup(Limits { max_request_bytes: 1000, max_decompressed_bytes: 5000 }).await;
    let (s, b) = call(&app, Request::post("/api/v1/write").body(Body::from("hello")).unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("snappy"), "{}", String::from_utf8_lossy(&b));
    let (s, b) = call(&app, Request::post("/api/v1/write").body(Body::from(snappy(b"\xff\xff\xff"))).unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("prometheus.WriteRequest"));
    let (s, _) = call(&app, Request::post("/api/v1/write").body(Body::from(vec![0u8; 2000])).unwrap()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _) = call(&app, Request::post("/api/v1/write").body(Body::from(snappy(&vec![0u8; 6000]))).unwrap()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, j) = get_json(&app, "/api/v1/series").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(j, serde_json::json!({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}));
    let (s, j) = get_json(&app, "/api/v1/series?match[]=up&start=abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(j["error"].as_str().unwrap().contains("start"));
    let (s, _) = get_json(&app, "/api/v1/label/1bad/values").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rejected_samples_are_named_and_the_valid_rest_is_stored() {
    let (app, _d) = setup(Limits::default()).await;
    let now = 100 * 86_400_000;
    let (s, _) = call(&app, write_req(vec![ts(&[("__name__", "up"), ("job", "a")], &[(now, 1.0)])])).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = call(
        &app,
        write_req(vec![
            ts(&[("__name__", "up"), ("1abc", "x")], &[(now, 1.0)]),
            ts(&[("__name__", "up"), ("job", "a")], &[(now - 2 * 86_400_000, 1.0), (now + 1000, 2.0)]),
            ts(&[("__name__", "up"), ("job", "b")], &[(now, 1.0)]),
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = String::from_utf8_lossy(&b);
    assert!(msg.contains("label name \\\"1abc\\\" is invalid"), "{msg}");
    assert!(msg.contains("too old"), "{msg}");
    assert!(msg.contains("2 of 4 samples rejected, the other 2 stored"), "{msg}");
    let (_, j) = get_json(&app, "/api/v1/series?match[]=up").await;
    assert_eq!(j["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn remote_read_returns_what_was_written() {
    let (app, _d) = setup(Limits::default()).await;
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    call(&app, write_req(vec![ts(&[("__name__", "up"), ("job", "a")], &[(1000, 1.0), (2000, stale)])])).await;
    let q = ReadRequest {
        queries: vec![proto::Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 5000,
            matchers: vec![proto::LabelMatcher { r#type: 2, name: "job".into(), value: "a|b".into() }],
        }],
        accepted_response_types: vec![0],
    };
    let (s, b) = call(&app, Request::post("/api/v1/read").body(Body::from(snappy(&q.encode_to_vec()))).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let r = ReadResponse::decode(snap::raw::Decoder::new().decompress_vec(&b).unwrap().as_slice()).unwrap();
    let series = &r.results[0].timeseries;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].samples.len(), 2);
    assert_eq!(series[0].samples[1].value.to_bits(), stale.to_bits(), "staleness marker kept bit for bit");
}

#[tokio::test]
async fn not_ready_is_503() {
    let app = router(PromApi::new(Arc::new(OnceLock::new()), Limits::default()));
    let (s, _) = call(&app, write_req(vec![])).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}

/// A hand-encoded `TimeSeries` whose `job` value is not UTF-8 (prost cannot build one).
fn raw_series_with_bad_utf8() -> Vec<u8> {
    fn field(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    }
    let name = [field(0x0a, b"__name__"), field(0x12, b"up")].concat();
    let job = [field(0x0a, b"job"), field(0x12, b"\xff\xfe")].concat();
    let sample = proto::Sample { value: 1.0, timestamp: 1000 }.encode_to_vec();
    let series = [field(0x0a, &name), field(0x0a, &job), field(0x12, &sample)].concat();
    field(0x0a, &series)
}

#[tokio::test]
async fn labels_that_are_not_utf8_are_rejected_by_name() {
    let (app, _d) = setup(Limits::default()).await;
    let mut raw =
        WriteRequest { timeseries: vec![ts(&[("__name__", "up"), ("job", "ok")], &[(1000, 1.0)])], metadata: vec![] }
            .encode_to_vec();
    raw.extend(raw_series_with_bad_utf8());
    let req = Request::post("/api/v1/write").body(Body::from(snappy(&raw))).unwrap();
    let (s, b) = call(&app, req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = String::from_utf8_lossy(&b);
    assert!(msg.contains("not valid UTF-8") && msg.contains("1 of 2 samples rejected"), "{msg}");
    let (_, j) = get_json(&app, "/api/v1/series?match[]=up").await;
    assert_eq!(j["data"], serde_json::json!([{"__name__": "up", "job": "ok"}]));
}
