//! Merging series data: when the head is cut into blocks (in-order chunks plus
//! out-of-order samples) and when blocks are compacted into larger ones.

use lantern_chunk::ChunkIter;

use crate::block::{LoadedBlock, NewSeries};
use crate::head::HeadChunk;
use crate::{Error, Result};

/// Merges ascending lists (by `time`) into one ascending list without repeated times;
/// on equal times the earlier list wins. Used for head, block and query merges alike.
pub fn merge_by_time<T: Copy>(mut parts: Vec<Vec<T>>, time: impl Fn(&T) -> i64) -> Vec<T> {
    parts.retain(|p| !p.is_empty());
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let span = |p: &Vec<T>| (time(&p[0]), time(&p[p.len() - 1]));
    let mut spans: Vec<(i64, i64)> = parts.iter().map(span).collect();
    spans.sort_unstable();
    if spans.windows(2).all(|w| w[0].1 < w[1].0) {
        parts.sort_by_key(|p| time(&p[0]));
        return parts.concat();
    }
    let mut all: Vec<T> = parts.concat();
    // A stable sort keeps the earlier list first among equal times.
    all.sort_by_key(&time);
    all.dedup_by_key(|s| time(s));
    all
}

/// [`merge_by_time`] for `(timestamp, value)` pairs.
pub fn merge_samples(parts: Vec<Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    merge_by_time(parts, |s| s.0)
}

/// The samples of a head series' chunks merged with its loose out-of-order samples
/// (in-order data wins on equal timestamps).
pub fn head_series_samples(chunks: &[HeadChunk], mut loose: Vec<(i64, f64)>) -> Result<Vec<(i64, f64)>> {
    let mut inorder = Vec::with_capacity(chunks.len() * 120);
    for c in chunks {
        for s in ChunkIter::new(&c.data) {
            inorder.push(s.map_err(|e| Error::Corrupt(e.to_string()))?);
        }
    }
    loose.sort_by_key(|s| s.0);
    Ok(merge_samples(vec![inorder, loose]))
}

/// Walks several loaded blocks' series (each sorted by labels) in label order, merging
/// the samples of equal series; earlier blocks win on equal timestamps.
pub struct MergeIter<'a> {
    blocks: &'a [LoadedBlock],
    cursors: Vec<usize>,
}

impl<'a> MergeIter<'a> {
    /// Starts at the first series of every block.
    pub fn new(blocks: &'a [LoadedBlock]) -> Self {
        Self { blocks, cursors: vec![0; blocks.len()] }
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<NewSeries>;

    fn next(&mut self) -> Option<Self::Item> {
        let min = self
            .blocks
            .iter()
            .zip(&self.cursors)
            .filter(|(b, &c)| c < b.len())
            .map(|(b, &c)| b.labels(c))
            .min()?
            .clone();
        let mut parts = Vec::new();
        for (b, c) in self.blocks.iter().zip(self.cursors.iter_mut()) {
            if *c < b.len() && *b.labels(*c) == min {
                match b.samples(*c) {
                    Ok(s) => parts.push(s),
                    Err(e) => return Some(Err(e)),
                }
                *c += 1;
            }
        }
        Some(Ok(NewSeries { labels: min, samples: merge_samples(parts) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_parts_merge_without_duplicates_and_earlier_wins() {
        let a = vec![(1, 1.0), (5, 5.0)];
        let b = vec![(3, 3.0), (5, 50.0), (7, 7.0)];
        let c = vec![(2, 2.0), (7, 70.0)];
        assert_eq!(merge_samples(vec![a, b, c]), vec![(1, 1.0), (2, 2.0), (3, 3.0), (5, 5.0), (7, 7.0)]);
    }

    #[test]
    fn disjoint_parts_concatenate_in_time_order() {
        assert_eq!(
            merge_samples(vec![vec![(5, 5.0)], vec![], vec![(1, 1.0), (2, 2.0)]]),
            vec![(1, 1.0), (2, 2.0), (5, 5.0)]
        );
    }
}
