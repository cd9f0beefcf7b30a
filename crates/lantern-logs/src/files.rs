//! File inputs: files named by paths and globs are followed as `tail -F` does (by
//! name: a file replaced under its name is read to its end, then the new one from its
//! start; a file cut shorter is read again from its start), complete lines (or
//! multiline records, grouped by the input's [`Multiline`] rule) are stored with the
//! input's labels (`service`, `filename`, any others), and how far each file
//! was read is checkpointed (`positions.json`), so a restart neither loses nor repeats
//! a line: each batch's log record also carries its file offset, and the checkpoint is
//! written before a seal can drop that record.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use lantern_core::selfmon::signal::LOGS;

use crate::multiline::{self, Multiline};
use crate::store::LogStore;

/// One input: files and the labels their lines get.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInput {
    /// Paths or glob patterns.
    pub paths: Vec<String>,
    /// The `service` label.
    pub service: String,
    /// More stream labels.
    pub labels: Vec<(String, String)>,
    /// How lines group into records; each line is one without.
    pub multiline: Option<Multiline>,
    /// How long a multiline record at a file's end waits for more lines before it is
    /// stored as it is.
    pub force_flush_period: Duration,
}

impl FileInput {
    /// An input of single-line records.
    pub fn new(paths: Vec<String>, service: impl Into<String>, labels: Vec<(String, String)>) -> Self {
        Self { paths, service: service.into(), labels, multiline: None, force_flush_period: DEFAULT_FORCE_FLUSH }
    }
}

/// The Collector's `filelog` default for `force_flush_period`.
pub const DEFAULT_FORCE_FLUSH: Duration = Duration::from_millis(500);

/// Bytes read from one file per pass at most.
const CHUNK: u64 = 4 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Positions {
    files: HashMap<String, Position>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Position {
    inode: u64,
    offset: u64,
    /// A hash of the file's first bytes (up to [`PRINT`]) read so far.
    #[serde(default)]
    print: u64,
}

/// Bytes of a file's start that identify its content: a file rewritten in place
/// (truncated, then written past the old offset between two passes) no longer matches.
const PRINT: u64 = 256;

struct Tracked {
    input: usize,
    file: File,
    inode: u64,
    offset: u64,
    print: u64,
    /// A multiline record held at the end of what was read: the file offset after it,
    /// and since when it has ended there.
    held: Option<(u64, Instant)>,
}

/// The hash of the first `min(upto, PRINT)` bytes of a file.
fn fingerprint(file: &mut File, upto: u64) -> std::io::Result<u64> {
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.take(upto.min(PRINT)).read_to_end(&mut buf)?;
    Ok(lantern_events::bloom::key(&[&buf]))
}

/// Where a [`Tailer`] puts what it reads: the log store (`serve`), or a pipeline
/// (`collect`'s `filelog` receiver).
pub trait FileSink: Send + Sync + 'static {
    /// How far an earlier run stored a file (`file`: its path and inode), if known
    /// beyond the checkpoint file (the log store's replayed write-ahead log).
    fn stored_offset(&self, _file: &str) -> Option<u64> {
        None
    }

    /// Stores records read from a file (`records`: byte ranges of `body`), cut to
    /// `max_line`; `end` is the file's offset after them. Then runs `checkpoint` (which
    /// writes the tailer's positions) before anything else can persist the sink's own
    /// state. The number stored.
    #[allow(clippy::too_many_arguments)]
    fn append_file(
        &self,
        labels: Vec<(String, String)>,
        path: &str,
        file: &str,
        end: u64,
        body: &str,
        records: &[std::ops::Range<usize>],
        max_line: usize,
        checkpoint: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<usize>;
}

impl FileSink for LogStore {
    fn stored_offset(&self, file: &str) -> Option<u64> {
        self.replayed_file_offsets().get(file).copied()
    }

    fn append_file(
        &self,
        labels: Vec<(String, String)>,
        _path: &str,
        file: &str,
        end: u64,
        body: &str,
        records: &[std::ops::Range<usize>],
        max_line: usize,
        checkpoint: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<usize> {
        // The store's checkpoint waits for this: it never falls between the lines
        // stored and the file offset written after them.
        let _g = self.checkpoint_lock().blocking_lock();
        let n = LogStore::append_file(self, labels, self.clock().now_ns(), file, end, body, records, max_line)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        lantern_core::selfmon::ingest_bytes(LOGS, "file", body.len() as u64);
        lantern_core::selfmon::ingested(LOGS, "file", n as u64);
        checkpoint()?;
        Ok(n)
    }
}

/// Follows the files of every input.
pub struct Tailer {
    store: Arc<dyn FileSink>,
    inputs: Vec<FileInput>,
    positions_path: PathBuf,
    max_line: usize,
    tracked: HashMap<String, Tracked>,
    saved: Positions,
    /// Files found by the first pass with no position yet start at their end.
    start_at_end: bool,
    passes: u64,
}

fn key(path: &str, inode: u64) -> String {
    format!("{path}#{inode}")
}

impl Tailer {
    /// A tailer checkpointing into `positions_path`; lines longer than `max_line` are
    /// cut to it.
    pub fn new(store: Arc<dyn FileSink>, inputs: Vec<FileInput>, positions_path: PathBuf, max_line: usize) -> Self {
        let saved = std::fs::read(&positions_path)
            .ok()
            .and_then(|b| match serde_json::from_slice::<Positions>(&b) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(path = %positions_path.display(), error = %e, "file positions are unreadable; files are read from their start");
                    None
                }
            })
            .unwrap_or_default();
        Self { store, inputs, positions_path, max_line, tracked: HashMap::new(), saved, start_at_end: false, passes: 0 }
    }

    /// Files already there at the first pass, with no saved position, are read from
    /// their end rather than their start (the Collector's `start_at: end`); files that
    /// appear later are read whole.
    pub fn start_at_end(mut self) -> Self {
        self.start_at_end = true;
        self
    }

    /// Runs passes every `interval` until `stop` changes.
    pub async fn run(mut self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            self = match tokio::task::spawn_blocking(move || {
                self.pass();
                self
            })
            .await
            {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "the file input stopped");
                    return;
                }
            };
        }
    }

    /// Finds the inputs' files and stores what was appended to them since the last
    /// pass.
    pub fn pass(&mut self) {
        let mut found: Vec<(String, usize)> = Vec::new();
        for (i, input) in self.inputs.iter().enumerate() {
            for pattern in &input.paths {
                match glob::glob(pattern) {
                    Ok(paths) => found
                        .extend(paths.flatten().filter(|p| p.is_file()).map(|p| (p.to_string_lossy().into_owned(), i))),
                    Err(e) => tracing::warn!(pattern = %pattern, error = %e, "invalid file pattern"),
                }
            }
        }
        for (path, input) in found {
            if let Err(e) = self.follow(&path, input) {
                tracing::warn!(path = %path, error = %e, "reading a log file failed; will retry");
            }
        }
        self.passes += 1;
    }

    fn follow(&mut self, path: &str, input: usize) -> std::io::Result<()> {
        let meta = std::fs::metadata(path)?;
        let inode = meta.ino();
        if let Some(t) = self.tracked.get(path) {
            if t.inode != inode {
                // Replaced under its name: finish the old file, then start the new one.
                self.read(path, true)?;
                self.tracked.remove(path);
            }
        }
        if !self.tracked.contains_key(path) {
            let saved = self.saved.files.get(path).filter(|p| p.inode == inode).copied();
            let mut offset = saved.map_or(0, |p| p.offset);
            if let Some(end) = self.store.stored_offset(&key(path, inode)) {
                offset = offset.max(end);
            }
            if saved.is_none() && self.start_at_end && self.passes == 0 {
                offset = meta.len();
            }
            let mut file = File::open(path)?;
            let print = fingerprint(&mut file, offset)?;
            // A checkpoint for other content under the same inode is void.
            if saved.is_some_and(|p| p.offset == offset && p.print != print && p.print != 0) {
                offset = 0;
            }
            let print = fingerprint(&mut file, offset)?;
            self.tracked.insert(path.to_string(), Tracked { input, file, inode, offset, print, held: None });
        }
        let len = meta.len();
        if let Some(t) = self.tracked.get_mut(path) {
            let rewritten = t.offset > 0 && fingerprint(&mut t.file, t.offset)? != t.print;
            if len < t.offset || rewritten {
                tracing::info!(path = %path, "log file was truncated; reading it from the start");
                t.offset = 0;
                t.print = fingerprint(&mut t.file, 0)?;
            }
        }
        while self.read(path, false)? {}
        Ok(())
    }

    /// Reads and stores the next complete lines of a tracked file (with `to_end`, a
    /// last unterminated line too); true when there may be more.
    fn read(&mut self, path: &str, to_end: bool) -> std::io::Result<bool> {
        let Some(t) = self.tracked.get_mut(path) else { return Ok(false) };
        t.file.seek(SeekFrom::Start(t.offset))?;
        let mut buf = Vec::new();
        (&mut t.file).take(CHUNK).read_to_end(&mut buf)?;
        if buf.is_empty() {
            return Ok(false);
        }
        let full = buf.len() as u64 == CHUNK;
        let used = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if to_end || full => buf.len(),
            None => return Ok(false),
        };
        let used = if to_end && !full { buf.len() } else { used };
        buf.truncate(used);
        let text = String::from_utf8_lossy(&buf);
        let input = &self.inputs[t.input];
        // `used` counts bytes of the file, `upto` of `text` (where invalid UTF-8 was
        // replaced); the two agree on where lines start.
        let (records, upto, used) = match &input.multiline {
            None => (multiline::single_lines(&text), text.len(), used),
            Some(rule) => {
                let mut records = rule.records(&text);
                // The last record may go on in lines not written yet: it waits for them
                // (or for a record after it) until the file has ended there for the
                // flush period; a record filling a whole read is stored as it is.
                let end = t.offset + used as u64;
                let last_start = records.last().map(|r| r.start);
                let waited = t.held.is_some_and(|(at, since)| at == end && since.elapsed() >= input.force_flush_period);
                match last_start {
                    Some(start) if !(to_end || waited || start == 0 && full) => {
                        if t.held.is_none_or(|(at, _)| at != end) {
                            t.held = Some((end, Instant::now()));
                        }
                        records.pop();
                        let lines = text[..start].bytes().filter(|&b| b == b'\n').count();
                        let at = match lines {
                            0 => 0,
                            n => {
                                buf.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(n - 1).map_or(0, |(i, _)| i + 1)
                            }
                        };
                        (records, start, at)
                    }
                    _ => {
                        t.held = None;
                        (records, text.len(), used)
                    }
                }
            }
        };
        if used == 0 {
            return Ok(false);
        }
        let text = &text[..upto];
        let end = t.offset + used as u64;
        let mut labels =
            vec![("service".to_string(), input.service.clone()), ("filename".to_string(), path.to_string())];
        labels.extend(input.labels.iter().cloned());
        let file_key = key(path, t.inode);
        let inode = t.inode;
        let print = if t.offset < PRINT { fingerprint(&mut t.file, end)? } else { t.print };
        let (saved, positions_path) = (&mut self.saved, &self.positions_path);
        let mut checkpoint = || {
            saved.files.insert(path.to_string(), Position { inode, offset: end, print });
            save(saved, positions_path)
        };
        self.store.append_file(labels, path, &file_key, end, text, &records, self.max_line, &mut checkpoint)?;
        if let Some(t) = self.tracked.get_mut(path) {
            t.offset = end;
            t.print = print;
        }
        Ok(full)
    }
}

/// Writes the positions durably.
fn save(saved: &Positions, path: &Path) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(saved).map_err(std::io::Error::other)?;
    lantern_wal::write_atomic(path, &bytes).map_err(std::io::Error::other)
}

/// The default checkpoint file under a data directory.
pub fn positions_path(logs_dir: &Path) -> PathBuf {
    logs_dir.join("positions.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Order, Search};

    async fn lines(store: &LogStore) -> Vec<String> {
        let f = store.search(&Search::parse("").unwrap(), i64::MIN, i64::MAX, Order::Asc, 1000).await.unwrap();
        let mut v: Vec<String> = f.hits.iter().map(|r| r.render_line().into_owned()).collect();
        v.sort();
        v
    }

    async fn open(dir: &Path) -> Arc<LogStore> {
        Arc::new(
            LogStore::open(
                &dir.join("wal"),
                lantern_objstore::Store::local(&dir.join("objects")).unwrap(),
                Default::default(),
            )
            .await
            .unwrap(),
        )
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn follows_rotation_truncation_and_restarts_without_loss_or_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let file = logs.join("app.log");
        let input = FileInput::new(vec![logs.join("*.log").to_string_lossy().into_owned()], "checkout", vec![]);
        let data = dir.path().join("data");
        let pos = dir.path().join("positions.json");
        append(&file, "{\"event\": \"a\", \"level\": \"info\"}\nb\npartial");
        let store = open(&data).await;
        let mut t = Tailer::new(store.clone(), vec![input.clone()], pos.clone(), 1024);
        let t = tokio::task::spawn_blocking(move || {
            t.pass();
            t
        })
        .await
        .unwrap();
        assert_eq!(lines(&store).await, ["b", "{\"event\": \"a\", \"level\": \"info\"}"]);
        let hit = store.search(&Search::parse("b").unwrap(), i64::MIN, i64::MAX, Order::Asc, 1).await.unwrap();
        assert_eq!(hit.hits[0].stream.label("filename"), Some(file.to_string_lossy().as_ref()));
        assert_eq!(hit.hits[0].stream.label("service"), Some("checkout"));
        drop(t);
        drop(store);

        // Restart: the line completed meanwhile is read once; nothing is repeated.
        append(&file, " line\nc\n");
        let store = open(&data).await;
        let mut t = Tailer::new(store.clone(), vec![input.clone()], pos.clone(), 1024);
        let mut t = tokio::task::spawn_blocking(move || {
            t.pass();
            t
        })
        .await
        .unwrap();
        assert_eq!(lines(&store).await, ["b", "c", "partial line", "{\"event\": \"a\", \"level\": \"info\"}"]);

        // Rotation: the old file's last lines, then the new file from its start.
        append(&file, "d\n");
        std::fs::rename(&file, logs.join("app.log.1")).unwrap();
        append(&file, "e\n");
        // Truncation of the new file after one more line: read again from the start.
        t = tokio::task::spawn_blocking(move || {
            t.pass();
            t
        })
        .await
        .unwrap();
        std::fs::write(&file, "f\n").unwrap();
        t = tokio::task::spawn_blocking(move || {
            t.pass();
            t
        })
        .await
        .unwrap();
        assert_eq!(
            lines(&store).await,
            ["b", "c", "d", "e", "f", "partial line", "{\"event\": \"a\", \"level\": \"info\"}"]
        );

        // A crash after lines were stored but before the checkpoint was written: the
        // log record says how far the file was read.
        append(&file, "g\n");
        let saved = std::fs::read(&pos).unwrap();
        t = tokio::task::spawn_blocking(move || {
            t.pass();
            t
        })
        .await
        .unwrap();
        std::fs::write(&pos, saved).unwrap();
        drop(t);
        drop(store);
        let store = open(&data).await;
        let mut t = Tailer::new(store.clone(), vec![input], pos, 1024);
        tokio::task::spawn_blocking(move || t.pass()).await.unwrap();
        assert_eq!(
            lines(&store).await,
            ["b", "c", "d", "e", "f", "g", "partial line", "{\"event\": \"a\", \"level\": \"info\"}"]
        );
    }

    async fn pass(t: Tailer) -> Tailer {
        tokio::task::spawn_blocking(move || {
            let mut t = t;
            t.pass();
            t
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn multiline_records_wait_for_their_last_lines_and_survive_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.log");
        let mut input = FileInput::new(vec![file.to_string_lossy().into_owned()], "payment", vec![]);
        input.multiline = Some(Multiline::Python);
        input.force_flush_period = Duration::ZERO;
        let data = dir.path().join("data");
        let pos = dir.path().join("positions.json");
        let store = open(&data).await;

        // A traceback being written: nothing is stored while it may go on.
        append(&file, "10:00:01 level=error charge failed\nTraceback (most recent call last):\n  File \"pay.py\", line 3, in charge\n");
        let mut t = pass(Tailer::new(store.clone(), vec![input.clone()], pos.clone(), 1024)).await;
        assert!(lines(&store).await.is_empty());
        // Its end and the next record: the traceback is stored whole; the next record waits.
        append(&file, "TimeoutError: gateway\n10:00:02 INFO next\n");
        t = pass(t).await;
        let traceback = "10:00:01 level=error charge failed\nTraceback (most recent call last):\n  File \"pay.py\", line 3, in charge\nTimeoutError: gateway";
        assert_eq!(lines(&store).await, [traceback]);
        // A restart before the waiting record was stored: it is read again, and stored
        // once the file has stayed as it is for the flush period.
        drop(t);
        drop(store);
        let store = open(&data).await;
        assert_eq!(lines(&store).await, [traceback], "the record replays as one event");
        let t = pass(Tailer::new(store.clone(), vec![input.clone()], pos.clone(), 1024)).await;
        assert_eq!(lines(&store).await, [traceback]);
        let t = pass(t).await;
        assert_eq!(lines(&store).await, [traceback, "10:00:02 INFO next"]);
        let hit =
            store.search(&Search::parse("TimeoutError").unwrap(), i64::MIN, i64::MAX, Order::Asc, 10).await.unwrap();
        assert_eq!(hit.hits.len(), 1);
        assert_eq!(hit.hits[0].stream.label("level"), Some("error"));
        drop(t);
    }
}
