//! `POST /api/v1/write`: Prometheus remote write 1.0 (snappy-compressed protobuf).

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lantern_core::selfmon::signal::METRICS;
use lantern_http::{read_body_limited, ApiError, ErrorKind};
use lantern_tsdb::{AppendOutcome, Batch};

use crate::wire::{decode_write_request, Extras};
use crate::{store_error, PromApi};

/// How many individual problems a 400 message lists before summarising.
const MAX_LISTED: usize = 5;

/// The `protocol` label of what this endpoint stores.
const PROTOCOL: &str = "remote_write";

pub(crate) async fn handle(State(api): State<PromApi>, headers: HeaderMap, body: Body) -> Response {
    match write(&api, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(Refused::Request(e)) => {
            lantern_core::selfmon::refused_request(METRICS, PROTOCOL, e.kind.reason());
            e.into_response()
        }
        Err(Refused::Items(e)) => e.into_response(),
    }
}

/// Why a write was not (wholly) stored.
enum Refused {
    /// Nothing of the request was stored.
    Request(ApiError),
    /// Some of its samples were not; the rest was.
    Items(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Request(e)
    }
}

/// Decompressed bodies up to this size keep their buffer for the thread's next request.
const REUSED_BUFFER_BYTES: usize = 16 << 20;

thread_local! {
    /// The decompression buffer of this blocking-pool thread, reused across requests so
    /// that a busy ingest path does not allocate (and fault in) a fresh one every time.
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decompresses a remote-write body (snappy block format) within the size limit into
/// `out` (cleared first).
pub fn decompress_body(compressed: &[u8], max_decompressed: usize, out: &mut Vec<u8>) -> Result<(), ApiError> {
    let len = snap::raw::decompress_len(compressed)
        .map_err(|e| ApiError::bad_data(format!("remote write body is not snappy-compressed: {e}")))?;
    if len > max_decompressed {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("remote write body decompresses to {len} bytes, over the limit of {max_decompressed}"),
        ));
    }
    out.clear();
    out.resize(len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(compressed, out)
        .map_err(|e| ApiError::bad_data(format!("remote write body is not snappy-compressed: {e}")))?;
    out.truncate(n);
    Ok(())
}

async fn write(api: &PromApi, headers: &HeaderMap, body: Body) -> Result<(), Refused> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or("");
    if ct.contains("io.prometheus.write.v2.Request") {
        return Err(Refused::Request(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "remote write 2.0 (io.prometheus.write.v2.Request) is not supported; send remote write 1.0 (prometheus.WriteRequest)",
        )));
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING).and_then(|h| h.to_str().ok()) {
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(Refused::Request(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                format!("content encoding {enc:?} is not supported; remote write bodies are snappy-compressed"),
            )));
        }
    }
    let db = api.db()?;
    let compressed = read_body_limited(body, api.limits.max_request_bytes).await?;
    let max = api.limits.max_decompressed_bytes;
    // Decompressing, decoding and appending are CPU work and an fsync: off the async threads.
    tokio::task::spawn_blocking(move || {
        let mut raw = BODY.with(|b| b.take());
        let result = decompress_body(&compressed, max, &mut raw).map_err(Refused::Request).and_then(|()| {
            lantern_core::selfmon::ingest_bytes(METRICS, PROTOCOL, raw.len() as u64);
            let mut batch = Batch::new();
            let mut metadata = Vec::new();
            let extras = decode_write_request(&raw, &mut batch, &mut metadata).map_err(|e| {
                ApiError::bad_data(format!("remote write body is not a valid prometheus.WriteRequest: {e}"))
            })?;
            for (family, meta) in metadata {
                db.metadata().set(&family, meta);
            }
            let outcome = db.append_batch(&batch).map_err(store_error)?;
            outcome.count(PROTOCOL);
            lantern_core::selfmon::refused_items(METRICS, PROTOCOL, "unsupported", extras.histograms as u64);
            report(batch.sample_count(), &outcome, extras).map_err(Refused::Items)
        });
        if raw.capacity() <= REUSED_BUFFER_BYTES {
            BODY.with(|b| b.replace(raw));
        }
        result
    })
    .await
    .map_err(|e| ApiError::internal(format!("append task failed: {e}")))?
}

/// Turns refused series and samples into one 400 message; `Ok` when nothing was refused.
fn report(total: usize, outcome: &AppendOutcome, extras: Extras) -> Result<(), ApiError> {
    let mut problems: Vec<String> = Vec::new();
    let mut refused = 0usize;
    for s in &outcome.invalid_series {
        refused += s.samples;
        problems.push(format!("series {} rejected: {}", s.labels, s.error));
    }
    refused += outcome.rejected.len();
    for r in &outcome.rejected {
        problems.push(format!("sample of {} at {} rejected: {}", r.labels, r.t, r.reason.reason()));
    }
    if extras.histograms > 0 {
        problems.push(format!(
            "{} native histogram samples were not stored: native histograms are not supported yet",
            extras.histograms
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = format!("{refused} of {total} samples rejected, the other {} stored: ", total - refused);
    msg.push_str(&problems[..problems.len().min(MAX_LISTED)].join("; "));
    if problems.len() > MAX_LISTED {
        let _ = write!(msg, "; and {} more", problems.len() - MAX_LISTED);
    }
    tracing::debug!(message = %msg, "remote write partly rejected");
    Err(ApiError::bad_data(msg))
}
