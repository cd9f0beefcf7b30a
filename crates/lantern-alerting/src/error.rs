//! The rule engine's errors that are its own (a rule file's problems are
//! `lantern_rules::RuleError`s): why a notification was not delivered.

/// Why alerts did not reach a receiver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or got no answer (connection refused, timeout).
    #[error("POST {url}: {message}")]
    Send {
        /// The receiver.
        url: String,
        /// What happened.
        message: String,
    },
    /// The receiver answered with an error status.
    #[error("POST {url}: status {status}: {body}")]
    Refused {
        /// The receiver.
        url: String,
        /// The HTTP status with its reason (`500 Internal Server Error`).
        status: String,
        /// The start of its answer.
        body: String,
    },
}
