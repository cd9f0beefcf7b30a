//! Housekeeping of the metrics store: cutting the head into blocks, compacting blocks,
//! retention, and deleting retired blocks once unused.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use lantern_core::Labels;

use super::{align_down, Tsdb};
use crate::block::{self, Block, NewSeries};
use crate::compact::{head_series_samples, MergeIter};
use crate::head::{HeadChunk, MemSeries};
use crate::record::Record;
use crate::{ms, Result};

/// One series' in-order chunks and loose out-of-order samples in one block window.
type WindowData = (Vec<HeadChunk>, Vec<(i64, f64)>);
/// [`WindowData`] with the series' labels.
type WindowSeries = (Labels, Vec<HeadChunk>, Vec<(i64, f64)>);

/// Runs CPU-heavy work (encoding, compression) on the blocking pool.
async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| crate::Error::Corrupt(format!("background task failed: {e}")))?
}

impl Tsdb {
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
        // Labels are built and sorted only for the series with something to persist.
        let mut below = Vec::new();
        for s in self.head.series_refs() {
            let (chunks, ooo, seen) = s.data.lock().snapshot_below(floor);
            if !chunks.is_empty() || !ooo.is_empty() {
                below.push((self.head.labels_of(&s), s, chunks, ooo, seen));
            }
        }
        if below.is_empty() {
            // Nothing lies below the new floor: no block to write, and the log (whose
            // replay starts from the last checkpoint's floor) still holds everything.
            return Ok(());
        }
        below.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, s, chunks, ooo, seen) in below {
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
                written.push(Arc::new(Block::open(&self.store, meta, self.frames.clone()).await?));
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
        if let Some(r) = self.opts.retention_time {
            self.exemplars.expire(self.head.max_t.load(std::sync::atomic::Ordering::SeqCst).saturating_sub(ms(r)));
        }
        let exemplars = self.exemplars.dump();
        self.wal.checkpoint(floor, first_segment, &[Record::Series(live), Record::LabeledExemplars(exemplars)])?;
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
                Some(Arc::new(Block::open(&self.store, meta, self.frames.clone()).await?))
            }
            None => None,
        };
        self.replace_blocks(&ids, new).await?;
        lantern_core::selfmon::compacted(lantern_core::selfmon::signal::METRICS);
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
        lantern_core::selfmon::retention_deleted(lantern_core::selfmon::signal::METRICS, doomed.len() as u64);
        tracing::info!(blocks = doomed.len(), "blocks removed by retention");
        Ok(())
    }
}
