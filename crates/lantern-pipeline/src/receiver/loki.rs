//! The `loki` receiver: Loki's push API (`POST /loki/api/v1/push`, JSON or
//! snappy-compressed protobuf, as Promtail, Grafana Alloy and the Loki clients send it)
//! decoded by the log store's own push decoder, each entry made an OTLP log record
//! whose body is the line and whose attributes are the stream's labels. The record's
//! time is the entry's with `use_incoming_timestamp`, else when it was received.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lantern_http::BodyLimits;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1 as pl;
use serde::Deserialize;

use crate::consumer::Next;
use crate::data::Decoded;
use crate::settings::{lenient_string, present};

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The protocols served: `http` (gRPC is not supported by Lantern yet).
    #[serde(default)]
    pub protocols: Protocols,
    /// Whether records keep the entries' own times.
    #[serde(default)]
    pub use_incoming_timestamp: bool,
}

/// `protocols`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// The push API over HTTP.
    #[serde(default, deserialize_with = "present")]
    pub http: Option<Http>,
    /// Loki's gRPC push (not supported by Lantern yet).
    #[serde(default)]
    pub grpc: Option<serde_yaml::Value>,
}

/// `protocols::http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Listen address (default `localhost:3500`).
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// Largest request body, bytes.
    pub max_request_body_size: usize,
}

impl Default for Http {
    fn default() -> Self {
        Self { endpoint: "localhost:3500".into(), max_request_body_size: 20 << 20 }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.protocols.grpc.is_some() {
            p.push("protocols::grpc: Loki's gRPC push is not supported by Lantern yet: use http".into());
        } else if self.protocols.http.is_none() {
            p.push("must specify at least one protocol when using the Loki receiver".into());
        }
        p
    }
}

/// Longest line taken (longer ones are cut, as the log store does).
const MAX_LINE: usize = 256 << 10;

#[derive(Clone)]
struct Ctx {
    id: Arc<str>,
    next: Next,
    keep_time: bool,
    limits: BodyLimits,
}

/// The push route.
pub fn router(id: &str, c: &Config, next: Next) -> axum::Router {
    let limit = c.protocols.http.as_ref().map_or(20 << 20, |h| h.max_request_body_size);
    let ctx = Ctx {
        id: id.into(),
        next,
        keep_time: c.use_incoming_timestamp,
        limits: BodyLimits { max_request_bytes: limit, max_decompressed_bytes: limit.saturating_mul(4) },
    };
    axum::Router::new()
        .route("/loki/api/v1/push", axum::routing::post(push))
        .route("/api/prom/push", axum::routing::post(push))
        .with_state(ctx)
}

fn bad(status: StatusCode, msg: String) -> Response {
    (status, msg).into_response()
}

async fn push(State(c): State<Ctx>, headers: HeaderMap, body: Body) -> Response {
    use lantern_core::selfmon::pipeline as stats;
    let bytes = match lantern_http::read_body(&headers, body, c.limits).await {
        Ok(b) => b,
        Err(e) => return lantern_http::error_response(e.kind, e.message),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let pushed = if json {
        lantern_logs::push::decode_json(&bytes, MAX_LINE)
    } else {
        let raw = match snap::raw::Decoder::new().decompress_vec(&bytes) {
            Ok(r) => r,
            Err(e) => return bad(StatusCode::BAD_REQUEST, format!("body is not snappy-compressed protobuf: {e}")),
        };
        lantern_logs::push::decode_proto(&raw, MAX_LINE)
    };
    let pushed = match pushed {
        Ok(p) => p,
        Err(e) => return bad(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut render = String::new();
    let records: Vec<pl::LogRecord> = pushed
        .rows
        .iter()
        .map(|row| {
            let line = match &row.line {
                Some(l) => l.to_string(),
                None => {
                    lantern_logs::model::render_into(&row.fields, row.compact, &mut render);
                    render.clone()
                }
            };
            pl::LogRecord {
                time_unix_nano: if c.keep_time { row.time.max(0) as u64 } else { now },
                observed_time_unix_nano: now,
                body: Some(AnyValue { value: Some(any_value::Value::StringValue(line)) }),
                attributes: row
                    .stream
                    .labels
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: k.to_string(),
                        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.to_string())) }),
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    let rejected = pushed.rejected.len();
    if records.is_empty() {
        return if rejected > 0 {
            bad(StatusCode::BAD_REQUEST, format!("every entry was refused ({rejected})"))
        } else {
            StatusCode::NO_CONTENT.into_response()
        };
    }
    let req = ExportLogsServiceRequest {
        resource_logs: vec![pl::ResourceLogs {
            scope_logs: vec![pl::ScopeLogs {
                scope: Some(InstrumentationScope { name: "lantern.loki".into(), ..Default::default() }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let p = Decoded::Logs(req).encode();
    let items = p.items as u64;
    match c.next.consume(p).await {
        Ok(()) => {
            stats::received(&c.id, "http", "logs", items);
            if rejected > 0 {
                stats::refused(&c.id, "logs", "invalid", rejected as u64);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            stats::refused(
                &c.id,
                "logs",
                if e.retryable { "downstream_retryable" } else { "downstream_permanent" },
                items,
            );
            if e.retryable {
                lantern_http::error_response(lantern_http::ErrorKind::Unavailable, e.message)
            } else {
                bad(StatusCode::BAD_REQUEST, e.message)
            }
        }
    }
}
