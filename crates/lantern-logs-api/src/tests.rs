use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lantern_logs::LogStore;
use tower::ServiceExt;

use crate::{router, Limits, LogsApi, RateLimit};

const SEED: &str = r#"{"request_id": "req-123", "user_id": "user-456", "event": "request_started", "path": "/api/orders", "timestamp": "2026-02-11T19:00:00Z", "level": "info"}
{"request_id": "req-123", "user_id": "user-456", "event": "payment_failed", "error": "Card declined", "error_code": "CARD_DECLINED", "timestamp": "2026-02-11T19:00:01Z", "level": "error"}
"#;

async fn app(dir: &std::path::Path, limits: Limits, rate: RateLimit) -> axum::Router {
    let store = lantern_objstore::Store::local(&dir.join("objects")).unwrap();
    let logs = LogStore::open(&dir.join("wal"), store, lantern_events::Options::default()).await.unwrap();
    let slot = Arc::new(OnceLock::new());
    let _ = slot.set(Arc::new(logs));
    router(LogsApi::new(slot, limits, rate))
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(uri: &str, ct: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).header("content-type", ct).body(body.into()).unwrap()
}

#[tokio::test]
async fn jsonl_then_the_seeds_search() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Limits::default(), RateLimit::new(None, 0)).await;
    let (s, b) = call(&app, post("/api/v1/logs/jsonl?service=checkout", "application/x-ndjson", SEED)).await;
    assert_eq!((s, b.as_str()), (StatusCode::OK, r#"{"accepted":2}"#));
    let q = r#"{"query": "level:error AND timestamp:[2026-02-11T14:30:00 TO 2026-02-11T19:35:00]", "sort": "timestamp:asc", "limit": 100}"#;
    let (s, b) = call(&app, post("/api/v1/logs/search", "application/json", q)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["hits"][0]["message"], "payment_failed");
    assert_eq!(v["hits"][0]["event"], "payment_failed");
    assert_eq!(v["hits"][0]["service"], "checkout");
    assert_eq!(v["hits"][0]["timestamp"], "2026-02-11T19:00:01Z");
    assert_eq!(v["hits"][0]["error_code"], "CARD_DECLINED");
    // GET with parameters, start/end.
    let uri = "/api/v1/logs/search?query=user_id:user-456&start=2026-02-11T19:00:00Z&end=2026-02-11T19:00:00.5Z";
    let (s, b) = call(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!((v["total"].as_u64(), v["hits"][0]["event"].as_str()), (Some(1), Some("request_started")));
    // A syntax error points at its position.
    let (s, b) = call(&app, post("/api/v1/logs/search", "application/json", r#"{"query": "level:error AND"}"#)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("syntax error at position 15"), "{b}");
    // A stray or doubled operator too (it used to be searched for as a word).
    for (q, pos) in [("AND level:error", 0), ("level:error AND AND", 16), ("level:error OR OR x", 15)] {
        let (s, b) =
            call(&app, post("/api/v1/logs/search", "application/json", format!(r#"{{"query": "{q}"}}"#))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert!(
            b.contains(&format!("syntax error at position {pos}: expected a term, found the operator")),
            "{q}: {b}"
        );
    }
    let (s, b) =
        call(&app, post("/api/v1/logs/search", "application/json", r#"{"query": "x", "sort": "level:asc"}"#)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = call(&app, post("/api/v1/logs/search", "application/json", r#"{"qeury": "x"}"#)).await;
    assert!(s == StatusCode::BAD_REQUEST && b.contains("qeury"), "{b}");
    // The volume histogram.
    let uri = "/api/v1/logs/volume?start=2026-02-11T19:00:00Z&end=2026-02-11T19:01:00Z&step=1m";
    let (s, b) = call(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["buckets"][0]["counts"], serde_json::json!({"error": 1, "info": 1}));
}

#[tokio::test]
async fn limits_and_loki_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { max_line_bytes: 200, max_request_bytes: 4096 };
    let app = app(dir.path(), limits, RateLimit::new(Some(100_000), 100_000)).await;
    let body = format!("ok line\n{}\nanother\n", "y".repeat(300));
    let (s, b) = call(&app, post("/api/v1/logs/jsonl", "text/plain", body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.contains("line 2 is 300 bytes"), "{b}");
    assert!(b.contains(r#""accepted":2"#), "{b}");
    let (s, b) = call(&app, post("/api/v1/logs/jsonl", "text/plain", "z".repeat(5000))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");

    let json = r#"{"streams": [{"stream": {"service": "payment"}, "values": [["1770836401000000000", "card declined"], ["1770836402000000000", "ok", {"trace_id": "t1"}]]}]}"#;
    let (s, b) = call(&app, post("/loki/api/v1/push", "application/json", json)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let req = lantern_logs::push::proto::PushRequest {
        streams: vec![lantern_logs::push::proto::StreamAdapter {
            labels: r#"{service="payment"}"#.into(),
            entries: vec![lantern_logs::push::proto::EntryAdapter {
                timestamp: Some(lantern_logs::push::proto::Timestamp { seconds: 1_770_836_403, nanos: 0 }),
                line: "refund issued".into(),
                structured_metadata: vec![],
            }],
            hash: 0,
        }],
    };
    let raw = prost::Message::encode_to_vec(&req);
    let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    let (s, b) = call(&app, post("/loki/api/v1/push", "application/x-protobuf", body)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = call(&app, post("/loki/api/v1/push", "application/x-protobuf", "not snappy")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = call(
        &app,
        post("/api/v1/logs/search", "application/json", r#"{"query": "service:payment", "sort": "timestamp:asc"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["total"], 3);
    assert_eq!(v["hits"][1]["trace_id"], "t1");
    assert_eq!(v["hits"][2]["message"], "refund issued");
    // The rate limit: the bucket of 100 kB empties.
    let line = "r".repeat(150) + "\n";
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let (s, _) = call(&app, post("/api/v1/logs/jsonl", "text/plain", line.repeat(26))).await;
        statuses.push(s);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn loki_query_api() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Limits::default(), RateLimit::new(None, 0)).await;
    let (s, _) = call(&app, post("/api/v1/logs/jsonl?service=checkout", "application/x-ndjson", SEED)).await;
    assert_eq!(s, StatusCode::OK);
    let range = "&start=2026-02-11T18:00:00Z&end=2026-02-11T20:00:00Z";
    // A log query: streams with [ns, line] values, newest first.
    let q = enc(r#"{service="checkout"} |= "payment_failed" | json | line_format "{{.error_code}}""#);
    let (s, b) = call(&app, get(&format!("/loki/api/v1/query_range?query={q}{range}&limit=10"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["resultType"], "streams");
    let r = &v["data"]["result"][0];
    assert_eq!(r["values"], serde_json::json!([["1770836401000000000", "CARD_DECLINED"]]));
    assert_eq!(r["stream"]["request_id"], "req-123");
    assert_eq!(r["stream"]["service"], "checkout");
    // A metric query over a range: a matrix of [seconds, "value"].
    let q = enc(r#"sum by (level) (count_over_time({service="checkout"}[1m]))"#);
    let (s, b) =
        call(&app, get(&format!("/loki/api/v1/query_range?query={q}&start=1770836400&end=1770836460&step=60"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["resultType"], "matrix");
    let result = v["data"]["result"].as_array().unwrap();
    let error = result.iter().find(|r| r["metric"]["level"] == "error").unwrap();
    assert_eq!(error["values"], serde_json::json!([[1770836460.0, "1"]]));
    // An instant metric query: a vector; an instant log query is refused as Loki does.
    let q = enc(r#"sum(count_over_time({service="checkout"}[5m])) > 1"#);
    let (s, b) = call(&app, get(&format!("/loki/api/v1/query?query={q}&time=1770836460000000000"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["result"], serde_json::json!([{"metric": {}, "value": [1770836460.0, "2"]}]));
    let (s, b) = call(&app, get(&format!("/loki/api/v1/query?query={}", enc(r#"{service="checkout"}"#)))).await;
    assert!(s == StatusCode::BAD_REQUEST && b.contains("range query"), "{b}");
    let (s, b) = call(&app, get(&format!("/loki/api/v1/query_range?query={}", enc(r#"{service="checkout""#)))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b.starts_with("parse error at line 1, col 20"), "{b}");
    // Labels, values, series.
    let (_, b) = call(&app, get(&format!("/loki/api/v1/labels?{}", &range[1..]))).await;
    assert_eq!(b, r#"{"data":["level","service"],"status":"success"}"#);
    let (_, b) = call(&app, get(&format!("/loki/api/v1/label/level/values?{}", &range[1..]))).await;
    assert_eq!(b, r#"{"data":["error","info"],"status":"success"}"#);
    let m = enc(r#"{level="error"}"#);
    let (_, b) = call(&app, get(&format!("/loki/api/v1/series?match[]={m}{range}"))).await;
    assert_eq!(b, r#"{"data":[{"level":"error","service":"checkout"}],"status":"success"}"#);
    // Volume by the selector's labels.
    let q = enc(r#"{service="checkout"}"#);
    let (s, b) =
        call(&app, get(&format!("/loki/api/v1/index/volume_range?query={q}&start=1770836400&end=1770836460&step=60")))
            .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["result"][0]["metric"], serde_json::json!({"service": "checkout"}));
    let bytes: f64 = v["data"]["result"][0]["values"][0][1].as_str().unwrap().parse().unwrap();
    assert_eq!(bytes, 187.0, "{b}");
    let (s, b) = call(&app, get("/loki/api/v1/status/buildinfo")).await;
    assert!(s == StatusCode::OK && b.contains("version"), "{b}");
}

#[tokio::test]
async fn lines_of_equal_time_keep_their_order_in_every_api_before_and_after_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Limits::default(), RateLimit::new(None, 0)).await;
    let body: String =
        (1..=5).map(|i| format!("{{\"timestamp\": \"2026-02-11T19:00:00Z\", \"event\": \"step {i}\"}}\n")).collect();
    let (s, _) = call(&app, post("/api/v1/logs/jsonl?service=app", "application/x-ndjson", body)).await;
    assert_eq!(s, StatusCode::OK);
    let want: Vec<String> = (1..=5).map(|i| format!("step {i}")).collect();
    for phase in ["in memory", "sealed"] {
        for sort in ["timestamp:asc", "timestamp:desc"] {
            let (_, b) = call(
                &app,
                post("/api/v1/logs/search", "application/json", format!(r#"{{"query": "", "sort": "{sort}"}}"#)),
            )
            .await;
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            let got: Vec<&str> = v["hits"].as_array().unwrap().iter().filter_map(|h| h["message"].as_str()).collect();
            assert_eq!(got, want, "{phase}, {sort}");
        }
        for direction in ["forward", "backward"] {
            let q = enc(r#"{service="app"}"#);
            let uri = format!("/loki/api/v1/query_range?query={q}&start=2026-02-11T18:00:00Z&end=2026-02-11T20:00:00Z&direction={direction}");
            let (_, b) = call(&app, get(&uri)).await;
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            let got: Vec<String> = v["data"]["result"][0]["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    serde_json::from_str::<serde_json::Value>(e[1].as_str().unwrap()).unwrap()["event"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(got, want, "{phase}, {direction}");
        }
        let (s, _) = call(&app, post("/api/v1/admin/logs/flush", "application/json", "")).await;
        assert!(s.is_success());
    }
}

#[tokio::test]
async fn every_hit_can_be_read_page_by_page_with_search_after() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Limits::default(), RateLimit::new(None, 0)).await;
    // 30 lines over 10 seconds, three per second (ties to page through).
    let body: String = (0..30)
        .map(|i| {
            format!(
                "{{\"timestamp\": \"2026-02-11T19:00:{:02}Z\", \"level\": \"error\", \"event\": \"e{i}\"}}\n",
                i / 3
            )
        })
        .collect();
    let (s, _) = call(&app, post("/api/v1/logs/jsonl?service=app", "application/x-ndjson", body)).await;
    assert_eq!(s, StatusCode::OK);
    let search = |body: String| {
        let app = app.clone();
        async move {
            let (s, b) = call(&app, post("/api/v1/logs/search", "application/json", body)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            serde_json::from_str::<serde_json::Value>(&b).unwrap()
        }
    };
    for phase in ["in memory", "sealed"] {
        for sort in ["timestamp:asc", "timestamp:desc"] {
            let all = search(format!(r#"{{"query": "level:error", "sort": "{sort}", "limit": 100}}"#)).await;
            assert!(all.get("search_after").is_none(), "one page held everything: {all}");
            let want: Vec<serde_json::Value> = all["hits"].as_array().unwrap().clone();
            let mut got = Vec::new();
            let mut after = serde_json::Value::Null;
            for page in 0.. {
                let v = search(format!(
                    r#"{{"query": "level:error", "sort": "{sort}", "limit": 7, "search_after": {after}}}"#
                ))
                .await;
                assert_eq!(v["total"], 30, "every page counts every match");
                got.extend(v["hits"].as_array().unwrap().iter().cloned());
                match v.get("search_after") {
                    Some(a) => after = a.clone(),
                    None => break,
                }
                assert!(page < 10);
            }
            assert_eq!(got, want, "{phase}, {sort}: pages of 7 read the same hits in the same order");
        }
        let (s, _) = call(&app, post("/api/v1/admin/logs/flush", "application/json", "")).await;
        assert!(s.is_success());
    }
    // A limit above a page: said, not silently cut.
    let v = search(r#"{"query": "level:error", "limit": 20000}"#.to_string()).await;
    assert_eq!(v["hits"].as_array().unwrap().len(), 30);
    assert!(v["warnings"][0].as_str().unwrap().starts_with("limit 20000 is more than one page holds (10000)"), "{v}");
    let (s, b) =
        call(&app, post("/api/v1/logs/search", "application/json", r#"{"query": "", "search_after": "x"}"#)).await;
    assert!(s == StatusCode::BAD_REQUEST && b.contains("search_after"), "{b}");
}

#[tokio::test]
async fn gzip_bodies_are_accepted_on_every_push_and_other_encodings_named() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Limits::default(), RateLimit::new(None, 0)).await;
    let gz = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    };
    let with = |uri: &str, ct: &str, enc: &str, body: Vec<u8>| {
        Request::post(uri).header("content-type", ct).header("content-encoding", enc).body(Body::from(body)).unwrap()
    };
    let (s, b) =
        call(&app, with("/api/v1/logs/jsonl?service=gz", "application/x-ndjson", "gzip", gz(SEED.as_bytes()))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("\"accepted\":2"), "{b}");
    let push = r#"{"streams": [{"stream": {"service": "gz"}, "values": [["1770836402000000000", "pushed gzipped"]]}]}"#;
    let (s, b) = call(&app, with("/loki/api/v1/push", "application/json", "gzip", gz(push.as_bytes()))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = call(&app, post("/api/v1/logs/search", "application/json", r#"{"query": "service:gz"}"#)).await;
    assert!(s == StatusCode::OK && b.contains("\"total\":3"), "{b}");
    // An encoding Lantern does not read is named, not taken for text.
    let (s, b) = call(&app, with("/api/v1/logs/jsonl?service=gz", "application/x-ndjson", "br", b"x".to_vec())).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");
    assert!(b.contains("Content-Encoding \\\"br\\\" is not supported"), "{b}");
}
