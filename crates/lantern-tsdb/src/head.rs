//! The head: the in-memory part of the metrics store, holding the newest samples (and
//! out-of-order ones not yet persisted) as compressed chunks, with its own inverted index.
//!
//! Every sample in the head is also in the write-ahead log; [`crate::Tsdb`] owns both and
//! keeps them in step.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use lantern_chunk::{ChunkIter, XorAppender};
use lantern_core::{Labels, Matcher, Sample};
use parking_lot::{Mutex, RwLock};

use crate::batch::{key_of, labels_key, LabelsKey};
use crate::compact::merge_by_time;
use crate::postings::Postings;
use crate::symbols::Symbols;

/// Samples per chunk before a new one is started (as Prometheus).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A sealed, immutable chunk in the head.
#[derive(Debug, Clone)]
pub struct HeadChunk {
    /// First sample's timestamp.
    pub min_t: i64,
    /// Last sample's timestamp.
    pub max_t: i64,
    /// Last sample's value (instant queries read it without decoding).
    pub last_v: f64,
    /// XOR-encoded samples.
    pub data: Arc<[u8]>,
}

/// Why a sample was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Older than the out-of-order window allows.
    TooOld,
    /// A different value already exists at the same timestamp.
    DuplicateTimestamp,
}

impl Rejection {
    /// The reason in words, as clients see it.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooOld => "too old: older than the out-of-order window allows",
            Rejection::DuplicateTimestamp => "duplicate sample for timestamp with a different value",
        }
    }
}

/// What happened to one sample offered to a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stored.
    Appended,
    /// Identical to a stored sample: nothing to do, not an error.
    AlreadyStored,
    /// Refused.
    Rejected(Rejection),
}

/// The mutable sample data of one series.
#[derive(Debug)]
pub struct SeriesData {
    /// A boxed slice, not a `Vec`: 16 bytes instead of 24 in every series, and it grows
    /// only once per chunk.
    sealed: Box<[HeadChunk]>,
    /// The chunk being appended to (empty when there is none) and its first timestamp.
    open: XorAppender,
    open_min_t: i64,
    /// Out-of-order samples, in arrival order.
    /// Boxed: most series never receive one, and an empty box costs 8 bytes, not 24.
    #[allow(clippy::box_collection)]
    ooo: Option<Box<Vec<(i64, f64)>>>,
    last_t: i64,
}

impl Default for SeriesData {
    fn default() -> Self {
        Self { sealed: Box::default(), open: XorAppender::new(), open_min_t: 0, ooo: None, last_t: i64::MIN }
    }
}

/// The limits an append is checked against.
#[derive(Debug, Clone, Copy)]
pub struct AppendBounds {
    /// In-order appends need `t >= floor` (older data is already persisted).
    pub floor: i64,
    /// Nothing older than this is accepted.
    pub oldest: i64,
    /// Chunks never straddle a multiple of this (the block range), in ms.
    pub block_range: i64,
}

fn next_boundary(t: i64, range: i64) -> i64 {
    (t.div_euclid(range) + 1) * range
}

impl SeriesData {
    /// Offers one sample.
    pub fn append(&mut self, t: i64, v: f64, b: AppendBounds) -> Verdict {
        if t > self.last_t && t >= b.floor {
            let seal = match self.open_chunk() {
                Some((min_t, a)) => a.len() >= SAMPLES_PER_CHUNK || t >= next_boundary(min_t, b.block_range),
                None => false,
            };
            if seal {
                self.seal_open();
            }
            if self.open.is_empty() {
                self.open_min_t = t;
            }
            self.open.append(t, v);
            self.last_t = t;
            return Verdict::Appended;
        }
        if t == self.last_t {
            let same = self.open_chunk().is_some_and(|(_, a)| a.last_v().to_bits() == v.to_bits());
            return if same { Verdict::AlreadyStored } else { Verdict::Rejected(Rejection::DuplicateTimestamp) };
        }
        if t < b.oldest {
            return Verdict::Rejected(Rejection::TooOld);
        }
        let existing = self.find_in_order(t).or_else(|| self.ooo().iter().find(|(ot, _)| *ot == t).map(|&(_, v)| v));
        if let Some(old) = existing {
            return if old.to_bits() == v.to_bits() {
                Verdict::AlreadyStored
            } else {
                Verdict::Rejected(Rejection::DuplicateTimestamp)
            };
        }
        self.ooo.get_or_insert_default().push((t, v));
        Verdict::Appended
    }

    /// The open chunk and its first timestamp, if one is open.
    fn open_chunk(&self) -> Option<(i64, &XorAppender)> {
        (!self.open.is_empty()).then_some((self.open_min_t, &self.open))
    }

    /// The out-of-order samples, in arrival order.
    fn ooo(&self) -> &[(i64, f64)] {
        self.ooo.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The in-order value stored at exactly `t`, if any.
    fn find_in_order(&self, t: i64) -> Option<f64> {
        let open = self.open_chunk().map(|(m, a)| (m, a.last_t(), a.bytes()));
        let mut chunks = self.sealed.iter().map(|c| (c.min_t, c.max_t, &c.data[..])).chain(open);
        let (_, _, data) = chunks.find(|(min, max, _)| *min <= t && t <= *max)?;
        ChunkIter::new(data).map_while(|r| r.ok()).find(|(ct, _)| *ct == t).map(|(_, v)| v)
    }

    fn seal_open(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let a = std::mem::take(&mut self.open);
        let chunk =
            HeadChunk { min_t: self.open_min_t, max_t: a.last_t(), last_v: a.last_v(), data: a.into_bytes().into() };
        let mut v = std::mem::take(&mut self.sealed).into_vec();
        v.push(chunk);
        self.sealed = v.into_boxed_slice();
    }

    /// Chunks held: the sealed ones and the open one (out-of-order samples are not
    /// chunked yet).
    pub fn chunk_count(&self) -> usize {
        self.sealed.len() + usize::from(!self.open.is_empty())
    }

    /// Whether the series holds no samples.
    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.is_empty() && self.ooo().is_empty()
    }

    /// Oldest and newest timestamps held, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut min = self.sealed.first().map(|c| c.min_t).or(self.open_chunk().map(|(m, _)| m));
        let mut max = if self.sealed.is_empty() && self.open.is_empty() { None } else { Some(self.last_t) };
        for &(t, _) in self.ooo() {
            min = Some(min.map_or(t, |m| m.min(t)));
            max = Some(max.map_or(t, |m| m.max(t)));
        }
        min.zip(max)
    }

    /// Marks a series garbage collection took out of the head (it is empty), so a
    /// caller still holding its handle learns it is gone. The mark is a `last_t` no
    /// sample can have reached: appends stop at the end of time minus one.
    pub fn mark_removed(&mut self) {
        self.last_t = i64::MAX;
    }

    /// Whether garbage collection took this series out of the head.
    pub fn is_removed(&self) -> bool {
        self.last_t == i64::MAX && self.is_empty()
    }

    /// The newest sample in `[mint, maxt]`. Without out-of-order samples and with the
    /// range reaching past the last append, that is the last appended sample, read
    /// without decoding anything.
    pub fn last_in(&self, mint: i64, maxt: i64) -> Option<Sample> {
        if self.ooo().is_empty() {
            let last = match self.open_chunk() {
                Some((_, a)) => Some((a.last_t(), a.last_v())),
                None => self.sealed.last().map(|c| (c.max_t, c.last_v)),
            };
            if let Some((t, v)) = last.filter(|&(t, _)| t <= maxt) {
                return (t >= mint).then(|| Sample::new(t, v));
            }
        }
        self.samples(mint, maxt).pop()
    }

    /// Samples in `[mint, maxt]`, ascending, out-of-order ones merged in (in-order data
    /// wins on equal timestamps).
    pub fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut inorder = Vec::new();
        let open = self.open_chunk().map(|(m, a)| (m, a.last_t(), a.bytes()));
        let chunks = self.sealed.iter().map(|c| (c.min_t, c.max_t, &c.data[..])).chain(open);
        for (cmin, cmax, data) in chunks {
            if cmax < mint || cmin > maxt {
                continue;
            }
            // Head chunks are built by us from appends; a decode error cannot happen, but
            // stopping at it is the safe answer if it ever did.
            // In-order chunks ascend in time: stop at the first sample past the range.
            for (t, v) in ChunkIter::new(data).map_while(|r| r.ok()).take_while(|&(t, _)| t <= maxt) {
                if t >= mint {
                    inorder.push(Sample::new(t, v));
                }
            }
        }
        if self.ooo().is_empty() {
            return inorder;
        }
        let mut ooo: Vec<Sample> =
            self.ooo().iter().filter(|(t, _)| *t >= mint && *t <= maxt).map(|&(t, v)| Sample::new(t, v)).collect();
        ooo.sort_by_key(|s| s.t);
        merge_by_time(vec![inorder, ooo], |s| s.t)
    }

    /// What a cut at `floor` persists: the sealed chunks below it (sealing the open chunk
    /// if it lies below), and the out-of-order samples below it among the first
    /// `ooo_seen` (returned) of the buffer.
    pub fn snapshot_below(&mut self, floor: i64) -> (Vec<HeadChunk>, Vec<(i64, f64)>, usize) {
        if self.open_chunk().is_some_and(|(min_t, _)| min_t < floor) {
            self.seal_open();
        }
        let chunks: Vec<HeadChunk> = self.sealed.iter().take_while(|c| c.max_t < floor).cloned().collect();
        let ooo: Vec<(i64, f64)> = self.ooo().iter().copied().filter(|(t, _)| *t < floor).collect();
        (chunks, ooo, self.ooo().len())
    }

    /// Drops what [`SeriesData::snapshot_below`] returned, once it is persisted.
    pub fn release_below(&mut self, floor: i64, ooo_seen: usize) {
        let n = self.sealed.iter().take_while(|c| c.max_t < floor).count();
        if n > 0 {
            self.sealed = self.sealed[n..].to_vec().into_boxed_slice();
        }
        let all = self.ooo();
        let seen = ooo_seen.min(all.len());
        let mut kept: Vec<(i64, f64)> = all[..seen].iter().copied().filter(|(t, _)| *t >= floor).collect();
        kept.extend_from_slice(&all[seen..]);
        self.ooo = (!kept.is_empty()).then(|| Box::new(kept));
    }
}

/// One series in the head.
#[derive(Debug)]
pub struct MemSeries {
    /// Its labels as symbol ids (name, value, …) in the head's [`Symbols`].
    label_ids: Box<[u32]>,
    /// The confirmation half of its [`LabelsKey`].
    pub key2: u64,
    /// Its reference in the write-ahead log (unique for the log's lifetime).
    pub wal_ref: u64,
    /// Its samples.
    pub data: Mutex<SeriesData>,
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct HeadIndex {
    series: Vec<Arc<MemSeries>>,
    /// Label-set hash → series.
    by_hash: HashIndex<Arc<MemSeries>>,
    /// Further series whose label hash equals an earlier one's (64-bit collisions).
    collisions: HashIndex<Vec<Arc<MemSeries>>>,
    postings: Postings,
    symbols: Symbols,
}

impl HeadIndex {
    fn find(&self, key: LabelsKey) -> Option<&Arc<MemSeries>> {
        match self.by_hash.get(&key.h1) {
            Some(s) if s.key2 == key.h2 => Some(s),
            Some(_) => self.collisions.get(&key.h1)?.iter().find(|s| s.key2 == key.h2),
            None => None,
        }
    }

    fn pairs<'a>(&'a self, s: &'a MemSeries) -> impl Iterator<Item = (&'a Arc<str>, &'a Arc<str>)> + 'a {
        s.label_ids.chunks_exact(2).map(|p| (self.symbols.get(p[0]), self.symbols.get(p[1])))
    }

    fn insert(&mut self, key: LabelsKey, s: Arc<MemSeries>) {
        let id = self.series.len() as u32;
        let pairs: Vec<(Arc<str>, Arc<str>)> = self.pairs(&s).map(|(n, v)| (n.clone(), v.clone())).collect();
        self.postings.add(id, pairs);
        self.series.push(s.clone());
        match self.by_hash.entry(key.h1) {
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.entry(key.h1).or_default().push(s),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s);
            }
        }
    }
}

/// The head of the metrics store.
pub struct Head {
    index: RwLock<HeadIndex>,
    next_ref: AtomicU64,
    /// Newest sample timestamp seen (`i64::MIN` when empty).
    pub max_t: AtomicI64,
    /// Samples below this are persisted in blocks; in-order appends must be at or above it.
    pub floor: AtomicI64,
}

impl Default for Head {
    fn default() -> Self {
        Self {
            index: RwLock::default(),
            next_ref: AtomicU64::new(1),
            max_t: AtomicI64::new(i64::MIN),
            floor: AtomicI64::new(i64::MIN),
        }
    }
}

impl Head {
    /// The series whose label set has this key.
    pub fn lookup(&self, key: LabelsKey) -> Option<Arc<MemSeries>> {
        self.index.read().find(key).cloned()
    }

    /// The series of each key, under one read lock.
    pub fn lookup_many(&self, keys: &[LabelsKey]) -> Vec<Option<Arc<MemSeries>>> {
        let idx = self.index.read();
        keys.iter().map(|&k| idx.find(k).cloned()).collect()
    }

    /// The series with these labels, created (with a new WAL reference, or `wal_ref` when
    /// replaying) if missing. Returns the series and whether it was created.
    pub fn get_or_create(&self, labels: &Labels, wal_ref: Option<u64>) -> (Arc<MemSeries>, bool) {
        // A replayed reference is never handed out again, even when its series already
        // exists under another reference (it was re-created after garbage collection):
        // the log still holds records naming it.
        if let Some(r) = wal_ref {
            self.next_ref.fetch_max(r + 1, Ordering::SeqCst);
        }
        let key = key_of(labels);
        if let Some(s) = self.lookup(key) {
            return (s, false);
        }
        let mut idx = self.index.write();
        if let Some(s) = idx.find(key) {
            return (s.clone(), false);
        }
        let r = wal_ref.unwrap_or_else(|| self.next_ref.fetch_add(1, Ordering::SeqCst));
        let label_ids = idx.symbols.acquire_labels(labels);
        let s = Arc::new(MemSeries { label_ids, key2: key.h2, wal_ref: r, data: Mutex::default() });
        idx.insert(key, s.clone());
        (s, true)
    }

    /// The labels of a series of this head.
    pub fn labels_of(&self, s: &MemSeries) -> Labels {
        self.index.read().symbols.labels(&s.label_ids)
    }

    /// Series matching every matcher, with their labels.
    pub fn select_series(&self, matchers: &[Matcher]) -> Vec<(Labels, Arc<MemSeries>)> {
        let idx = self.index.read();
        let ids = idx.postings.select(matchers);
        ids.into_iter()
            .map(|i| {
                let s = &idx.series[i as usize];
                (idx.symbols.labels(&s.label_ids), s.clone())
            })
            .collect()
    }

    /// Every series with its labels (for checkpoints and cuts).
    pub fn all_series(&self) -> Vec<(Labels, Arc<MemSeries>)> {
        let idx = self.index.read();
        idx.series.iter().map(|s| (idx.symbols.labels(&s.label_ids), s.clone())).collect()
    }

    /// Every series, without building their labels.
    pub fn series_refs(&self) -> Vec<Arc<MemSeries>> {
        self.index.read().series.clone()
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.index.read().series.len()
    }

    /// All label names in the head.
    pub fn label_names(&self) -> Vec<String> {
        self.index.read().postings.names().map(|s| s.to_string()).collect()
    }

    /// All values of one label in the head.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.index.read().postings.values(name).map(|s| s.to_string()).collect()
    }

    /// Removes series that hold no samples and rebuilds the index compactly. The caller
    /// holds the append lock, so no appender holds a series that is being removed.
    pub fn gc(&self) -> usize {
        let mut idx = self.index.write();
        let before = idx.series.len();
        let (keep, gone): (Vec<Arc<MemSeries>>, Vec<Arc<MemSeries>>) =
            idx.series.iter().cloned().partition(|s| !s.data.lock().is_empty());
        if gone.is_empty() {
            return 0;
        }
        let mut fresh = HeadIndex { symbols: std::mem::take(&mut idx.symbols), ..HeadIndex::default() };
        for s in &gone {
            s.data.lock().mark_removed();
            for &id in s.label_ids.iter() {
                fresh.symbols.release(id);
            }
        }
        for s in keep {
            let key = labels_key(fresh.pairs(&s).map(|(n, v)| (n.as_bytes(), v.as_bytes())));
            fresh.insert(key, s);
        }
        *idx = fresh;
        before - idx.series.len()
    }

    /// What the head's index holds (see [`crate::postings::Postings::cardinality`]).
    pub fn cardinality(&self, limit: usize) -> crate::postings::Cardinality {
        self.index.read().postings.cardinality(limit)
    }

    /// Live symbols (label names and values), for statistics.
    pub fn num_symbols(&self) -> usize {
        self.index.read().symbols.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: AppendBounds = AppendBounds { floor: i64::MIN, oldest: i64::MIN, block_range: 7_200_000 };

    #[test]
    fn in_order_out_of_order_and_duplicates() {
        let mut d = SeriesData::default();
        for t in (0..300).map(|i| i * 15_000) {
            assert_eq!(d.append(t, t as f64, B), Verdict::Appended);
        }
        assert_eq!(d.sealed.len(), 2, "120 samples per chunk");
        assert_eq!(d.append(15_000, 15_000.0, B), Verdict::AlreadyStored);
        assert_eq!(d.append(15_000, 1.0, B), Verdict::Rejected(Rejection::DuplicateTimestamp));
        assert_eq!(d.append(4_485_000, 1.0, B), Verdict::Rejected(Rejection::DuplicateTimestamp));
        assert_eq!(d.append(7_000, 7.0, B), Verdict::Appended);
        assert_eq!(d.append(7_000, 8.0, B), Verdict::Rejected(Rejection::DuplicateTimestamp));
        let s = d.samples(0, 20_000);
        assert_eq!(s.iter().map(|s| s.t).collect::<Vec<_>>(), vec![0, 7_000, 15_000]);
        let b = AppendBounds { oldest: 1_000_000, ..B };
        assert_eq!(d.append(5, 1.0, b), Verdict::Rejected(Rejection::TooOld));
    }

    #[test]
    fn chunks_never_cross_block_boundaries_and_snapshots_release() {
        let mut d = SeriesData::default();
        let range = 7_200_000;
        for t in (0..1000).map(|i| i * 60_000) {
            d.append(t, 1.0, AppendBounds { block_range: range, ..B });
        }
        for c in &d.sealed {
            assert_eq!(c.min_t.div_euclid(range), c.max_t.div_euclid(range));
        }
        d.append(100, 2.0, B);
        let floor = 2 * range;
        let (chunks, ooo, seen) = d.snapshot_below(floor);
        assert!(chunks.iter().all(|c| c.max_t < floor));
        assert_eq!(chunks.iter().map(|c| lantern_chunk::decode(&c.data).unwrap().len()).sum::<usize>(), 240);
        assert_eq!(ooo, vec![(100, 2.0)]);
        d.append(200, 3.0, B);
        d.release_below(floor, seen);
        assert_eq!(d.ooo(), &[(200, 3.0)], "an OOO sample that arrived after the snapshot stays");
        assert_eq!(d.samples(0, floor - 1).len(), 1);
        assert_eq!(d.samples(floor, i64::MAX).len(), 1000 - 240);
    }

    #[test]
    fn merge_prefers_first_and_dedups() {
        let a = vec![Sample::new(1, 1.0), Sample::new(3, 3.0)];
        let b = vec![Sample::new(1, 9.0), Sample::new(2, 2.0), Sample::new(2, 2.5), Sample::new(4, 4.0)];
        let m = merge_by_time(vec![a, b], |s| s.t);
        assert_eq!(m.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(), vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]);
    }

    #[test]
    fn head_index_interns_and_gc_compacts() {
        let h = Head::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let (sa, created) = h.get_or_create(&a, None);
        assert!(created);
        let (sb, _) = h.get_or_create(&b, None);
        assert!(!h.get_or_create(&a, None).1);
        assert_eq!(h.labels_of(&sa), a);
        assert_eq!(h.num_symbols(), 5);
        sb.data.lock().append(1, 1.0, B);
        assert_eq!(h.gc(), 1);
        assert_eq!(h.num_series(), 1);
        assert_eq!(h.num_symbols(), 4, "the removed series' job value is freed");
        assert_eq!(h.labels_of(&sb), b);
        assert_eq!(h.select_series(&[Matcher::equal("job", "b")]).len(), 1);
        assert!(h.select_series(&[Matcher::equal("job", "a")]).is_empty());
    }
}

#[cfg(test)]
mod gc_reuse_tests {
    use super::*;

    const B: AppendBounds = AppendBounds { floor: i64::MIN, oldest: i64::MIN, block_range: 7_200_000 };

    #[test]
    fn labels_stay_right_after_gc_and_symbol_reuse() {
        let h = Head::default();
        let l = |j: &str| Labels::from_pairs([("__name__", "m"), ("job", j)]);
        let mut live = Vec::new();
        for round in 0..5 {
            for j in 0..4 {
                let name = format!("{round}-{j}");
                let (s, _) = h.get_or_create(&l(&name), None);
                if j % 2 == 0 {
                    s.data.lock().append(1, 1.0, B);
                    live.push((name, s));
                }
            }
            h.gc();
            for (name, s) in &live {
                assert_eq!(h.labels_of(s), l(name), "round {round}");
                let (again, created) = h.get_or_create(&l(name), None);
                assert!(!created && Arc::ptr_eq(&again, s), "round {round} {name}");
            }
            let sel = h.select_series(&[Matcher::equal("__name__", "m")]);
            assert_eq!(sel.len(), live.len());
            for (labels, s) in sel {
                assert_eq!(h.labels_of(&s), labels);
            }
        }
    }
}
