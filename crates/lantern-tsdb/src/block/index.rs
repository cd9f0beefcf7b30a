//! The byte format of a block's index file (pure code).
//!
//! Layout before compression: magic `LIDX`, format version byte, a sorted symbol table
//! (every label name and value once), then the series in label order, each as symbol
//! pairs and chunk references. The whole is zstd-compressed and followed by a CRC-32 of
//! the compressed bytes.

use std::sync::Arc;

use lantern_core::{Label, Labels};

use crate::record::{put_uvarint, put_varint, Decoder};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"LIDX";
const VERSION: u8 = 1;

/// Where one chunk of a series lies in the block's chunks file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample's timestamp.
    pub min_t: i64,
    /// Last sample's timestamp.
    pub max_t: i64,
    /// Byte offset in the chunks file.
    pub offset: u64,
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

/// Encodes an index; `series` must be sorted by labels.
pub fn encode(series: &[IndexSeries]) -> Vec<u8> {
    let mut symbols: Vec<&str> =
        series.iter().flat_map(|s| s.labels.iter()).flat_map(|l| [&*l.name, &*l.value]).collect();
    symbols.sort_unstable();
    symbols.dedup();
    let sym_id = |s: &str| symbols.binary_search(&s).unwrap_or(0) as u64;
    let mut raw = Vec::new();
    raw.extend_from_slice(MAGIC);
    raw.push(VERSION);
    put_uvarint(&mut raw, symbols.len() as u64);
    for s in &symbols {
        put_uvarint(&mut raw, s.len() as u64);
        raw.extend_from_slice(s.as_bytes());
    }
    put_uvarint(&mut raw, series.len() as u64);
    let mut prev_off = 0u64;
    for s in series {
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
            put_varint(&mut raw, c.offset.wrapping_sub(prev_off) as i64);
            put_uvarint(&mut raw, c.len as u64);
            prev_max = c.max_t;
            prev_off = c.offset + c.len as u64;
        }
    }
    // Level 3 is zstd's default; the index is small next to the chunks.
    let mut out = zstd::bulk::compress(&raw, 3).unwrap_or_default();
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out
}

/// Decodes an index file's bytes.
pub fn decode(bytes: &[u8]) -> Result<Vec<IndexSeries>> {
    if bytes.len() < 12 {
        return Err(Error::Corrupt("index file is too short".into()));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 12);
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32fast::hash(body) != crc {
        return Err(Error::Corrupt("index file checksum mismatch".into()));
    }
    let mut raw_len = [0u8; 8];
    raw_len.copy_from_slice(&tail[4..12]);
    let raw_len = u64::from_le_bytes(raw_len);
    if raw_len > 1 << 34 {
        return Err(Error::Corrupt("index file announces an impossible size".into()));
    }
    let raw = zstd::bulk::decompress(body, raw_len as usize).map_err(|e| Error::Corrupt(format!("index file: {e}")))?;
    let mut d = Decoder::new(&raw);
    if d.bytes(4)? != MAGIC {
        return Err(Error::Corrupt("index file has a bad magic number".into()));
    }
    let v = d.byte()?;
    if v != VERSION {
        return Err(Error::Corrupt(format!("index format version {v} is not supported")));
    }
    let nsym = d.length()?;
    let mut symbols: Vec<Arc<str>> = Vec::with_capacity(nsym);
    for _ in 0..nsym {
        symbols.push(Arc::from(d.str()?));
    }
    let sym =
        |i: u64| symbols.get(i as usize).cloned().ok_or_else(|| Error::Corrupt(format!("symbol {i} is out of range")));
    let nseries = d.length()?;
    let mut out = Vec::with_capacity(nseries);
    let mut prev_off = 0u64;
    for _ in 0..nseries {
        let nl = d.length()?;
        let mut labels = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = sym(d.uvarint()?)?;
            let value = sym(d.uvarint()?)?;
            labels.push(Label { name, value });
        }
        if labels.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(Error::Corrupt("index series labels are not sorted".into()));
        }
        let nc = d.length()?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev_max = 0i64;
        for _ in 0..nc {
            let min_t = prev_max.wrapping_add(d.varint()?);
            let max_t = min_t.wrapping_add(d.uvarint()? as i64);
            let offset = prev_off.wrapping_add(d.varint()? as u64);
            let len = u32::try_from(d.uvarint()?).map_err(|_| Error::Corrupt("chunk length is too large".into()))?;
            chunks.push(ChunkMeta { min_t, max_t, offset, len });
            prev_max = max_t;
            prev_off = offset + len as u64;
        }
        out.push(IndexSeries { labels: Labels::from_sorted_unchecked(labels), chunks });
    }
    if !d.done() {
        return Err(Error::Corrupt("index file has trailing bytes".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(n in 0usize..50, nchunks in 0usize..5, base in -1_000_000i64..1_000_000_000_000) {
            let mut series: Vec<IndexSeries> = (0..n).map(|i| {
                let labels = Labels::from_pairs([("__name__".to_string(), format!("m{}", i % 7)), ("i".to_string(), i.to_string())]);
                let chunks = (0..nchunks).map(|c| ChunkMeta {
                    min_t: base + c as i64 * 1000, max_t: base + c as i64 * 1000 + 999,
                    offset: (i * 100 + c * 10) as u64, len: 10 }).collect();
                IndexSeries { labels, chunks }
            }).collect();
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            let got = decode(&encode(&series)).unwrap();
            prop_assert_eq!(got, series);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert!(decode(&b).is_err());
        }
    }
}
