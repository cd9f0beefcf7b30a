//! The scan of a LogQL query's sealed rows: which row groups it reads (equality
//! matchers), and the test of a row group's filter columns before rows are decoded
//! (time range, the page's bar, the stream selector, the pipeline's prefilter). Rows
//! the prefilter knows to pass can be taken from the columns (counted, not decoded), and
//! a page decodes at most its limit of each row group.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, Int64Array, RecordBatch};
use lantern_events::{FirstRows, Met, RowFilter, Scan, Tested};

use super::pipeline::Pipeline;
use super::prefilter::{str_at, Prefilter};
use crate::table::{col, stream_of_json};
use crate::tokens::label_key;

/// Takes the sealed rows a scan's prefilter knows to be entries of their streams' labels
/// (the mask), so they are not decoded: given the batch of the filter's columns.
pub type SureRows = Arc<dyn Fn(&RecordBatch, &[bool]) + Send + Sync>;

/// Times of rows by series: the stream's labels as `_labels` holds them, the level when
/// no label gives it, and labels `| json` made of fields (name, value).
pub type StreamTimes = HashMap<(String, String, Vec<(String, String)>), Vec<i64>>;

/// The times of rows taken from the columns, by series.
#[derive(Default)]
pub struct SureCounts(Arc<parking_lot::Mutex<StreamTimes>>);

impl SureCounts {
    /// The taker a scan hands those rows to; `fields` are the labels `| json` makes of
    /// the fields of those names (read from the columns `.name`; at most `KEY - 2`).
    fn taker(&self, fields: Vec<String>) -> SureRows {
        let seen = self.0.clone();
        let columns: Vec<String> = fields.iter().map(|f| format!(".{f}")).collect();
        Arc::new(move |b: &RecordBatch, mask: &[bool]| {
            let Some(t) = b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>()) else {
                return;
            };
            // Each taken row's series as the numbers of its values in each column: the
            // labels, the level, then the fields.
            let rows: Vec<usize> = mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i).collect();
            let mut cols: Vec<Codes> = vec![Codes::of(b.column_by_name(col::LABELS), &rows)];
            cols.push(Codes::of(b.column_by_name(col::LEVEL), &rows));
            cols.extend(columns.iter().map(|c| Codes::of(b.column_by_name(c), &rows)));
            let mut local: HashMap<[u32; KEY], Vec<i64>, foldhash::fast::RandomState> = HashMap::default();
            let times = t.values();
            for (j, &i) in rows.iter().enumerate() {
                // (`with_labels` keeps at most `KEY - 2` fields.)
                let mut key = [0u32; KEY];
                for (k, c) in key.iter_mut().zip(&cols) {
                    *k = c.codes[j];
                }
                local.entry(key).or_default().push(times[i]);
            }
            let mut all = seen.lock();
            for (key, ts) in local {
                let labels = cols[0].value(key[0]).unwrap_or("{}").to_string();
                let level = cols[1].value(key[1]).unwrap_or("").to_string();
                let extra = (2..cols.len())
                    .filter_map(|j| cols[j].value(key[j]).map(|v| (fields[j - 2].clone(), v.to_string())))
                    .collect();
                all.entry((labels, level, extra)).or_default().extend(ts);
            }
        })
    }

    /// What was taken.
    pub fn take(self) -> StreamTimes {
        std::mem::take(&mut *self.0.lock())
    }
}

/// The most columns a taken row's series is told by: the labels, the level and
/// [`super::prefilter::MAX_LABELS`] fields.
const KEY: usize = 2 + super::prefilter::MAX_LABELS;

/// A string column's values as numbers (0 for null, else 1 + the value's index in
/// `values`), for some rows (`codes[j]` is row `rows[j]`'s).
pub(super) struct Codes<'a> {
    pub(super) codes: Vec<u32>,
    values: Vec<&'a str>,
}

impl<'a> Codes<'a> {
    pub(super) fn of(a: Option<&'a Arc<dyn Array>>, rows: &[usize]) -> Codes<'a> {
        let mut c = Codes { codes: vec![0; rows.len()], values: Vec::new() };
        let Some(a) = a else { return c };
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            if let Some(v) = d.values().as_string_opt::<i32>() {
                c.values = (0..v.len()).map(|j| v.value(j)).collect();
                let keys = d.keys();
                for (code, &i) in c.codes.iter_mut().zip(rows) {
                    if keys.is_valid(i) {
                        *code = keys.value(i) as u32 + 1;
                    }
                }
                return c;
            }
        }
        let mut seen: HashMap<&str, u32, foldhash::fast::RandomState> = HashMap::default();
        for (code, &i) in c.codes.iter_mut().zip(rows) {
            if let Some(v) = str_at(a.as_ref(), i) {
                *code = *seen.entry(v).or_insert_with(|| {
                    c.values.push(v);
                    c.values.len() as u32
                });
            }
        }
        c
    }

    pub(super) fn value(&self, code: u32) -> Option<&'a str> {
        code.checked_sub(1).and_then(|j| self.values.get(j as usize)).copied()
    }
}

/// A page of a log query: the first `limit` rows by `rows`' order. With `dropped`, a
/// row group's rows the prefilter cannot be sure of are cut to its `limit` best too, and
/// `dropped` lowered to the best rank (see [`FirstRows::rank`]) of those cut: if a row
/// of that rank could still enter the page when the scan is done, the page must be
/// read again without the cut.
pub struct Page {
    /// The order and the bar.
    pub rows: FirstRows,
    /// Rows on the page.
    pub limit: usize,
    /// Where the best rank cut is kept (`i64::MAX`: none was).
    pub dropped: Option<Arc<AtomicI64>>,
}

/// The scan of a log query's events in `[min_t, max_t]`: equality matchers pick row
/// groups; the stream selector and the pipeline's prefilter are tested on sealed
/// columns before events are decoded. With `first`, only rows that could still be
/// among the first of a page are decoded, and a page (`first` with its `limit`) of
/// rows the prefilter knows to be entries (a bare selector, or line filters surely
/// passed) decodes at most `limit` of each row group: the others could not be among
/// the first `limit` of the whole. With `sure`, rows the prefilter knows to be entries
/// are handed to it and not decoded.
pub fn scan_of(
    pipe: &Arc<Pipeline>,
    min_t: i64,
    max_t: i64,
    first: Option<Page>,
    sure: Option<(&SureCounts, Option<Vec<String>>)>,
) -> Scan {
    let keys: Vec<u64> = pipe.selector.iter().filter_map(|m| m.equal_value().map(|v| label_key(&m.name, v))).collect();
    // Rows of a `| json` pipeline are known to pass, with the labels the taker reads (a
    // page reads none).
    let (counts, fields) = match sure {
        Some((counts, fields)) => (Some(counts), fields),
        None => (None, first.is_some().then(Vec::new)),
    };
    let pre = Arc::new(pipe.prefilter().with_labels(fields));
    let sure = counts.map(|c| c.taker(pre.labels().unwrap_or_default().to_vec()));
    let mut columns = vec![col::TIME.to_string(), col::LABELS.into()];
    if !pre.is_empty() {
        columns.extend(pre.columns());
    }
    let (first, page_limit, dropped) = match first {
        Some(p) => (Some(p.rows), Some(p.limit.max(1)), p.dropped),
        None => (None, None, None),
    };
    let test =
        RowTest { pipe: pipe.clone(), pre: pre.clone(), min_t, max_t, first: first.clone(), page_limit, sure, dropped };
    let mut cheap: Vec<String> = vec![col::TIME.into(), col::LABELS.into(), col::LEVEL.into()];
    cheap.extend(pre.labels().unwrap_or_default().iter().map(|l| format!(".{l}")));
    // Needles' word prefixes every kept row holds (filters of older segments lack them).
    let keys_since = (crate::tokens::KEYS_VERSION, pre.keys());
    // The condition: the selector and what the prefilter tests.
    let key = lantern_events::condition_key(&format!("logql {:?} {}", pipe.selector, pre.condition()));
    let filter = RowFilter {
        dictionary: true,
        key: Some(key),
        // Numbers and booleans are not read but for a label filter on them: a needle
        // that could be one leaves the row unknown.
        skip: Some(Arc::new(move |_, name: &str, text: bool| name.starts_with('.') && !text && !pre.tests_field(name))),
        columns,
        // Given what the condition says of the rows, the time, the streams and the
        // levels are enough (to test the time and the bar, and to take rows).
        cheap: Some(cheap),
        test: Arc::new(move |b, known| test.run(b, known)),
    };
    Scan { min_t, max_t, keys, keys_since, filter: Some(filter), first, ..Scan::all() }
}

/// The test of a row group's filter columns (see [`scan_of`]).
struct RowTest {
    pipe: Arc<Pipeline>,
    pre: Arc<Prefilter>,
    min_t: i64,
    max_t: i64,
    first: Option<FirstRows>,
    page_limit: Option<usize>,
    sure: Option<SureRows>,
    dropped: Option<Arc<AtomicI64>>,
}

impl RowTest {
    fn run(&self, b: &RecordBatch, known: Option<&Met>) -> Tested {
        let n = b.num_rows();
        let time = b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let in_window =
            |ts: i64| ts >= self.min_t && ts <= self.max_t && !self.first.as_ref().is_some_and(|f| f.beyond(ts));
        // Rows in the time range and within the bar (only those the condition holds for,
        // when that is known).
        let mut keep = known.map_or_else(|| vec![true; n], |k| k.rows.clone());
        if let Some(t) = time {
            let times = t.values();
            for (k, ts) in keep.iter_mut().zip(times.iter()) {
                *k = *k && in_window(*ts);
            }
        }
        // The condition (the selector, then the prefilter), or what it was found to say
        // of these rows before; rows it surely keeps as entries of their streams' labels.
        let sure_kind = self.pre.can_be_sure();
        let mut surely = vec![false; n];
        let mut met = None;
        match known {
            Some(k) if sure_kind => {
                for ((s, k), sure) in surely.iter_mut().zip(&keep).zip(&k.sure) {
                    *s = *k && *sure;
                }
            }
            Some(_) => {}
            None if keep.iter().any(|k| *k) => {
                // Worked out for every row, those left out by time or the bar too: what
                // the condition says of the whole group is remembered, so a repeated
                // query (whose bar falls elsewhere in the group) tests none of it again.
                let mut holds = vec![true; n];
                self.stream(b, &mut holds);
                if holds.iter().any(|k| *k) {
                    self.pre.test(b, &mut holds, sure_kind.then_some(&mut surely[..]));
                    surely.iter_mut().zip(&holds).for_each(|(s, k)| *s = *s && *k);
                }
                met = Some(Met { rows: holds.clone(), sure: surely.clone() });
                keep.iter_mut().zip(&holds).for_each(|(k, h)| *k = *k && *h);
                surely.iter_mut().zip(&keep).for_each(|(s, k)| *s = *s && *k);
            }
            None => {}
        }
        if keep.iter().any(|k| *k) {
            match (&self.sure, self.page_limit.zip(self.first.as_ref()).zip(time)) {
                (Some(take), _) if sure_kind => {
                    // Taken from the columns, not decoded.
                    keep.iter_mut().zip(&surely).for_each(|(k, s)| *k = *k && !*s);
                    if surely.iter().any(|s| *s) {
                        take(b, &surely);
                    }
                }
                (_, Some(((limit, first), t))) if self.pipe.is_empty || sure_kind => {
                    // Without a pipeline every row kept is an entry.
                    let entries = if self.pipe.is_empty { &keep.clone() } else { &surely };
                    page_cut(&mut keep, entries, |i| first.rank(t.value(i)), limit);
                }
                (_, Some(((limit, first), t))) if self.dropped.is_some() => {
                    // Rows that may be entries: the best `limit` are decoded, and the
                    // best rank of the others kept, for the caller to check.
                    let may = keep.clone();
                    page_cut(&mut keep, &may, |i| first.rank(t.value(i)), limit);
                    let cut = (0..keep.len()).filter(|&i| may[i] && !keep[i]).map(|i| first.rank(t.value(i))).min();
                    if let Some((cut, d)) = cut.zip(self.dropped.as_ref()) {
                        d.fetch_min(cut, Ordering::Relaxed);
                    }
                }
                _ => {}
            }
        }
        Tested { keep: keep.into(), met }
    }

    /// Clears `keep` of rows whose stream the selector does not take (each distinct
    /// `_labels` value tested once).
    fn stream(&self, b: &RecordBatch, keep: &mut [bool]) {
        let Some(labels) = b.column_by_name(col::LABELS) else { return };
        let takes = |t: &str| stream_of_json(t).is_none_or(|s| self.pipe.labels_match(|n| s.label(n)));
        if let Some(d) = labels.as_dictionary_opt::<Int32Type>() {
            let Some(values) = d.values().as_string_opt::<i32>() else { return };
            let ok: Vec<bool> = (0..values.len()).map(|j| takes(values.value(j))).collect();
            for (i, k) in keep.iter_mut().enumerate() {
                *k = *k && (!d.is_valid(i) || ok.get(d.keys().value(i) as usize).copied().unwrap_or(true));
            }
        } else if let Some(l) = labels.as_string_opt::<i32>() {
            let mut memo: HashMap<&str, bool> = HashMap::new();
            for (i, k) in keep.iter_mut().enumerate() {
                *k = *k && (!l.is_valid(i) || *memo.entry(l.value(i)).or_insert_with_key(|t| takes(t)));
            }
        }
    }
}

/// Of the rows kept that are surely entries, keeps the `limit` best by `rank` (and
/// those ranked as the last of them: their order decides).
fn page_cut(keep: &mut [bool], surely: &[bool], rank: impl Fn(usize) -> i64, limit: usize) {
    let mut ranks: Vec<i64> = (0..keep.len()).filter(|&i| keep[i] && surely[i]).map(&rank).collect();
    if ranks.len() <= limit {
        return;
    }
    let cut = *ranks.select_nth_unstable(limit - 1).1;
    for (i, k) in keep.iter_mut().enumerate() {
        if *k && surely[i] && rank(i) > cut {
            *k = false;
        }
    }
}
