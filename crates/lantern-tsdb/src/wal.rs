//! The metrics store's write-ahead log: a [`lantern_wal::Log`] of [`Record`]s, plus a
//! checkpoint file that lets old segments be deleted once their samples are in blocks
//! (the series still in the head, their exemplars, the floor below which samples are in
//! blocks, and the first segment not covered). Each segment's newest sample time is kept
//! so a segment is removed only once all its samples are below the floor.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lantern_wal::{read_frames, Log, Options};
use parking_lot::Mutex;

use crate::record::Record;
use crate::{Error, Result};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_SIZE: u64 = 128 << 20;
const CHECKPOINT_FILE: &str = "checkpoint";

/// The write-ahead log of the metrics head.
pub struct Wal {
    dir: PathBuf,
    log: Log,
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

/// Appends one framed record to `buf`.
pub fn frame(record: &Record, buf: &mut Vec<u8>) {
    lantern_wal::frame_with(buf, |b| record.encode(b));
}

impl Wal {
    /// Opens the log in `dir`, replaying what is there into `visit` (repairing a torn
    /// tail), and starts a new segment for writing.
    pub fn open(dir: &Path, mut visit: impl FnMut(ReplayEvent)) -> Result<Wal> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            op: "create directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let cp_path = dir.join(CHECKPOINT_FILE);
        if cp_path.exists() {
            let bytes = fs::read(&cp_path).map_err(|source| Error::Io { op: "read", path: cp_path.clone(), source })?;
            // The checkpoint is written to a temporary file and renamed, so a bad one means
            // the disk changed under us: check it whole first, and refuse rather than lose
            // series.
            let bad = read_frames(&bytes, |p| Record::decode(p).is_ok());
            if bad != bytes.len() {
                return Err(Error::Corrupt(format!("wal checkpoint {} is damaged at byte {bad}", cp_path.display())));
            }
            read_frames(&bytes, |p| {
                match Record::decode(p) {
                    Ok(Record::Checkpoint { floor, first_segment }) => {
                        visit(ReplayEvent::Checkpoint { floor, first_segment })
                    }
                    Ok(r) => visit(ReplayEvent::Record(None, r)),
                    Err(_) => {}
                }
                true
            });
        }
        let mut max_t: BTreeMap<u64, i64> = BTreeMap::new();
        let (log, _) = Log::open(
            dir,
            Options { segment_size: SEGMENT_SIZE, signal: lantern_core::selfmon::signal::METRICS },
            0,
            |seg, p| {
                let Ok(r) = Record::decode(p) else { return false };
                let m = max_t.entry(seg).or_insert(i64::MIN);
                if let Record::Samples(s) = &r {
                    *m = s.iter().fold(*m, |m, x| m.max(x.t));
                }
                visit(ReplayEvent::Record(Some(seg), r));
                true
            },
        )?;
        for s in log.segments()? {
            max_t.entry(s).or_insert(i64::MIN);
        }
        Ok(Wal { dir: dir.to_path_buf(), log, segment_max_t: Mutex::new(max_t) })
    }

    /// Writes already-framed bytes (see [`frame`]) holding samples up to `max_t`.
    /// Returns the logical position to pass to [`Wal::sync_to`].
    pub fn write(&self, framed: &[u8], max_t: i64) -> Result<u64> {
        let w = self.log.write(framed)?;
        let mut m = self.segment_max_t.lock();
        let e = m.entry(w.segment).or_insert(i64::MIN);
        *e = (*e).max(max_t);
        Ok(w.pos)
    }

    /// Closes the current segment and starts a new one; returns the new segment's number.
    /// Everything logged before the call is in earlier segments.
    pub fn rotate(&self) -> Result<u64> {
        let next = self.log.rotate()?;
        self.segment_max_t.lock().entry(next).or_insert(i64::MIN);
        Ok(next)
    }

    /// Makes everything up to logical position `pos` durable (fsync), sharing one fsync
    /// between concurrent callers.
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        Ok(self.log.sync_to(pos)?)
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        Ok(self.log.sync()?)
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
        lantern_wal::write_atomic(&self.dir.join(CHECKPOINT_FILE), &buf)?;
        let removable: Vec<u64> = {
            let m = self.segment_max_t.lock();
            m.iter().filter(|(s, t)| **s < first_segment && **t < floor).map(|(s, _)| *s).collect()
        };
        for s in removable {
            self.log.remove(s)?;
            self.segment_max_t.lock().remove(&s);
        }
        Ok(())
    }

    /// Total bytes of the log directory's segments and checkpoint.
    pub fn disk_size(&self) -> u64 {
        self.log.disk_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RefSample;
    use lantern_core::Labels;

    fn segment_files(dir: &Path) -> Vec<u64> {
        let mut v: Vec<u64> =
            fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        v.sort_unstable();
        v
    }

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
        let seg = dir.path().join("00000000");
        let len = fs::metadata(&seg).unwrap().len();
        fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 5).unwrap();
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
        let seg = dir.path().join("00000000");
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
        let segs = segment_files(dir.path());
        assert_eq!(segs, vec![s1, s2], "segment 0 (max t 10) is covered; segment 1 (t 500) is not");
        drop(w);
        let (_, r) = open_collect(dir.path());
        assert_eq!(r[0], ReplayEvent::Checkpoint { floor: 100, first_segment: s2 });
    }
}
