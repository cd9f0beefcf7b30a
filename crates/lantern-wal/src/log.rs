//! [`Log`]: segment files named by number (`00000012`), written one after the other.
//! Opening replays every segment from a given number on, cuts a segment at its first bad
//! frame (a torn write from a crash, or damage) and removes the segments after it, then
//! starts a fresh segment. Appends go to the OS under one lock; [`Log::sync_to`] fsyncs,
//! and appenders waiting for the same fsync share one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::frame::{read_frames, FRAME_HEADER};
use crate::{io, Result};

/// How a log is kept.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A segment is closed and the next one started before it would grow past this.
    pub segment_size: u64,
    /// The `signal` label of its fsync timings in Lantern's own metrics.
    pub signal: &'static str,
}

/// What replay cut off: the first bad frame's place and everything after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The segment cut short.
    pub segment: u64,
    /// The bytes of it kept (where the bad frame started).
    pub kept: u64,
    /// The bytes of it dropped.
    pub dropped: u64,
    /// Later segments removed whole.
    pub removed: Vec<u64>,
}

/// Where a write went: the logical position to pass to [`Log::sync_to`], and the
/// segment it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes written since open, this write included.
    pub pos: u64,
    /// The segment written to.
    pub segment: u64,
}

struct Writer {
    file: File,
    segment: u64,
    size: u64,
}

/// A write-ahead log.
pub struct Log {
    dir: PathBuf,
    opts: Options,
    writer: Mutex<Writer>,
    /// Bytes written since open (a logical position, across segments).
    written: AtomicU64,
    /// Logical position known to be on stable storage.
    synced: AtomicU64,
    sync_lock: Mutex<()>,
}

fn name(n: u64) -> String {
    format!("{n:08}")
}

/// Segment numbers in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).map_err(io("read directory", dir))? {
        let e = e.map_err(io("read directory", dir))?;
        if let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

impl Log {
    /// Opens the log in `dir` (created if missing): segments numbered below `from` are
    /// deleted unread, the others replayed in order, each frame's payload handed to
    /// `visit` with its segment (`visit` returns false for a payload it cannot decode,
    /// which ends the log as a bad checksum does). Writing continues in a new segment.
    pub fn open(
        dir: &Path,
        opts: Options,
        from: u64,
        mut visit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<(Log, Option<Repair>)> {
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let mut repair: Option<Repair> = None;
        let mut next = from;
        for n in segments(dir)? {
            let path = dir.join(name(n));
            if n < from {
                fs::remove_file(&path).map_err(io("remove", &path))?;
                continue;
            }
            next = next.max(n + 1);
            if let Some(r) = &mut repair {
                fs::remove_file(&path).map_err(io("remove", &path))?;
                r.removed.push(n);
                continue;
            }
            let mut bytes = Vec::new();
            File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io("read", &path))?;
            let good = read_frames(&bytes, |p| visit(n, p));
            if good != bytes.len() {
                let f = OpenOptions::new().write(true).open(&path).map_err(io("open", &path))?;
                f.set_len(good as u64).map_err(io("truncate", &path))?;
                f.sync_all().map_err(io("fsync", &path))?;
                repair = Some(Repair {
                    segment: n,
                    kept: good as u64,
                    dropped: (bytes.len() - good) as u64,
                    removed: Vec::new(),
                });
            }
        }
        if let Some(r) = &repair {
            tracing::warn!(dir = %dir.display(), segment = r.segment, kept = r.kept, dropped = r.dropped,
                removed = ?r.removed, "write-ahead log ends in a torn or damaged frame; cut there");
        }
        let path = dir.join(name(next));
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
        sync_dir(dir)?;
        let log = Log {
            dir: dir.to_path_buf(),
            opts,
            writer: Mutex::new(Writer { file, segment: next, size: 0 }),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            sync_lock: Mutex::new(()),
        };
        Ok((log, repair))
    }

    /// Writes already framed bytes (see [`crate::frame`]).
    pub fn write(&self, framed: &[u8]) -> Result<Written> {
        self.write_parts(framed.len(), &[framed])
    }

    /// Writes one frame whose payload is `parts` concatenated, without copying them
    /// into one buffer.
    pub fn write_frame(&self, parts: &[&[u8]]) -> Result<Written> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut crc = crc32fast::Hasher::new();
        for p in parts {
            crc.update(p);
        }
        let mut header = [0u8; FRAME_HEADER];
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc.finalize().to_le_bytes());
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        all.push(&header);
        all.extend_from_slice(parts);
        self.write_parts(FRAME_HEADER + len, &all)
    }

    fn write_parts(&self, len: usize, parts: &[&[u8]]) -> Result<Written> {
        let mut w = self.writer.lock();
        if w.size > 0 && w.size + len as u64 > self.opts.segment_size {
            self.rotate_locked(&mut w)?;
        }
        let path = self.dir.join(name(w.segment));
        for p in parts {
            w.file.write_all(p).map_err(io("write", &path))?;
        }
        w.size += len as u64;
        let pos = self.written.fetch_add(len as u64, Ordering::SeqCst) + len as u64;
        Ok(Written { pos, segment: w.segment })
    }

    fn rotate_locked(&self, w: &mut Writer) -> Result<u64> {
        let old = self.dir.join(name(w.segment));
        w.file.sync_all().map_err(io("fsync", &old))?;
        let next = w.segment + 1;
        let path = self.dir.join(name(next));
        w.file = OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
        sync_dir(&self.dir)?;
        w.segment = next;
        w.size = 0;
        // Everything before the new segment is on disk now.
        self.synced.fetch_max(self.written.load(Ordering::SeqCst), Ordering::SeqCst);
        Ok(next)
    }

    /// Closes the current segment and starts the next; returns the new one's number.
    /// Everything written before the call is in earlier segments, and durable.
    pub fn rotate(&self) -> Result<u64> {
        let mut w = self.writer.lock();
        self.rotate_locked(&mut w)
    }

    /// The segment being written.
    pub fn segment(&self) -> u64 {
        self.writer.lock().segment
    }

    /// Makes everything up to logical position `pos` durable (fsync), sharing one fsync
    /// between concurrent callers.
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        if self.synced.load(Ordering::SeqCst) >= pos {
            return Ok(());
        }
        let _g = self.sync_lock.lock();
        if self.synced.load(Ordering::SeqCst) >= pos {
            return Ok(());
        }
        let (file, segment) = {
            let w = self.writer.lock();
            (w.file.try_clone(), w.segment)
        };
        let upto = self.written.load(Ordering::SeqCst);
        let path = self.dir.join(name(segment));
        let started = Instant::now();
        file.and_then(|f| f.sync_data()).map_err(io("fsync", &path))?;
        lantern_core::selfmon::wal_fsync(self.opts.signal, started.elapsed().as_secs_f64());
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        self.sync_to(self.written.load(Ordering::SeqCst))
    }

    /// Deletes segment `n` (its frames are kept elsewhere now).
    pub fn remove(&self, n: u64) -> Result<()> {
        let path = self.dir.join(name(n));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Deletes every segment numbered below `n`.
    pub fn remove_before(&self, n: u64) -> Result<()> {
        for s in segments(&self.dir)?.into_iter().filter(|&s| s < n) {
            self.remove(s)?;
        }
        Ok(())
    }

    /// The segments on disk, ascending.
    pub fn segments(&self) -> Result<Vec<u64>> {
        segments(&self.dir)
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes in the log's directory (segments and anything the store keeps beside them).
    pub fn disk_size(&self) -> u64 {
        fs::read_dir(&self.dir).map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
    }
}

/// Makes a directory's entries (files created, renamed, removed) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io("fsync directory", dir))
}

/// Replaces `path` with `bytes` atomically: a temporary file beside it, fsynced, renamed
/// over it, the directory fsynced. A crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("rename", path))?;
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir),
        None => sync_dir(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    const OPTS: Options = Options { segment_size: 1 << 20, signal: "test" };

    /// What replay handed over: each payload with its segment.
    type Seen = Vec<(u64, Vec<u8>)>;

    fn open(dir: &Path, from: u64) -> (Log, Seen, Option<Repair>) {
        let mut seen = Vec::new();
        let (log, repair) = Log::open(dir, OPTS, from, |s, p| {
            seen.push((s, p.to_vec()));
            true
        })
        .unwrap();
        (log, seen, repair)
    }

    fn put(log: &Log, payload: &[u8]) -> Written {
        let mut buf = Vec::new();
        frame(payload, &mut buf);
        let w = log.write(&buf).unwrap();
        log.sync_to(w.pos).unwrap();
        w
    }

    #[test]
    fn replays_in_order_cuts_a_torn_tail_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let (log, seen, repair) = open(dir.path(), 0);
        assert!(seen.is_empty() && repair.is_none());
        assert_eq!(put(&log, b"one").segment, 0);
        let w = log.write_frame(&[b"tw", b"o"]).unwrap();
        log.sync_to(w.pos).unwrap();
        let s1 = log.rotate().unwrap();
        put(&log, b"three");
        let s2 = log.rotate().unwrap();
        put(&log, b"four");
        drop(log);
        // Tear segment s1's frame and damage what follows.
        let p1 = dir.path().join(name(s1));
        let len = fs::metadata(&p1).unwrap().len();
        OpenOptions::new().write(true).open(&p1).unwrap().set_len(len - 2).unwrap();
        let (log, seen, repair) = open(dir.path(), 0);
        assert_eq!(seen, [(0, b"one".to_vec()), (0, b"two".to_vec())]);
        assert_eq!(repair, Some(Repair { segment: s1, kept: 0, dropped: len - 2, removed: vec![s2] }));
        // Writing goes on after the highest segment seen; the log replays in order.
        assert_eq!(log.segment(), s2 + 1);
        put(&log, b"five");
        drop(log);
        let (log, seen, repair) = open(dir.path(), 0);
        assert_eq!(seen.iter().map(|(_, p)| p.as_slice()).collect::<Vec<_>>(), [&b"one"[..], b"two", b"five"]);
        assert!(repair.is_none());
        // Segments below `from` are removed unread.
        let upto = log.rotate().unwrap();
        drop(log);
        let (log, seen, _) = open(dir.path(), upto);
        assert!(seen.is_empty());
        assert!(log.segment() >= upto);
    }

    #[test]
    fn a_payload_the_store_cannot_decode_ends_the_log_like_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _, _) = open(dir.path(), 0);
        for p in [&b"a"[..], b"bad", b"c"] {
            put(&log, p);
        }
        drop(log);
        let mut seen = Vec::new();
        let (_, repair) = Log::open(dir.path(), OPTS, 0, |_, p| {
            seen.push(p.to_vec());
            p != b"bad"
        })
        .unwrap();
        assert_eq!(seen, [b"a".to_vec(), b"bad".to_vec()]);
        assert_eq!(repair.map(|r| r.kept), Some(9));
    }

    #[test]
    fn segments_roll_over_at_their_size_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, repair) =
            Log::open(dir.path(), Options { segment_size: 64, signal: "test" }, 0, |_, _| true).unwrap();
        assert!(repair.is_none());
        let segs: Vec<u64> = (0..10).map(|_| put(&log, &[7u8; 20]).segment).collect();
        assert_eq!(segs, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4], "two 28-byte frames fit in 64 bytes");
        log.remove_before(3).unwrap();
        log.remove(4).unwrap();
        log.remove(4).unwrap();
        assert_eq!(segments(dir.path()).unwrap(), [3]);
        assert!(log.disk_size() >= 56);
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }
}
