//! A segment built from rows in memory: sorted by the table's order and time, encoded
//! as Parquet row groups, with each page's filter and time range and each group's
//! summary (written by [`crate::segment::Segment::put`]).

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::pages::PageFilter;
use crate::segment::{err, SegmentInfo};
use crate::{Options, Result, Table};

/// A segment built in memory, not yet written.
pub struct Built {
    pub(crate) info: SegmentInfo,
    pub(crate) groups: Vec<Vec<PageFilter>>,
    pub(crate) data: Vec<u8>,
}

/// Sorts rows by the table's sort column and time, and encodes them.
pub fn build<T: Table>(
    id: &str,
    batches: &[std::sync::Arc<crate::head::Batch<T::Row>>],
    log_upto: u64,
    opts: &Options,
) -> Result<Built> {
    let mut all: Vec<&T::Row> = batches.iter().flat_map(|b| b.iter()).collect();
    sort_rows::<T>(&mut all);
    let rows = &all;
    let group_rows = opts.row_group_rows.max(1);
    let mut groups = Vec::new();
    let mut group_times = Vec::new();
    let mut group_summaries = Vec::new();
    let mut keys = Vec::new();
    let page_rows = match T::FILTER_PAGE_ROWS {
        0 => group_rows,
        n => n.min(group_rows),
    };
    for chunk in all.chunks(group_rows) {
        let times = chunk.iter().map(|r| T::time(r));
        group_times.push([times.clone().min().unwrap_or(0), times.max().unwrap_or(0)]);
        group_summaries.push(T::summarize_group(chunk).unwrap_or(serde_json::Value::Null));
        let mut pages = Vec::with_capacity(chunk.len().div_ceil(page_rows));
        for page in chunk.chunks(page_rows) {
            pages.push(PageFilter::of::<T>(page, &mut keys));
        }
        groups.push(pages);
    }
    let schema = T::segment_schema(rows);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| err(id, e))?))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)));
    let props = T::writer_props(props, &schema, rows).build();
    let mut data = Vec::new();
    let mut w = ArrowWriter::try_new(&mut data, schema.clone(), Some(props)).map_err(|e| err(id, e))?;
    for chunk in all.chunks(group_rows) {
        let batch = T::to_batch(&schema, chunk).map_err(|e| err(id, e))?;
        w.write(&batch).map_err(|e| err(id, e))?;
        // One row group per chunk, so group `g` is what filter `g` describes.
        w.flush().map_err(|e| err(id, e))?;
    }
    w.close().map_err(|e| err(id, e))?;
    if group_summaries.iter().all(serde_json::Value::is_null) {
        group_summaries.clear();
    }
    let info = SegmentInfo {
        id: id.to_string(),
        min_t: rows.iter().map(|r| T::time(r)).min().unwrap_or(0),
        max_t: rows.iter().map(|r| T::time(r)).max().unwrap_or(0),
        rows: rows.len() as u64,
        bytes: 0,
        data_len: 0,
        log_upto,
        page_rows: if page_rows < group_rows { page_rows as u64 } else { 0 },
        keys_version: T::KEYS_VERSION,
        group_times,
        group_summaries,
        summary: T::summarize(rows),
    };
    Ok(Built { info, groups, data })
}

/// Rows in the table's order, then by time (stable: rows of one time keep their
/// arrival order). Rows of an order class (see [`Table::order_class`]) are compared
/// by their class's rank, the classes ordered once.
pub(crate) fn sort_rows<T: Table>(all: &mut Vec<&T::Row>) {
    let Some(classes) = all.iter().map(|r| T::order_class(r)).collect::<Option<Vec<usize>>>() else {
        all.sort_by(|a, b| T::order(a, b).then(T::time(a).cmp(&T::time(b))));
        return;
    };
    // Each class's first row, and each row's class as an index of those (neighbours
    // often share one).
    let mut seen: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    let mut firsts: Vec<usize> = Vec::new();
    let mut last: Option<(usize, u32)> = None;
    let index: Vec<u32> = classes
        .iter()
        .enumerate()
        .map(|(i, &c)| match last {
            Some((lc, li)) if lc == c => li,
            _ => {
                let next = firsts.len() as u32;
                let ci = *seen.entry(c).or_insert_with(|| {
                    firsts.push(i);
                    next
                });
                last = Some((c, ci));
                ci
            }
        })
        .collect();
    let mut by_order: Vec<usize> = (0..firsts.len()).collect();
    by_order.sort_by(|&a, &b| T::order(all[firsts[a]], all[firsts[b]]));
    // Ranks in that order, classes equal by it sharing one.
    let mut rank = vec![0u32; firsts.len()];
    for i in 1..by_order.len() {
        let same = T::order(all[firsts[by_order[i - 1]]], all[firsts[by_order[i]]]).is_eq();
        rank[by_order[i]] = rank[by_order[i - 1]] + u32::from(!same);
    }
    // (rank, time, arrival): a stable order.
    let mut keyed: Vec<(u32, i64, u32)> =
        index.iter().zip(all.iter()).enumerate().map(|(i, (&c, r))| (rank[c as usize], T::time(r), i as u32)).collect();
    keyed.sort_unstable();
    *all = keyed.iter().map(|&(_, _, i)| all[i as usize]).collect();
}
