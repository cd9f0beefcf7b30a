//! Pages of a sealed row group: what a segment's sidecar keeps of each (time range and
//! index-key filter), which of them a scan reads, and the bytes of those pages.

use arrow_array::{Array, BooleanArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, RowSelection, RowSelector};

use crate::bloom::Bloom;
use crate::segment::{chunk_range, SegmentInfo};

/// What the sidecar keeps of a page of a row group's rows (see
/// [`crate::Table::FILTER_PAGE_ROWS`]; the whole group in older segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFilter {
    /// Oldest and newest row time (ns).
    pub times: [i64; 2],
    /// The filter over the rows' index keys.
    pub keys: Bloom,
}

impl PageFilter {
    /// The filter and time range of rows (`keys` is scratch space).
    pub(crate) fn of<T: crate::Table>(rows: &[&T::Row], keys: &mut Vec<u64>) -> PageFilter {
        keys.clear();
        T::group_keys(rows, keys);
        keys.sort_unstable();
        keys.dedup();
        let mut bloom = Bloom::with_bits(keys.len(), T::BLOOM_BITS_PER_KEY);
        for k in keys.iter() {
            bloom.insert(*k);
        }
        let times = rows.iter().map(|r| T::time(r));
        PageFilter { times: [times.clone().min().unwrap_or(0), times.max().unwrap_or(0)], keys: bloom }
    }
}

/// Bytes the pages' times and filters take in the sidecar.
pub(crate) fn filter_bytes(groups: &[Vec<PageFilter>]) -> usize {
    groups.iter().map(|pages| 4 + pages.iter().map(|p| 20 + p.keys.len_bytes()).sum::<usize>()).sum()
}

/// The pages' times and filters as a sidecar holds them (see [`read_filters`]).
pub(crate) fn write_filters(groups: &[Vec<PageFilter>], out: &mut Vec<u8>) {
    for pages in groups {
        out.extend_from_slice(&(pages.len() as u32).to_le_bytes());
        for p in pages {
            out.extend_from_slice(&p.times[0].to_le_bytes());
            out.extend_from_slice(&p.times[1].to_le_bytes());
            out.extend_from_slice(&(p.keys.len_bytes() as u32).to_le_bytes());
            out.extend_from_slice(&p.keys.to_bytes());
        }
    }
}

/// The pages after a sidecar's JSON: per row group its pages' times and filters
/// (`pages`: a count before each group's), or one filter per group (its times then
/// taken from `info`).
pub(crate) fn read_filters(mut rest: &[u8], pages: bool, info: &SegmentInfo) -> Option<Vec<Vec<PageFilter>>> {
    pub(crate) fn take<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
        let b = rest.get(..N)?.try_into().ok()?;
        *rest = &rest[N..];
        Some(b)
    }
    let mut groups = Vec::new();
    while !rest.is_empty() {
        let count = if pages { u32::from_le_bytes(take(&mut rest)?) as usize } else { 1 };
        let mut group = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let times = match pages {
                true => [i64::from_le_bytes(take(&mut rest)?), i64::from_le_bytes(take(&mut rest)?)],
                false => info.group_times.get(groups.len()).copied().unwrap_or([info.min_t, info.max_t]),
            };
            let len = u32::from_le_bytes(take(&mut rest)?) as usize;
            let keys = Bloom::from_bytes(rest.get(..len)?)?;
            rest = &rest[len..];
            group.push(PageFilter { times, keys });
        }
        groups.push(group);
    }
    Some(groups)
}

/// The pages of a row group a scan reads: `None` every one.
pub(crate) type Pages = Option<PageMarks>;

/// Which pages of a row group are read (whether each may hold a wanted row), of `rows`
/// rows apiece, and whether every page not read was left out by its filter (by the
/// scan's keys, which every row meeting the filter's condition has: then the rows not
/// read are known not to meet it).
#[derive(Clone, Debug)]
pub(crate) struct PageMarks {
    pub(crate) marks: Vec<bool>,
    pub(crate) rows: usize,
    pub(crate) keyed: bool,
}

impl PageMarks {
    /// Of the pages `pages` reads (of `page_rows` rows; 0: the group is one page), those
    /// holding a row `rows` marks (a row per row of the group): `None` when no page
    /// does.
    pub(crate) fn holding(pages: &Pages, rows: &[bool], page_rows: usize) -> Option<Pages> {
        if page_rows == 0 {
            return rows.iter().any(|&r| r).then(|| pages.clone());
        }
        let marks: Vec<bool> = rows
            .chunks(page_rows)
            .enumerate()
            .map(|(p, r)| pages.as_ref().is_none_or(|m| m.marks.get(p).copied().unwrap_or(true)) && r.contains(&true))
            .collect();
        match (marks.iter().any(|&m| m), marks.iter().all(|&m| m)) {
            (false, _) => None,
            (true, true) => Some(None),
            // (What is known of the rows is not remembered again: `keyed` is not used.)
            (true, false) => Some(Some(PageMarks { marks, rows: page_rows, keyed: false })),
        }
    }

    /// A group of `n` rows as runs of rows: (rows, whether they are read).
    pub(crate) fn runs(&self, n: usize) -> impl Iterator<Item = (usize, bool)> + '_ {
        let rows = if self.rows == 0 { n } else { self.rows };
        let marks = if self.rows == 0 { &[][..] } else { &self.marks[..] };
        let covered = (rows * marks.len()).min(n);
        let pages = marks.iter().enumerate().map(move |(p, &m)| (rows.min(n.saturating_sub(p * rows)), m));
        // Rows past the last page (none, in a sidecar that agrees with its data) are read.
        pages.chain(std::iter::once((n - covered, true))).filter(|(len, _)| *len > 0)
    }

    /// The rows of a group of `n` rows in pages that are read, as a selection.
    pub(crate) fn selection(&self, n: usize) -> RowSelection {
        let selectors: Vec<RowSelector> =
            self.runs(n).map(|(len, m)| if m { RowSelector::select(len) } else { RowSelector::skip(len) }).collect();
        RowSelection::from(selectors)
    }

    /// Which of a group's `n` rows are read.
    pub(crate) fn mask(&self, n: usize) -> BooleanArray {
        let mut b = arrow_array::builder::BooleanBufferBuilder::new(n);
        for (len, m) in self.runs(n) {
            b.append_n(len, m);
        }
        BooleanArray::new(b.finish(), None)
    }

    /// The values of the rows read, of values for each of a group's rows.
    pub(crate) fn take<V: Copy>(&self, all: &[V]) -> Vec<V> {
        let mut out = Vec::new();
        let mut at = 0;
        for (len, m) in self.runs(all.len()) {
            if m {
                out.extend_from_slice(&all[at..at + len]);
            }
            at += len;
        }
        out
    }

    /// What a test found the condition to say of the rows read, spread over the group's
    /// `n` rows, when the rows not read are known not to meet it.
    pub(crate) fn spread_met(&self, met: crate::Met, n: usize) -> Option<crate::Met> {
        if !self.keyed {
            return None;
        }
        let (mut rows, mut sure) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut at = 0;
        for (len, m) in self.runs(n) {
            match m {
                true => {
                    rows.extend_from_slice(met.rows.get(at..at + len)?);
                    sure.extend_from_slice(met.sure.get(at..at + len)?);
                    at += len;
                }
                false => {
                    rows.extend(std::iter::repeat_n(false, len));
                    sure.extend(std::iter::repeat_n(false, len));
                }
            }
        }
        (at == met.rows.len()).then_some(crate::Met { rows, sure })
    }

    /// What a test said of the rows read (`keep`, in order; unknown as kept), spread
    /// over the group's `n` rows: rows not read are not kept.
    pub(crate) fn spread(&self, keep: &BooleanArray, n: usize) -> BooleanArray {
        let mut b = arrow_array::builder::BooleanBufferBuilder::new(n);
        let mut tested = 0;
        for (len, m) in self.runs(n) {
            if !m {
                b.append_n(len, false);
                continue;
            }
            for i in tested..tested + len {
                b.append(i >= keep.len() || keep.is_null(i) || keep.value(i));
            }
            tested += len;
        }
        BooleanArray::new(b.finish(), None)
    }
}

/// The bytes of columns `cols` of row group `g` holding the rows `rows` marks (the
/// dictionary page and the data pages with such a row, by the offset index; the whole
/// column chunk where there is none), less those `fetched` holds.
pub(crate) fn page_ranges(
    footer: &ArrowReaderMetadata,
    g: usize,
    cols: &[usize],
    rows: &BooleanArray,
    fetched: &[(u64, Bytes)],
) -> Vec<std::ops::Range<u64>> {
    let meta = footer.metadata();
    let rg = meta.row_group(g);
    let n = rg.num_rows().max(0) as usize;
    let index = meta.page_index();
    let mut out: Vec<std::ops::Range<u64>> = Vec::new();
    let mut add = |r: std::ops::Range<u64>| {
        if r.is_empty() || fetched.iter().any(|(s, b)| *s <= r.start && r.end <= s + b.len() as u64) {
            return;
        }
        // Pages next to each other are fetched as one range.
        match out.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => out.push(r),
        }
    };
    for &c in cols {
        let whole = chunk_range(rg, c);
        let Some(pages) = index.and_then(|i| i.page_locations(g, c)).filter(|p| !p.is_empty()) else {
            add(whole);
            continue;
        };
        // A dictionary page comes before the first data page.
        add(whole.start..(pages[0].offset as u64).max(whole.start));
        for (i, p) in pages.iter().enumerate() {
            let first = (p.first_row_index.max(0) as usize).min(n);
            let end = pages.get(i + 1).map_or(n, |q| (q.first_row_index.max(0) as usize).min(n));
            let len = end.saturating_sub(first).min(rows.len().saturating_sub(first));
            if len > 0 && rows.slice(first, len).true_count() > 0 {
                add(p.offset as u64..p.offset as u64 + p.compressed_page_size.max(0) as u64);
            }
        }
    }
    out
}

/// Whether the rows a mask selects are read run by run, fetching only their pages: when
/// they come in runs long enough (parquet's own rule), or in few runs (say, a page of
/// results: the pages without one are skipped whole). Rows here and there in many runs
/// are read by masking every row, which reads every page.
pub(crate) fn by_runs(mask: &BooleanArray) -> bool {
    // The runs of selected rows (found a word at a time), and those of rows between,
    // before and after them.
    let (mut runs, mut end) = (0usize, 0usize);
    for (start, stop) in mask.values().set_slices() {
        runs += 1 + usize::from(start > end);
        end = stop;
    }
    runs += usize::from(end < mask.len());
    runs <= FEW_RUNS || mask.len() >= runs.saturating_mul(32)
}

/// See [`by_runs`]: skipping and reading this many runs costs less than decoding every
/// row of a group's columns.
const FEW_RUNS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_holding_known_rows_are_those_read_with_one() {
        let at = |i: &[usize]| (0..10).map(|r| i.contains(&r)).collect::<Vec<bool>>();
        let marks = |p: Option<Pages>| p.map(|p| p.map(|m| m.marks));
        // 10 rows, pages of 4, 4 and 2.
        assert_eq!(marks(PageMarks::holding(&None, &at(&[5, 9]), 4)), Some(Some(vec![false, true, true])));
        assert_eq!(marks(PageMarks::holding(&None, &at(&[0, 4, 8]), 4)), Some(None));
        assert_eq!(marks(PageMarks::holding(&None, &at(&[]), 4)), None);
        // Only of the pages already read.
        let read = Some(PageMarks { marks: vec![true, false, true], rows: 4, keyed: true });
        assert_eq!(marks(PageMarks::holding(&read, &at(&[5, 9]), 4)), Some(Some(vec![false, false, true])));
        assert_eq!(marks(PageMarks::holding(&read, &at(&[5]), 4)), None);
        // A group that is one page: read whole while it holds such a row.
        assert_eq!(marks(PageMarks::holding(&None, &at(&[5]), 0)), Some(None));
        assert_eq!(marks(PageMarks::holding(&None, &at(&[]), 0)), None);
    }

    #[test]
    fn rows_in_few_or_long_runs_are_read_run_by_run() {
        let mask = |f: &dyn Fn(usize) -> bool, n: usize| BooleanArray::from((0..n).map(f).collect::<Vec<bool>>());
        // A hundred rows here and there of 65536: 200 runs.
        assert!(by_runs(&mask(&|i| i % 600 == 7, 65536)));
        // Every other row: too many short runs.
        assert!(!by_runs(&mask(&|i| i % 2 == 0, 65536)));
        // Runs of 40 rows, many of them.
        assert!(by_runs(&mask(&|i| (i / 40) % 2 == 0, 65536)));
        // Runs are counted exactly (selected or not, at either end): 32 rows a run.
        assert!(by_runs(&mask(&|i| (i / 32) % 2 == 1, 32 * 300)));
        assert!(!by_runs(&mask(&|i| (i / 31) % 2 == 1, 31 * 300)));
        assert!(by_runs(&mask(&|i| i % 2 == 1, FEW_RUNS)));
        assert!(!by_runs(&mask(&|i| i % 2 == 1, FEW_RUNS + 1)));
        assert!(!by_runs(&mask(&|i| i % 2 == 0, FEW_RUNS + 1)));
        assert!(by_runs(&BooleanArray::from(Vec::<bool>::new())));
    }

    #[test]
    fn pages_read_select_and_spread_by_page() {
        let p = PageMarks { marks: vec![false, true, false], rows: 4, keyed: true };
        // 10 rows: pages of 4, 4 and 2.
        let mask: Vec<bool> = p.mask(10).iter().map(|v| v.unwrap()).collect();
        assert_eq!(mask, [false, false, false, false, true, true, true, true, false, false]);
        let sel: Vec<RowSelector> = p.selection(10).into();
        assert_eq!(sel, [RowSelector::skip(4), RowSelector::select(4), RowSelector::skip(2)]);
        let keep = BooleanArray::from(vec![Some(false), Some(true), None, Some(false)]);
        let spread: Vec<bool> = p.spread(&keep, 10).iter().map(|v| v.unwrap()).collect();
        assert_eq!(spread, [false, false, false, false, false, true, true, false, false, false]);
        let all: Vec<u8> = (0..10).collect();
        assert_eq!(p.take(&all), [4, 5, 6, 7]);
        // What the condition says of the rows read, over the group: the rows of pages
        // left out by their filters do not meet it.
        let met = crate::Met { rows: vec![true, false, true, true], sure: vec![true, false, false, true] };
        let spread = p.spread_met(met.clone(), 10).unwrap();
        let f = [false; 4];
        assert_eq!(spread.rows, [&f[..], &met.rows, &f[..2]].concat());
        assert_eq!(spread.sure, [&f[..], &met.sure, &f[..2]].concat());
        // Pages left out by time: nothing is known of their rows.
        assert_eq!(PageMarks { keyed: false, ..p }.spread_met(met, 10), None);
    }
}
