//! Sealed segments: `<table>/<id>/data.parquet` and the sidecar `<table>/<id>/meta`
//! (written last: a segment without it is half-written). The sidecar is `LEVM1`, a
//! `u32 LE` length, that many bytes of JSON ([`SegmentInfo`]), then the Bloom filter.

use bytes::Bytes;
use lantern_objstore::Store;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::bloom::Bloom;
use crate::{Error, Options, Result, Table};

const MAGIC: &[u8] = b"LEVM1";

/// What the sidecar says of a segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// The segment's name (sorts by oldest row time).
    pub id: String,
    /// Oldest row time (ns).
    pub min_t: i64,
    /// Newest row time (ns).
    pub max_t: i64,
    /// Rows.
    pub rows: u64,
    /// Bytes of data and sidecar.
    pub bytes: u64,
    /// Log segments before this one hold only rows of this or earlier segments.
    pub log_upto: u64,
    /// The table's summary of the rows.
    pub summary: serde_json::Value,
}

/// A segment as the store keeps it in memory: its sidecar.
pub struct Segment {
    /// The sidecar's fields.
    pub info: SegmentInfo,
    /// The filter over the rows' index keys.
    pub bloom: Bloom,
}

/// A segment built in memory, not yet written.
pub struct Built {
    info: SegmentInfo,
    bloom: Bloom,
    data: Vec<u8>,
}

fn err(id: &str, m: impl std::fmt::Display) -> Error {
    Error::Segment { id: id.to_string(), message: m.to_string() }
}

/// Sorts rows by the table's sort column and time, and encodes them.
pub fn build<T: Table>(id: &str, rows: &[T::Row], log_upto: u64, opts: &Options) -> Result<Built> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        T::sort_key(&rows[a]).cmp(T::sort_key(&rows[b])).then(T::time(&rows[a]).cmp(&T::time(&rows[b])))
    });
    let sorted: Vec<T::Row> = order.iter().map(|&i| rows[i].clone()).collect();
    let mut keys = Vec::new();
    for r in &sorted {
        T::keys(r, &mut keys);
    }
    keys.sort_unstable();
    keys.dedup();
    let mut bloom = Bloom::with_capacity(keys.len());
    for k in &keys {
        bloom.insert(*k);
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| err(id, e))?))
        .set_max_row_group_size(opts.row_group_rows.max(1))
        .build();
    let mut data = Vec::new();
    let mut w = ArrowWriter::try_new(&mut data, T::schema(), Some(props)).map_err(|e| err(id, e))?;
    for chunk in sorted.chunks(opts.row_group_rows.max(1)) {
        let batch = T::to_batch(chunk).map_err(|e| err(id, e))?;
        w.write(&batch).map_err(|e| err(id, e))?;
    }
    w.close().map_err(|e| err(id, e))?;
    let info = SegmentInfo {
        id: id.to_string(),
        min_t: rows.iter().map(T::time).min().unwrap_or(0),
        max_t: rows.iter().map(T::time).max().unwrap_or(0),
        rows: rows.len() as u64,
        bytes: 0,
        log_upto,
        summary: T::summarize(rows),
    };
    Ok(Built { info, bloom, data })
}

fn sidecar(info: &SegmentInfo, bloom: &Bloom) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(info).map_err(|e| err(&info.id, e))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + bloom.len_bytes());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bloom.to_bytes());
    Ok(out)
}

impl Segment {
    /// Writes a built segment: data first, sidecar last.
    pub async fn put(store: &Store, table: &str, mut b: Built) -> Result<Segment> {
        let id = b.info.id.clone();
        let data_len = b.data.len() as u64;
        store.put(&format!("{table}/{id}/data.parquet"), Bytes::from(b.data)).await?;
        // The sidecar's own size is counted approximately (its JSON holds the total).
        b.info.bytes = data_len + b.bloom.len_bytes() as u64 + 256;
        let meta = sidecar(&b.info, &b.bloom)?;
        store.put(&format!("{table}/{id}/meta"), Bytes::from(meta)).await?;
        Ok(Segment { info: b.info, bloom: b.bloom })
    }

    /// Loads a segment's sidecar; `None` when it is missing (a half-written segment).
    pub async fn load(store: &Store, table: &str, id: &str) -> Result<Option<Segment>> {
        let path = format!("{table}/{id}/meta");
        if !store.exists(&path).await? {
            return Ok(None);
        }
        let b = store.get(&path).await?;
        let bad = || err(id, "sidecar is damaged");
        if b.len() < MAGIC.len() + 4 || &b[..MAGIC.len()] != MAGIC {
            return Err(bad());
        }
        let n = u32::from_le_bytes(b[MAGIC.len()..MAGIC.len() + 4].try_into().map_err(|_| bad())?) as usize;
        let start = MAGIC.len() + 4;
        let json = b.get(start..start + n).ok_or_else(bad)?;
        let info: SegmentInfo = serde_json::from_slice(json).map_err(|e| err(id, e))?;
        let bloom = Bloom::from_bytes(&b[start + n..]).ok_or_else(bad)?;
        Ok(Some(Segment { info, bloom }))
    }

    /// The segment's rows; with `sort_eq`, only row groups whose sort-column range can
    /// hold that value.
    pub async fn read<T: Table>(&self, store: &Store, sort_eq: Option<&[u8]>) -> Result<Vec<T::Row>> {
        let id = self.info.id.clone();
        let data = store.get(&format!("{}/{id}/data.parquet", T::NAME)).await?;
        let want = sort_eq.map(<[u8]>::to_vec);
        tokio::task::spawn_blocking(move || decode::<T>(&id, data, want.as_deref()))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    }
}

fn decode<T: Table>(id: &str, data: Bytes, sort_eq: Option<&[u8]>) -> Result<Vec<T::Row>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data).map_err(|e| err(id, e))?;
    let meta = builder.metadata().clone();
    let col = builder.parquet_schema().columns().iter().position(|c| c.name() == T::SORT_COLUMN);
    let groups: Vec<usize> = (0..meta.num_row_groups())
        .filter(|&g| {
            let (Some(k), Some(c)) = (sort_eq, col) else { return true };
            let Some(stats) = meta.row_group(g).column(c).statistics() else { return true };
            match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                (Some(lo), Some(hi)) => lo <= k && k <= hi,
                _ => true,
            }
        })
        .collect();
    let reader = builder.with_row_groups(groups).build().map_err(|e| err(id, e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(id, e))?;
        rows.extend(T::from_batch(&batch).map_err(|e| err(id, e))?);
    }
    Ok(rows)
}
