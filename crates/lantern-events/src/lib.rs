//! The event engine shared by spans and logs: timestamped rows with a schema the table
//! defines. Rows are logged (fsynced, group commit) before they are acknowledged, kept
//! in memory while recent, then sealed into immutable Parquet segments (zstd, sorted by
//! the table's sort column, row groups with min/max statistics) written through the
//! object-store seam. Each segment has a small sidecar: its time range, row count, a
//! Bloom filter over the table's index keys (trace IDs, services, attribute values…),
//! and a table-defined summary. Queries skip segments by time and by filter, and row
//! groups by the sort column's statistics. Retention drops whole segments by age and by
//! total size.

pub mod bloom;
mod build;
mod cache;
mod head;
mod pages;
mod scan;
mod segment;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use lantern_objstore::Store;
use parking_lot::{Mutex, RwLock};

use head::{Batch, Head};

pub use parquet;
pub use scan::{condition_key, ColumnSet, ColumnSkip, FirstRows, GroupTest, Met, RowFilter, RowTest, Scan, Tested};
pub use segment::SegmentInfo;

/// Errors of the event store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] lantern_objstore::Error),
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] lantern_wal::Error),
    /// A sealed segment could not be written or read.
    #[error("segment {id}: {message}")]
    Segment {
        /// The segment.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// A background task failed.
    #[error("task failed: {0}")]
    Task(String),
    /// The store was closed (the server is shutting down); retry elsewhere or later.
    #[error("the store is closed")]
    Closed,
    /// Rows arrive faster than they are sealed, and memory holds as many as it may:
    /// retry shortly.
    #[error("rows arrive faster than they are sealed: retry shortly")]
    Busy,
}

impl Error {
    /// Whether retrying later may succeed (the store is busy or closing), rather than
    /// the request or the store being at fault.
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Busy | Error::Closed)
    }
}

/// How long an append waits for rows in memory to be sealed before it is refused
/// (see [`Error::Busy`]).
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// A log segment is closed and the next one started past this size.
const LOG_SEGMENT_SIZE: u64 = 64 << 20;

/// Results of the event store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a kind of event (a span, a log line) is to the engine.
pub trait Table: Send + Sync + 'static {
    /// One event.
    type Row: Clone + Send + Sync + 'static;
    /// Directory name under the data directory and the object store.
    const NAME: &'static str;
    /// The `signal` label of the store's own metrics (`lantern_core::selfmon`).
    const SIGNAL: &'static str;
    /// The Arrow schema of sealed segments.
    fn schema() -> SchemaRef;
    /// The schema of one segment of these rows: [`Table::schema`] unless the table's
    /// columns depend on its rows (log fields become columns of their own).
    fn segment_schema(_rows: &[&Self::Row]) -> SchemaRef {
        Self::schema()
    }
    /// Per-column Parquet settings for a segment of these rows (encodings, whether
    /// dictionaries pay); the defaults otherwise.
    fn writer_props(
        props: parquet::file::properties::WriterPropertiesBuilder,
        _schema: &SchemaRef,
        _rows: &[&Self::Row],
    ) -> parquet::file::properties::WriterPropertiesBuilder {
        props
    }
    /// The row's time in nanoseconds since the epoch.
    fn time(row: &Self::Row) -> i64;
    /// The order of rows inside a segment: rows queried together (one service's, one
    /// trace's) should be near each other, so row groups are skipped as wholes.
    fn order(a: &Self::Row, b: &Self::Row) -> std::cmp::Ordering;
    /// A class of rows all equal by [`Table::order`] (say, the address of a stream the
    /// rows share): segments then order the classes once, not the rows one by one.
    /// `None` for every row (the default) orders rows by [`Table::order`] alone.
    fn order_class(_row: &Self::Row) -> Option<usize> {
        None
    }
    /// Index keys of the row (see [`bloom::key`]): a query naming keys skips row groups
    /// (and so segments) whose filter lacks any of them.
    fn keys(row: &Self::Row, out: &mut Vec<u64>);
    /// Bits per distinct key in the filters (see [`bloom::Bloom::with_bits`]).
    const BLOOM_BITS_PER_KEY: usize = 10;
    /// The version of the table's index keys, raised when filters come to hold keys
    /// they did not: a segment keeps the version its filters were built with, and
    /// [`Scan::keys_since`] are asked only of filters of that version or later.
    const KEYS_VERSION: u32 = 0;
    /// Rows per filter: a row group's index keys are kept per page of this many rows
    /// (as many as its Parquet pages hold, so the pages of a needle's rows are the only
    /// ones read); 0 keeps one filter per row group.
    const FILTER_PAGE_ROWS: usize = 0;
    /// Index keys of a row group's rows (duplicates allowed): [`Table::keys`] of each
    /// unless the table knows a cheaper way (rows sharing values).
    fn group_keys(rows: &[&Self::Row], out: &mut Vec<u64>) {
        for r in rows {
            Self::keys(r, out);
        }
    }
    /// Writes rows as one log payload (for [`EventStore::append`]).
    fn encode_log(rows: &[Self::Row], out: &mut Vec<u8>);
    /// The rows of a log payload: what [`Table::encode_log`] wrote, or what a caller of
    /// [`EventStore::append_payload`] logged (say, the request the rows came from).
    /// `None` for a payload that cannot be read.
    fn decode_log(b: &[u8]) -> Option<Vec<Self::Row>>;
    /// Rows as a record batch of `schema` (what [`Table::segment_schema`] gave).
    fn to_batch(schema: &SchemaRef, rows: &[&Self::Row]) -> std::result::Result<RecordBatch, String>;
    /// Rows of a record batch.
    fn from_batch(batch: &RecordBatch) -> std::result::Result<Vec<Self::Row>, String>;
    /// A summary of a segment's rows kept in its sidecar (e.g. services and operations).
    fn summarize(rows: &[&Self::Row]) -> serde_json::Value;
    /// A summary of one row group's rows (say, rows per stream), for answers that a
    /// group lying wholly inside a query's range gives without being read; `None` keeps
    /// none.
    fn summarize_group(_rows: &[&Self::Row]) -> Option<serde_json::Value> {
        None
    }
}

/// Tuning and retention.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seal once this many rows are in memory.
    pub max_head_rows: usize,
    /// Seal once the oldest row in memory arrived this long ago.
    pub max_head_age: Duration,
    /// Drop segments whose newest row is older than this.
    pub retention_age: Option<Duration>,
    /// Drop the oldest segments while sealed data is larger than this.
    pub retention_bytes: Option<u64>,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Bytes the condition cache (see [`RowFilter::key`]) may take across the store's
    /// segments (0: none is kept).
    pub condition_cache_bytes: usize,
    /// What "now" is for retention and for the rows' arrival times.
    pub clock: lantern_core::clock::SharedClock,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_head_rows: 250_000,
            max_head_age: Duration::from_secs(600),
            retention_age: None,
            retention_bytes: None,
            row_group_rows: 4096,
            condition_cache_bytes: 64 << 20,
            clock: lantern_core::clock::system(),
        }
    }
}

/// Counts for status pages and benchmarks.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Rows in memory (not yet sealed).
    pub head_rows: usize,
    /// Sealed segments.
    pub segments: usize,
    /// Rows in sealed segments.
    pub sealed_rows: u64,
    /// Bytes of sealed segments (data and sidecars).
    pub sealed_bytes: u64,
    /// Bytes of the write-ahead log.
    pub log_bytes: u64,
    /// Bytes the condition cache holds (what filter conditions say of row groups).
    pub condition_cache_bytes: usize,
}

/// A store of one table.
pub struct EventStore<T: Table> {
    log: lantern_wal::Log,
    store: Store,
    opts: Options,
    /// What the segments' condition caches may take together (`None`: nothing kept).
    cache: Option<Arc<cache::Budget>>,
    head: RwLock<Head<T::Row>>,
    segments: RwLock<Vec<Arc<segment::Segment>>>,
    seal_lock: tokio::sync::Mutex<()>,
    seq: Mutex<u64>,
    closed: std::sync::atomic::AtomicBool,
}

impl<T: Table> EventStore<T> {
    /// Opens the store: loads the segment sidecars, removes half-written segments, and
    /// replays the log written since the last seal.
    pub async fn open(log_dir: &Path, store: Store, opts: Options) -> Result<Self> {
        Self::open_observing(log_dir, store, opts, |_| {}).await
    }

    /// [`EventStore::open`], also handing each replayed log payload to `observe` (a
    /// table's owner may keep more in a payload than its rows: say, how far into a
    /// file they were read).
    pub async fn open_observing(
        log_dir: &Path,
        store: Store,
        opts: Options,
        mut observe: impl FnMut(&[u8]),
    ) -> Result<Self> {
        let mut segments = Vec::new();
        let cache = cache::Budget::new(opts.condition_cache_bytes);
        for id in store.list_dirs(T::NAME).await? {
            match segment::Segment::load(&store, T::NAME, &id, cache.clone()).await? {
                Some(s) => segments.push(Arc::new(s)),
                None => {
                    tracing::warn!(table = T::NAME, segment = %id, "removing a segment left half-written");
                    store.delete_prefix(&format!("{}/{id}", T::NAME)).await?;
                }
            }
        }
        segments.sort_by_key(|s| (s.info.min_t, s.info.id.clone()));
        let from = segments.iter().map(|s| s.info.log_upto).max().unwrap_or(0);
        let mut rows = Vec::new();
        let mut bad = 0usize;
        let log_opts = lantern_wal::Options { segment_size: LOG_SEGMENT_SIZE, signal: T::SIGNAL };
        let (log, _) = lantern_wal::Log::open(log_dir, log_opts, from, |_, payload| {
            observe(payload);
            match T::decode_log(payload) {
                Some(r) => rows.extend(r),
                None => bad += 1,
            }
            true
        })?;
        if bad > 0 {
            tracing::warn!(table = T::NAME, records = bad, "log records that no longer decode were skipped");
        }
        tracing::info!(table = T::NAME, segments = segments.len(), replayed = rows.len(), "event store opened");
        let since = (!rows.is_empty()).then(Instant::now);
        let seq = segments.len() as u64;
        Ok(Self {
            log,
            store,
            opts,
            cache,
            head: RwLock::new(Head {
                rows: rows.len(),
                batches: if rows.is_empty() { Vec::new() } else { vec![Arc::new(Batch::new(rows))] },
                sealing: Vec::new(),
                since,
            }),
            segments: RwLock::new(segments),
            seal_lock: tokio::sync::Mutex::new(()),
            closed: std::sync::atomic::AtomicBool::new(false),
            seq: Mutex::new(seq),
        })
    }

    /// Stores rows: returns once they are logged and fsynced (they survive a crash).
    pub fn append(&self, rows: Vec<T::Row>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(rows.len() * 256);
        T::encode_log(&rows, &mut payload);
        self.append_payload(rows, &[&payload])
    }

    /// Stores rows, logging `payload` (its parts concatenated) for them:
    /// [`Table::decode_log`] of it must give the same rows back (a receiver logs the
    /// request itself, sparing an encoding).
    pub fn append_payload(&self, rows: Vec<T::Row>, payload: &[&[u8]]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // Memory holds at most `max_head_rows` rows besides those being sealed: while a
        // seal runs with that many waiting, appends wait for it (they would only grow
        // the next one), and are refused if it takes too long.
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            let full = {
                let h = self.head.read();
                h.rows >= self.opts.max_head_rows.max(1) && !h.sealing.is_empty()
            };
            if !full {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::Busy);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Rows go into memory under the same lock as the log write, so a seal (which
        // rotates the log under it) never separates a row from its log segment.
        let pos = {
            let mut h = self.head.write();
            if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            let pos = self.log.write_frame(payload)?.pos;
            h.since.get_or_insert_with(Instant::now);
            h.rows += rows.len();
            h.batches.push(Arc::new(Batch::new(rows)));
            pos
        };
        Ok(self.log.sync_to(pos)?)
    }

    /// The clock the store reads "now" from.
    pub fn clock(&self) -> &lantern_core::clock::SharedClock {
        &self.opts.clock
    }

    /// Stops taking writes and makes everything logged durable (at shutdown; rows in
    /// memory are replayed from the log at the next start).
    pub fn close(&self) -> Result<()> {
        let _h = self.head.write();
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(self.log.sync()?)
    }

    /// Reads every segment's Parquet footer (after opening), so first queries do not wait
    /// on them; a footer that cannot be read is reported and left for the query to retry.
    pub async fn warm(&self) {
        let segs: Vec<Arc<segment::Segment>> = self.segments.read().clone();
        for s in segs {
            if let Err(e) = s.warm::<T>(&self.store).await {
                tracing::warn!(table = T::NAME, segment = %s.info.id, error = %e, "reading a segment's footer failed");
            }
        }
    }

    /// Seals the rows in memory if there are enough or they are old enough, then
    /// applies retention. Called periodically.
    pub async fn maintain(&self) -> Result<()> {
        let due = {
            let h = self.head.read();
            h.rows >= self.opts.max_head_rows
                || h.since.is_some_and(|s| s.elapsed() >= self.opts.max_head_age && h.rows > 0)
        };
        if due {
            self.seal().await?;
        }
        self.apply_retention().await
    }

    /// Seals every row in memory into a segment now.
    pub async fn seal(&self) -> Result<()> {
        let _g = self.seal_lock.lock().await;
        let (rows, upto) = {
            let mut h = self.head.write();
            if h.rows == 0 {
                return Ok(());
            }
            let upto = self.log.rotate()?;
            let rows = Arc::new(std::mem::take(&mut h.batches));
            h.rows = 0;
            h.since = None;
            h.sealing.push(rows.clone());
            (rows, upto)
        };
        let id = {
            let mut s = self.seq.lock();
            *s += 1;
            let min_t = rows.iter().flat_map(|b| b.iter()).map(T::time).min().unwrap_or(0);
            format!("{:020}-{:06}", min_t.max(0), *s)
        };
        let opts = self.opts.clone();
        let (id2, rows2) = (id.clone(), rows.clone());
        let built = tokio::task::spawn_blocking(move || build::build::<T>(&id2, &rows2, upto, &opts))
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        let seg = segment::Segment::put(&self.store, T::NAME, built, self.cache.clone()).await?;
        if let Err(e) = seg.warm::<T>(&self.store).await {
            tracing::warn!(table = T::NAME, error = %e, "reading a new segment's footer failed");
        }
        {
            let mut segs = self.segments.write();
            segs.push(Arc::new(seg));
            segs.sort_by_key(|s| (s.info.min_t, s.info.id.clone()));
            let mut h = self.head.write();
            h.sealing.retain(|r| !Arc::ptr_eq(r, &rows));
        }
        self.log.remove_before(upto)?;
        let n: usize = rows.iter().map(|b| b.len()).sum();
        tracing::info!(table = T::NAME, segment = %id, rows = n, "events sealed");
        Ok(())
    }

    async fn apply_retention(&self) -> Result<()> {
        let now_ns = self.opts.clock.now_ns();
        let mut drop: Vec<Arc<segment::Segment>> = Vec::new();
        {
            let segs = self.segments.read();
            if let Some(age) = self.opts.retention_age {
                let oldest = now_ns.saturating_sub(age.as_nanos().min(i64::MAX as u128) as i64);
                drop.extend(segs.iter().filter(|s| s.info.max_t < oldest).cloned());
            }
            if let Some(limit) = self.opts.retention_bytes {
                let mut total: u64 = segs.iter().map(|s| s.info.bytes).sum();
                let mut by_age: Vec<&Arc<segment::Segment>> = segs.iter().collect();
                by_age.sort_by_key(|s| s.info.max_t);
                for s in by_age {
                    if total <= limit {
                        break;
                    }
                    total -= s.info.bytes;
                    if !drop.iter().any(|d| d.info.id == s.info.id) {
                        drop.push(s.clone());
                    }
                }
            }
        }
        if drop.is_empty() {
            return Ok(());
        }
        self.segments.write().retain(|s| !drop.iter().any(|d| d.info.id == s.info.id));
        for s in &drop {
            self.store.delete_prefix(&format!("{}/{}", T::NAME, s.info.id)).await?;
        }
        lantern_core::selfmon::retention_deleted(T::SIGNAL, drop.len() as u64);
        tracing::info!(table = T::NAME, segments = drop.len(), "segments dropped by retention");
        Ok(())
    }

    /// Calls `visit` with each row the scan selects: rows in memory first, in the order
    /// they arrived, then segments from the newest, each in its sorted order (which
    /// keeps the arrival order of rows its sort puts side by side); `visit` stops the
    /// scan by returning `Break`. Rows are
    /// only pre-filtered by time and keys' segments: `visit` checks the rest.
    pub async fn scan(&self, scan: &Scan, mut visit: impl FnMut(&T::Row) -> ControlFlow<()> + Send) -> Result<()> {
        self.scan_at(scan, |r, _| visit(r)).await
    }

    /// [`EventStore::scan`], handing each row its position in that order (rows of equal
    /// time are told apart by it): a scan for the [`FirstRows`] visits rows out of
    /// that order, and a caller keeping the first of equal times keeps the lowest
    /// position.
    pub async fn scan_at(
        &self,
        scan: &Scan,
        mut visit: impl FnMut(&T::Row, u64) -> ControlFlow<()> + Send,
    ) -> Result<()> {
        let in_range = |r: &T::Row| {
            let t = T::time(r);
            t >= scan.min_t && t <= scan.max_t
        };
        // Rows in memory in the order they arrived (those being sealed first), so a
        // caller that keeps the first of equal times keeps arrival order.
        let batches: Vec<Arc<Batch<T::Row>>> = {
            let h = self.head.read();
            h.sealing.iter().flat_map(|s| s.iter()).chain(h.batches.iter()).cloned().collect()
        };
        let mut pos = 0u64;
        for batch in &batches {
            if !batch.may_hold::<T>(scan) {
                pos += batch.len() as u64;
                continue;
            }
            for r in batch.iter() {
                pos += 1;
                if in_range(r) && visit(r, pos).is_break() {
                    return Ok(());
                }
            }
        }
        // Segments from the newest: a segment's rows come after every row in memory
        // and those of newer segments.
        let mut segs: Vec<(u64, Arc<segment::Segment>)> = {
            let all = self.segments.read();
            let mut by_age: Vec<&Arc<segment::Segment>> = all.iter().collect();
            by_age.sort_by_key(|s| std::cmp::Reverse(s.info.max_t));
            by_age
                .into_iter()
                .enumerate()
                // (Segments whose pages' filters rule the scan out read nothing.)
                .filter(|(_, s)| s.info.max_t >= scan.min_t && s.info.min_t <= scan.max_t)
                .map(|(i, s)| ((1u64 << 62) + ((i as u64) << 40), s.clone()))
                .collect()
        };
        if let Some(f) = &scan.first {
            segs.sort_by_key(|(_, s)| f.best(s.info.min_t, s.info.max_t));
        }
        let mut filtered = |r: &T::Row, at: u64| if in_range(r) { visit(r, at) } else { ControlFlow::Continue(()) };
        for (base, s) in segs {
            if scan.floor.as_ref().is_some_and(|f| s.info.max_t < f.load(std::sync::atomic::Ordering::Relaxed)) {
                break;
            }
            if scan.first.as_ref().is_some_and(|f| f.skips(s.info.min_t, s.info.max_t)) {
                continue;
            }
            if s.scan::<T>(&self.store, scan, base, &mut filtered).await?.is_break() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Reads only `columns` of the rows a scan selects, for counting without decoding
    /// rows: rows in memory go to `row` (newest first), sealed row groups to `batch` as
    /// record batches of those columns (the ones the segment has) whose `time` lies in
    /// the scan's range only as far as the row group's does: `batch` checks times.
    /// Strings stored with a dictionary come as dictionary arrays (a value is then
    /// looked at once per row group), the others as plain ones. `scan.filter` is not
    /// applied here.
    pub async fn scan_columns(
        &self,
        scan: &Scan,
        columns: &[&str],
        mut row: impl FnMut(&T::Row) + Send,
        mut batch: impl FnMut(&RecordBatch) + Send,
    ) -> Result<()> {
        let batches: Vec<Arc<Batch<T::Row>>> = {
            let h = self.head.read();
            h.batches.iter().rev().chain(h.sealing.iter().rev().flat_map(|s| s.iter().rev())).cloned().collect()
        };
        for b in &batches {
            for r in b.iter() {
                let t = T::time(r);
                if t >= scan.min_t && t <= scan.max_t {
                    row(r);
                }
            }
        }
        let segs: Vec<Arc<segment::Segment>> = self
            .segments
            .read()
            .iter()
            .filter(|s| s.info.max_t >= scan.min_t && s.info.min_t <= scan.max_t)
            .cloned()
            .collect();
        for s in segs {
            s.scan_columns::<T>(&self.store, scan, columns, &mut batch).await?;
        }
        Ok(())
    }

    /// The summaries of every sealed segment overlapping `[min_t, max_t]` (ns).
    pub fn summaries(&self, min_t: i64, max_t: i64) -> Vec<serde_json::Value> {
        self.segments
            .read()
            .iter()
            .filter(|s| s.info.max_t >= min_t && s.info.min_t <= max_t)
            .map(|s| s.info.summary.clone())
            .collect()
    }

    /// The summaries ([`Table::summarize_group`]) of the sealed row groups lying wholly
    /// inside `[min_t, max_t]` (ns), with their time ranges: what a scan with
    /// `skip_within` of that range does not read.
    pub fn group_summaries(&self, min_t: i64, max_t: i64) -> Vec<([i64; 2], serde_json::Value)> {
        let segs = self.segments.read();
        let mut out = Vec::new();
        for s in segs.iter().filter(|s| s.info.max_t >= min_t && s.info.min_t <= max_t) {
            for (t, v) in s.info.group_times.iter().zip(&s.info.group_summaries) {
                if t[0] >= min_t && t[1] <= max_t && !v.is_null() {
                    out.push((*t, v.clone()));
                }
            }
        }
        out
    }

    /// Rows in memory overlapping `[min_t, max_t]` (ns), for callers that summarise
    /// them as a segment's summary does.
    pub fn head_rows(&self, min_t: i64, max_t: i64) -> Vec<T::Row> {
        let h = self.head.read();
        h.batches
            .iter()
            .chain(h.sealing.iter().flat_map(|s| s.iter()))
            .flat_map(|b| b.iter())
            .filter(|r| (min_t..=max_t).contains(&T::time(r)))
            .cloned()
            .collect()
    }

    /// Counts.
    pub fn stats(&self) -> Stats {
        let segs = self.segments.read();
        Stats {
            head_rows: {
                let h = self.head.read();
                h.rows + h.sealing.iter().flat_map(|s| s.iter()).map(|b| b.len()).sum::<usize>()
            },
            segments: segs.len(),
            sealed_rows: segs.iter().map(|s| s.info.rows).sum(),
            sealed_bytes: segs.iter().map(|s| s.info.bytes).sum(),
            log_bytes: self.log.disk_size(),
            condition_cache_bytes: self.cache.as_ref().map_or(0, |c| c.used()),
        }
    }
}

#[cfg(test)]
mod tests;
