//! Ingest endpoints: JSON lines (`?service=NAME` becomes the `service` label) and
//! Loki's push (JSON, or snappy-compressed protobuf). Oversized lines are refused by
//! number with the rest stored (400 naming them), an oversized body is 413, an empty
//! rate-limit bucket 429. Events are durable before the answer.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lantern_core::selfmon::{self, signal::LOGS};
use lantern_http::{ApiError, ErrorKind};
use lantern_logs::push::{decode_json, decode_proto};
use lantern_logs::Rejected;
use serde_json::json;

use crate::{now_ns, LogsApi};

#[derive(serde::Deserialize)]
pub(crate) struct JsonlParams {
    service: Option<String>,
}

fn rate_limited(api: &LogsApi, n: usize) -> Result<(), ApiError> {
    if api.rate.take(n) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorKind::RateLimited, "log ingest rate limit exceeded: retry later"))
    }
}

fn store_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!("storing log lines failed: {e}"))
}

/// The answer to a request some of whose lines were refused: 400 naming them (at
/// most 20 reasons), the count stored.
fn partial(accepted: usize, rejected: &[Rejected]) -> Response {
    let mut msg = format!("{} lines were rejected, {accepted} stored", rejected.len());
    for r in rejected.iter().take(20) {
        msg.push_str("; ");
        msg.push_str(&r.reason);
    }
    let body = json!({
        "status": "error",
        "errorType": "bad_data",
        "error": msg,
        "accepted": accepted,
        "rejected": rejected.iter().map(|r| json!({"line": r.line, "reason": r.reason})).collect::<Vec<_>>(),
    });
    lantern_http::error_response(ErrorKind::BadData, axum::Json(body))
}

/// Counts what a push stored and refused into Lantern's own metrics.
fn count(protocol: &'static str, bytes: usize, stored: usize, rejected: &[Rejected]) {
    selfmon::ingest_bytes(LOGS, protocol, bytes as u64);
    selfmon::ingested(LOGS, protocol, stored as u64);
    for cause in [lantern_logs::store::TOO_LONG, lantern_logs::store::INVALID] {
        selfmon::refused_items(LOGS, protocol, cause, rejected.iter().filter(|r| r.cause == cause).count() as u64);
    }
}

/// Counts a push refused whole.
fn refused(protocol: &'static str, e: ApiError) -> ApiError {
    selfmon::refused_request(LOGS, protocol, e.kind.reason());
    e
}

/// The size limits of a log push: `logs.max_request_size`, as sent and decompressed.
fn body_limits(api: &LogsApi) -> lantern_http::BodyLimits {
    let m = api.limits.max_request_bytes;
    lantern_http::BodyLimits { max_request_bytes: m, max_decompressed_bytes: m }
}

pub(crate) async fn jsonl(
    State(api): State<LogsApi>,
    Query(p): Query<JsonlParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let store = api.store()?;
        let body = lantern_http::read_body(&headers, body, body_limits(&api)).await?;
        rate_limited(&api, body.len())?;
        let labels: Vec<(String, String)> = p.service.into_iter().map(|s| ("service".to_string(), s)).collect();
        let max = api.limits.max_line_bytes;
        let bytes = body.len();
        let (n, rejected) = tokio::task::spawn_blocking(move || {
            let text = std::str::from_utf8(&body)
                .map_err(|e| ApiError::bad_data(format!("the body is not UTF-8 text: {e}")))?;
            store.append_jsonl(labels, now_ns(&store), text, max).map_err(store_failed)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
        count("jsonl", bytes, n, &rejected);
        Ok::<_, ApiError>(if rejected.is_empty() {
            axum::Json(json!({"accepted": n})).into_response()
        } else {
            partial(n, &rejected)
        })
    };
    run.await.unwrap_or_else(|e| refused("jsonl", e).into_response())
}

/// `POST /api/v1/admin/logs/flush`: seals the lines in memory into a segment now.
pub(crate) async fn flush(State(api): State<LogsApi>) -> Response {
    let run = async {
        let store = api.store()?;
        store.seal().await.map_err(|e| ApiError::internal(format!("sealing log lines failed: {e}")))?;
        Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// Loki answers push errors as text.
fn loki_error(e: ApiError) -> Response {
    (e.kind.status(), format!("{}\n", e.message)).into_response()
}

pub(crate) async fn loki_push(State(api): State<LogsApi>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let store = api.store()?;
        let body = lantern_http::read_body(&headers, body, body_limits(&api)).await?;
        rate_limited(&api, body.len())?;
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let max_line = api.limits.max_line_bytes;
        let max_body = api.limits.max_request_bytes;
        let bytes = body.len();
        // The request is decoded and stored in one blocking task; the log records the
        // request itself (its decompressed body), which replay decodes again.
        let (n, rejected) = tokio::task::spawn_blocking(move || {
            let (pushed, header, raw) = if ct.starts_with("application/json") {
                let pushed = decode_json(&body, max_line).map_err(|e| ApiError::bad_data(e.to_string()))?;
                (pushed, lantern_logs::codec::loki_header(false, max_line), body.clone())
            } else {
                // Protobuf: snappy block format, as Promtail and the Loki clients send it.
                let n = snap::raw::decompress_len(&body)
                    .map_err(|e| ApiError::bad_data(format!("the push body is not snappy-compressed: {e}")))?;
                if n > max_body {
                    return Err(ApiError::new(
                        ErrorKind::TooLarge,
                        format!("the push body decompresses to {n} bytes, more than the limit of {max_body}"),
                    ));
                }
                let raw = snap::raw::Decoder::new()
                    .decompress_vec(&body)
                    .map_err(|e| ApiError::bad_data(format!("the push body is not snappy-compressed: {e}")))?;
                let pushed = decode_proto(&raw, max_line).map_err(|e| ApiError::bad_data(e.to_string()))?;
                (pushed, lantern_logs::codec::loki_header(true, max_line), bytes::Bytes::from(raw))
            };
            let n = pushed.rows.len();
            store.append_payload(pushed.rows, &[&header, &raw]).map_err(store_failed)?;
            Ok::<_, ApiError>((n, pushed.rejected))
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
        count("loki", bytes, n, &rejected);
        if rejected.is_empty() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let mut msg = format!("{} entries were rejected, {n} stored", rejected.len());
        for r in rejected.iter().take(20) {
            msg.push('\n');
            msg.push_str(&r.reason);
        }
        Ok::<_, ApiError>(lantern_http::error_response(ErrorKind::BadData, msg + "\n"))
    };
    run.await.unwrap_or_else(|e| loki_error(refused("loki", e)))
}
