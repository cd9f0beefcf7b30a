//! A sending queue kept on disk (`sending_queue.storage` naming a `file_storage`
//! extension): each request is written and fsynced as its own file before the caller
//! is answered, and removed once it is sent or given up on; at start, what an earlier
//! run left is queued again first, oldest first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::data::Payload;
use crate::id::Signal;

/// The files of one exporter's queue for one signal.
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    next: AtomicU64,
}

impl DiskQueue {
    /// The queue of `exporter` for `signal` under `root`, and the requests it holds
    /// (oldest first) with their sequence numbers.
    pub fn open(root: &Path, exporter: &str, signal: Signal) -> Result<(Self, Vec<(u64, Payload)>), String> {
        let name: String =
            exporter.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        let dir = root.join(format!("exporter_{name}_{}", signal.as_str()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let Some(seq) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pb"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            match Payload::new(signal, Bytes::from(body)) {
                Ok(p) => found.push((seq, p)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "a queued request is damaged: removed");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        found.sort_by_key(|(s, _)| *s);
        let next = found.last().map_or(0, |(s, _)| s + 1);
        Ok((Self { dir, next: AtomicU64::new(next) }, found))
    }

    /// Writes a request durably; its sequence number.
    pub fn put(&self, p: &Payload) -> Result<u64, String> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        lantern_wal::write_atomic(&self.path(seq), &p.body).map_err(|e| format!("persisting the request: {e}"))?;
        Ok(seq)
    }

    /// Forgets a request (sent or given up on).
    pub fn remove(&self, seq: u64) {
        let _ = std::fs::remove_file(self.path(seq));
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.pb"))
    }
}
