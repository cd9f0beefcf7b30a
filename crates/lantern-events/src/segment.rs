//! Sealed segments: `<table>/<id>/data.parquet` and the sidecar `<table>/<id>/meta`
//! (written last: a segment without it is half-written). The sidecar is `LEVM3`, a
//! `u32 LE` length, that many bytes of JSON ([`SegmentInfo`]), then per row group the
//! `u32 LE` number of its pages and per page its oldest and newest row time (`i64 LE`
//! ns), a `u32 LE` length and that Bloom filter (over the index keys of the page's
//! rows). `LEVM2` sidecars (older segments) hold one filter per row group, without
//! times or counts.

use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch};
use bytes::{Buf, Bytes};
use lantern_objstore::Store;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};
use serde::{Deserialize, Serialize};

use crate::build::Built;
use crate::cache::{Budget, Known, Remembered, RowSet};
use crate::pages::{by_runs, filter_bytes, page_ranges, read_filters, write_filters, PageFilter, PageMarks, Pages};
use crate::{Error, Result, RowFilter, Scan, Table};

const MAGIC: &[u8] = b"LEVM3";
/// The sidecars of segments written before filters were kept per page.
const MAGIC_V2: &[u8] = b"LEVM2";

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
    /// Bytes of the Parquet file.
    #[serde(default)]
    pub data_len: u64,
    /// Log segments before this one hold only rows of this or earlier segments.
    pub log_upto: u64,
    /// Per row group, its oldest and newest row time (ns).
    #[serde(default)]
    pub group_times: Vec<[i64; 2]>,
    /// Rows per filter page (see [`Table::FILTER_PAGE_ROWS`]; 0: one filter per row
    /// group).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub page_rows: u64,
    /// The [`Table::KEYS_VERSION`] the filters were built with.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_version: u32,
    /// Per row group, the table's summary of it (empty when the table keeps none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_summaries: Vec<serde_json::Value>,
    /// The table's summary of the rows.
    pub summary: serde_json::Value,
}

fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

/// A segment as the store keeps it in memory: its sidecar, and the Parquet footer once
/// a query has read it.
pub struct Segment {
    /// The sidecar's fields.
    pub info: SegmentInfo,
    /// Per row group, what is known of each page of its rows.
    pub groups: Vec<Vec<PageFilter>>,
    footer: tokio::sync::OnceCell<ArrowReaderMetadata>,
    /// What filters' conditions say of the rows of its row groups (`None`: not kept).
    known: Option<Remembered>,
}

pub(crate) fn err(id: &str, m: impl std::fmt::Display) -> Error {
    Error::Segment { id: id.to_string(), message: m.to_string() }
}

fn sidecar(info: &SegmentInfo, groups: &[Vec<PageFilter>]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(info).map_err(|e| err(&info.id, e))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + filter_bytes(groups));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    write_filters(groups, &mut out);
    Ok(out)
}

impl Segment {
    /// Writes a built segment: data first, sidecar last.
    /// With `cache`, it remembers what filter conditions say of its rows.
    pub async fn put(store: &Store, table: &str, mut b: Built, cache: Option<Arc<Budget>>) -> Result<Segment> {
        let id = b.info.id.clone();
        let data_len = b.data.len() as u64;
        b.info.data_len = data_len;
        store.put(&format!("{table}/{id}/data.parquet"), Bytes::from(b.data)).await?;
        // The sidecar's own size is counted approximately (its JSON holds the total).
        b.info.bytes = data_len + filter_bytes(&b.groups) as u64 + 256;
        let meta = sidecar(&b.info, &b.groups)?;
        store.put(&format!("{table}/{id}/meta"), Bytes::from(meta)).await?;
        Ok(Segment { info: b.info, groups: b.groups, footer: Default::default(), known: cache.map(Remembered::new) })
    }

    /// Loads a segment's sidecar; `None` when it is missing (a half-written segment).
    /// With `cache`, it remembers what filter conditions say of its rows.
    pub async fn load(store: &Store, table: &str, id: &str, cache: Option<Arc<Budget>>) -> Result<Option<Segment>> {
        let path = format!("{table}/{id}/meta");
        if !store.exists(&path).await? {
            return Ok(None);
        }
        let b = store.get(&path).await?;
        let bad = || err(id, "sidecar is damaged");
        let paged = b.starts_with(MAGIC);
        if b.len() < MAGIC.len() + 4 || !(paged || b.starts_with(MAGIC_V2)) {
            return Err(bad());
        }
        let n = u32::from_le_bytes(b[MAGIC.len()..MAGIC.len() + 4].try_into().map_err(|_| bad())?) as usize;
        let start = MAGIC.len() + 4;
        let json = b.get(start..start + n).ok_or_else(bad)?;
        let info: SegmentInfo = serde_json::from_slice(json).map_err(|e| err(id, e))?;
        let groups = read_filters(&b[start + n..], paged, &info).ok_or_else(bad)?;
        Ok(Some(Segment { info, groups, footer: Default::default(), known: cache.map(Remembered::new) }))
    }

    fn data_path<T: Table>(&self) -> String {
        format!("{}/{}/data.parquet", T::NAME, self.info.id)
    }

    /// The Parquet footer, read once (two ranged reads: the tail, then the metadata).
    async fn footer<T: Table>(&self, store: &Store) -> Result<&ArrowReaderMetadata> {
        self.footer
            .get_or_try_init(|| async {
                let id = &self.info.id;
                let path = self.data_path::<T>();
                let len = self.info.data_len;
                if len < 8 {
                    return Err(err(id, "data file length unknown or too short"));
                }
                let tail = store.get_range(&path, len - 8..len).await?;
                let tail: [u8; 8] = tail[..].try_into().map_err(|_| err(id, "short footer"))?;
                let n = parquet::file::metadata::FooterTail::try_new(&tail).map_err(|e| err(id, e))?.metadata_length()
                    as u64;
                if n + 8 > len {
                    return Err(err(id, "footer longer than the file"));
                }
                let meta = store.get_range(&path, len - 8 - n..len - 8).await?;
                let meta = ParquetMetaDataReader::decode_metadata(&meta).map_err(|e| err(id, e))?;
                // The pages' places (the offset index, before the footer): a read of a few
                // rows fetches their pages alone.
                let range = (0..meta.num_row_groups())
                    .flat_map(|g| meta.row_group(g).columns().iter().filter_map(|c| c.offset_index_range()))
                    .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end));
                let meta = match range {
                    Some(r) if r.end <= len => {
                        let index = Ranges { len, parts: vec![(r.start, store.get_range(&path, r).await?)] };
                        let mut reader = ParquetMetaDataReader::new_with_metadata(meta)
                            .with_column_index_policy(PageIndexPolicy::Skip)
                            .with_offset_index_policy(PageIndexPolicy::Optional);
                        reader.read_page_indexes_sized(&index, len).map_err(|e| err(id, e))?;
                        reader.finish().map_err(|e| err(id, e))?
                    }
                    _ => meta,
                };
                ArrowReaderMetadata::try_new(Arc::new(meta), ArrowReaderOptions::new()).map_err(|e| err(id, e))
            })
            .await
    }

    /// Reads the Parquet footer now, so the first query of the segment does not wait on it.
    pub async fn warm<T: Table>(&self, store: &Store) -> Result<()> {
        self.footer::<T>(store).await.map(|_| ())
    }

    /// Whether the scan may want rows of row group `g`: by its time range and filters.
    fn group_selected(&self, g: usize, scan: &Scan) -> bool {
        self.picked(g, scan).is_some()
    }

    /// Which pages of row group `g` the scan may want rows of, by its time range, the
    /// filters of the group's pages and what is remembered of it: `None` when none.
    fn picked(&self, g: usize, scan: &Scan) -> Option<Pages> {
        let times = self.info.group_times.get(g);
        let times_ok = times.is_none_or(|[lo, hi]| *hi >= scan.min_t && *lo <= scan.max_t);
        // A group the caller counts from its summary.
        let summarized = self.info.group_summaries.get(g).is_some_and(|s| !s.is_null())
            && scan.skip_within.zip(times).is_some_and(|((a, b), [lo, hi])| *lo >= a && *hi <= b);
        if !times_ok || summarized || self.missed(g, scan) {
            return None;
        }
        let Some(pages) = self.groups.get(g) else { return Some(None) };
        // Pages in the time range whose filter may hold a wanted row; and whether each
        // page left out was left out by its filter (then no row of it meets the scan's
        // filter's condition either, which is what is remembered of it).
        let (mut marks, mut keyed) = (Vec::with_capacity(pages.len()), true);
        for p in pages {
            let keys = scan.group_may_match(&p.keys, self.info.keys_version);
            let times = p.times[1] >= scan.min_t && p.times[0] <= scan.max_t;
            marks.push(times && keys);
            keyed &= times || !keys;
        }
        match (marks.iter().any(|&m| m), marks.iter().all(|&m| m)) {
            (false, _) => None,
            (true, true) => Some(None),
            (true, false) => Some(Some(PageMarks { marks, rows: self.info.page_rows as usize, keyed })),
        }
    }

    /// What the scan's filter's condition is known to say of row group `g`.
    fn known(&self, g: usize, scan: &Scan) -> Option<Arc<Known>> {
        let key = scan.filter.as_ref().and_then(|f| f.key)?;
        self.known.as_ref()?.get(key, g)
    }

    /// Whether row group `g` is known to hold no row meeting the scan's filter.
    fn missed(&self, g: usize, scan: &Scan) -> bool {
        self.known(g, scan).is_some_and(|k| matches!(k.rows, RowSet::None))
    }

    /// Hands `columns` of the row groups the scan selects (by time and filter) to
    /// `visit` as record batches, decoding nothing else.
    pub async fn scan_columns<T: Table>(
        &self,
        store: &Store,
        scan: &Scan,
        columns: &[&str],
        visit: &mut (impl FnMut(&RecordBatch) + Send),
    ) -> Result<()> {
        let footer = self.footer::<T>(store).await?.clone();
        let meta = footer.metadata().clone();
        let schema = footer.parquet_schema();
        let cols: Vec<usize> =
            (0..schema.num_columns()).filter(|&c| columns.contains(&schema.column(c).name())).collect();
        if cols.is_empty() {
            return Ok(());
        }
        let path = self.data_path::<T>();
        for g in 0..meta.num_row_groups() {
            if !self.group_selected(g, scan) {
                continue;
            }
            let rg = meta.row_group(g);
            let ranges: Vec<std::ops::Range<u64>> = cols.iter().map(|&c| chunk_range(rg, c)).collect();
            let parts = store.get_ranges(&path, &ranges).await?;
            let chunks = Ranges { len: self.info.data_len, parts: ranges.iter().map(|r| r.start).zip(parts).collect() };
            let (id, footer, cols) = (self.info.id.clone(), footer.clone(), cols.clone());
            let batches = tokio::task::spawn_blocking(move || project(&id, chunks, footer, g, &cols))
                .await
                .map_err(|e| Error::Task(e.to_string()))??;
            for b in &batches {
                visit(b);
            }
        }
        Ok(())
    }

    /// Step 1 of reading row group `g`: its filter columns for every row of the pages
    /// read, and which rows pass (`None` when none does); the bytes fetched are kept
    /// for step 2.
    #[allow(clippy::type_complexity)] // (selection, fetched byte ranges)
    async fn filter_group<T: Table>(
        &self,
        store: &Store,
        scan: &Scan,
        footer: &ArrowReaderMetadata,
        g: usize,
        pages: Pages,
    ) -> Result<Option<(Option<BooleanArray>, Vec<(u64, Bytes)>)>> {
        let rg = footer.metadata().row_group(g);
        let n = rg.num_rows() as usize;
        // Rows not tested: every row of the pages read.
        let untested = |pages: &Pages| Ok(Some((pages.as_ref().map(|p| p.mask(n)), Vec::new())));
        let Some(f) = scan.filter.as_ref() else { return untested(&pages) };
        let schema = footer.parquet_schema();
        // What the condition said of these rows before: then only the test's other
        // columns are read.
        let known = self.known(g, scan).filter(|k| k.n as i64 == rg.num_rows());
        if let Some((k, cheap)) = known.zip(f.cheap.as_ref()) {
            let cols: Vec<usize> =
                (0..schema.num_columns()).filter(|&c| cheap.iter().any(|n| n == schema.column(c).name())).collect();
            if !cols.is_empty() {
                let met = crate::Met { rows: k.rows.unpack(k.n), sure: k.sure.unpack(k.n) };
                // Only the pages with a row the condition may hold for are read.
                let Some(pages) = PageMarks::holding(&pages, &met.rows, self.info.page_rows as usize) else {
                    return Ok(None);
                };
                return self.test_group::<T>(store, footer, g, cols, f, Some(met), pages).await;
            }
        }
        // A filter none of whose columns the segment has cannot be run (it would not
        // know the row count): every row goes to the visitor, which checks.
        let cols: Vec<usize> = (0..schema.num_columns())
            .filter(|&c| {
                let column = schema.column(c);
                let name = column.name();
                let wanted = f.columns.iter().any(|n| n == name || (n == ".*" && name.starts_with('.')));
                let text = column.physical_type() == parquet::basic::Type::BYTE_ARRAY;
                // Skipped when the filter of every page read shows it need not be.
                let skipped = || {
                    f.skip.as_ref().zip(self.groups.get(g)).is_some_and(|(skip, filters)| {
                        let read = |p: &usize| pages.as_ref().is_none_or(|m| m.marks.get(*p).copied().unwrap_or(true));
                        (0..filters.len()).filter(read).all(|p| skip(&filters[p].keys, name, text))
                    })
                };
                wanted && !skipped()
            })
            .collect();
        if cols.is_empty() {
            return untested(&pages);
        }
        self.test_group::<T>(store, footer, g, cols, f, None, pages).await
    }

    /// Reads columns `cols` of row group `g` (of the rows of `pages`) and tests them
    /// with the filter (given what its condition is known to say of the group's rows,
    /// if it is); remembers what the test found its condition to say of every row.
    #[allow(clippy::type_complexity)] // (selection, fetched byte ranges)
    #[allow(clippy::too_many_arguments)]
    async fn test_group<T: Table>(
        &self,
        store: &Store,
        footer: &ArrowReaderMetadata,
        g: usize,
        cols: Vec<usize>,
        f: &RowFilter,
        known: Option<crate::Met>,
        pages: Pages,
    ) -> Result<Option<(Option<BooleanArray>, Vec<(u64, Bytes)>)>> {
        let rg = footer.metadata().row_group(g);
        let (read, nulls) = split_null(rg, cols);
        let n = rg.num_rows() as usize;
        let ranges = match &pages {
            Some(p) => page_ranges(footer, g, &read, &p.mask(n), &[]),
            None => read.iter().map(|&c| chunk_range(rg, c)).collect(),
        };
        let parts = store.get_ranges(&self.data_path::<T>(), &ranges).await?;
        let fetched: Vec<(u64, Bytes)> = ranges.iter().map(|r| r.start).zip(parts).collect();
        let chunks = Ranges { len: self.info.data_len, parts: fetched.clone() };
        let (id, footer, f) = (self.info.id.clone(), footer.clone(), f.clone());
        let (key, fresh) = (f.key, known.is_none());
        let (mask, met) =
            tokio::task::spawn_blocking(move || select(&id, chunks, footer, g, (&read, &nulls), &f, known, pages))
                .await
                .map_err(|e| Error::Task(e.to_string()))??;
        if let Some(((k, r), met)) = key.zip(self.known.as_ref()).zip(met).filter(|_| fresh) {
            r.put(k, g, &met);
        }
        if mask.true_count() == 0 {
            return Ok(None);
        }
        Ok(Some((Some(mask), fetched)))
    }

    /// Hands the segment's rows to `visit` with their positions (`base`, plus the row
    /// group's index << 24, plus the row's index in it), one row group at a time (reading only that
    /// group's bytes), until it breaks. Row groups outside the scan's time range or
    /// whose filter rules the scan out are skipped; rows its `filter` rules out are not
    /// decoded.
    pub async fn scan<T: Table>(
        &self,
        store: &Store,
        scan: &Scan,
        base: u64,
        visit: &mut (impl FnMut(&T::Row, u64) -> ControlFlow<()> + Send),
    ) -> Result<ControlFlow<()>> {
        use futures::StreamExt;
        let footer = self.footer::<T>(store).await?.clone();
        let meta = footer.metadata().clone();
        let mut groups: Vec<(usize, Pages)> =
            (0..meta.num_row_groups()).filter_map(|g| self.picked(g, scan).map(|p| (g, p))).collect();
        let times = |g: usize| self.info.group_times.get(g).copied().unwrap_or([self.info.min_t, self.info.max_t]);
        if let Some(f) = &scan.first {
            groups.sort_by_key(|(g, _)| f.best(times(*g)[0], times(*g)[1]));
        }
        // The columns step 2 decodes (`None`: all), the same for every group.
        let schema = footer.parquet_schema();
        let columns: Option<Vec<usize>> = scan
            .decode
            .as_ref()
            .map(|wanted| (0..schema.num_columns()).filter(|&c| wanted(schema.column(c).name())).collect());
        // Step 1 (the filter's columns, for every row) runs for the next group while this
        // one is decoded and visited: two groups at a time.
        let mut filtered = futures::stream::iter(groups)
            .map(|(g, pages)| {
                let footer = footer.clone();
                async move {
                    // A group that can no longer hold a wanted row (the bar rose while
                    // better groups were read).
                    if scan.first.as_ref().is_some_and(|f| f.skips(times(g)[0], times(g)[1])) {
                        return Ok((g, None));
                    }
                    self.filter_group::<T>(store, scan, &footer, g, pages).await.map(|r| (g, r))
                }
            })
            .buffered(2);
        while let Some(next) = filtered.next().await {
            let (g, picked) = next?;
            let Some((selection, mut fetched)) = picked else { continue };
            // Step 2: every column (or those the scan decodes), decoding only the
            // selected rows.
            let rg = meta.row_group(g);
            let path = self.data_path::<T>();
            let (read, nulls) = split_null(rg, columns.clone().unwrap_or_else(|| (0..schema.num_columns()).collect()));
            // The pages holding selected rows when they are read run by run; else (rows
            // here and there, which the reader takes by masking every row) whole chunks.
            let runs = selection.as_ref().is_some_and(by_runs);
            let rest: Vec<std::ops::Range<u64>> = match &selection {
                Some(m) if runs => page_ranges(&footer, g, &read, m, &fetched),
                _ => read
                    .iter()
                    .map(|&c| chunk_range(rg, c))
                    .filter(|r| !fetched.iter().any(|(s, b)| *s <= r.start && r.end <= s + b.len() as u64))
                    .collect(),
            };
            let parts = store.get_ranges(&path, &rest).await?;
            fetched.extend(rest.iter().map(|r| r.start).zip(parts));
            let chunks = Ranges { len: self.info.data_len, parts: fetched };
            let (id, footer) = (self.info.id.clone(), footer.clone());
            let picked: Option<Vec<u64>> = selection
                .as_ref()
                .map(|m| m.iter().enumerate().filter(|(_, v)| v.unwrap_or(false)).map(|(i, _)| i as u64).collect());
            let rows = tokio::task::spawn_blocking(move || {
                decode::<T>(&id, chunks, footer, g, selection.map(|m| (m, runs)), (&read, &nulls))
            })
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
            let group_base = base + ((g as u64) << 24);
            for (i, r) in rows.iter().enumerate() {
                let at = picked.as_ref().map_or(i as u64, |p| p.get(i).copied().unwrap_or(i as u64));
                if visit(r, group_base + at).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// Columns `cols` of a row group parted into those to read and those holding nothing but
/// nulls (by their statistics), which are made as null arrays instead of being decoded
/// (all are read when all are null: a batch needs a column to have rows).
fn split_null(rg: &parquet::file::metadata::RowGroupMetaData, cols: Vec<usize>) -> (Vec<usize>, Vec<usize>) {
    let all_null = |c: usize| {
        let nulls = rg.column(c).statistics().and_then(|s| s.null_count_opt());
        nulls.is_some_and(|n| n as i64 == rg.num_rows())
    };
    let (nulls, read): (Vec<usize>, Vec<usize>) = cols.iter().partition(|&&c| all_null(c));
    if read.is_empty() {
        (cols, Vec::new())
    } else {
        (read, nulls)
    }
}

/// A batch of file columns `read` with the file columns `nulls` added as null arrays, in
/// the file's column order (by `schema`, the reader's Arrow schema of the whole file).
fn with_nulls(
    b: RecordBatch,
    schema: &arrow_schema::Schema,
    read: &[usize],
    nulls: &[usize],
) -> parquet::errors::Result<RecordBatch> {
    if nulls.is_empty() {
        return Ok(b);
    }
    let mut all: Vec<usize> = read.iter().chain(nulls).copied().collect();
    all.sort_unstable();
    let mut next = b.columns().iter();
    let (mut fields, mut columns) = (Vec::with_capacity(all.len()), Vec::with_capacity(all.len()));
    for c in all {
        let f = schema.field(c);
        let column = if nulls.contains(&c) {
            arrow_array::new_null_array(f.data_type(), b.num_rows())
        } else {
            next.next().cloned().ok_or_else(|| parquet::errors::ParquetError::General("column not read".into()))?
        };
        fields.push(arrow_schema::Field::new(f.name(), column.data_type().clone(), true));
        columns.push(column);
    }
    Ok(RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns)?)
}

/// The bytes of column `c` of a row group in its file.
pub(crate) fn chunk_range(rg: &parquet::file::metadata::RowGroupMetaData, c: usize) -> std::ops::Range<u64> {
    let (start, len) = rg.column(c).byte_range();
    start..start + len
}

/// Byte ranges of a Parquet file fetched from the store, read as the file.
struct Ranges {
    len: u64,
    parts: Vec<(u64, Bytes)>,
}

impl Ranges {
    fn slice(&self, start: u64, len: Option<usize>) -> parquet::errors::Result<Bytes> {
        for (s, b) in &self.parts {
            if start >= *s && start < s + b.len() as u64 {
                let off = (start - s) as usize;
                let end = len.map_or(b.len(), |l| off + l);
                if end <= b.len() {
                    return Ok(b.slice(off..end));
                }
            }
        }
        let parts: Vec<(u64, usize)> = self.parts.iter().map(|(s, b)| (*s, b.len())).collect();
        Err(parquet::errors::ParquetError::General(format!("bytes at {start} ({len:?}) were not fetched: {parts:?}")))
    }
}

impl Length for Ranges {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Ranges {
    type T = bytes::buf::Reader<Bytes>;
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }
    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

/// Columns `cols` of row group `g`, strings stored with a dictionary as dictionary arrays.
fn project(
    id: &str,
    chunks: Ranges,
    footer: ArrowReaderMetadata,
    g: usize,
    cols: &[usize],
) -> Result<Vec<RecordBatch>> {
    let footer = with_dictionaries(id, footer, g)?;
    let mask = ProjectionMask::leaves(footer.parquet_schema(), cols.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, footer)
        .with_row_groups(vec![g])
        .with_projection(mask)
        .with_batch_size(65536)
        .build()
        .map_err(|e| err(id, e))?;
    reader.map(|b| b.map_err(|e| err(id, e))).collect()
}

/// The footer with row group `g`'s strings stored with a dictionary read as one: each
/// distinct value is then tested once (the others stay plain: building a dictionary
/// would cost more).
fn with_dictionaries(id: &str, footer: ArrowReaderMetadata, g: usize) -> Result<ArrowReaderMetadata> {
    use arrow_schema::{DataType, Field, Schema};
    // Only chunks whose data pages all use the dictionary: one that fell back to
    // plain pages (too many distinct values) would be built into a dictionary here.
    let rg = footer.metadata().row_group(g);
    let dictionary_coded = |name: &str| {
        use parquet::basic::Encoding;
        (0..rg.num_columns()).any(|c| {
            let cc = rg.column(c);
            // The encodings of the data pages, the dictionary page apart.
            let all_pages = cc
                .page_encoding_stats_mask()
                .is_some_and(|m| m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY));
            // A dictionary page of a few bytes is an empty dictionary (a chunk of
            // nulls): read as a dictionary, each of its rows would be hashed.
            let dictionary = cc.dictionary_page_offset().is_some_and(|d| cc.data_page_offset() - d > EMPTY_DICTIONARY);
            cc.column_descr().name() == name && dictionary && all_pages
        })
    };
    let fields: Vec<Field> = footer
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 if dictionary_coded(f.name()) => Field::new(
                f.name(),
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                f.is_nullable(),
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    let opts = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
    ArrowReaderMetadata::try_new(footer.metadata().clone(), opts).map_err(|e| err(id, e))
}

/// The most bytes an empty dictionary page takes (header and an empty zstd frame); one
/// holding a value takes more.
const EMPTY_DICTIONARY: i64 = 24;

/// Which rows of row group `g` pass `filter`, reading only its columns (`cols`; `nulls`
/// are made as null arrays) of the rows of `pages` (the others do not pass) and given
/// what its condition is known to say of the group's rows, and what the test found its
/// condition to say of every row (see [`crate::Tested::met`]), when that is known of
/// the rows not read.
#[allow(clippy::too_many_arguments)]
fn select(
    id: &str,
    chunks: Ranges,
    footer: ArrowReaderMetadata,
    g: usize,
    (cols, nulls): (&[usize], &[usize]),
    filter: &RowFilter,
    known: Option<crate::Met>,
    pages: Pages,
) -> Result<(BooleanArray, Option<crate::Met>)> {
    let mask = ProjectionMask::leaves(footer.parquet_schema(), cols.iter().copied());
    let footer = if filter.dictionary { with_dictionaries(id, footer, g)? } else { footer };
    let schema = footer.schema().clone();
    let group_rows = footer.metadata().row_group(g).num_rows() as usize;
    // One batch: the row group (the batch size is larger than any group), or the rows
    // of the pages read (the others' pages are skipped by their headers).
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, footer)
        .with_row_groups(vec![g])
        .with_projection(mask)
        .with_batch_size(usize::MAX >> 1);
    if let Some(p) = &pages {
        // Page by page: the other pages were not fetched.
        builder = builder
            .with_row_selection(p.selection(group_rows))
            .with_row_selection_policy(parquet::arrow::arrow_reader::RowSelectionPolicy::Selectors);
    }
    let batch = builder.build().map_err(|e| err(id, e))?.next();
    let Some(batch) = batch else { return Ok((BooleanArray::from(Vec::<bool>::new()), None)) };
    let batch = with_nulls(batch.map_err(|e| err(id, e))?, &schema, cols, nulls).map_err(|e| err(id, e))?;
    let n = batch.num_rows();
    // What is remembered of the rows read (it is of the whole group, so of its size;
    // were it not, every row may meet the condition).
    let known = known.map(|k| match (&pages, k.rows.len() == group_rows) {
        (Some(p), true) => crate::Met { rows: p.take(&k.rows), sure: p.take(&k.sure) },
        (None, true) => k,
        (_, false) => crate::Met { rows: vec![true; n], sure: vec![false; n] },
    });
    let known = known.map(|k| match k.rows.len() == n {
        true => k,
        false => crate::Met { rows: vec![true; n], sure: vec![false; n] },
    });
    let tested = (filter.test)(&batch, known.as_ref());
    let met = tested.met.filter(|m| m.rows.len() == n && n > 0);
    if let Some(p) = &pages {
        return Ok((p.spread(&tested.keep, group_rows), met.and_then(|m| p.spread_met(m, group_rows))));
    }
    let keep = match tested.keep.null_count() {
        0 => tested.keep,
        _ => tested.keep.iter().map(|v| Some(v.unwrap_or(true))).collect(),
    };
    Ok((keep, met))
}

/// The rows of row group `g` (only those `selection` marks, when given: run by run,
/// with `true` (only their pages were fetched), else as parquet chooses).
fn decode<T: Table>(
    id: &str,
    chunks: Ranges,
    footer: ArrowReaderMetadata,
    g: usize,
    selection: Option<(BooleanArray, bool)>,
    (cols, nulls): (&[usize], &[usize]),
) -> Result<Vec<T::Row>> {
    use parquet::arrow::arrow_reader::RowSelectionPolicy;
    let mask = ProjectionMask::leaves(footer.parquet_schema(), cols.iter().copied());
    let schema = footer.schema().clone();
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, footer)
        .with_row_groups(vec![g])
        .with_projection(mask);
    if let Some((mask, runs)) = &selection {
        builder = builder.with_row_selection(RowSelection::from_filters(std::slice::from_ref(mask)));
        if *runs {
            builder = builder.with_row_selection_policy(RowSelectionPolicy::Selectors);
        }
    }
    let reader = builder.build().map_err(|e| err(id, e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = with_nulls(batch.map_err(|e| err(id, e))?, &schema, cols, nulls).map_err(|e| err(id, e))?;
        if batch.num_rows() > 0 {
            rows.extend(T::from_batch(&batch).map_err(|e| err(id, e))?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bloom::Bloom;

    fn filter_of(keys: &[u64]) -> Bloom {
        let mut b = Bloom::with_capacity(keys.len());
        keys.iter().for_each(|k| b.insert(*k));
        b
    }

    fn page(lo: i64, hi: i64, keys: &[u64]) -> PageFilter {
        PageFilter { times: [lo, hi], keys: filter_of(keys) }
    }

    #[test]
    fn sidecars_keep_filters_per_page_and_older_ones_read_as_one_per_group() {
        let info: SegmentInfo = serde_json::from_value(serde_json::json!({
            "id": "s", "min_t": 10, "max_t": 60, "rows": 3, "bytes": 0, "log_upto": 0, "summary": null,
            "group_times": [[10, 40], [50, 60]]
        }))
        .unwrap();
        let groups = vec![vec![page(10, 30, &[1]), page(20, 40, &[2])], vec![page(50, 60, &[3])]];
        let b = sidecar(&info, &groups).unwrap();
        assert!(b.starts_with(MAGIC));
        let json = u32::from_le_bytes(b[5..9].try_into().unwrap()) as usize;
        assert_eq!(read_filters(&b[9 + json..], true, &info), Some(groups.clone()));
        // `LEVM2`: a length and a filter per row group, no page counts or times (the
        // group's are taken).
        let mut v2 = Vec::new();
        for g in &groups {
            v2.extend_from_slice(&(g[0].keys.len_bytes() as u32).to_le_bytes());
            v2.extend_from_slice(&g[0].keys.to_bytes());
        }
        let old = vec![vec![page(10, 40, &[1])], vec![page(50, 60, &[3])]];
        assert_eq!(read_filters(&v2, false, &info), Some(old));
        // Damaged: cut short.
        assert_eq!(read_filters(&b[9 + json..b.len() - 1], true, &info), None);
    }
}
