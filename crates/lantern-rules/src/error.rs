//! Why a rule's evaluation failed (a rule file's problems are [`crate::RuleError`]s). The
//! text is the rule's `lastError`, worded as Prometheus words it.

/// Why one evaluation of a rule failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The expression does not parse (a file loaded without checks); every evaluation
    /// reports it.
    #[error("{0}")]
    Invalid(String),
    /// The query engine failed, or the result is not a vector or scalar.
    #[error("{0}")]
    Query(String),
    /// Two output series have the same labels once the rule's labels are applied.
    #[error("vector contains metrics with the same labelset after applying {0} labels")]
    DuplicateLabels(&'static str),
    /// More output than the group's `limit`.
    #[error("exceeded limit of {limit} with {n} {what}")]
    Limit {
        /// The group's limit.
        limit: usize,
        /// How many there were.
        n: usize,
        /// `series` or `alerts`.
        what: &'static str,
    },
}
