//! Merging series data: used when the head is cut into blocks (in-order chunks plus
//! out-of-order samples) and when blocks are compacted into larger ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use lantern_chunk::XorAppender;
use lantern_core::Labels;

use crate::block::{NewChunk, NewSeries};
use crate::head::SAMPLES_PER_CHUNK;
use crate::{Error, Result};

/// Encodes ascending, unique samples into chunks of at most [`SAMPLES_PER_CHUNK`].
pub fn encode_chunks(samples: &[(i64, f64)]) -> Vec<NewChunk> {
    samples
        .chunks(SAMPLES_PER_CHUNK)
        .map(|part| {
            let mut a = XorAppender::new();
            for &(t, v) in part {
                a.append(t, v);
            }
            NewChunk { min_t: part[0].0, max_t: part[part.len() - 1].0, data: Arc::from(a.into_bytes()) }
        })
        .collect()
}

/// Merges chunks (possibly overlapping, from several sources) and loose samples into
/// non-overlapping chunks. On equal timestamps the earlier source wins (chunks in the
/// given order, then loose samples). Chunks that overlap nothing are kept as they are.
pub fn merge_series(mut chunks: Vec<NewChunk>, loose: Vec<(i64, f64)>) -> Result<Vec<NewChunk>> {
    let ordered_disjoint = |c: &[NewChunk]| c.windows(2).all(|w| w[0].max_t < w[1].min_t);
    if loose.is_empty() && ordered_disjoint(&chunks) {
        return Ok(chunks);
    }
    let mut all: Vec<(i64, f64)> = Vec::new();
    for c in chunks.drain(..) {
        all.extend(lantern_chunk::decode(&c.data).map_err(|e| Error::Corrupt(e.to_string()))?);
    }
    all.extend(loose);
    // A stable sort keeps the earlier source first among equal timestamps.
    all.sort_by_key(|s| s.0);
    all.dedup_by_key(|s| s.0);
    Ok(encode_chunks(&all))
}

/// Groups series from several sources by labels and merges each (see [`merge_series`]).
/// Returns series sorted by labels.
pub fn merge_sources(sources: Vec<Vec<NewSeries>>) -> Result<Vec<NewSeries>> {
    let mut by_labels: BTreeMap<Labels, Vec<NewChunk>> = BTreeMap::new();
    for src in sources {
        for s in src {
            by_labels.entry(s.labels).or_default().extend(s.chunks);
        }
    }
    let mut out = Vec::with_capacity(by_labels.len());
    for (labels, mut chunks) in by_labels {
        chunks.sort_by_key(|c| c.min_t);
        out.push(NewSeries { labels, chunks: merge_series(chunks, Vec::new())? });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(s: &[(i64, f64)]) -> NewChunk {
        NewChunk { min_t: s[0].0, max_t: s[s.len() - 1].0, data: lantern_chunk::encode(s).into() }
    }

    #[test]
    fn overlapping_chunks_and_loose_samples_merge_without_duplicates() {
        let a = chunk(&[(1, 1.0), (5, 5.0)]);
        let b = chunk(&[(3, 3.0), (5, 50.0), (7, 7.0)]);
        let merged = merge_series(vec![a, b], vec![(2, 2.0), (7, 70.0)]).unwrap();
        let all: Vec<(i64, f64)> = merged.iter().flat_map(|c| lantern_chunk::decode(&c.data).unwrap()).collect();
        assert_eq!(all, vec![(1, 1.0), (2, 2.0), (3, 3.0), (5, 5.0), (7, 7.0)]);
    }

    #[test]
    fn disjoint_chunks_are_kept_as_is() {
        let a = chunk(&[(1, 1.0)]);
        let b = chunk(&[(3, 3.0)]);
        let merged = merge_series(vec![a.clone(), b], vec![]).unwrap();
        assert!(Arc::ptr_eq(&merged[0].data, &a.data));
    }
}
