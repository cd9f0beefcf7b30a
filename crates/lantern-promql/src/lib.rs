//! The PromQL engine, with Prometheus 3.x semantics (issue 3).
//!
//! [`Engine::instant`] and [`Engine::range`] evaluate a `promql-parser` expression tree
//! once per query: every node produces its values for all steps at once, and every
//! selector reads [`Storage`] once, so range queries cost little more than instant
//! ones. Staleness, the left-open lookback window, `offset` and `@`, subqueries, all
//! operators and aggregations, Prometheus 3's delayed removal of the metric name and its
//! error messages follow Prometheus. Native histograms are not evaluated yet: what needs
//! them is refused with [`Error::Unsupported`], never answered wrongly.

mod aggregate;
mod binary;
mod engine;
mod functions;
mod range_fn;
mod selector;
mod value;

pub mod diagnose;

pub use engine::{parse, Bounds, Engine, Storage};
pub use selector::selector_matchers;
pub use value::{InstantSample, Value};

/// Errors of query evaluation, by Prometheus's API error type.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// The query does not parse (`bad_data`).
    #[error("{0}")]
    Parse(String),
    /// A request parameter is invalid (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The query uses something the engine does not evaluate yet (`execution`).
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// The query is valid but cannot be evaluated (`execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout (`timeout`).
    #[error("{0}")]
    Timeout(String),
    /// The storage failed to read (`internal`).
    #[error("{0}")]
    Storage(String),
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, Error>;
