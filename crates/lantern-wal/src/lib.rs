//! The write-ahead log of every Lantern store: numbered segment files of checksummed
//! frames ([`frame`]), replayed in order at open with a torn or damaged tail cut off and
//! reported ([`Repair`]), appended to under one lock and made durable by a shared fsync
//! (group commit, [`Log::sync_to`]). What a frame holds is the store's business: the
//! metrics store logs its records and keeps a checkpoint beside the segments; the event
//! store logs requests or rows.

mod frame;
mod log;

pub use frame::{frame, frame_with, read_frames, FRAME_HEADER, MAX_FRAME};
pub use log::{sync_dir, write_atomic, Log, Options, Repair, Written};

use std::path::{Path, PathBuf};

/// What can go wrong: a file operation, named with its path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Results of the log.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with what was done and where.
pub fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}
