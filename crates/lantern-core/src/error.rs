//! The error type of the core crate.

/// Errors raised while validating or parsing core values.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("label name {0:?} is invalid")]
    InvalidLabelName(String),
    /// A metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("metric name {0:?} is invalid")]
    InvalidMetricName(String),
    /// The same label name appears twice in one label set.
    #[error("label name {0:?} appears more than once")]
    DuplicateLabel(String),
    /// A label name or value is not valid UTF-8 (shown with replacement characters).
    #[error("label name or value {0:?} is not valid UTF-8")]
    InvalidUtf8(String),
    /// A label set has no `__name__` label.
    #[error("series has no metric name (label __name__)")]
    MissingMetricName,
    /// A regular expression in a matcher does not compile.
    #[error("regular expression {0:?} is invalid: {1}")]
    InvalidRegex(String, String),
    /// A duration string is not in Prometheus's format.
    #[error("duration {0:?} is invalid: expected a number and a unit (ms, s, m, h, d, w, y), e.g. 5m or 1h30m")]
    InvalidDuration(String),
    /// A byte size string is not understood.
    #[error(
        "byte size {0:?} is invalid: expected a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MB"
    )]
    InvalidByteSize(String),
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, Error>;
