//! The scan of a LogQL query's sealed rows: which row groups it reads (equality
//! matchers), and the test of a row group's filter columns before rows are decoded
//! (time range, the page's bar, the stream selector, the pipeline's prefilter). Rows
//! the prefilter knows to pass can be taken from the columns (counted, not decoded), and
//! a page decodes at most its limit of each row group.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, Int64Array, RecordBatch};
use lantern_events::{FirstRows, RowFilter, Scan, Tested};

use super::pipeline::Pipeline;
use super::prefilter::{str_at, Prefilter};
use crate::table::{col, stream_of_json};
use crate::tokens::label_key;

/// Takes the sealed rows a scan's prefilter knows to be entries of their streams' labels
/// (the mask), so they are not decoded: given the batch of the filter's columns.
pub type SureRows = Arc<dyn Fn(&RecordBatch, &[bool]) + Send + Sync>;

/// Times of rows by stream: labels as `_labels` holds them, and the level when no
/// label gives it.
pub type StreamTimes = HashMap<(String, String), Vec<i64>>;

/// The times of rows taken from the columns, by stream.
#[derive(Default)]
pub struct SureCounts(Arc<parking_lot::Mutex<StreamTimes>>);

impl SureCounts {
    /// The taker a scan hands those rows to.
    pub fn taker(&self) -> SureRows {
        let seen = self.0.clone();
        Arc::new(move |b: &RecordBatch, mask: &[bool]| {
            let (Some(t), Some(l)) = (
                b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>()),
                b.column_by_name(col::LABELS),
            ) else {
                return;
            };
            let lv = b.column_by_name(col::LEVEL);
            let mut local: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
            for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
                let labels = str_at(l.as_ref(), i).unwrap_or("{}");
                let level = lv.and_then(|a| str_at(a.as_ref(), i)).unwrap_or("");
                local.entry((labels, level)).or_default().push(t.value(i));
            }
            let mut all = seen.lock();
            for ((l, lv), ts) in local {
                all.entry((l.to_string(), lv.to_string())).or_default().extend(ts);
            }
        })
    }

    /// What was taken.
    pub fn take(self) -> StreamTimes {
        std::mem::take(&mut *self.0.lock())
    }
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
    first: Option<(FirstRows, usize)>,
    sure: Option<SureRows>,
) -> Scan {
    let keys: Vec<u64> = pipe.selector.iter().filter_map(|m| m.equal_value().map(|v| label_key(&m.name, v))).collect();
    let pre = Arc::new(pipe.prefilter());
    let mut columns = vec![col::TIME.to_string(), col::LABELS.into()];
    if !pre.is_empty() {
        columns.extend(pre.columns());
    }
    let (first, page_limit) = match first {
        Some((f, limit)) => (Some(f), Some(limit.max(1))),
        None => (None, None),
    };
    let test = RowTest { pipe: pipe.clone(), pre: pre.clone(), min_t, max_t, first: first.clone(), page_limit, sure };
    // The condition: the selector and what the prefilter tests.
    let key = lantern_events::condition_key(&format!("logql {:?} {}", pipe.selector, pre.condition()));
    let filter = RowFilter {
        dictionary: true,
        key: Some(key),
        // Numbers and booleans are not read but for a label filter on them: a needle
        // that could be one leaves the row unknown.
        skip: Some(Arc::new(move |_, name: &str, text: bool| name.starts_with('.') && !text && !pre.tests_field(name))),
        columns,
        test: Arc::new(move |b| test.run(b)),
    };
    Scan { min_t, max_t, keys, filter: Some(filter), first, ..Scan::all() }
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
}

impl RowTest {
    fn run(&self, b: &RecordBatch) -> Tested {
        let n = b.num_rows();
        let mut keep = vec![true; n];
        let time = b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        if let Some(t) = time {
            for (i, k) in keep.iter_mut().enumerate() {
                let ts = t.value(i);
                *k = ts >= self.min_t && ts <= self.max_t && !self.first.as_ref().is_some_and(|f| f.beyond(ts));
            }
        }
        // Whether the condition (selector and prefilter) is tested on every row, and
        // whether some row meets it.
        let every_row = keep.iter().all(|k| *k);
        let mut met = false;
        self.stream(b, &mut keep);
        if keep.iter().any(|k| *k) {
            match (&self.sure, self.page_limit.zip(self.first.as_ref()).zip(time)) {
                (Some(take), _) if self.pre.can_be_sure() => {
                    let mut surely = vec![false; n];
                    self.pre.test(b, &mut keep, Some(&mut surely));
                    met = keep.iter().any(|k| *k);
                    for (s, k) in surely.iter_mut().zip(keep.iter_mut()) {
                        *s = *s && *k;
                        *k = *k && !*s;
                    }
                    if surely.iter().any(|s| *s) {
                        take(b, &surely);
                    }
                }
                (_, Some(((limit, first), t))) if self.pipe.is_empty || self.pre.can_be_sure() => {
                    let mut surely = keep.clone();
                    if !self.pipe.is_empty {
                        self.pre.test(b, &mut keep, Some(&mut surely));
                    }
                    met = keep.iter().any(|k| *k);
                    page_cut(&mut keep, &surely, |i| first.rank(t.value(i)), limit);
                }
                _ => {
                    self.pre.test(b, &mut keep, None);
                    met = keep.iter().any(|k| *k);
                }
            }
        }
        Tested { keep: keep.into_iter().map(Some).collect(), none: every_row && !met }
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
