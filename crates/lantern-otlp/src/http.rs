//! OTLP over HTTP (`:4318`): `POST /v1/metrics` with a protobuf or JSON body (gzip
//! allowed), answered in the request's encoding; errors carry a `google.rpc.Status`.

use std::io::Read;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use crate::ingest::{IngestError, MetricsIngest};

/// Largest body accepted, compressed or not.
const MAX_BODY: usize = 64 << 20;

/// The OTLP/HTTP routes.
pub fn router(ingest: MetricsIngest) -> Router {
    Router::new().route("/v1/metrics", post(metrics)).with_state(ingest)
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

/// A `google.rpc.Status` in the request's encoding.
fn status(code: StatusCode, grpc_code: i32, message: String, enc: Encoding) -> Response {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    match enc {
        Encoding::Protobuf => (
            code,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            RpcStatus { code: grpc_code, message }.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            code,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"code": grpc_code, "message": message}).to_string(),
        )
            .into_response(),
    }
}

async fn metrics(State(ingest): State<MetricsIngest>, headers: HeaderMap, body: Body) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let enc = if ct.starts_with("application/x-protobuf") {
        Encoding::Protobuf
    } else if ct.starts_with("application/json") {
        Encoding::Json
    } else {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            3,
            format!("unsupported content type {ct:?}: use application/x-protobuf or application/json"),
            Encoding::Json,
        );
    };
    let raw = match lantern_http::read_body_limited(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return status(e.kind.status(), 3, e.message, enc),
    };
    let gzip = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) == Some("gzip");
    let bytes = if gzip {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(&raw[..]).take(MAX_BODY as u64 + 1).read_to_end(&mut out) {
            Ok(n) if n > MAX_BODY => {
                return status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    8,
                    format!("decompressed body is larger than {MAX_BODY} bytes"),
                    enc,
                )
            }
            Ok(_) => out,
            Err(e) => return status(StatusCode::BAD_REQUEST, 3, format!("body is not valid gzip: {e}"), enc),
        }
    } else {
        raw.to_vec()
    };
    let req = match enc {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(&bytes[..])
            .map_err(|e| format!("body is not a valid ExportMetricsServiceRequest: {e}")),
        Encoding::Json => serde_json::from_slice::<ExportMetricsServiceRequest>(&bytes)
            .map_err(|e| format!("body is not a valid OTLP/JSON ExportMetricsServiceRequest: {e}")),
    };
    let req = match req {
        Ok(r) => r,
        Err(m) => return status(StatusCode::BAD_REQUEST, 3, m, enc),
    };
    match ingest.export(req).await {
        Ok(resp) => match enc {
            Encoding::Protobuf => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], resp.encode_to_vec())
                    .into_response()
            }
            Encoding::Json => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_string(&resp).unwrap_or_else(|_| "{}".into()),
            )
                .into_response(),
        },
        Err(IngestError::Unavailable(m)) => {
            let mut r = status(StatusCode::SERVICE_UNAVAILABLE, 14, m, enc);
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        Err(IngestError::Internal(m)) => status(StatusCode::INTERNAL_SERVER_ERROR, 13, m, enc),
    }
}
