//! The metrics store: a Prometheus-style time-series database.
//!
//! Start reading at [`Tsdb`]: [`Tsdb::open`] replays the write-ahead log into the
//! [`head`], [`Tsdb::append`] logs and stores samples, [`Tsdb::select`] reads them back
//! merged from the head and the immutable [`block`]s, and [`Tsdb::maintain`] (called
//! periodically) cuts the head into blocks, compacts blocks and applies retention.

pub mod batch;
pub mod block;
mod compact;
mod db;
pub mod exemplars;
pub mod head;
pub mod metadata;
pub mod postings;
pub mod promql;
pub mod record;
mod symbols;
pub mod wal;

use std::path::PathBuf;
use std::time::Duration;

pub use batch::Batch;
pub use db::{AppendOutcome, InvalidSeries, RejectedSample, SeriesHandle, Stats, Tsdb};
pub use head::Rejection;
pub use promql::TsdbStorage;

/// Errors of the metrics store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {path:?} failed: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Stored data does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] lantern_wal::Error),
    /// The sealed-file store failed.
    #[error(transparent)]
    Store(#[from] lantern_objstore::Error),
    /// The store is shutting down and takes no more writes.
    #[error("the metrics store is shutting down")]
    Closed,
    /// A query would load more samples than allowed.
    #[error("query would load more than {0} samples")]
    TooManySamples(usize),
}

/// Result alias of the metrics store.
pub type Result<T> = std::result::Result<T, Error>;

/// How the store behaves; defaults are Prometheus's where Prometheus has one.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time range of a block cut from the head (also the chunk alignment).
    pub block_range: Duration,
    /// Blocks whose newest sample is older than this (relative to the newest sample
    /// stored) are deleted. `None` keeps data forever.
    pub retention_time: Option<Duration>,
    /// Oldest blocks are deleted while blocks plus WAL exceed this many bytes.
    pub retention_size: Option<u64>,
    /// How far behind the newest sample a sample may be and still be accepted.
    pub out_of_order_window: Duration,
    /// Exemplars kept per series (the newest ones).
    pub max_exemplars_per_series: usize,
    /// Series whose exemplars are kept at most (those with the oldest go first).
    pub max_exemplar_series: usize,
    /// Bytes of decompressed block frames kept for repeated queries.
    pub block_cache_bytes: usize,
    /// What "now" is for those who write into the store on their own (scrapes, rules,
    /// span metrics) and for its queries' default time.
    pub clock: lantern_core::clock::SharedClock,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            block_range: Duration::from_secs(2 * 3600),
            retention_time: Some(Duration::from_secs(15 * 24 * 3600)),
            retention_size: None,
            out_of_order_window: Duration::from_secs(24 * 3600),
            max_exemplars_per_series: 10,
            max_exemplar_series: 1_000_000,
            block_cache_bytes: 256 << 20,
            clock: lantern_core::clock::system(),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
