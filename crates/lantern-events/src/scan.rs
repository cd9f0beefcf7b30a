//! What a scan reads: its time range, index keys and row-group tests, the prefilter of
//! sealed rows (and what its condition is remembered to say of them), and a page of the
//! first rows by time.

use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::bloom;

/// A cheap test on sealed rows before they are decoded: given a record batch of just
/// `columns` (those of them the segment has: a test reads a missing one as all null),
/// the rows that may match. It may keep rows that do not match (the visitor
/// checks), never drop one that does. A row group is read in two steps: `columns` for
/// every row, then the other columns only if some row passed, and only for those rows.
#[derive(Clone)]
pub struct RowFilter {
    /// The columns the test reads (`.*`: every column whose name starts with `.`).
    pub columns: Vec<String>,
    /// Whether string columns come as dictionary arrays (`Dictionary(Int32, Utf8)`), so a
    /// test of many rows tests each distinct value once.
    pub dictionary: bool,
    /// Columns a row group need not read for the test, given the group's filter, the
    /// column's name and whether it holds text (the test then reads them as absent):
    /// say, identifier columns when the filter shows no identifier of the group equals
    /// what is sought, or number columns when a word is sought.
    pub skip: Option<ColumnSkip>,
    /// What the test's condition is, apart from the scan's time range and page bar (see
    /// [`Met`]): what it says of each row of a row group is remembered under this key
    /// (sealed rows never change). A later scan with the same key skips a group in
    /// which no row meets it, and, with `cheap`, reads only those columns of the others
    /// and hands the test what was remembered. A row meeting it has the scan's index
    /// keys (`keys`, one of `any_keys`, and passes `groups`): the rows of a page whose
    /// filter lacks them are remembered as not meeting it.
    pub key: Option<u64>,
    /// The columns the test reads besides its condition's (say, the time, to count rows
    /// by): given a remembered [`Met`], the test must need no others.
    pub cheap: Option<Vec<String>>,
    /// The test, given what its condition was found to say of the rows before, if that
    /// is remembered (then the batch has only the `cheap` columns).
    pub test: RowTest,
}

/// See [`RowFilter::test`].
pub type RowTest = Arc<dyn Fn(&RecordBatch, Option<&Met>) -> Tested + Send + Sync>;

/// A [`RowFilter::key`] for a condition written out in full (two conditions with the
/// same text are the same).
pub fn condition_key(condition: &str) -> u64 {
    xxhash_rust::xxh64::xxh64(condition.as_bytes(), 0x636f_6e64)
}

/// What a [`RowFilter`]'s test says of a batch.
pub struct Tested {
    /// The rows that may match.
    pub keep: arrow_array::BooleanArray,
    /// What the filter's condition says of every row, when the test worked it out for
    /// every row (none was left out for the time range or the page's bar).
    pub met: Option<Met>,
}

impl From<arrow_array::BooleanArray> for Tested {
    fn from(keep: arrow_array::BooleanArray) -> Self {
        Tested { keep, met: None }
    }
}

/// What a filter's condition says of each row: whether it may meet it, and whether it
/// surely does (a row surely meeting it may be counted without being decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Met {
    /// Per row, whether it may meet the condition.
    pub rows: Vec<bool>,
    /// Per row, whether it surely meets it (only rows that may).
    pub sure: Vec<bool>,
}

/// See [`RowFilter::skip`].
pub type ColumnSkip = Arc<dyn Fn(&bloom::Bloom, &str, bool) -> bool + Send + Sync>;

/// Which rows a scan reads.
#[derive(Clone, Default)]
pub struct Scan {
    /// Oldest row time (ns), inclusive.
    pub min_t: i64,
    /// Newest row time (ns), inclusive.
    pub max_t: i64,
    /// Index keys every matching row has.
    pub keys: Vec<u64>,
    /// When not empty, every matching row has one of these keys.
    pub any_keys: Vec<u64>,
    /// Index keys every matching row has that only filters of this
    /// [`crate::Table::KEYS_VERSION`] or later hold (older segments are not asked of them).
    pub keys_since: (u32, Vec<u64>),
    /// A prefilter of sealed rows.
    pub filter: Option<RowFilter>,
    /// A test of a row group's filter (beyond `keys` and `any_keys`): false skips it.
    pub groups: Option<GroupTest>,
    /// Row groups lying wholly inside this range (ns, inclusive) are not read: the
    /// caller takes them from [`crate::EventStore::group_summaries`].
    pub skip_within: Option<(i64, i64)>,
    /// Segments whose newest row is older than this (ns, read as each segment is
    /// reached) are not read: a caller that has what it needs from newer rows raises it.
    pub floor: Option<Arc<std::sync::atomic::AtomicI64>>,
    /// Only the first rows by time are wanted (a page of a search or log query): see
    /// [`FirstRows`].
    pub first: Option<FirstRows>,
    /// Only these columns (by name) of sealed rows are decoded: the caller reads
    /// nothing else of the rows (the table makes rows of what it is given).
    pub decode: Option<ColumnSet>,
}

/// See [`Scan::decode`].
pub type ColumnSet = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A scan for the first rows by time: segments and their row groups are read best
/// first (newest first, or oldest first), so the caller's bar (the rank a row must not
/// be above to be among the first; ranks are `!time` newest first, `time` oldest first)
/// tightens early; with `skip`, segments and row groups that cannot hold a row ranking
/// at or below it are not read at all.
#[derive(Clone)]
pub struct FirstRows {
    /// Newest first (else oldest first).
    pub newest: bool,
    /// The rank a row must not be above, lowered by the caller as rows are found.
    pub bar: Arc<std::sync::atomic::AtomicI64>,
    /// Whether rows that cannot beat the bar are of no use (true), or still wanted
    /// (counted, say: then only the order applies).
    pub skip: bool,
}

impl FirstRows {
    /// The rank of a row of time `t`.
    pub fn rank(&self, t: i64) -> i64 {
        if self.newest {
            !t
        } else {
            t
        }
    }

    /// Whether a row of time `t` ranks above the bar (cannot be among the first).
    pub fn beyond(&self, t: i64) -> bool {
        self.rank(t) > self.bar.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The rank of the best row of a time range.
    pub(crate) fn best(&self, min_t: i64, max_t: i64) -> i64 {
        self.rank(if self.newest { max_t } else { min_t })
    }

    /// Whether rows of `[min_t, max_t]` are of no use now.
    pub(crate) fn skips(&self, min_t: i64, max_t: i64) -> bool {
        self.skip && self.best(min_t, max_t) > self.bar.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Scan {
    /// Every row.
    pub fn all() -> Self {
        Self {
            min_t: i64::MIN,
            max_t: i64::MAX,
            keys: Vec::new(),
            any_keys: Vec::new(),
            keys_since: (0, Vec::new()),
            filter: None,
            groups: None,
            skip_within: None,
            floor: None,
            first: None,
            decode: None,
        }
    }

    /// Whether a row group with this filter (built with keys of `version`, see
    /// [`crate::Table::KEYS_VERSION`]) may hold a selected row.
    pub(crate) fn group_may_match(&self, g: &bloom::Bloom, version: u32) -> bool {
        self.keys.iter().all(|k| g.may_contain(*k))
            && (version < self.keys_since.0 || self.keys_since.1.iter().all(|k| g.may_contain(*k)))
            && (self.any_keys.is_empty() || self.any_keys.iter().any(|k| g.may_contain(*k)))
            && self.groups.as_ref().is_none_or(|t| t(g))
    }
}

/// A test of a row group's Bloom filter: false when no row of the group can match.
pub type GroupTest = Arc<dyn Fn(&bloom::Bloom) -> bool + Send + Sync>;
