//! `POST /api/v1/write`: Prometheus remote write 1.0 (snappy-compressed protobuf).

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lantern_core::{Label, Labels, Sample};
use lantern_http::{read_body_limited, ApiError, ErrorKind};
use prost::Message;

use crate::proto::WriteRequest;
use crate::{store_error, PromApi};

/// How many individual problems a 400 message lists before summarising.
const MAX_LISTED: usize = 5;

pub(crate) async fn handle(State(api): State<PromApi>, headers: HeaderMap, body: Body) -> Response {
    match write(&api, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Decodes a remote-write body: snappy block format, then protobuf.
pub fn decode_body(compressed: &[u8], max_decompressed: usize) -> Result<WriteRequest, ApiError> {
    let len = snap::raw::decompress_len(compressed)
        .map_err(|e| ApiError::bad_data(format!("remote write body is not snappy-compressed: {e}")))?;
    if len > max_decompressed {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("remote write body decompresses to {len} bytes, over the limit of {max_decompressed}"),
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|e| ApiError::bad_data(format!("remote write body is not snappy-compressed: {e}")))?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::bad_data(format!("remote write body is not a valid prometheus.WriteRequest: {e}")))
}

async fn write(api: &PromApi, headers: &HeaderMap, body: Body) -> Result<(), ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or("");
    if ct.contains("io.prometheus.write.v2.Request") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "remote write 2.0 (io.prometheus.write.v2.Request) is not supported; send remote write 1.0 (prometheus.WriteRequest)",
        ));
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING).and_then(|h| h.to_str().ok()) {
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                format!("content encoding {enc:?} is not supported; remote write bodies are snappy-compressed"),
            ));
        }
    }
    let db = api.db()?;
    let compressed = read_body_limited(body, api.limits.max_request_bytes).await?;
    let req = decode_body(&compressed, api.limits.max_decompressed_bytes)?;

    let mut problems: Vec<String> = Vec::new();
    let mut problem_samples = 0usize;
    let mut histograms = 0usize;
    let mut batch = Vec::with_capacity(req.timeseries.len());
    for ts in req.timeseries {
        histograms += ts.histograms.len();
        let labels: Vec<Label> = ts.labels.into_iter().map(|l| Label::new(l.name, l.value)).collect();
        match Labels::validated(labels) {
            Ok(ls) => {
                let samples = ts.samples.iter().map(|s| Sample::new(s.timestamp, s.value)).collect();
                batch.push((ls, samples));
            }
            Err(e) => {
                problem_samples += ts.samples.len();
                problems.push(format!("series rejected: {e}"));
            }
        }
    }
    let total: usize = batch.iter().map(|(_, s): &(Labels, Vec<Sample>)| s.len()).sum::<usize>() + problem_samples;
    let outcome = tokio::task::spawn_blocking(move || db.append(batch))
        .await
        .map_err(|e| ApiError::internal(format!("append task failed: {e}")))?
        .map_err(store_error)?;
    problem_samples += outcome.rejected.len();
    for r in &outcome.rejected {
        problems.push(format!("sample of {} at {} rejected: {}", r.labels, r.t, r.reason.reason()));
    }
    if histograms > 0 {
        problems.push(format!(
            "{histograms} native histogram samples were not stored: native histograms are not supported yet"
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{problem_samples} of {total} samples rejected, the other {} stored: ",
        outcome.appended + outcome.already_stored
    );
    msg.push_str(&problems[..problems.len().min(MAX_LISTED)].join("; "));
    if problems.len() > MAX_LISTED {
        let _ = write!(msg, "; and {} more", problems.len() - MAX_LISTED);
    }
    tracing::debug!(message = %msg, "remote write partly rejected");
    Err(ApiError::bad_data(msg))
}
