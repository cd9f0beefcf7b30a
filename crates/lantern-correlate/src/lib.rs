//! Correlation across the three signals, and the automated investigation.
//!
//! - `spans.rs`: spans and traces as the correlation and investigation answers show them.
//! - `correlate.rs` ([`Correlator`]): everything one ID (a request ID, a trace ID, any of
//!   `correlation.keys`) touches — its traces with their spans, every log line carrying
//!   it or those traces' IDs (and the request IDs those lines carry: the seed's
//!   `X-Request-ID` convention links both ends), the exemplars pointing at those
//!   traces, and the alerts firing then. Lookups go through the stores' indexes (the log
//!   store's whole-identifier filters, the span store's attribute filters, the
//!   exemplar store), never a scan of all data, and need no time range.
//! - `investigate.rs` ([`Investigator`]): the seed's debugging workflow, automated: the
//!   symptom, the error logs' patterns, the failing requests, where in their traces the
//!   failure started, that service's saturation, and a verdict with links.
//! - `api.rs`: `GET /api/v1/correlate`, `/api/v1/traces/{id}/logs`,
//!   `/api/v1/exemplars/traces`, `/api/v1/investigate`.

pub mod api;
pub mod correlate;
pub mod investigate;
pub mod spans;

pub use api::router;
pub use correlate::{Correlation, Correlator};
pub use investigate::{Investigator, Report};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is not valid (a bad ID, time or query).
    #[error("{0}")]
    BadRequest(String),
    /// A store failed.
    #[error("{0}")]
    Store(String),
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests;
