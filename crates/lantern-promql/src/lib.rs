//! The PromQL engine, growing toward Prometheus 3.x semantics (issue 3).
//!
//! Today it evaluates number and string literals, parentheses, unary minus, arithmetic
//! and `bool` comparisons between scalars, vectors and scalars, and two vectors (with
//! `on`/`ignoring`, `group_left`/`group_right`, `and`/`or`/`unless`), the basic
//! aggregations, instant and range selectors with the lookback delta, staleness markers
//! and `offset`, math functions, `sort`, `label_replace`/`label_join`, classic `histogram_quantile`,
//! and the `*_over_time`, `rate`/`increase`/`delta`, `changes`/`resets`/`deriv` family. Anything else is refused with
//! [`Error::Unsupported`], never answered wrongly. Queries read samples through
//! [`Storage`], so the metrics store, or an in-memory fake, can sit behind it.

mod aggregate;
mod binary;
mod engine;
mod functions;
mod value;

pub use engine::{Bounds, Engine, Storage};
pub use value::{InstantSample, Value};

/// Errors of query evaluation.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// The query does not parse.
    #[error("{0}")]
    Parse(String),
    /// The query uses something the engine does not evaluate yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// The query is valid but cannot be evaluated (Prometheus's `execution` errors).
    #[error("{0}")]
    Execution(String),
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, Error>;
