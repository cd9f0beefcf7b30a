//! [`Tsdb`]: the head, the write-ahead log and the blocks, kept in step.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lantern_core::{Label, Labels, Matcher, Sample};
use lantern_objstore::Store;
use parking_lot::{Mutex, RwLock};

use crate::batch::{labels_key, Batch, LabelsKey};
use crate::block::{Block, BLOCKS_DIR};
use crate::compact::merge_by_time;
use crate::exemplars::{ExemplarRings, ExemplarVerdict};
use crate::head::{AppendBounds, Head, MemSeries, Rejection, SeriesData, Verdict};
use crate::record::RefExemplar;
use crate::record::{Record, RefSample};
use crate::wal::{frame, ReplayEvent, Wal};
use crate::{ms, Options, Result};

/// A sample the store refused, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedSample {
    /// The series.
    pub labels: Labels,
    /// The sample's timestamp.
    pub t: i64,
    /// Why.
    pub reason: Rejection,
}

/// A series refused whole because its labels are invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidSeries {
    /// The labels as sent, formatted.
    pub labels: String,
    /// What is wrong with them.
    pub error: lantern_core::Error,
    /// How many samples it carried.
    pub samples: usize,
}

/// The result of one append: the rest of a batch is stored even when some samples are
/// refused.
#[derive(Debug, Default)]
pub struct AppendOutcome {
    /// Series refused for invalid labels.
    pub invalid_series: Vec<InvalidSeries>,
    /// Samples stored.
    pub appended: usize,
    /// Samples identical to ones already stored (a client retry).
    pub already_stored: usize,
    /// Samples refused.
    pub rejected: Vec<RejectedSample>,
    /// Exemplars stored.
    pub exemplars_appended: usize,
    /// Exemplars not stored: duplicates of stored ones, or older than the series' newest.
    pub exemplars_skipped: usize,
}

impl AppendOutcome {
    /// Counts what this append stored and refused into Lantern's own metrics, as sent
    /// through `protocol`.
    pub fn count(&self, protocol: &'static str) {
        use lantern_core::selfmon::{ingested, refused_items, signal::METRICS};
        ingested(METRICS, protocol, (self.appended + self.already_stored) as u64);
        refused_items(METRICS, protocol, "invalid", self.invalid_series.iter().map(|s| s.samples as u64).sum());
        for reason in [Rejection::TooOld, Rejection::DuplicateTimestamp] {
            let label = match reason {
                Rejection::TooOld => "too_old",
                Rejection::DuplicateTimestamp => "duplicate_timestamp",
            };
            refused_items(METRICS, protocol, label, self.rejected.iter().filter(|r| r.reason == reason).count() as u64);
        }
    }
}

/// What one append call accepted, on its way to the log: filled series by series under
/// the append lock, then written as one frame group.
struct Pending {
    bounds: AppendBounds,
    new_series: Vec<(u64, Labels)>,
    samples: Vec<RefSample>,
    exemplars: Vec<RefExemplar>,
    max_t: i64,
    below_floor: bool,
}

impl Tsdb {
    /// Starts an append (the caller holds the append lock): the bounds samples are
    /// checked against, or `Closed`.
    fn begin_append(&self, capacity: usize) -> Result<Pending> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(crate::Error::Closed);
        }
        let head_max = self.head.max_t.load(Ordering::SeqCst);
        let window = ms(self.opts.out_of_order_window);
        let bounds = AppendBounds {
            floor: self.head.floor.load(Ordering::SeqCst),
            oldest: if head_max == i64::MIN { i64::MIN } else { head_max.saturating_sub(window) },
            block_range: ms(self.opts.block_range),
        };
        Ok(Pending {
            bounds,
            new_series: Vec::new(),
            samples: Vec::with_capacity(capacity),
            exemplars: Vec::new(),
            max_t: i64::MIN,
            below_floor: false,
        })
    }

    /// Applies one series' samples and exemplars.
    fn apply(
        &self,
        p: &mut Pending,
        out: &mut AppendOutcome,
        series: &MemSeries,
        d: &mut SeriesData,
        samples: &[Sample],
        exemplars: &[lantern_core::Exemplar],
    ) {
        for s in samples {
            match d.append(s.t, s.v, p.bounds) {
                Verdict::Appended => {
                    p.samples.push(RefSample { series: series.wal_ref, t: s.t, v: s.v });
                    p.max_t = p.max_t.max(s.t);
                    p.below_floor |= s.t < p.bounds.floor;
                }
                Verdict::AlreadyStored => out.already_stored += 1,
                Verdict::Rejected(reason) => {
                    out.rejected.push(RejectedSample { labels: self.head.labels_of(series), t: s.t, reason })
                }
            }
        }
        if exemplars.is_empty() {
            return;
        }
        let labels = self.head.labels_of(series);
        for e in exemplars {
            match self.exemplars.add(&labels, e.clone()) {
                ExemplarVerdict::Added => p.exemplars.push(RefExemplar { series: series.wal_ref, exemplar: e.clone() }),
                _ => out.exemplars_skipped += 1,
            }
        }
    }

    /// Logs what was accepted (the caller still holds the append lock); the log position
    /// to sync to, if anything was logged.
    fn finish_append(&self, p: Pending, out: &mut AppendOutcome) -> Result<Option<u64>> {
        out.appended = p.samples.len();
        out.exemplars_appended = p.exemplars.len();
        if p.new_series.is_empty() && p.samples.is_empty() && p.exemplars.is_empty() {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(p.samples.len() * 12 + 64);
        if !p.new_series.is_empty() {
            frame(&Record::Series(p.new_series), &mut buf);
        }
        if !p.samples.is_empty() {
            frame(&Record::Samples(p.samples), &mut buf);
        }
        if !p.exemplars.is_empty() {
            frame(&Record::Exemplars(p.exemplars), &mut buf);
        }
        let pos = self.wal.write(&buf, p.max_t)?;
        self.head.max_t.fetch_max(p.max_t, Ordering::SeqCst);
        if p.below_floor {
            self.ooo_below_floor.store(true, Ordering::SeqCst);
        }
        Ok(Some(pos))
    }
}

/// A handle on a head series (see [`Tsdb::handle`]).
#[derive(Clone)]
pub struct SeriesHandle(Arc<MemSeries>);

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesHandle({})", self.0.wal_ref)
    }
}

/// Sizes, for status pages and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Series in the head.
    pub head_series: usize,
    /// Chunks in the head.
    pub head_chunks: usize,
    /// Blocks on disk.
    pub blocks: usize,
    /// Bytes of all blocks.
    pub block_bytes: u64,
    /// Samples in all blocks.
    pub block_samples: u64,
    /// Bytes of the write-ahead log.
    pub wal_bytes: u64,
    /// Head floor (samples below are in blocks).
    pub head_floor: i64,
    /// Newest sample time.
    pub max_t: i64,
}

/// The metrics store.
pub struct Tsdb {
    head: Head,
    wal: Wal,
    store: Store,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Blocks out of `blocks` (compacted or expired) whose files wait for their last reader.
    retired: Mutex<Vec<Arc<Block>>>,
    /// Serialises appends, head cuts and series garbage collection.
    append_lock: Mutex<()>,
    /// Serialises maintenance runs.
    maintain_lock: tokio::sync::Mutex<()>,
    /// Set when an out-of-order sample below the floor waits to be persisted.
    ooo_below_floor: AtomicBool,
    closed: AtomicBool,
    /// The newest exemplars of each head series.
    exemplars: ExemplarRings,
    /// Metric metadata from every source.
    metadata: crate::metadata::MetadataStore,
    /// Decompressed block frames, shared by this store's blocks.
    frames: Arc<crate::block::cache::FrameCache>,
    opts: Options,
}

fn align_down(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range
}

impl Tsdb {
    /// Opens the store: blocks from `store`, the log from `wal_dir` (replayed into the head).
    pub async fn open(wal_dir: &Path, store: Store, opts: Options) -> Result<Tsdb> {
        let frames = Arc::new(crate::block::cache::FrameCache::new(opts.block_cache_bytes));
        let blocks = load_blocks(&store, &frames).await?;
        let head = Head::default();
        let (mut floor, mut first_segment) = (i64::MIN, 0u64);
        let block_range = ms(opts.block_range);
        let mut refs: HashMap<u64, Arc<MemSeries>> = HashMap::new();
        let (mut n_samples, mut max_t, mut ooo_below) = (0u64, i64::MIN, false);
        let exemplars = ExemplarRings::new(opts.max_exemplars_per_series, opts.max_exemplar_series);
        let wal = Wal::open(wal_dir, |event| match event {
            ReplayEvent::Checkpoint { floor: f, first_segment: s } => {
                floor = f;
                first_segment = s;
                head.floor.store(f, Ordering::SeqCst);
            }
            ReplayEvent::Record(_, Record::Series(series)) => {
                for (r, labels) in series {
                    let (s, _) = head.get_or_create(&labels, Some(r));
                    refs.insert(r, s);
                }
            }
            ReplayEvent::Record(segment, Record::Samples(samples)) => {
                let persisted_before = segment.is_none_or(|s| s < first_segment);
                let bounds = AppendBounds { floor, oldest: i64::MIN, block_range };
                for rs in samples {
                    if persisted_before && rs.t < floor {
                        continue;
                    }
                    // Samples of series dropped by garbage collection were persisted.
                    let Some(s) = refs.get(&rs.series) else { continue };
                    if s.data.lock().append(rs.t, rs.v, bounds) == Verdict::Appended {
                        n_samples += 1;
                        max_t = max_t.max(rs.t);
                        ooo_below |= rs.t < floor;
                    }
                }
            }
            ReplayEvent::Record(_, Record::Exemplars(v)) => {
                for e in v {
                    if let Some(s) = refs.get(&e.series) {
                        exemplars.add(&head.labels_of(s), e.exemplar);
                    }
                }
            }
            ReplayEvent::Record(_, Record::LabeledExemplars(v)) => {
                for (labels, e) in v {
                    exemplars.add(&labels, e);
                }
            }
            ReplayEvent::Record(_, Record::Checkpoint { .. }) => {}
        })?;
        head.max_t.store(max_t, Ordering::SeqCst);
        tracing::info!(series = head.num_series(), samples = n_samples, blocks = blocks.len(), "metrics store opened");
        Ok(Tsdb {
            head,
            wal,
            store,
            blocks: RwLock::new(blocks),
            retired: Mutex::new(Vec::new()),
            append_lock: Mutex::new(()),
            maintain_lock: tokio::sync::Mutex::new(()),
            ooo_below_floor: AtomicBool::new(ooo_below),
            closed: AtomicBool::new(false),
            frames,
            exemplars,
            metadata: Default::default(),
            opts,
        })
    }

    /// Stores owned series (see [`Tsdb::append_batch`]).
    pub fn append(&self, input: Vec<(Labels, Vec<Sample>)>) -> Result<AppendOutcome> {
        let mut b = Batch::new();
        for (labels, samples) in &input {
            b.push(labels, samples);
        }
        self.append_batch(&b)
    }

    /// Stores samples. Returns once they are in the log and fsynced: an `Ok` means they
    /// survive a crash. Series with invalid labels and samples the store refuses are
    /// listed; the rest are stored.
    pub fn append_batch(&self, input: &Batch<'_>) -> Result<AppendOutcome> {
        let (out, pos) = self.append_logged(input)?;
        if let Some(pos) = pos {
            self.wal.sync_to(pos)?;
        }
        Ok(out)
    }

    /// Stores samples that no client waits on (scrapes): they are in the log, which the
    /// operating system holds until the next fsync (at most [`Tsdb::sync`]'s period
    /// later, or an acknowledged write's). A process crash loses nothing; a machine
    /// crash may lose the last moments, as with Prometheus's own scrapes.
    pub fn append_batch_unsynced(&self, input: &Batch<'_>) -> Result<AppendOutcome> {
        Ok(self.append_logged(input)?.0)
    }

    /// A handle on the head series with `labels` (which must be valid, as
    /// [`Labels::validated`] makes them), creating and logging the series if it is new.
    /// Appending by handle ([`Tsdb::append_handles_unsynced`]) skips the label lookup.
    pub fn handle(&self, labels: &Labels) -> Result<SeriesHandle> {
        let _g = self.append_lock.lock();
        let mut p = self.begin_append(0)?;
        let (series, created) = self.head.get_or_create(labels, None);
        if created {
            p.new_series.push((series.wal_ref, labels.clone()));
        }
        self.finish_append(p, &mut AppendOutcome::default())?;
        Ok(SeriesHandle(series))
    }

    /// Appends one sample per handle, without waiting for fsync (see
    /// [`Tsdb::append_batch_unsynced`]). Rows whose series garbage collection took out of
    /// the head are not stored: their positions are returned, for the caller to take a
    /// new handle and try again.
    pub fn append_handles_unsynced(
        &self,
        rows: &[(&SeriesHandle, Sample, &[lantern_core::Exemplar])],
    ) -> Result<(AppendOutcome, Vec<usize>)> {
        let mut out = AppendOutcome::default();
        let mut gone = Vec::new();
        let _g = self.append_lock.lock();
        let mut p = self.begin_append(rows.len())?;
        for (i, (h, s, exemplars)) in rows.iter().enumerate() {
            let mut d = h.0.data.lock();
            if d.is_removed() {
                gone.push(i);
                continue;
            }
            self.apply(&mut p, &mut out, &h.0, &mut d, std::slice::from_ref(s), exemplars);
        }
        self.finish_append(p, &mut out)?;
        Ok((out, gone))
    }

    /// The labels of a handle's series.
    pub fn handle_labels(&self, h: &SeriesHandle) -> Labels {
        self.head.labels_of(&h.0)
    }

    /// Makes everything logged so far durable.
    pub fn sync(&self) -> Result<()> {
        self.wal.sync()
    }

    /// Applies and logs a batch; the log position to sync to, if anything was logged.
    fn append_logged(&self, input: &Batch<'_>) -> Result<(AppendOutcome, Option<u64>)> {
        let mut out = AppendOutcome::default();
        // Hashing needs no lock; lookups happen under the append lock, which garbage
        // collection also takes, so a series found here stays in the head.
        let keys: Vec<LabelsKey> = input.iter().map(|(pairs, _)| labels_key(pairs.iter().copied())).collect();
        let _g = self.append_lock.lock();
        let mut p = self.begin_append(input.sample_count())?;
        // One index lock for the whole batch, and independent lookups the CPU overlaps.
        let found = self.head.lookup_many(&keys);
        for (((pairs, samples), exemplars), found) in input.iter().zip(input.exemplars()).zip(found) {
            let series = match found {
                Some(s) => s,
                None => match validate(pairs) {
                    Ok(ls) => {
                        let (series, created) = self.head.get_or_create(&ls, None);
                        if created {
                            p.new_series.push((series.wal_ref, ls));
                        }
                        series
                    }
                    Err(error) => {
                        let shown = Labels::from_pairs(
                            pairs.iter().map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
                        )
                        .to_string();
                        out.invalid_series.push(InvalidSeries { labels: shown, error, samples: samples.len() });
                        continue;
                    }
                },
            };
            let mut d = series.data.lock();
            self.apply(&mut p, &mut out, &series, &mut d, samples, exemplars);
        }
        let pos = self.finish_append(p, &mut out)?;
        Ok((out, pos))
    }

    /// Every series matching `matchers` with its samples in `[mint, maxt]`, sorted by labels.
    pub async fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
        let blocks = self.blocks_overlapping(mint, maxt);
        if blocks.is_empty() {
            // Only the head: nothing to merge.
            let mut out: Vec<(Labels, Vec<Sample>)> = self
                .head
                .select_series(matchers)
                .into_iter()
                .map(|(labels, s)| (labels, s.data.lock().samples(mint, maxt)))
                .filter(|(_, s)| !s.is_empty())
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(out);
        }
        let mut parts: BTreeMap<Labels, Vec<Vec<Sample>>> = BTreeMap::new();
        for b in blocks {
            let ids = b.select(matchers, mint, maxt);
            for (labels, samples) in b.samples(&ids, mint, maxt).await? {
                if !samples.is_empty() {
                    parts.entry(labels).or_default().push(samples);
                }
            }
        }
        for (labels, s) in self.head.select_series(matchers) {
            let samples = s.data.lock().samples(mint, maxt);
            if !samples.is_empty() {
                parts.entry(labels).or_default().push(samples);
            }
        }
        Ok(parts.into_iter().map(|(l, p)| (l, merge_by_time(p, |s| s.t))).collect())
    }

    /// Metric metadata (type, help, unit) reported by scrapes, remote write and OTLP.
    pub fn metadata(&self) -> &crate::metadata::MetadataStore {
        &self.metadata
    }

    /// Every series matching `matchers` that has exemplars in `[mint, maxt]`, with them,
    /// sorted by labels.
    pub fn exemplars(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<lantern_core::Exemplar>)> {
        self.exemplars.select(matchers, mint, maxt)
    }

    /// Every series matching `matchers` with its newest sample in `[mint, maxt]` (which
    /// may be a staleness marker), sorted by labels: what an instant query needs. When no
    /// block overlaps the range, the head answers from each series' last append without
    /// decoding chunks.
    pub async fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Sample)>> {
        if !self.blocks_overlapping(mint, maxt).is_empty() {
            let all = self.select(matchers, mint, maxt).await?;
            return Ok(all.into_iter().filter_map(|(l, s)| s.last().map(|x| (l, *x))).collect());
        }
        let mut out: Vec<(Labels, Sample)> = self
            .head
            .select_series(matchers)
            .into_iter()
            .filter_map(|(labels, s)| s.data.lock().last_in(mint, maxt).map(|x| (labels, x)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Label sets of the series matching any of the selectors (each a list of matchers
    /// that must all hold) with data in `[mint, maxt]`, sorted.
    pub fn series(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<Labels> {
        let blocks = self.blocks_overlapping(mint, maxt);
        let mut out: Vec<Labels> = Vec::new();
        for matchers in selectors {
            for b in &blocks {
                out.extend(b.select(matchers, mint, maxt).into_iter().map(|id| b.labels(id).clone()));
            }
            for (labels, s) in self.head.select_series(matchers) {
                if s.data.lock().time_range().is_some_and(|(lo, hi)| lo <= maxt && hi >= mint) {
                    out.push(labels);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Label names of the series matching any selector (every series when there is
    /// none), sorted.
    pub fn label_names(&self, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut names: Vec<String> = if selectors.is_empty() {
            let mut v = self.head.label_names();
            for b in self.blocks_overlapping(mint, maxt) {
                v.extend(b.label_names().map(|s| s.to_string()));
            }
            v
        } else {
            self.series(selectors, mint, maxt).iter().flat_map(|ls| ls.iter().map(|l| l.name.to_string())).collect()
        };
        names.sort();
        names.dedup();
        names
    }

    /// Values of label `name` among the series matching any selector (every series when
    /// there is none), sorted.
    pub fn label_values(&self, name: &str, selectors: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        let mut values: Vec<String> = if selectors.is_empty() {
            let mut v = self.head.label_values(name);
            for b in self.blocks_overlapping(mint, maxt) {
                v.extend(b.label_values(name).map(|s| s.to_string()));
            }
            v
        } else {
            self.series(selectors, mint, maxt).iter().filter_map(|ls| ls.get(name).map(str::to_string)).collect()
        };
        values.sort();
        values.dedup();
        values
    }

    fn blocks_overlapping(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        self.blocks.read().iter().filter(|b| b.overlaps(mint, maxt)).cloned().collect()
    }

    /// The clock the store was opened with.
    pub fn clock(&self) -> &lantern_core::clock::SharedClock {
        &self.opts.clock
    }

    /// Stops taking writes and makes everything logged durable.
    pub fn close(&self) -> Result<()> {
        let _g = self.append_lock.lock();
        self.closed.store(true, Ordering::SeqCst);
        self.wal.sync()
    }

    /// What the head's series are made of, the `limit` largest of each list.
    pub fn head_cardinality(&self, limit: usize) -> crate::postings::Cardinality {
        self.head.cardinality(limit)
    }

    /// The oldest and newest sample times in the head, if it holds any.
    pub fn head_time_range(&self) -> Option<(i64, i64)> {
        self.head
            .series_refs()
            .iter()
            .filter_map(|s| s.data.lock().time_range())
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// Current sizes.
    pub fn stats(&self) -> Stats {
        let blocks = self.blocks.read();
        Stats {
            head_series: self.head.num_series(),
            head_chunks: self.head.series_refs().iter().map(|s| s.data.lock().chunk_count()).sum(),
            blocks: blocks.len(),
            block_bytes: blocks.iter().map(|b| b.meta.size_bytes).sum(),
            block_samples: blocks.iter().map(|b| b.meta.num_samples).sum(),
            wal_bytes: self.wal.disk_size(),
            head_floor: self.head.floor.load(Ordering::SeqCst),
            max_t: self.head.max_t.load(Ordering::SeqCst),
        }
    }
}

/// Checks a label set the head has not seen: UTF-8, then Prometheus's rules.
fn validate(pairs: &[(&[u8], &[u8])]) -> std::result::Result<Labels, lantern_core::Error> {
    let mut labels = Vec::with_capacity(pairs.len());
    for &(n, v) in pairs {
        let name =
            std::str::from_utf8(n).map_err(|_| lantern_core::Error::InvalidUtf8(String::from_utf8_lossy(n).into()))?;
        let value =
            std::str::from_utf8(v).map_err(|_| lantern_core::Error::InvalidUtf8(String::from_utf8_lossy(v).into()))?;
        labels.push(Label::new(name, value));
    }
    Labels::validated(labels)
}

/// Opens every complete block, discarding interrupted writes and blocks that a finished
/// compaction replaced.
async fn load_blocks(store: &Store, frames: &Arc<crate::block::cache::FrameCache>) -> Result<Vec<Arc<Block>>> {
    let mut metas = Vec::new();
    for id in store.list_dirs(BLOCKS_DIR).await? {
        match Block::read_meta(store, &id).await? {
            Some(m) => metas.push(m),
            None => {
                tracing::warn!(block = %id, "removing incomplete block");
                Block::delete(store, &id).await?;
            }
        }
    }
    let replaced: Vec<String> = metas.iter().flat_map(|m| m.sources.iter().cloned()).collect();
    let mut blocks = Vec::new();
    for m in metas {
        if replaced.contains(&m.id) {
            tracing::warn!(block = %m.id, "removing block already merged by compaction");
            Block::delete(store, &m.id).await?;
            continue;
        }
        blocks.push(Arc::new(Block::open(store, m, frames.clone()).await?));
    }
    blocks.sort_by_key(|b| b.meta.min_t);
    Ok(blocks)
}

mod maintain;
#[cfg(test)]
mod tests;
