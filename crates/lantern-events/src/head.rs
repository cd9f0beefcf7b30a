//! Rows in memory: the batches they were appended in, each with a filter over its rows'
//! index keys and its time range, made the first time a keyed scan reads the batch (so
//! ingest does not pay for it), after which scans skip the batches that cannot match
//! as they skip a sealed page.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::pages::PageFilter;
use crate::{Scan, Table};

/// Rows appended together (shared, so a scan takes them without copying rows or holding
/// the lock while it reads).
pub(crate) struct Batch<R> {
    rows: Vec<R>,
    filter: OnceLock<PageFilter>,
}

impl<R> Batch<R> {
    pub(crate) fn new(rows: Vec<R>) -> Self {
        Batch { rows, filter: OnceLock::new() }
    }

    /// Whether a row of the batch may be one the scan selects, by time and, when the
    /// scan names index keys (or tests filters), by the batch's filter.
    pub(crate) fn may_hold<T: Table<Row = R>>(&self, scan: &Scan) -> bool {
        if scan.keys.is_empty() && scan.any_keys.is_empty() && scan.keys_since.1.is_empty() && scan.groups.is_none() {
            return true;
        }
        let f = self.filter.get_or_init(|| {
            let rows: Vec<&R> = self.rows.iter().collect();
            PageFilter::of::<T>(&rows, &mut Vec::new())
        });
        f.times[1] >= scan.min_t && f.times[0] <= scan.max_t && scan.group_may_match(&f.keys, T::KEYS_VERSION)
    }
}

impl<R> Deref for Batch<R> {
    type Target = Vec<R>;
    fn deref(&self) -> &Vec<R> {
        &self.rows
    }
}

/// Rows in memory.
pub(crate) struct Head<R> {
    pub(crate) batches: Vec<Arc<Batch<R>>>,
    pub(crate) rows: usize,
    /// Batches being written into a segment: still answered from memory.
    pub(crate) sealing: Vec<Arc<Vec<Arc<Batch<R>>>>>,
    pub(crate) since: Option<Instant>,
}
