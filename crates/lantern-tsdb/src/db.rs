//! [`Tsdb`]: the head, the write-ahead log and the blocks, kept in step.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lantern_core::{Label, Labels, Matcher, Sample};
use lantern_objstore::Store;
use parking_lot::{Mutex, RwLock};

use crate::batch::{labels_key, Batch, LabelsKey};
use crate::block::{self, Block, NewSeries, BLOCKS_DIR};
use crate::compact::{head_series_samples, merge_by_time, MergeIter};
use crate::head::{AppendBounds, Head, HeadChunk, MemSeries, Rejection, Verdict};
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
}

/// Sizes, for status pages and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Series in the head.
    pub head_series: usize,
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
    opts: Options,
}

/// One series' in-order chunks and loose out-of-order samples in one block window.
type WindowData = (Vec<HeadChunk>, Vec<(i64, f64)>);
/// [`WindowData`] with the series' labels.
type WindowSeries = (Labels, Vec<HeadChunk>, Vec<(i64, f64)>);

/// Runs CPU-heavy work (encoding, compression) on the blocking pool.
async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| crate::Error::Corrupt(format!("background task failed: {e}")))?
}

fn align_down(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range
}

impl Tsdb {
    /// Opens the store: blocks from `store`, the log from `wal_dir` (replayed into the head).
    pub async fn open(wal_dir: &Path, store: Store, opts: Options) -> Result<Tsdb> {
        let blocks = load_blocks(&store).await?;
        let head = Head::default();
        let (mut floor, mut first_segment) = (i64::MIN, 0u64);
        let block_range = ms(opts.block_range);
        let mut refs: HashMap<u64, Arc<MemSeries>> = HashMap::new();
        let (mut n_samples, mut max_t, mut ooo_below) = (0u64, i64::MIN, false);
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
        let mut out = AppendOutcome::default();
        // Hashing needs no lock; lookups happen under the append lock, which garbage
        // collection also takes, so a series found here stays in the head.
        let keys: Vec<LabelsKey> = input.iter().map(|(pairs, _)| labels_key(pairs.iter().copied())).collect();
        let pos = {
            let _g = self.append_lock.lock();
            if self.closed.load(Ordering::SeqCst) {
                return Err(crate::Error::Closed);
            }
            let head_max = self.head.max_t.load(Ordering::SeqCst);
            let floor = self.head.floor.load(Ordering::SeqCst);
            let window = ms(self.opts.out_of_order_window);
            let bounds = AppendBounds {
                floor,
                oldest: if head_max == i64::MIN { i64::MIN } else { head_max.saturating_sub(window) },
                block_range: ms(self.opts.block_range),
            };
            let mut new_series = Vec::new();
            let mut accepted = Vec::with_capacity(input.sample_count());
            let mut batch_max = i64::MIN;
            let mut below_floor = false;
            // One index lock for the whole batch, and independent lookups the CPU overlaps.
            let found = self.head.lookup_many(&keys);
            for ((pairs, samples), found) in input.iter().zip(found) {
                let series = match found {
                    Some(s) => s,
                    None => match validate(pairs) {
                        Ok(ls) => {
                            let (series, created) = self.head.get_or_create(&ls, None);
                            if created {
                                new_series.push((series.wal_ref, ls));
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
                for s in samples.iter().copied() {
                    match d.append(s.t, s.v, bounds) {
                        Verdict::Appended => {
                            accepted.push(RefSample { series: series.wal_ref, t: s.t, v: s.v });
                            batch_max = batch_max.max(s.t);
                            below_floor |= s.t < floor;
                        }
                        Verdict::AlreadyStored => out.already_stored += 1,
                        Verdict::Rejected(reason) => {
                            out.rejected.push(RejectedSample { labels: self.head.labels_of(&series), t: s.t, reason })
                        }
                    }
                }
            }
            out.appended = accepted.len();
            if new_series.is_empty() && accepted.is_empty() {
                return Ok(out);
            }
            let mut buf = Vec::with_capacity(accepted.len() * 12 + 64);
            if !new_series.is_empty() {
                frame(&Record::Series(new_series), &mut buf);
            }
            if !accepted.is_empty() {
                frame(&Record::Samples(accepted), &mut buf);
            }
            let pos = self.wal.write(&buf, batch_max)?;
            self.head.max_t.fetch_max(batch_max, Ordering::SeqCst);
            if below_floor {
                self.ooo_below_floor.store(true, Ordering::SeqCst);
            }
            pos
        };
        self.wal.sync_to(pos)?;
        Ok(out)
    }

    /// Every series matching `matchers` with its samples in `[mint, maxt]`, sorted by labels.
    pub async fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
        let mut parts: BTreeMap<Labels, Vec<Vec<Sample>>> = BTreeMap::new();
        for b in self.blocks_overlapping(mint, maxt) {
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

    /// One round of housekeeping: cut the head into blocks, compact, apply retention.
    pub async fn maintain(&self) -> Result<()> {
        let _g = self.maintain_lock.lock().await;
        self.cut_head().await?;
        while self.compact_once().await? {}
        self.apply_retention().await
    }

    /// Persists everything in the head into blocks now (not only what is old enough),
    /// then compacts and applies retention. Later samples at or before the newest time
    /// stored so far are accepted as out-of-order ones.
    pub async fn flush(&self) -> Result<()> {
        let _g = self.maintain_lock.lock().await;
        let max_t = self.head.max_t.load(Ordering::SeqCst);
        if max_t != i64::MIN {
            self.cut_head_at(max_t.saturating_add(1)).await?;
        }
        while self.compact_once().await? {}
        self.apply_retention().await
    }

    /// Cuts the head at the usual floor: block-range aligned, half a block behind the
    /// newest sample (so the head keeps between one half and one and a half blocks).
    async fn cut_head(&self) -> Result<()> {
        let max_t = self.head.max_t.load(Ordering::SeqCst);
        if max_t == i64::MIN {
            return Ok(());
        }
        let range = ms(self.opts.block_range);
        self.cut_head_at(align_down(max_t.saturating_sub(range / 2), range)).await
    }

    /// Persists every head sample older than `target` (or the current floor, if higher)
    /// into blocks, then drops them from the head and checkpoints the log.
    async fn cut_head_at(&self, target: i64) -> Result<()> {
        let range = ms(self.opts.block_range);
        let (floor, first_segment) = {
            let _g = self.append_lock.lock();
            let old = self.head.floor.load(Ordering::SeqCst);
            let pending = self.ooo_below_floor.swap(false, Ordering::SeqCst);
            if target <= old && !pending {
                return Ok(());
            }
            let floor = target.max(old);
            self.head.floor.store(floor, Ordering::SeqCst);
            (floor, self.wal.rotate()?)
        };
        // Snapshot what lies below the floor, grouped by block-range window.
        let mut windows: BTreeMap<i64, Vec<WindowSeries>> = BTreeMap::new();
        let mut taken: Vec<(Arc<MemSeries>, usize)> = Vec::new();
        let mut series = self.head.all_series();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, s) in series {
            let (chunks, ooo, seen) = s.data.lock().snapshot_below(floor);
            if chunks.is_empty() && ooo.is_empty() {
                continue;
            }
            let mut per_window: BTreeMap<i64, WindowData> = BTreeMap::new();
            for c in chunks {
                per_window.entry(align_down(c.min_t, range)).or_default().0.push(c);
            }
            for (t, v) in ooo {
                per_window.entry(align_down(t, range)).or_default().1.push((t, v));
            }
            for (w, (chunks, loose)) in per_window {
                windows.entry(w).or_default().push((labels.clone(), chunks, loose));
            }
            taken.push((s, seen));
        }
        let mut written = Vec::new();
        for (_, series) in windows {
            let built = run_blocking(move || {
                let it = series.into_iter().map(|(labels, chunks, loose)| {
                    head_series_samples(&chunks, loose).map(|samples| NewSeries { labels, samples })
                });
                block::build(it, 1, Vec::new())
            })
            .await?;
            if let Some(b) = built {
                let meta = block::put(&self.store, b).await?;
                written.push(Arc::new(Block::open(&self.store, meta).await?));
            }
        }
        let n_blocks = written.len();
        self.blocks.write().extend(written);
        for (s, seen) in taken {
            s.data.lock().release_below(floor, seen);
        }
        let live = {
            let _g = self.append_lock.lock();
            self.head.gc();
            self.head.all_series().into_iter().map(|(labels, s)| (s.wal_ref, labels)).collect::<Vec<_>>()
        };
        self.wal.checkpoint(floor, first_segment, Record::Series(live))?;
        tracing::info!(floor, blocks = n_blocks, head_series = self.head.num_series(), "head cut into blocks");
        Ok(())
    }

    /// Compaction levels: block range × 3, × 9, … up to the maximum block span.
    fn levels(&self) -> Vec<i64> {
        let base = ms(self.opts.block_range);
        let max = self.opts.retention_time.map_or(31 * 24 * 3_600_000, |r| (ms(r) / 10).min(31 * 24 * 3_600_000));
        let mut v = Vec::new();
        let mut r = base * 3;
        while r <= max.max(base * 3) {
            v.push(r);
            r *= 3;
        }
        v
    }

    /// Merges one group of blocks if any is ready; returns whether it did.
    async fn compact_once(&self) -> Result<bool> {
        let floor = self.head.floor.load(Ordering::SeqCst);
        let blocks = self.blocks.read().clone();
        for r in self.levels() {
            let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
            for b in &blocks {
                if b.meta.max_t - b.meta.min_t < r && align_down(b.meta.min_t, r) == align_down(b.meta.max_t, r) {
                    groups.entry(align_down(b.meta.min_t, r)).or_default().push(b.clone());
                }
            }
            // A window is complete once the head floor has passed its end.
            let ready = groups.into_iter().find(|(w, g)| g.len() > 1 && w + r <= floor);
            if let Some((_, group)) = ready {
                self.merge_blocks(group).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn merge_blocks(&self, mut group: Vec<Arc<Block>>) -> Result<()> {
        // A fixed order (block ids start with their oldest timestamp) keeps the merge
        // deterministic when blocks disagree on a timestamp.
        group.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        let mut loaded = Vec::with_capacity(group.len());
        for b in &group {
            loaded.push(b.load().await?);
        }
        let level = group.iter().map(|b| b.meta.level).max().unwrap_or(1) + 1;
        let ids: Vec<String> = group.iter().map(|b| b.meta.id.clone()).collect();
        let sources = ids.clone();
        let built = run_blocking(move || block::build(MergeIter::new(&loaded), level, sources)).await?;
        let new = match built {
            Some(b) => {
                let meta = block::put(&self.store, b).await?;
                Some(Arc::new(Block::open(&self.store, meta).await?))
            }
            None => None,
        };
        self.replace_blocks(&ids, new).await?;
        tracing::info!(sources = ids.len(), level, "blocks compacted");
        Ok(())
    }

    /// Swaps blocks in one step (queries see the old set or the new one), then deletes
    /// the removed blocks' files once no query still reads them.
    async fn replace_blocks(&self, remove: &[String], add: Option<Arc<Block>>) -> Result<()> {
        let removed: Vec<Arc<Block>> = {
            let mut bl = self.blocks.write();
            let (gone, keep): (Vec<_>, Vec<_>) = bl.drain(..).partition(|b| remove.contains(&b.meta.id));
            *bl = keep;
            bl.extend(add);
            bl.sort_by_key(|b| b.meta.min_t);
            gone
        };
        self.retired.lock().extend(removed);
        self.delete_retired().await
    }

    /// Deletes the files of retired blocks that no query holds any more; the others wait
    /// for the next maintenance round.
    async fn delete_retired(&self) -> Result<()> {
        let unused: Vec<String> = {
            let mut r = self.retired.lock();
            // Retired blocks are out of the block list, so no new reader can take them:
            // a count of one (this list) stays one.
            let (unused, busy): (Vec<_>, Vec<_>) = r.drain(..).partition(|b| Arc::strong_count(b) == 1);
            *r = busy;
            unused.iter().map(|b| b.meta.id.clone()).collect()
        };
        for id in &unused {
            Block::delete(&self.store, id).await?;
        }
        Ok(())
    }

    async fn apply_retention(&self) -> Result<()> {
        let mut doomed: Vec<String> = Vec::new();
        {
            let blocks = self.blocks.read();
            let newest = blocks
                .iter()
                .map(|b| b.meta.max_t)
                .max()
                .unwrap_or(i64::MIN)
                .max(self.head.max_t.load(Ordering::SeqCst));
            if let Some(rt) = self.opts.retention_time {
                let cutoff = newest.saturating_sub(ms(rt));
                doomed.extend(blocks.iter().filter(|b| b.meta.max_t < cutoff).map(|b| b.meta.id.clone()));
            }
            if let Some(limit) = self.opts.retention_size {
                let mut total: u64 = blocks.iter().map(|b| b.meta.size_bytes).sum::<u64>() + self.wal.disk_size();
                let mut by_age: Vec<&Arc<Block>> = blocks.iter().collect();
                by_age.sort_by_key(|b| b.meta.max_t);
                for b in by_age {
                    if total <= limit {
                        break;
                    }
                    total = total.saturating_sub(b.meta.size_bytes);
                    if !doomed.contains(&b.meta.id) {
                        doomed.push(b.meta.id.clone());
                    }
                }
            }
        }
        if doomed.is_empty() {
            return self.delete_retired().await;
        }
        self.replace_blocks(&doomed, None).await?;
        tracing::info!(blocks = doomed.len(), "blocks removed by retention");
        Ok(())
    }

    /// Stops taking writes and makes everything logged durable.
    pub fn close(&self) -> Result<()> {
        let _g = self.append_lock.lock();
        self.closed.store(true, Ordering::SeqCst);
        self.wal.sync()
    }

    /// Current sizes.
    pub fn stats(&self) -> Stats {
        let blocks = self.blocks.read();
        Stats {
            head_series: self.head.num_series(),
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
async fn load_blocks(store: &Store) -> Result<Vec<Arc<Block>>> {
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
        blocks.push(Arc::new(Block::open(store, m).await?));
    }
    blocks.sort_by_key(|b| b.meta.min_t);
    Ok(blocks)
}

#[cfg(test)]
mod tests;
