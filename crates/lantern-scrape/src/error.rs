//! The scrape manager's one error type. Its text is what the targets API shows as a
//! target's `lastError`, worded as Prometheus words it.

use std::path::PathBuf;

/// Why a job could not start, a target was dropped, or a scrape failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A job's settings cannot be used: a TLS file, a relabel rule, a credentials file.
    #[error("{0}")]
    Config(String),
    /// A `file_sd_configs` file could not be read or parsed.
    #[error("file_sd {}: {message}", path.display())]
    Discovery {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A discovered target cannot be scraped as labelled (its address, interval or timeout).
    #[error("{0}")]
    Target(String),
    /// The target did not answer with a body: an HTTP error, a timeout, a body too large.
    #[error("{0}")]
    Fetch(String),
    /// The body is not a valid exposition or breaks a limit (samples, labels); nothing of
    /// the scrape is stored.
    #[error("{0}")]
    Exposition(String),
    /// A scrape's task failed (it panicked or was cancelled).
    #[error("scrape task failed: {0}")]
    Task(String),
    /// The metrics store refused the scrape's samples.
    #[error("storing the scrape failed: {0}")]
    Store(String),
}
