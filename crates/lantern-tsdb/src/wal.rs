//! The write-ahead log: numbered segment files of checksummed records, plus a
//! checkpoint file that lets old segments be deleted once their samples are in blocks.
//!
//! Frame: `u32 LE payload length`, `u32 LE CRC-32 of the payload`, payload (a
//! [`Record`]). A frame that is short or fails its checksum ends the log: the segment is
//! truncated there (a torn write from a crash) and later segments are removed.
//!
//! Appends go to the OS with `write_all`; [`Wal::sync_to`] fsyncs, and several appenders
//! waiting for the same fsync share it (group commit).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::record::Record;
use crate::{Error, Result};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_SIZE: u64 = 128 << 20;
const CHECKPOINT_FILE: &str = "checkpoint";
const FRAME_HEADER: usize = 8;
/// Frames larger than this are treated as corruption (a length read from a torn header).
const MAX_FRAME: usize = 1 << 30;

struct Writer {
    file: File,
    segment: u64,
    size: u64,
}

/// The write-ahead log of the metrics head.
pub struct Wal {
    dir: PathBuf,
    writer: Mutex<Writer>,
    /// Bytes written since open (a logical position, across segments).
    written: AtomicU64,
    /// Logical position known to be on stable storage.
    synced: AtomicU64,
    sync_lock: Mutex<()>,
    /// Newest sample timestamp per segment, to know when a segment's samples are all in blocks.
    segment_max_t: Mutex<BTreeMap<u64, i64>>,
}

/// What replay finds in the log directory, handed over one at a time and in order, so
/// replay holds one segment in memory, never the whole log.
#[derive(Debug, PartialEq)]
pub enum ReplayEvent {
    /// The checkpoint's floor and first uncovered segment (comes first, if there is one).
    Checkpoint {
        /// Samples below this, logged before `first_segment`, are in blocks.
        floor: i64,
        /// The first segment written after the checkpoint's cut.
        first_segment: u64,
    },
    /// A record, with the segment it came from (`None` for the checkpoint file).
    Record(Option<u64>, Record),
}

fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Lists segment numbers in `dir`, ascending.
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

/// Reads frames from `bytes`, handing each record to `f`; returns the offset of the first
/// bad frame (equal to `bytes.len()` when all were good).
fn read_frames(bytes: &[u8], mut f: impl FnMut(Record)) -> usize {
    let mut pos = 0;
    while pos + FRAME_HEADER <= bytes.len() {
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]);
        let start = pos + FRAME_HEADER;
        if len > MAX_FRAME || start + len > bytes.len() {
            return pos;
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc {
            return pos;
        }
        match Record::decode(payload) {
            Ok(r) => f(r),
            Err(_) => return pos,
        }
        pos = start + len;
    }
    pos
}

/// Appends one framed record to `buf`.
pub fn frame(record: &Record, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME_HEADER]);
    record.encode(buf);
    let len = (buf.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&buf[start + FRAME_HEADER..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

impl Wal {
    /// Opens the log in `dir`, replaying what is there into `visit` (repairing a torn
    /// tail), and starts a new segment for writing.
    pub fn open(dir: &Path, mut visit: impl FnMut(ReplayEvent)) -> Result<Wal> {
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let cp_path = dir.join(CHECKPOINT_FILE);
        if cp_path.exists() {
            let bytes = fs::read(&cp_path).map_err(io("read", &cp_path))?;
            // The checkpoint is written to a temporary file and renamed, so a bad one means
            // the disk changed under us: check it whole first, and refuse rather than lose
            // series.
            let bad = read_frames(&bytes, |_| {});
            if bad != bytes.len() {
                return Err(Error::Corrupt(format!("wal checkpoint {} is damaged at byte {bad}", cp_path.display())));
            }
            read_frames(&bytes, |r| match r {
                Record::Checkpoint { floor, first_segment } => visit(ReplayEvent::Checkpoint { floor, first_segment }),
                r => visit(ReplayEvent::Record(None, r)),
            });
        }
        let segs = segments(dir)?;
        let mut max_t = BTreeMap::new();
        let mut truncated_at: Option<usize> = None;
        for (i, &seg) in segs.iter().enumerate() {
            let path = dir.join(segment_name(seg));
            if truncated_at.is_some() {
                tracing::warn!(segment = %path.display(), "removing wal segment after a damaged one");
                fs::remove_file(&path).map_err(io("remove", &path))?;
                continue;
            }
            let mut bytes = Vec::new();
            File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io("read", &path))?;
            let mut seg_max = i64::MIN;
            let good = read_frames(&bytes, |r| {
                if let Record::Samples(s) = &r {
                    seg_max = s.iter().fold(seg_max, |m, x| m.max(x.t));
                }
                visit(ReplayEvent::Record(Some(seg), r));
            });
            max_t.insert(seg, seg_max);
            if good != bytes.len() {
                tracing::warn!(segment = %path.display(), offset = good, size = bytes.len(), last = i + 1 == segs.len(),
                    "wal segment ends in a torn or damaged record; truncating it there");
                let f = OpenOptions::new().write(true).open(&path).map_err(io("open", &path))?;
                f.set_len(good as u64).map_err(io("truncate", &path))?;
                f.sync_all().map_err(io("fsync", &path))?;
                truncated_at = Some(i);
            }
        }
        let next = segs.last().map_or(0, |s| s + 1);
        let (file, path) = Self::create_segment(dir, next)?;
        sync_dir(dir)?;
        drop(path);
        max_t.insert(next, i64::MIN);
        let wal = Wal {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer { file, segment: next, size: 0 }),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            sync_lock: Mutex::new(()),
            segment_max_t: Mutex::new(max_t),
        };
        Ok(wal)
    }

    fn create_segment(dir: &Path, n: u64) -> Result<(File, PathBuf)> {
        let path = dir.join(segment_name(n));
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
        Ok((file, path))
    }

    /// Writes already-framed bytes (see [`frame`]) holding samples up to `max_t`.
    /// Returns the logical position to pass to [`Wal::sync_to`].
    pub fn write(&self, framed: &[u8], max_t: i64) -> Result<u64> {
        let mut w = self.writer.lock();
        if w.size > 0 && w.size + framed.len() as u64 > SEGMENT_SIZE {
            self.rotate_locked(&mut w)?;
        }
        let path = self.dir.join(segment_name(w.segment));
        w.file.write_all(framed).map_err(io("write", &path))?;
        w.size += framed.len() as u64;
        if max_t != i64::MIN {
            let mut m = self.segment_max_t.lock();
            let e = m.entry(w.segment).or_insert(i64::MIN);
            *e = (*e).max(max_t);
        }
        Ok(self.written.fetch_add(framed.len() as u64, Ordering::SeqCst) + framed.len() as u64)
    }

    fn rotate_locked(&self, w: &mut Writer) -> Result<u64> {
        let old = self.dir.join(segment_name(w.segment));
        w.file.sync_all().map_err(io("fsync", &old))?;
        let next = w.segment + 1;
        let (file, _) = Self::create_segment(&self.dir, next)?;
        sync_dir(&self.dir)?;
        w.file = file;
        w.segment = next;
        w.size = 0;
        self.segment_max_t.lock().insert(next, i64::MIN);
        // Everything before the new segment is on disk now.
        self.synced.fetch_max(self.written.load(Ordering::SeqCst), Ordering::SeqCst);
        Ok(next)
    }

    /// Closes the current segment and starts a new one; returns the new segment's number.
    /// Everything logged before the call is in earlier segments.
    pub fn rotate(&self) -> Result<u64> {
        let mut w = self.writer.lock();
        self.rotate_locked(&mut w)
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
        let (file, seg) = {
            let w = self.writer.lock();
            let f = w.file.try_clone().map_err(io("clone handle", &self.dir))?;
            (f, w.segment)
        };
        let upto = self.written.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        file.sync_data().map_err(io("fsync", &self.dir.join(segment_name(seg))))?;
        lantern_core::selfmon::wal_fsync(lantern_core::selfmon::signal::METRICS, started.elapsed().as_secs_f64());
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        self.sync_to(self.written.load(Ordering::SeqCst))
    }

    /// Writes a checkpoint (the series still in the head and their exemplars, the floor and the first segment
    /// that is not covered) atomically, then deletes segments before `first_segment` whose
    /// samples are all older than `floor`.
    pub fn checkpoint(&self, floor: i64, first_segment: u64, records: &[Record]) -> Result<()> {
        let mut buf = Vec::new();
        frame(&Record::Checkpoint { floor, first_segment }, &mut buf);
        for r in records {
            frame(r, &mut buf);
        }
        let tmp = self.dir.join("checkpoint.tmp");
        {
            let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
            f.write_all(&buf).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("fsync", &tmp))?;
        }
        let cp = self.dir.join(CHECKPOINT_FILE);
        fs::rename(&tmp, &cp).map_err(io("rename", &cp))?;
        sync_dir(&self.dir)?;
        let removable: Vec<u64> = {
            let m = self.segment_max_t.lock();
            m.iter().filter(|(s, t)| **s < first_segment && **t < floor).map(|(s, _)| *s).collect()
        };
        for s in removable {
            let p = self.dir.join(segment_name(s));
            fs::remove_file(&p).map_err(io("remove", &p))?;
            self.segment_max_t.lock().remove(&s);
        }
        Ok(())
    }

    /// Total bytes of the log directory's segments and checkpoint.
    pub fn disk_size(&self) -> u64 {
        fs::read_dir(&self.dir).map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RefSample;
    use lantern_core::Labels;

    fn samples(t: i64) -> Record {
        Record::Samples(vec![RefSample { series: 1, t, v: t as f64 }])
    }

    /// Opens the log and collects what replay hands over.
    fn open_collect(dir: &Path) -> (Wal, Vec<ReplayEvent>) {
        let mut events = Vec::new();
        let w = Wal::open(dir, |e| events.push(e)).unwrap();
        (w, events)
    }

    fn records(events: &[ReplayEvent]) -> Vec<&Record> {
        events
            .iter()
            .filter_map(|e| match e {
                ReplayEvent::Record(_, r) => Some(r),
                ReplayEvent::Checkpoint { .. } => None,
            })
            .collect()
    }

    fn log(w: &Wal, r: &Record, t: i64) {
        let mut b = Vec::new();
        frame(r, &mut b);
        let pos = w.write(&b, t).unwrap();
        w.sync_to(pos).unwrap();
    }

    #[test]
    fn torn_tail_is_truncated_and_earlier_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (w, r) = open_collect(dir.path());
            assert!(r.is_empty());
            log(&w, &Record::Series(vec![(1, Labels::from_pairs([("__name__", "x")]))]), i64::MIN);
            log(&w, &samples(10), 10);
            log(&w, &samples(20), 20);
        }
        // Tear the last frame in half.
        let seg = dir.path().join(segment_name(0));
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 5).unwrap();
        let (w, r) = open_collect(dir.path());
        assert_eq!(records(&r).len(), 2);
        assert_eq!(records(&r)[1], &samples(10));
        // Writing after repair continues in a fresh segment and replays in order.
        log(&w, &samples(30), 30);
        drop(w);
        let (_, r) = open_collect(dir.path());
        let ts: Vec<i64> = records(&r)
            .into_iter()
            .filter_map(|r| match r {
                Record::Samples(s) => Some(s[0].t),
                _ => None,
            })
            .collect();
        assert_eq!(ts, vec![10, 30]);
    }

    #[test]
    fn flipped_bit_stops_replay_at_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (w, _) = open_collect(dir.path());
            for t in 0..10 {
                log(&w, &samples(t), t);
            }
        }
        let seg = dir.path().join(segment_name(0));
        let mut bytes = fs::read(&seg).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        fs::write(&seg, &bytes).unwrap();
        let (_, r) = open_collect(dir.path());
        assert!(r.len() < 10 && r.len() >= 3, "{}", r.len());
    }

    #[test]
    fn checkpoint_removes_covered_segments_only() {
        let dir = tempfile::tempdir().unwrap();
        let (w, _) = open_collect(dir.path());
        log(&w, &samples(10), 10);
        let s1 = w.rotate().unwrap();
        log(&w, &samples(500), 500);
        let s2 = w.rotate().unwrap();
        log(&w, &samples(20), 20);
        w.checkpoint(100, s2, &[Record::Series(vec![])]).unwrap();
        let segs = segments(dir.path()).unwrap();
        assert_eq!(segs, vec![s1, s2], "segment 0 (max t 10) is covered; segment 1 (t 500) is not");
        drop(w);
        let (_, r) = open_collect(dir.path());
        assert_eq!(r[0], ReplayEvent::Checkpoint { floor: 100, first_segment: s2 });
    }
}
