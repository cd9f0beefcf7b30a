//! The byte format of a block's index file (pure code).
//!
//! Layout before compression: magic `LIDX`, format version byte, the frame table of the
//! chunks file (compressed and uncompressed length of each zstd frame), a sorted symbol
//! table (every label name and value once), then the series in label order, each as
//! symbol pairs and chunk references (frame, offset and length inside the frame). The
//! whole is zstd-compressed, followed by a CRC-32 of the compressed bytes and the
//! uncompressed length.

use std::sync::Arc;

use lantern_core::{Label, Labels};

use crate::record::{put_uvarint, put_varint, Decoder};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"LIDX";
const VERSION: u8 = 2;

/// One zstd frame of the chunks file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Byte offset in the chunks file.
    pub offset: u64,
    /// Compressed length.
    pub clen: u32,
    /// Uncompressed length.
    pub ulen: u32,
}

/// Where one chunk of a series lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub min_t: i64,
    /// Last sample's timestamp.
    pub max_t: i64,
    /// The frame holding it.
    pub frame: u32,
    /// Byte offset inside the uncompressed frame.
    pub offset: u32,
    /// Byte length.
    pub len: u32,
}

/// One series of a block: its labels and its chunks in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSeries {
    /// The series' identity.
    pub labels: Labels,
    /// Its chunks, ascending and non-overlapping.
    pub chunks: Vec<ChunkMeta>,
}

/// A decoded index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlockIndex {
    /// The frames of the chunks file.
    pub frames: Vec<FrameMeta>,
    /// The series, sorted by labels.
    pub series: Vec<IndexSeries>,
}

/// Encodes an index; series must be sorted by labels.
pub fn encode(index: &BlockIndex) -> Vec<u8> {
    let mut symbols: Vec<&str> =
        index.series.iter().flat_map(|s| s.labels.iter()).flat_map(|l| [&*l.name, &*l.value]).collect();
    symbols.sort_unstable();
    symbols.dedup();
    let sym_id = |s: &str| symbols.binary_search(&s).unwrap_or(0) as u64;
    let mut raw = Vec::new();
    raw.extend_from_slice(MAGIC);
    raw.push(VERSION);
    put_uvarint(&mut raw, index.frames.len() as u64);
    for f in &index.frames {
        put_uvarint(&mut raw, f.clen as u64);
        put_uvarint(&mut raw, f.ulen as u64);
    }
    put_uvarint(&mut raw, symbols.len() as u64);
    for s in &symbols {
        put_uvarint(&mut raw, s.len() as u64);
        raw.extend_from_slice(s.as_bytes());
    }
    put_uvarint(&mut raw, index.series.len() as u64);
    let mut prev_frame = 0u32;
    for s in &index.series {
        put_uvarint(&mut raw, s.labels.len() as u64);
        for l in &s.labels {
            put_uvarint(&mut raw, sym_id(&l.name));
            put_uvarint(&mut raw, sym_id(&l.value));
        }
        put_uvarint(&mut raw, s.chunks.len() as u64);
        let mut prev_max = 0i64;
        for c in &s.chunks {
            put_varint(&mut raw, c.min_t.wrapping_sub(prev_max));
            put_uvarint(&mut raw, c.max_t.wrapping_sub(c.min_t) as u64);
            put_uvarint(&mut raw, c.frame.wrapping_sub(prev_frame) as u64);
            put_uvarint(&mut raw, c.offset as u64);
            put_uvarint(&mut raw, c.len as u64);
            prev_max = c.max_t;
            prev_frame = c.frame;
        }
    }
    let mut out = zstd::bulk::compress(&raw, 3).unwrap_or_default();
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("index file: {what}"))
}

/// Decodes an index file's bytes.
pub fn decode(bytes: &[u8]) -> Result<BlockIndex> {
    if bytes.len() < 12 {
        return Err(corrupt("too short"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 12);
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let mut raw_len = [0u8; 8];
    raw_len.copy_from_slice(&tail[4..12]);
    let raw_len = u64::from_le_bytes(raw_len);
    if raw_len > 1 << 34 {
        return Err(corrupt("announces an impossible size"));
    }
    let raw = zstd::bulk::decompress(body, raw_len as usize).map_err(|e| corrupt(&e.to_string()))?;
    let mut d = Decoder::new(&raw);
    if d.bytes(4)? != MAGIC {
        return Err(corrupt("bad magic number"));
    }
    let v = d.byte()?;
    if v != VERSION {
        return Err(corrupt(&format!("format version {v} is not supported")));
    }
    let nframes = d.length()?;
    let mut frames = Vec::with_capacity(nframes);
    let mut offset = 0u64;
    for _ in 0..nframes {
        let clen = u32::try_from(d.uvarint()?).map_err(|_| corrupt("frame length is too large"))?;
        let ulen = u32::try_from(d.uvarint()?).map_err(|_| corrupt("frame length is too large"))?;
        frames.push(FrameMeta { offset, clen, ulen });
        offset += clen as u64;
    }
    let nsym = d.length()?;
    let mut symbols: Vec<Arc<str>> = Vec::with_capacity(nsym);
    for _ in 0..nsym {
        symbols.push(Arc::from(d.str()?));
    }
    let sym = |i: u64| symbols.get(i as usize).cloned().ok_or_else(|| corrupt(&format!("symbol {i} is out of range")));
    let nseries = d.length()?;
    let mut series = Vec::with_capacity(nseries);
    let mut prev_frame = 0u32;
    for _ in 0..nseries {
        let nl = d.length()?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = sym(d.uvarint()?)?;
            let value = sym(d.uvarint()?)?;
            labels.push(Label { name, value });
        }
        if labels.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(corrupt("series labels are not sorted"));
        }
        let nc = d.length()?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev_max = 0i64;
        for _ in 0..nc {
            let min_t = prev_max.wrapping_add(d.varint()?);
            let max_t = min_t.wrapping_add(d.uvarint()? as i64);
            let frame = u32::try_from(d.uvarint()?)
                .ok()
                .and_then(|f| prev_frame.checked_add(f))
                .ok_or_else(|| corrupt("frame number overflows"))?;
            let offset = u32::try_from(d.uvarint()?).map_err(|_| corrupt("chunk offset is too large"))?;
            let len = u32::try_from(d.uvarint()?).map_err(|_| corrupt("chunk length is too large"))?;
            let fits = frames.get(frame as usize).is_some_and(|f| offset as u64 + len as u64 <= f.ulen as u64);
            if !fits {
                return Err(corrupt("chunk reference lies outside its frame"));
            }
            chunks.push(ChunkMeta { min_t, max_t, frame, offset, len });
            prev_max = max_t;
            prev_frame = frame;
        }
        series.push(IndexSeries { labels: Labels::from_sorted_unchecked(labels), chunks });
    }
    if !d.done() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(BlockIndex { frames, series })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(n in 0usize..50, nchunks in 0usize..5, base in -1_000_000i64..1_000_000_000_000) {
            let frames: Vec<FrameMeta> = (0..(n * nchunks / 7 + 1) as u64)
                .map(|i| FrameMeta { offset: i * 100, clen: 100, ulen: 1000 })
                .collect();
            let mut k = 0u32;
            let mut series: Vec<IndexSeries> = (0..n).map(|i| {
                let labels = Labels::from_pairs([("__name__".to_string(), format!("m{}", i % 7)), ("i".to_string(), i.to_string())]);
                let chunks = (0..nchunks).map(|c| {
                    k += 1;
                    ChunkMeta { min_t: base + c as i64 * 1000, max_t: base + c as i64 * 1000 + 999,
                        frame: k / 7, offset: (k % 7) * 100, len: 100 }
                }).collect();
                IndexSeries { labels, chunks }
            }).collect();
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            // Frames must be non-decreasing in file order; renumber after sorting.
            let mut k = 0u32;
            for s in &mut series { for c in &mut s.chunks { k += 1; c.frame = k / 7; c.offset = (k % 7) * 100; } }
            let idx = BlockIndex { frames, series };
            prop_assert_eq!(decode(&encode(&idx)).unwrap(), idx);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert!(decode(&b).is_err());
        }
    }
}
