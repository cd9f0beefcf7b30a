//! What every Lantern HTTP API shares: [`ApiError`] and its one mapping to HTTP status
//! codes, Prometheus's JSON envelope, request bodies (limits, `Content-Encoding`),
//! form/query parameter handling, time parsing, series-selector parsing, and the
//! request metrics middleware.

pub mod body;
pub mod error;
pub mod params;
pub mod selector;
pub mod time;
pub mod track;

pub use body::{read_body, BodyLimits};
pub use error::{error_response, ApiError, ErrorKind};
pub use params::{read_body_limited, Params};
pub use track::track;

use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A successful answer in Prometheus's envelope: `{"status":"success","data":…}`.
pub fn success<T: Serialize>(data: T) -> Response {
    #[derive(Serialize)]
    struct Envelope<T> {
        status: &'static str,
        data: T,
    }
    axum::Json(Envelope { status: "success", data }).into_response()
}
