//! Immutable blocks: the persisted, time-partitioned part of the metrics store.
//!
//! A block is a directory in the [`Store`]: `chunks` (packed chunks, see
//! `lantern_chunk::packed`, grouped into zstd frames of about 256 KiB), `index` (see
//! [`index`]) and `meta.json`, written last, so a block without `meta.json` is an
//! interrupted write and is discarded at open. A block's index is held in memory with its
//! postings; frames are read from the store per query.

pub(crate) mod cache;
pub mod index;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use lantern_core::{Labels, Matcher, Sample};
use lantern_objstore::Store;
use serde::{Deserialize, Serialize};

use crate::postings::Postings;
use crate::{Error, Result};
use index::{BlockIndex, ChunkMeta, FrameMeta, IndexSeries};

/// The object-store folder holding every block.
pub const BLOCKS_DIR: &str = "blocks";
/// Most samples in one chunk of a block.
pub const BLOCK_CHUNK_SAMPLES: usize = 1024;
/// Uncompressed bytes after which a zstd frame of the chunks file is closed.
const FRAME_BYTES: usize = 256 << 10;
/// zstd level for chunk frames: block writing runs in the background, so spend CPU on size.
/// On the benchmark's fleet data: level 9 with 64 KiB frames 0.715 bytes per sample,
/// level 15 with 256 KiB 0.697, level 19 0.694 (for far more CPU), 1 MiB frames 0.703.
const ZSTD_LEVEL: i32 = 15;

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

/// One series about to be written: labels and its samples, ascending and unique.
#[derive(Debug, Clone)]
pub struct NewSeries {
    /// The series' identity.
    pub labels: Labels,
    /// Its samples.
    pub samples: Vec<(i64, f64)>,
}

/// A block's files, built in memory and ready to be put.
pub struct BuiltBlock {
    meta: BlockMeta,
    chunks: Vec<u8>,
    index: Vec<u8>,
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

/// Builds a block from series sorted by labels (CPU work: run it off async threads).
/// Returns `None` when there is no sample to write.
pub fn build(
    series: impl Iterator<Item = Result<NewSeries>>,
    level: u32,
    sources: Vec<String>,
) -> Result<Option<BuiltBlock>> {
    let mut chunks_file: Vec<u8> = Vec::new();
    let mut frame: Vec<u8> = Vec::with_capacity(FRAME_BYTES + 4096);
    let mut index = BlockIndex::default();
    let (mut min_t, mut max_t, mut samples, mut nchunks) = (i64::MAX, i64::MIN, 0u64, 0u64);
    let close_frame = |frame: &mut Vec<u8>, chunks_file: &mut Vec<u8>, frames: &mut Vec<FrameMeta>| -> Result<()> {
        let c = zstd::bulk::compress(frame, ZSTD_LEVEL).map_err(|e| Error::Corrupt(format!("zstd: {e}")))?;
        frames.push(FrameMeta { offset: chunks_file.len() as u64, clen: c.len() as u32, ulen: frame.len() as u32 });
        chunks_file.extend_from_slice(&c);
        frame.clear();
        Ok(())
    };
    for s in series {
        let s = s?;
        if s.samples.is_empty() {
            continue;
        }
        debug_assert!(index.series.last().is_none_or(|l| l.labels < s.labels), "series are sorted and unique");
        let mut metas = Vec::with_capacity(s.samples.len().div_ceil(BLOCK_CHUNK_SAMPLES));
        for part in s.samples.chunks(BLOCK_CHUNK_SAMPLES) {
            let bytes = lantern_chunk::packed::encode(part);
            if !frame.is_empty() && frame.len() + bytes.len() > FRAME_BYTES {
                close_frame(&mut frame, &mut chunks_file, &mut index.frames)?;
            }
            let (lo, hi) = (part[0].0, part[part.len() - 1].0);
            metas.push(ChunkMeta {
                min_t: lo,
                max_t: hi,
                frame: index.frames.len() as u32,
                offset: frame.len() as u32,
                len: bytes.len() as u32,
            });
            frame.extend_from_slice(&bytes);
            min_t = min_t.min(lo);
            max_t = max_t.max(hi);
            samples += part.len() as u64;
            nchunks += 1;
        }
        index.series.push(IndexSeries { labels: s.labels, chunks: metas });
    }
    if index.series.is_empty() {
        return Ok(None);
    }
    if !frame.is_empty() {
        close_frame(&mut frame, &mut chunks_file, &mut index.frames)?;
    }
    let index_bytes = index::encode(&index);
    let meta = BlockMeta {
        id: new_block_id(min_t),
        min_t,
        max_t,
        num_series: index.series.len() as u64,
        num_samples: samples,
        num_chunks: nchunks,
        level,
        sources,
        size_bytes: (index_bytes.len() + chunks_file.len()) as u64,
        version: 2,
    };
    Ok(Some(BuiltBlock { meta, chunks: chunks_file, index: index_bytes }))
}

/// Puts a built block's files, `meta.json` last.
pub async fn put(store: &Store, b: BuiltBlock) -> Result<BlockMeta> {
    let id = b.meta.id.clone();
    store.put(&path(&id, "chunks"), Bytes::from(b.chunks)).await?;
    store.put(&path(&id, "index"), Bytes::from(b.index)).await?;
    let meta_json = serde_json::to_vec_pretty(&b.meta).map_err(|e| Error::Corrupt(format!("block meta: {e}")))?;
    store.put(&path(&id, "meta.json"), Bytes::from(meta_json)).await?;
    Ok(b.meta)
}

/// An opened block.
#[derive(Debug)]
pub struct Block {
    /// The block's meta.
    pub meta: BlockMeta,
    /// The id as the frame cache's key.
    cache_id: Arc<str>,
    /// The store's cache of decompressed frames.
    cache: Arc<cache::FrameCache>,
    index: BlockIndex,
    postings: Postings,
    store: Store,
}

/// A block with every frame decompressed, for compaction.
pub struct LoadedBlock {
    block: Arc<Block>,
    frames: Vec<Vec<u8>>,
}

impl LoadedBlock {
    /// Number of series.
    pub fn len(&self) -> usize {
        self.block.index.series.len()
    }

    /// Whether the block has no series.
    pub fn is_empty(&self) -> bool {
        self.block.index.series.is_empty()
    }

    /// Labels of series `i`.
    pub fn labels(&self, i: usize) -> &Labels {
        &self.block.index.series[i].labels
    }

    /// All samples of series `i`.
    pub fn samples(&self, i: usize) -> Result<Vec<(i64, f64)>> {
        let mut out = Vec::new();
        for c in &self.block.index.series[i].chunks {
            out.extend(decode_chunk(&self.block.meta.id, &self.frames[c.frame as usize], c)?);
        }
        Ok(out)
    }
}

fn decode_chunk(id: &str, frame: &[u8], c: &ChunkMeta) -> Result<Vec<(i64, f64)>> {
    let bytes = frame
        .get(c.offset as usize..c.offset as usize + c.len as usize)
        .ok_or_else(|| Error::Corrupt(format!("block {id}: chunk lies outside its frame")))?;
    lantern_chunk::packed::decode(bytes).map_err(|e| Error::Corrupt(format!("block {id}: {e}")))
}

fn decompress(id: &str, data: &[u8], f: &FrameMeta) -> Result<Vec<u8>> {
    zstd::bulk::decompress(data, f.ulen as usize).map_err(|e| Error::Corrupt(format!("block {id}: frame: {e}")))
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
    pub(crate) async fn open(store: &Store, meta: BlockMeta, cache: Arc<cache::FrameCache>) -> Result<Block> {
        let b = store.get(&path(&meta.id, "index")).await?;
        let index = index::decode(&b).map_err(|e| Error::Corrupt(format!("block {}: {e}", meta.id)))?;
        let mut postings = Postings::default();
        for (i, s) in index.series.iter().enumerate() {
            postings.add_labels(i as u32, &s.labels);
        }
        Ok(Block { cache_id: meta.id.as_str().into(), cache, meta, index, postings, store: store.clone() })
    }

    /// Whether the block holds data in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_t <= maxt && self.meta.max_t >= mint
    }

    /// Series matching every matcher that have a chunk overlapping `[mint, maxt]`.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<u32> {
        let ids = self.postings.select(matchers);
        ids.into_iter()
            .filter(|&i| self.index.series[i as usize].chunks.iter().any(|c| c.min_t <= maxt && c.max_t >= mint))
            .collect()
    }

    /// The labels of series `id` (from [`Block::select`]).
    pub fn labels(&self, id: u32) -> &Labels {
        &self.index.series[id as usize].labels
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
            for c in &self.index.series[id as usize].chunks {
                if c.min_t <= maxt && c.max_t >= mint {
                    wanted.push((id, *c));
                }
            }
        }
        let mut frame_ids: Vec<u32> = wanted.iter().map(|(_, c)| c.frame).collect();
        frame_ids.sort_unstable();
        frame_ids.dedup();
        let cache = &self.cache;
        let mut frames: BTreeMap<u32, Arc<Vec<u8>>> = BTreeMap::new();
        frame_ids.retain(|&f| match cache.get(&self.cache_id, f) {
            Some(d) => {
                frames.insert(f, d);
                false
            }
            None => true,
        });
        let ranges: Vec<Range<u64>> = frame_ids
            .iter()
            .map(|&f| {
                let m = &self.index.frames[f as usize];
                m.offset..m.offset + m.clen as u64
            })
            .collect();
        let raw = if ranges.is_empty() {
            Vec::new()
        } else {
            self.store.get_ranges(&path(&self.meta.id, "chunks"), &ranges).await?
        };
        for (f, data) in frame_ids.iter().zip(raw) {
            let d = Arc::new(decompress(&self.meta.id, &data, &self.index.frames[*f as usize])?);
            cache.insert(&self.cache_id, *f, d.clone());
            frames.insert(*f, d);
        }
        let mut out: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let mut cur: Option<u32> = None;
        for (id, c) in &wanted {
            if cur != Some(*id) {
                out.push((self.index.series[*id as usize].labels.clone(), Vec::new()));
                cur = Some(*id);
            }
            let Some((_, v)) = out.last_mut() else { continue };
            let frame = frames.get(&c.frame).map(|f| f.as_slice()).unwrap_or_default();
            for (t, val) in decode_chunk(&self.meta.id, frame, c)? {
                if t >= mint && t <= maxt {
                    v.push(Sample::new(t, val));
                }
            }
        }
        Ok(out)
    }

    /// Reads and decompresses the whole block, for compaction.
    pub async fn load(self: &Arc<Self>) -> Result<LoadedBlock> {
        let all = self.store.get(&path(&self.meta.id, "chunks")).await?;
        let mut frames = Vec::with_capacity(self.index.frames.len());
        for f in &self.index.frames {
            let data = all.get(f.offset as usize..f.offset as usize + f.clen as usize).ok_or_else(|| {
                Error::Corrupt(format!("block {}: frame lies past the end of the file", self.meta.id))
            })?;
            frames.push(decompress(&self.meta.id, data, f)?);
        }
        Ok(LoadedBlock { block: self.clone(), frames })
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
        let mk = |job: &str, start: i64, n: i64| NewSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
            samples: (0..n).map(|i| (start + i, ((i * 7919) % 100_003) as f64 / 10.0)).collect(),
        };
        // Enough samples for several chunks and frames.
        let series = vec![mk("a", 0, 3000), mk("b", 100, 200_000)];
        let built = build(series.into_iter().map(Ok), 1, vec![]).unwrap().unwrap();
        let meta = put(&store, built).await.unwrap();
        assert_eq!((meta.min_t, meta.max_t, meta.num_samples, meta.num_series), (0, 200_099, 203_000, 2));
        let m = Block::read_meta(&store, &meta.id).await.unwrap().unwrap();
        let b = Arc::new(Block::open(&store, m, Arc::new(cache::FrameCache::new(1 << 20))).await.unwrap());
        assert!(b.index.frames.len() > 1);
        let ids = b.select(&[Matcher::new(MatchOp::Regex, "job", "a|b").unwrap()], 0, 1_000_000);
        assert_eq!(ids.len(), 2);
        let got = b.samples(&ids, 2990, 150_000).await.unwrap();
        assert_eq!(got[0].1.iter().map(|s| s.t).collect::<Vec<_>>(), (2990..3000).collect::<Vec<_>>());
        assert_eq!(got[1].1.len(), 150_000 - 2990 + 1);
        assert_eq!(got[1].1[5].v, (((2990 - 100 + 5) * 7919) % 100_003) as f64 / 10.0);
        assert_eq!(b.select(&[Matcher::equal("job", "a")], 5000, 6000), Vec::<u32>::new());
        let loaded = b.load().await.unwrap();
        assert_eq!(loaded.samples(1).unwrap().len(), 200_000);
        Block::delete(&store, &meta.id).await.unwrap();
        assert!(Block::read_meta(&store, &meta.id).await.unwrap().is_none());
    }
}
