//! OTLP over HTTP (`:4318`): `POST /v1/metrics`, `/v1/traces` and `/v1/logs` with a protobuf or JSON body (gzip
//! allowed), answered in the request's encoding; errors carry a `google.rpc.Status`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;

use crate::grpc::Export;
use crate::ingest::{IngestError, MetricsIngest};
use crate::logs::LogIngest;
use crate::traces::TraceIngest;
use lantern_core::selfmon::signal;
use lantern_http::{error_response, BodyLimits, ErrorKind};

/// The OTLP/HTTP routes; bodies within `limits` (`limits.max_request_body_size` and
/// `max_decompressed_body_size`, as for every ingest endpoint).
pub fn router(metrics: MetricsIngest, traces: TraceIngest, logs: LogIngest, limits: BodyLimits) -> Router {
    router_for(
        Receivers {
            metrics: metrics.via(crate::ingest::HTTP),
            traces: traces.via(crate::ingest::HTTP),
            logs: logs.via(crate::ingest::HTTP),
            limits,
        },
        Paths::default(),
    )
}

/// Where each signal's requests go (see [`Export`]), and the body limits.
#[derive(Clone)]
pub struct Receivers<M, T, L> {
    /// Metrics requests.
    pub metrics: M,
    /// Trace requests.
    pub traces: T,
    /// Log requests.
    pub logs: L,
    /// Body size limits.
    pub limits: BodyLimits,
}

/// The URL path of each signal (the OTLP receiver's `traces_url_path` and the others).
#[derive(Clone, Debug)]
pub struct Paths {
    /// Default `/v1/metrics`.
    pub metrics: String,
    /// Default `/v1/traces`.
    pub traces: String,
    /// Default `/v1/logs`.
    pub logs: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self { metrics: "/v1/metrics".into(), traces: "/v1/traces".into(), logs: "/v1/logs".into() }
    }
}

/// The OTLP/HTTP routes at `paths`, each signal's requests handed to its receiver.
pub fn router_for<M, T, L>(r: Receivers<M, T, L>, paths: Paths) -> Router
where
    M: Export<Response = ExportMetricsServiceResponse>,
    T: Export<Response = ExportTraceServiceResponse>,
    L: Export<Response = ExportLogsServiceResponse>,
{
    Router::new()
        .route(&paths.metrics, post(self::metrics::<M, T, L>))
        .route(&paths.traces, post(self::traces::<M, T, L>))
        .route(&paths.logs, post(self::logs::<M, T, L>))
        .with_state(r)
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

/// A `google.rpc.Status` in the request's encoding.
fn status(kind: ErrorKind, message: String, enc: Encoding) -> Response {
    let grpc_code = kind.grpc_code();
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    match enc {
        Encoding::Protobuf => error_response(
            kind,
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                RpcStatus { code: grpc_code, message }.encode_to_vec(),
            ),
        ),
        Encoding::Json => error_response(
            kind,
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({"code": grpc_code, "message": message}).to_string(),
            ),
        ),
    }
}

/// OTLP/JSON may write 64-bit integers as strings or numbers. The generated types read
/// the data points' `…UnixNano` times only as strings and the other integers (exemplar
/// times included) only as numbers, so each is brought to the form its type reads.
fn ints_as_numbers(v: &mut serde_json::Value) {
    normalize(v, false)
}

fn normalize(v: &mut serde_json::Value, in_exemplar: bool) {
    use serde_json::Value;
    const NUMBERS: &[&str] = &["asInt", "intValue", "count", "bucketCounts", "zeroCount", "droppedAttributesCount"];
    let to_number = |x: &mut Value| {
        if let Some(n) = x.as_str().and_then(|s| s.parse::<i64>().ok()) {
            *x = Value::from(n);
        } else if let Some(n) = x.as_str().and_then(|s| s.parse::<u64>().ok()) {
            *x = Value::from(n);
        }
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("UnixNano") && !in_exemplar {
                    if let Some(n) = x.as_u64() {
                        *x = Value::String(n.to_string());
                    }
                } else if NUMBERS.contains(&k.as_str()) || k.ends_with("UnixNano") {
                    match x {
                        Value::Array(a) => a.iter_mut().for_each(to_number),
                        other => to_number(other),
                    }
                } else {
                    normalize(x, in_exemplar || k == "exemplars");
                }
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                // An exemplar's generated type wants every field present.
                if let (true, Value::Object(m)) = (in_exemplar, &mut *x) {
                    m.entry("filteredAttributes").or_insert_with(|| Value::Array(Vec::new()));
                    m.entry("traceId").or_insert_with(|| Value::String(String::new()));
                    m.entry("spanId").or_insert_with(|| Value::String(String::new()));
                    m.entry("timeUnixNano").or_insert_with(|| Value::from(0u64));
                }
                normalize(x, in_exemplar)
            }
        }
        _ => {}
    }
}

/// Reads a request body: its encoding from the content type, gzip undone, size bounded;
/// JSON is read into the generated type `J` and re-encoded as protobuf, so one decoder
/// serves both encodings.
async fn read_request<J>(
    headers: &HeaderMap,
    body: Body,
    what: &str,
    limits: BodyLimits,
) -> Result<(Encoding, Bytes), Response>
where
    J: prost::Message + serde::de::DeserializeOwned,
{
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let enc = if ct.starts_with("application/x-protobuf") {
        Encoding::Protobuf
    } else if ct.starts_with("application/json") {
        Encoding::Json
    } else {
        return Err(status(
            ErrorKind::UnsupportedMediaType,
            format!("unsupported content type {ct:?}: use application/x-protobuf or application/json"),
            Encoding::Json,
        ));
    };
    let bytes = lantern_http::read_body(headers, body, limits).await.map_err(|e| status(e.kind, e.message, enc))?;
    match enc {
        Encoding::Protobuf => Ok((enc, bytes)),
        Encoding::Json => match serde_json::from_slice::<serde_json::Value>(&bytes).and_then(|mut v| {
            ints_as_numbers(&mut v);
            serde_json::from_value::<J>(v)
        }) {
            Ok(r) => Ok((enc, r.encode_to_vec().into())),
            Err(e) => Err(status(ErrorKind::BadData, format!("body is not a valid OTLP/JSON {what}: {e}"), enc)),
        },
    }
}

/// The answer to an export, in the request's encoding.
fn answer<R: prost::Message + serde::Serialize>(result: Result<R, IngestError>, enc: Encoding) -> Response {
    match result {
        Ok(resp) => match enc {
            Encoding::Protobuf => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], resp.encode_to_vec())
                    .into_response()
            }
            Encoding::Json => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json_without_nulls(&resp))
                .into_response(),
        },
        Err(e) => status(e.kind(), e.into_message(), enc),
    }
}

/// An answer in OTLP/JSON: fields left unset (a full success's `partialSuccess`) are
/// omitted, as the protobuf JSON mapping writes them, not written as `null`.
fn json_without_nulls<R: serde::Serialize>(resp: &R) -> String {
    match serde_json::to_value(resp) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.retain(|_, v| !v.is_null());
            serde_json::Value::Object(m).to_string()
        }
        Ok(other) => other.to_string(),
        Err(_) => "{}".into(),
    }
}

/// Counts a request refused before it reached the store, by its status.
fn refused(signal: &'static str, resp: Response) -> Response {
    let reason = match resp.status() {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "malformed",
    };
    lantern_core::selfmon::refused_request(signal, crate::ingest::HTTP, reason);
    resp
}

async fn metrics<M: Export, T, L>(State(r): State<Receivers<M, T, L>>, headers: HeaderMap, body: Body) -> Response {
    match read_request::<ExportMetricsServiceRequest>(&headers, body, "ExportMetricsServiceRequest", r.limits).await {
        Ok((enc, body)) => answer(r.metrics.export(body).await, enc),
        Err(resp) => refused(signal::METRICS, resp),
    }
}

async fn traces<M, T: Export, L>(State(r): State<Receivers<M, T, L>>, headers: HeaderMap, body: Body) -> Response {
    match read_request::<ExportTraceServiceRequest>(&headers, body, "ExportTraceServiceRequest", r.limits).await {
        Ok((enc, body)) => answer(r.traces.export(body).await, enc),
        Err(resp) => refused(signal::TRACES, resp),
    }
}

async fn logs<M, T, L: Export>(State(r): State<Receivers<M, T, L>>, headers: HeaderMap, body: Body) -> Response {
    match read_request::<ExportLogsServiceRequest>(&headers, body, "ExportLogsServiceRequest", r.limits).await {
        Ok((enc, body)) => answer(r.logs.export(body).await, enc),
        Err(resp) => refused(signal::LOGS, resp),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use lantern_core::Matcher;
    use tower::ServiceExt;

    use super::*;

    /// An OTLP/JSON request as the spec writes them: hex IDs, 64-bit integers as strings.
    const JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},
      "scopeMetrics":[{"scope":{"name":"s"},"metrics":[
        {"name":"jobs.done","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{"asInt":"7","timeUnixNano":"1700000000000000000","attributes":[{"key":"queue","value":{"stringValue":"q1"}},{"key":"shard","value":{"intValue":"3"}}]}]}},
        {"name":"lat","unit":"ms","histogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"1700000000000000000",
          "count":"2","sum":3.5,"bucketCounts":["1","1"],"explicitBounds":[1.0],
          "exemplars":[{"asDouble":0.5,"timeUnixNano":"1700000000000000000","traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}}
      ]}]}]}"#;

    #[tokio::test(flavor = "multi_thread")]
    async fn otlp_json_is_stored_and_answered_in_json() {
        let dir = tempfile::tempdir().unwrap();
        let store = lantern_objstore::Store::local(&dir.path().join("data")).unwrap();
        let db = Arc::new(lantern_tsdb::Tsdb::open(&dir.path().join("wal"), store, Default::default()).await.unwrap());
        let slot = Arc::new(OnceLock::new());
        let _ = slot.set(db.clone());
        let app = router(
            MetricsIngest::new(slot),
            TraceIngest::new(Arc::default(), Arc::default()),
            LogIngest::new(Arc::default()),
            LIMITS,
        );
        let req =
            Request::post("/v1/metrics").header("content-type", "application/json").body(Body::from(JSON)).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{}", "a full success has no partialSuccess: {}", String::from_utf8_lossy(&body));
        let got = db.select(&[Matcher::equal("__name__", "jobs_done_total")], 0, i64::MAX / 2).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].1[0].t, got[0].1[0].v), (1_700_000_000_000, 7.0));
        assert_eq!(got[0].0.get("job"), Some("json-svc"));
        assert_eq!(got[0].0.get("shard"), Some("3"));
        let count = db.select(&[Matcher::equal("__name__", "lat_milliseconds_count")], 0, i64::MAX / 2).await.unwrap();
        assert_eq!(count[0].1[0].v, 2.0);
        let ex = db.exemplars(&[Matcher::equal("__name__", "lat_milliseconds_bucket")], 0, i64::MAX / 2);
        assert_eq!(ex[0].1[0].labels.get("trace_id"), Some("5b8efff798038103d269b633813fc60c"));

        let req = Request::post("/v1/metrics").header("content-type", "text/plain").body(Body::from("x")).unwrap();
        assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    const LIMITS: BodyLimits = BodyLimits { max_request_bytes: 4096, max_decompressed_bytes: 16384 };

    #[tokio::test(flavor = "multi_thread")]
    async fn bodies_past_the_configured_limit_are_413_and_gzip_is_undone() {
        let app = router(
            MetricsIngest::new(Arc::default()),
            TraceIngest::new(Arc::default(), Arc::default()),
            LogIngest::new(Arc::default()),
            LIMITS,
        );
        let big = format!("{{\"resourceSpans\": [], \"pad\": \"{}\"}}", "x".repeat(5000));
        let req = Request::post("/v1/traces").header("content-type", "application/json").body(Body::from(big)).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], 8, "{v}");
        assert!(v["message"].as_str().unwrap().contains("larger than the limit of 4096 bytes"), "{v}");
        let req = Request::post("/v1/traces")
            .header("content-type", "application/json")
            .header("content-encoding", "br")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(app.clone().oneshot(req).await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    const TRACE_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
      "scopeSpans":[{"scope":{"name":"app"},"spans":[
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"create_order","kind":2,
         "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000100000000,
         "attributes":[{"key":"user.id","value":{"stringValue":"user-456"}}],
         "events":[{"timeUnixNano":"1700000000050000000","name":"retry"}],
         "status":{"code":2,"message":"card declined"}},
        {"traceId":"00000000000000000000000000000000","spanId":"eee19b7ec3c1b175","name":"bad"}
      ]}]}]}"#;

    #[tokio::test(flavor = "multi_thread")]
    async fn otlp_json_traces_are_stored_and_invalid_spans_refused_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = lantern_objstore::Store::local(&dir.path().join("data")).unwrap();
        let traces = Arc::new(
            lantern_traces::TraceStore::open(&dir.path().join("log"), store, Default::default()).await.unwrap(),
        );
        let slot = Arc::new(OnceLock::new());
        let _ = slot.set(traces.clone());
        let app = router(
            MetricsIngest::new(Arc::default()),
            TraceIngest::new(slot, Arc::default()),
            LogIngest::new(Arc::default()),
            LIMITS,
        );
        let req = Request::post("/v1/traces")
            .header("content-type", "application/json")
            .body(Body::from(TRACE_JSON))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["partialSuccess"]["rejectedSpans"], 1, "{v}");
        assert!(v["partialSuccess"]["errorMessage"].as_str().unwrap().contains("trace_id is all zeros"), "{v}");
        let id = lantern_traces::model::parse_trace_id("5b8efff798038103d269b633813fc60c").unwrap();
        let t = traces.trace(&id).await.unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].name.as_str(), t[0].status_code, t[0].events[0].name.as_str()), ("create_order", 2, "retry"));
        assert_eq!(t[0].end_ns - t[0].start_ns, 100_000_000);

        let req = Request::post("/v1/traces")
            .header("content-type", "application/x-protobuf")
            .body(Body::from(vec![0x0a, 0x09]))
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}
