//! `POST /api/v1/read`: Prometheus remote read, answered with the SAMPLES response type.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use lantern_core::{MatchOp, Matcher};
use lantern_http::{read_body_limited, ApiError};
use prost::Message;

use crate::proto::{self, QueryResult, ReadRequest, ReadResponse, TimeSeries};
use crate::{store_error, PromApi};

pub(crate) async fn handle(State(api): State<PromApi>, body: Body) -> Response {
    match read(&api, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn matcher(m: &proto::LabelMatcher) -> Result<Matcher, ApiError> {
    let op = match m.r#type {
        0 => MatchOp::Equal,
        1 => MatchOp::NotEqual,
        2 => MatchOp::Regex,
        3 => MatchOp::NotRegex,
        t => return Err(ApiError::bad_data(format!("remote read matcher type {t} is unknown"))),
    };
    Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| ApiError::bad_data(e.to_string()))
}

async fn read(api: &PromApi, body: Body) -> Result<Response, ApiError> {
    let db = api.db()?;
    let compressed = read_body_limited(body, api.limits.max_request_bytes).await?;
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&compressed)
        .map_err(|e| ApiError::bad_data(format!("remote read body is not snappy-compressed: {e}")))?;
    let req = ReadRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::bad_data(format!("remote read body is not a valid prometheus.ReadRequest: {e}")))?;
    let mut results = Vec::with_capacity(req.queries.len());
    for q in &req.queries {
        let matchers = q.matchers.iter().map(matcher).collect::<Result<Vec<_>, _>>()?;
        let series = db.select(&matchers, q.start_timestamp_ms, q.end_timestamp_ms).await.map_err(store_error)?;
        let timeseries = series
            .into_iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|l| proto::Label { name: l.name.to_string(), value: l.value.to_string() })
                    .collect(),
                samples: samples.iter().map(|s| proto::Sample { value: s.v, timestamp: s.t }).collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect();
        results.push(QueryResult { timeseries });
    }
    let encoded = ReadResponse { results }.encode_to_vec();
    let body = snap::raw::Encoder::new()
        .compress_vec(&encoded)
        .map_err(|e| ApiError::internal(format!("compressing the remote read response failed: {e}")))?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    Ok(resp)
}
