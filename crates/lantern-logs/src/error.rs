//! The log store's one error type: for searches, LogQL queries and storage alike.

/// Why a log store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A search or query that cannot run as written: a syntax error, a bad pattern,
    /// range bound, regular expression or template (an API answers 400).
    #[error("{0}")]
    Invalid(String),
    /// A query that asks for too much (an API answers 422).
    #[error("{0}")]
    Limit(String),
    /// The event engine failed.
    #[error(transparent)]
    Events(#[from] lantern_events::Error),
}

impl Error {
    /// Whether retrying later may succeed (the store is busy or closing).
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Events(e) if e.retryable())
    }
}

/// Results of the log store.
pub type Result<T, E = Error> = std::result::Result<T, E>;
