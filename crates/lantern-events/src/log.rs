//! The event store's write-ahead log: numbered segment files of checksummed frames
//! (`u32 LE length`, `u32 LE CRC-32`, payload). A short or corrupt frame ends replay: the
//! segment is truncated there (a torn write) and later segments are removed. Appenders
//! waiting on the same fsync share it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::{Error, Result};

/// Past this size a segment is closed and the next one started.
const SEGMENT_SIZE: u64 = 64 << 20;
const HEADER: usize = 8;
const MAX_FRAME: usize = 1 << 30;

struct Writer {
    file: File,
    segment: u64,
    size: u64,
}

/// The log.
pub struct Log {
    dir: PathBuf,
    writer: Mutex<Writer>,
    written: AtomicU64,
    synced: AtomicU64,
    sync_lock: Mutex<()>,
    /// The `signal` label of its fsync timings.
    signal: &'static str,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

fn name(n: u64) -> String {
    format!("{n:08}")
}

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

/// Appends one frame holding `payload` to `buf`.
pub fn frame(payload: &[u8], buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Hands each good frame's payload to `f`; returns where the first bad frame starts.
fn read_frames(bytes: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> usize {
    let mut pos = 0;
    while pos + HEADER <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap_or_default());
        let start = pos + HEADER;
        if len > MAX_FRAME || start + len > bytes.len() {
            return pos;
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc || !f(payload) {
            return pos;
        }
        pos = start + len;
    }
    pos
}

impl Log {
    /// Opens the log in `dir`, handing every payload in segments numbered `from` and
    /// later to `visit` (which returns false for a payload it cannot decode: that ends
    /// the log like a bad checksum). Segments before `from` are deleted.
    pub fn open(dir: &Path, signal: &'static str, from: u64, mut visit: impl FnMut(&[u8]) -> bool) -> Result<Log> {
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let segs = segments(dir)?;
        let mut last = from;
        let mut damaged = false;
        for &n in &segs {
            let path = dir.join(name(n));
            if n < from || damaged {
                fs::remove_file(&path).map_err(io("remove", &path))?;
                continue;
            }
            let mut bytes = Vec::new();
            File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io("read", &path))?;
            let good = read_frames(&bytes, &mut visit);
            if good < bytes.len() {
                tracing::warn!(segment = n, offset = good, "event log: damaged tail truncated");
                let f = OpenOptions::new().write(true).open(&path).map_err(io("open", &path))?;
                f.set_len(good as u64).map_err(io("truncate", &path))?;
                f.sync_all().map_err(io("sync", &path))?;
                damaged = true;
            }
            last = last.max(n);
        }
        // Always start a fresh segment: the previous one may end in a repaired tail.
        let segment = last + 1;
        let path = dir.join(name(segment));
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
        sync_dir(dir)?;
        Ok(Log {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer { file, segment, size: 0 }),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            sync_lock: Mutex::new(()),
            signal,
        })
    }

    /// Writes already framed bytes; returns the position to pass to [`Log::sync_to`].
    pub fn write(&self, framed: &[u8]) -> Result<u64> {
        let mut w = self.writer.lock();
        if w.size >= SEGMENT_SIZE {
            self.start_segment(&mut w)?;
        }
        let path = self.dir.join(name(w.segment));
        w.file.write_all(framed).map_err(io("write", &path))?;
        w.size += framed.len() as u64;
        Ok(self.written.fetch_add(framed.len() as u64, Ordering::SeqCst) + framed.len() as u64)
    }

    fn start_segment(&self, w: &mut Writer) -> Result<()> {
        let old = self.dir.join(name(w.segment));
        w.file.sync_data().map_err(io("sync", &old))?;
        let next = w.segment + 1;
        let path = self.dir.join(name(next));
        w.file = OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
        w.segment = next;
        w.size = 0;
        sync_dir(&self.dir)
    }

    /// Writes one frame whose payload is `parts` concatenated (no copy into one buffer);
    /// returns the position to pass to [`Log::sync_to`].
    pub fn write_frame(&self, parts: &[&[u8]]) -> Result<u64> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut crc = crc32fast::Hasher::new();
        for p in parts {
            crc.update(p);
        }
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc.finalize().to_le_bytes());
        let mut w = self.writer.lock();
        if w.size >= SEGMENT_SIZE {
            self.start_segment(&mut w)?;
        }
        let path = self.dir.join(name(w.segment));
        w.file.write_all(&header).map_err(io("write", &path))?;
        for p in parts {
            w.file.write_all(p).map_err(io("write", &path))?;
        }
        let n = (HEADER + len) as u64;
        w.size += n;
        Ok(self.written.fetch_add(n, Ordering::SeqCst) + n)
    }

    /// Starts a new segment; returns its number. Everything written before is in
    /// earlier segments.
    pub fn rotate(&self) -> Result<u64> {
        let mut w = self.writer.lock();
        self.start_segment(&mut w)?;
        Ok(w.segment)
    }

    /// Returns once everything up to `pos` is on stable storage.
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        if self.synced.load(Ordering::SeqCst) >= pos {
            return Ok(());
        }
        let _g = self.sync_lock.lock();
        if self.synced.load(Ordering::SeqCst) >= pos {
            return Ok(());
        }
        let (file, upto, segment) = {
            let w = self.writer.lock();
            (w.file.try_clone(), self.written.load(Ordering::SeqCst), w.segment)
        };
        let path = self.dir.join(name(segment));
        let started = std::time::Instant::now();
        file.and_then(|f| f.sync_data()).map_err(io("sync", &path))?;
        lantern_core::selfmon::wal_fsync(self.signal, started.elapsed().as_secs_f64());
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Deletes segments numbered below `n` (their events are in sealed files).
    pub fn drop_before(&self, n: u64) -> Result<()> {
        for s in segments(&self.dir)? {
            if s < n {
                let path = self.dir.join(name(s));
                fs::remove_file(&path).map_err(io("remove", &path))?;
            }
        }
        Ok(())
    }

    /// Bytes in the log directory.
    pub fn disk_size(&self) -> u64 {
        fs::read_dir(&self.dir).map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io("sync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_frames_and_truncates_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), "notes", 0, |_| true).unwrap();
        let mut buf = Vec::new();
        frame(b"one", &mut buf);
        frame(b"two", &mut buf);
        let pos = log.write(&buf).unwrap();
        log.sync_to(pos).unwrap();
        let seg = log.rotate().unwrap();
        let mut buf = Vec::new();
        frame(b"three", &mut buf);
        log.write(&buf[..buf.len() - 2]).unwrap();
        drop(log);
        let mut seen = Vec::new();
        let _log = Log::open(dir.path(), "notes", 0, |p| {
            seen.push(p.to_vec());
            true
        })
        .unwrap();
        assert_eq!(seen, [b"one".to_vec(), b"two".to_vec()]);
        // Segments before `from` are dropped unread.
        let mut seen = 0;
        let _log = Log::open(dir.path(), "notes", seg + 1, |_| {
            seen += 1;
            true
        })
        .unwrap();
        assert_eq!(seen, 0);
    }
}
