//! API errors and the one place that maps them to HTTP status codes and gRPC codes:
//! every API crate (Prometheus, Loki, Jaeger, OTLP over HTTP and gRPC, Lantern's own)
//! names the kind of a failure and answers with what this file says.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The kinds of failure an API reports, named as Prometheus names them where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (400, `bad_data`).
    BadData,
    /// The request is valid but cannot be executed (422, `execution`).
    Execution,
    /// The request body is too large (413).
    TooLarge,
    /// The client sends too fast (429).
    RateLimited,
    /// The server is not ready or is shutting down; retry later (503, `unavailable`).
    Unavailable,
    /// A query ran out of time (503, `timeout`).
    Timeout,
    /// Nothing exists at that name (404, `not_found`).
    NotFound,
    /// The request's media type is not supported (415).
    UnsupportedMediaType,
    /// The request conflicts with what exists (409): a name taken, a read-only object.
    Conflict,
    /// The server failed (500, `internal`).
    Internal,
}

impl ErrorKind {
    /// The HTTP status for this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadData => StatusCode::BAD_REQUEST,
            ErrorKind::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable | ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code for this kind (`google.rpc.Code`: 3 INVALID_ARGUMENT, 4
    /// DEADLINE_EXCEEDED, 5 NOT_FOUND, 6 ALREADY_EXISTS, 8 RESOURCE_EXHAUSTED, 13
    /// INTERNAL, 14 UNAVAILABLE), as OTLP/gRPC answers it and OTLP/HTTP writes it in its
    /// `Status` body. Only UNAVAILABLE and RESOURCE_EXHAUSTED tell a client to retry.
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorKind::BadData | ErrorKind::Execution | ErrorKind::UnsupportedMediaType => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::NotFound => 5,
            ErrorKind::Conflict => 6,
            ErrorKind::TooLarge | ErrorKind::RateLimited => 8,
            ErrorKind::Internal => 13,
            ErrorKind::Unavailable => 14,
        }
    }

    /// The `Retry-After` (seconds) an HTTP answer of this kind carries: a client should
    /// come back for an unavailable server or a rate limit.
    pub fn retry_after(self) -> Option<&'static str> {
        match self {
            ErrorKind::Unavailable | ErrorKind::RateLimited => Some("1"),
            _ => None,
        }
    }

    /// The `reason` label of a request refused for this (`lantern_core::selfmon`).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::BadData => "malformed",
            ErrorKind::Execution => "execution",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NotFound => "not_found",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        }
    }

    /// Prometheus's `errorType` string.
    pub fn prometheus_type(self) -> &'static str {
        match self {
            ErrorKind::BadData | ErrorKind::TooLarge | ErrorKind::UnsupportedMediaType | ErrorKind::Conflict => {
                "bad_data"
            }
            ErrorKind::Execution => "execution",
            ErrorKind::RateLimited | ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error answered to an API client, in Prometheus's JSON envelope.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message, naming the problem.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A 400 `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, message)
    }

    /// A 500 error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A 503 error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Envelope<'a> {
            status: &'static str,
            #[serde(rename = "errorType")]
            error_type: &'static str,
            error: &'a str,
        }
        let body = Envelope { status: "error", error_type: self.kind.prometheus_type(), error: &self.message };
        error_response(self.kind, axum::Json(body))
    }
}

/// An error answer of `kind` with `body` (each API writes its own envelope): the status
/// and, where the kind asks a client to come back, `Retry-After`.
pub fn error_response(kind: ErrorKind, body: impl IntoResponse) -> Response {
    let mut r = (kind.status(), body).into_response();
    if let Some(secs) = kind.retry_after() {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static(secs));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorKind; 10] = [
        ErrorKind::BadData,
        ErrorKind::Execution,
        ErrorKind::TooLarge,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::NotFound,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Conflict,
        ErrorKind::Internal,
    ];

    #[test]
    fn http_and_grpc_agree_on_who_may_retry() {
        for kind in ALL {
            let s = kind.status();
            let retry_http = s == StatusCode::SERVICE_UNAVAILABLE || s == StatusCode::TOO_MANY_REQUESTS;
            // gRPC UNAVAILABLE (14) and RESOURCE_EXHAUSTED (8) are the retryable codes; a
            // body too large is RESOURCE_EXHAUSTED too, but sending it again cannot help.
            let retry_grpc = matches!(kind.grpc_code(), 8 | 14) && kind != ErrorKind::TooLarge;
            assert_eq!(retry_http && kind != ErrorKind::Timeout, retry_grpc, "{kind:?}");
            assert_eq!(kind.retry_after().is_some(), retry_grpc, "{kind:?}");
            assert!(s.is_client_error() || s.is_server_error(), "{kind:?}");
        }
    }

    #[test]
    fn an_error_response_carries_its_status_and_retry_after() {
        let r = error_response(ErrorKind::RateLimited, "slow down");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "1");
        let r = ApiError::bad_data("no").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(!r.headers().contains_key(axum::http::header::RETRY_AFTER));
    }
}
