//! Immutable blocks: the persisted, time-partitioned part of the metrics store.
//!
//! A block is a directory in the [`Store`]: `chunks` (chunk bytes back to back),
//! `index` (see [`index`]) and `meta.json`, written last, so a block without `meta.json`
//! is an interrupted write and is discarded at open. A block's index is held in memory
//! with its postings; chunk bytes are read from the store per query.

pub mod index;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use lantern_chunk::ChunkIter;
use lantern_core::{Labels, Matcher, Sample};
use lantern_objstore::Store;
use serde::{Deserialize, Serialize};

use crate::postings::Postings;
use crate::{Error, Result};
use index::{ChunkMeta, IndexSeries};

/// The object-store folder holding every block.
pub const BLOCKS_DIR: &str = "blocks";

/// A block's `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlockMeta {
    /// The block's folder name.
    pub id: String,
    /// Oldest sample, ms (inclusive).
    pub min_t: i64,
    /// Newest sample, ms (inclusive).
    pub max_t: i64,
    /// Series in the block.
    pub num_series: u64,
    /// Samples in the block.
    pub num_samples: u64,
    /// Chunks in the block.
    pub num_chunks: u64,
    /// 1 for blocks cut from the head, +1 per compaction.
    pub level: u32,
    /// Blocks this one replaces (compaction); they are removed at open if still present.
    pub sources: Vec<String>,
    /// Bytes of `index` plus `chunks`.
    pub size_bytes: u64,
    /// Format version.
    pub version: u32,
}

/// A chunk about to be written.
#[derive(Debug, Clone)]
pub struct NewChunk {
    /// First sample's timestamp.
    pub min_t: i64,
    /// Last sample's timestamp.
    pub max_t: i64,
    /// Encoded bytes (see `lantern_chunk`).
    pub data: Arc<[u8]>,
}

/// One series about to be written: labels and time-ordered, non-overlapping chunks.
#[derive(Debug, Clone)]
pub struct NewSeries {
    /// The series' identity.
    pub labels: Labels,
    /// Its chunks.
    pub chunks: Vec<NewChunk>,
}

static BLOCK_SEQ: AtomicU64 = AtomicU64::new(0);

fn new_block_id(min_t: i64) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seq = BLOCK_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{:013}-{nanos:x}-{seq}", min_t.max(0))
}

fn path(id: &str, file: &str) -> String {
    format!("{BLOCKS_DIR}/{id}/{file}")
}

/// Writes a block from series sorted by labels. Returns its meta, or `None` if there was
/// nothing to write.
pub async fn write(
    store: &Store,
    series: Vec<NewSeries>,
    level: u32,
    sources: Vec<String>,
) -> Result<Option<BlockMeta>> {
    let series: Vec<NewSeries> = series.into_iter().filter(|s| !s.chunks.is_empty()).collect();
    if series.is_empty() {
        return Ok(None);
    }
    debug_assert!(series.windows(2).all(|w| w[0].labels < w[1].labels), "series are sorted and unique");
    let mut chunks_file = Vec::new();
    let mut index_series = Vec::with_capacity(series.len());
    let (mut min_t, mut max_t, mut samples, mut nchunks) = (i64::MAX, i64::MIN, 0u64, 0u64);
    for s in series {
        let mut metas = Vec::with_capacity(s.chunks.len());
        for c in s.chunks {
            metas.push(ChunkMeta {
                min_t: c.min_t,
                max_t: c.max_t,
                offset: chunks_file.len() as u64,
                len: c.data.len() as u32,
            });
            samples += ChunkIter::new(&c.data).len_hint() as u64;
            chunks_file.extend_from_slice(&c.data);
            min_t = min_t.min(c.min_t);
            max_t = max_t.max(c.max_t);
            nchunks += 1;
        }
        index_series.push(IndexSeries { labels: s.labels, chunks: metas });
    }
    let index_bytes = index::encode(&index_series);
    let id = new_block_id(min_t);
    let meta = BlockMeta {
        id: id.clone(),
        min_t,
        max_t,
        num_series: index_series.len() as u64,
        num_samples: samples,
        num_chunks: nchunks,
        level,
        sources,
        size_bytes: (index_bytes.len() + chunks_file.len()) as u64,
        version: 1,
    };
    store.put(&path(&id, "chunks"), Bytes::from(chunks_file)).await?;
    store.put(&path(&id, "index"), Bytes::from(index_bytes)).await?;
    let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Corrupt(format!("block meta: {e}")))?;
    store.put(&path(&id, "meta.json"), Bytes::from(meta_json)).await?;
    Ok(Some(meta))
}

/// An opened block.
#[derive(Debug)]
pub struct Block {
    /// The block's meta.
    pub meta: BlockMeta,
    series: Vec<IndexSeries>,
    postings: Postings,
    store: Store,
}

impl Block {
    /// Reads a block's meta, or `None` if the block is incomplete (no `meta.json`).
    pub async fn read_meta(store: &Store, id: &str) -> Result<Option<BlockMeta>> {
        let p = path(id, "meta.json");
        if !store.exists(&p).await? {
            return Ok(None);
        }
        let b = store.get(&p).await?;
        let meta: BlockMeta =
            serde_json::from_slice(&b).map_err(|e| Error::Corrupt(format!("block {id}: meta.json is invalid: {e}")))?;
        Ok(Some(meta))
    }

    /// Opens a block whose meta was read.
    pub async fn open(store: &Store, meta: BlockMeta) -> Result<Block> {
        let b = store.get(&path(&meta.id, "index")).await?;
        let series = index::decode(&b).map_err(|e| Error::Corrupt(format!("block {}: {e}", meta.id)))?;
        let mut postings = Postings::default();
        for (i, s) in series.iter().enumerate() {
            postings.add(i as u32, &s.labels);
        }
        Ok(Block { meta, series, postings, store: store.clone() })
    }

    /// Whether the block holds data in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_t <= maxt && self.meta.max_t >= mint
    }

    /// Series matching every matcher that have a chunk overlapping `[mint, maxt]`.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<u32> {
        let ids = self.postings.select(matchers, |id| self.series.get(id as usize).map(|s| &s.labels));
        ids.into_iter()
            .filter(|&i| self.series[i as usize].chunks.iter().any(|c| c.min_t <= maxt && c.max_t >= mint))
            .collect()
    }

    /// The labels of series `id` (from [`Block::select`]).
    pub fn labels(&self, id: u32) -> &Labels {
        &self.series[id as usize].labels
    }

    /// All label names.
    pub fn label_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.postings.names()
    }

    /// All values of one label.
    pub fn label_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        self.postings.values(name)
    }

    /// Samples in `[mint, maxt]` of the given series, ascending.
    pub async fn samples(&self, ids: &[u32], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
        let mut wanted: Vec<(u32, ChunkMeta)> = Vec::new();
        for &id in ids {
            for c in &self.series[id as usize].chunks {
                if c.min_t <= maxt && c.max_t >= mint {
                    wanted.push((id, *c));
                }
            }
        }
        let ranges: Vec<Range<u64>> = wanted.iter().map(|(_, c)| c.offset..c.offset + c.len as u64).collect();
        let data = if ranges.is_empty() {
            Vec::new()
        } else {
            self.store.get_ranges(&path(&self.meta.id, "chunks"), &ranges).await?
        };
        let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let mut cur: Option<u32> = None;
        for ((id, _), bytes) in wanted.iter().zip(data) {
            if cur != Some(*id) {
                out.push((self.series[*id as usize].labels.clone(), Vec::new()));
                cur = Some(*id);
            }
            let Some((_, v)) = out.last_mut() else { continue };
            for s in ChunkIter::new(&bytes) {
                let (t, val) = s.map_err(|e| Error::Corrupt(format!("block {}: {e}", self.meta.id)))?;
                if t >= mint && t <= maxt {
                    v.push(Sample::new(t, val));
                }
            }
        }
        Ok(out)
    }

    /// Every series with its chunks' bytes, for compaction.
    pub async fn read_all(&self) -> Result<Vec<NewSeries>> {
        let all = self.store.get(&path(&self.meta.id, "chunks")).await?;
        let mut out = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let mut chunks = Vec::with_capacity(s.chunks.len());
            for c in &s.chunks {
                let end = c.offset as usize + c.len as usize;
                let data = all.get(c.offset as usize..end).ok_or_else(|| {
                    Error::Corrupt(format!("block {}: chunk reference past the end of the file", self.meta.id))
                })?;
                chunks.push(NewChunk { min_t: c.min_t, max_t: c.max_t, data: Arc::from(data) });
            }
            out.push(NewSeries { labels: s.labels.clone(), chunks });
        }
        Ok(out)
    }

    /// Deletes the block's files.
    pub async fn delete(store: &Store, id: &str) -> Result<()> {
        // meta.json first, so an interrupted delete leaves an incomplete block, which
        // open discards.
        let _ = store.delete_prefix(&path(id, "meta.json")).await;
        store.delete_prefix(&format!("{BLOCKS_DIR}/{id}")).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_core::MatchOp;

    #[tokio::test]
    async fn write_open_select_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path()).unwrap();
        let mk = |job: &str, start: i64| NewSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
            chunks: vec![
                NewChunk {
                    min_t: start,
                    max_t: start + 2,
                    data: lantern_chunk::encode(&[(start, 1.0), (start + 2, 2.0)]).into(),
                },
                NewChunk {
                    min_t: start + 10,
                    max_t: start + 10,
                    data: lantern_chunk::encode(&[(start + 10, 3.0)]).into(),
                },
            ],
        };
        let meta = write(&store, vec![mk("a", 0), mk("b", 100)], 1, vec![]).await.unwrap().unwrap();
        assert_eq!((meta.min_t, meta.max_t, meta.num_samples, meta.num_series), (0, 110, 6, 2));
        let m = Block::read_meta(&store, &meta.id).await.unwrap().unwrap();
        let b = Block::open(&store, m).await.unwrap();
        let ids = b.select(&[Matcher::new(MatchOp::Regex, "job", "a|b").unwrap()], 0, 1000);
        assert_eq!(ids.len(), 2);
        let got = b.samples(&ids, 2, 105).await.unwrap();
        assert_eq!(got[0].1.iter().map(|s| s.t).collect::<Vec<_>>(), vec![2, 10]);
        assert_eq!(got[1].1.iter().map(|s| s.t).collect::<Vec<_>>(), vec![100, 102]);
        assert_eq!(b.select(&[Matcher::equal("job", "a")], 50, 60), Vec::<u32>::new());
        Block::delete(&store, &meta.id).await.unwrap();
        assert!(Block::read_meta(&store, &meta.id).await.unwrap().is_none());
    }
}
