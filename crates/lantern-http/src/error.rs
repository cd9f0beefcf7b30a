//! API errors and the one place that maps them to HTTP status codes (and, later, gRPC
//! codes).

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
        (self.kind.status(), axum::Json(body)).into_response()
    }
}
