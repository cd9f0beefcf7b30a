//! The log store: events appended (logged and fsynced before the caller answers),
//! searched with the seed's syntax, counted into a volume histogram, and listed by
//! stream for label and series lookups.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use lantern_events::{EventStore, FirstRows, Options, Scan};
use lantern_objstore::Store;
use parking_lot::Mutex;

use crate::codec;
use crate::jsonl::LineParser;
use crate::model::{IdFields, LogRow, Stream};
use crate::search::Search;
use crate::table::{stream_of_json, Logs};
use crate::topk::FirstByTime;

pub use crate::error::{Error, Result};

/// The order of search hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    /// Matches in the time range, all of them.
    pub total: u64,
    /// The first `limit` matches in the order asked (after the cursor, if one was given).
    pub hits: Vec<LogRow>,
    /// Matches after the hits returned: more pages to read.
    pub remaining: u64,
}

/// Where a page of search hits starts: after the first `skip` matches of time `time`
/// (ns), in the page's order (matches of equal time come in arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The time of the last hit returned.
    pub time: i64,
    /// How many matches of that time were returned so far.
    pub skip: u64,
}

impl Cursor {
    /// The cursor after `hits`, the page that followed `after`.
    pub fn after(hits: &[LogRow], after: Option<Cursor>) -> Option<Cursor> {
        let last = hits.last()?.time;
        let here = hits.iter().rev().take_while(|r| r.time == last).count() as u64;
        let before = after.filter(|c| c.time == last && hits.iter().all(|r| r.time == last)).map_or(0, |c| c.skip);
        Some(Cursor { time: last, skip: before + here })
    }
}

/// A line of a JSON-lines request that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number in the body.
    pub line: usize,
    /// Why.
    pub reason: String,
    /// Why, as the `reason` label of Lantern's own metrics: `too_long` or `invalid`.
    pub cause: &'static str,
}

/// [`Rejected::cause`] of a line longer than the limit.
pub const TOO_LONG: &str = "too_long";
/// [`Rejected::cause`] of an entry that is malformed (labels, time, shape).
pub const INVALID: &str = "invalid";

/// The store.
pub struct LogStore {
    events: EventStore<Logs>,
    /// Subscribers to new events (live tail), each with its own bounded queue.
    taps: Mutex<Vec<tokio::sync::mpsc::Sender<Arc<Vec<LogRow>>>>>,
    /// How far each file was read, by the log records replayed at start-up.
    replayed_files: HashMap<String, u64>,
    /// Held by a file input from storing lines to writing its checkpoint, and by
    /// sealing: a seal (which drops the log records that say how far a file was read)
    /// never falls between the two.
    checkpoint: tokio::sync::Mutex<()>,
    /// The fields matched whole by searches (`logs.id_fields`).
    id_fields: IdFields,
}

impl LogStore {
    /// Opens the store (the log under `log_dir`, segments in `store`).
    pub async fn open(log_dir: &Path, store: Store, opts: Options) -> Result<Self> {
        let mut replayed_files: HashMap<String, u64> = HashMap::new();
        let events = EventStore::open_observing(log_dir, store, opts, |payload| {
            if let Some((file, end)) = codec::file_offset(payload) {
                let e = replayed_files.entry(file).or_default();
                *e = (*e).max(end);
            }
        })
        .await?;
        Ok(Self {
            events,
            taps: Mutex::new(Vec::new()),
            replayed_files,
            checkpoint: tokio::sync::Mutex::new(()),
            id_fields: IdFields::default(),
        })
    }

    /// The store with these identifier fields (matched whole by searches).
    pub fn with_id_fields(mut self, ids: IdFields) -> Self {
        self.id_fields = ids;
        self
    }

    /// The fields its searches match whole.
    pub fn id_fields(&self) -> &IdFields {
        &self.id_fields
    }

    /// Compiles a search in the seed's syntax with this store's identifier fields.
    pub fn parse_search(&self, text: &str) -> Result<Search> {
        Search::parse_with(text, self.id_fields.clone())
    }

    /// Reads segment footers ahead of the first queries.
    pub async fn warm(&self) {
        self.events.warm().await
    }

    fn publish(&self, rows: &[LogRow]) {
        let mut taps = self.taps.lock();
        if taps.is_empty() {
            return;
        }
        let batch = Arc::new(rows.to_vec());
        // A tail that cannot keep up misses events rather than slowing ingest.
        taps.retain(|t| !t.is_closed());
        for t in taps.iter() {
            let _ = t.try_send(batch.clone());
        }
    }

    /// New events as they are stored, in batches (a bounded queue: a slow reader
    /// misses batches).
    pub fn subscribe(&self) -> tokio::sync::mpsc::Receiver<Arc<Vec<LogRow>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        self.taps.lock().push(tx);
        rx
    }

    /// Stores events; returns once they are durable.
    pub fn append(&self, rows: Vec<LogRow>) -> Result<()> {
        self.publish(&rows);
        Ok(self.events.append(rows)?)
    }

    /// Stores events with a log payload of the caller's (see
    /// [`lantern_events::EventStore::append_payload`]).
    pub fn append_payload(&self, rows: Vec<LogRow>, payload: &[&[u8]]) -> Result<()> {
        self.publish(&rows);
        Ok(self.events.append_payload(rows, payload)?)
    }

    /// Stores the lines of a JSON-lines body with these stream labels: lines longer
    /// than `max_line` bytes are rejected (and named), the rest stored. `now` (ns) is
    /// the time of lines without one. Returns the number stored and the rejections.
    pub fn append_jsonl(
        &self,
        labels: Vec<(String, String)>,
        now: i64,
        body: &str,
        max_line: usize,
    ) -> Result<(usize, Vec<Rejected>)> {
        let mut p = LineParser::new(labels.clone(), now);
        let mut rows = Vec::with_capacity(body.bytes().filter(|&b| b == b'\n').count() + 1);
        let mut rejected = Vec::new();
        for (i, line) in body.split('\n').enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if line.len() > max_line {
                rejected.push(Rejected {
                    line: i + 1,
                    reason: format!("line {} is {} bytes, longer than the limit of {max_line}", i + 1, line.len()),
                    cause: TOO_LONG,
                });
                continue;
            }
            rows.push(p.parse(line));
        }
        let n = rows.len();
        if rejected.is_empty() {
            // The body itself is the log record: replay parses it again.
            let header = codec::jsonl_header(&labels, now);
            self.append_payload(rows, &[&header, body.as_bytes()])?;
        } else {
            self.append(rows)?;
        }
        Ok((n, rejected))
    }

    /// Stores records read from a file (`records`: byte ranges of `body`, a line each
    /// or several lines of a multiline record) with these labels; `file` names the file
    /// (and its identity) and `end` is the offset after them, kept in the log record so
    /// a restart resumes after them. Records longer than `max_line` are cut to it.
    #[allow(clippy::too_many_arguments)]
    pub fn append_file(
        &self,
        labels: Vec<(String, String)>,
        now: i64,
        file: &str,
        end: u64,
        body: &str,
        records: &[std::ops::Range<usize>],
        max_line: usize,
    ) -> Result<usize> {
        let mut p = LineParser::new(labels.clone(), now);
        let mut rows = Vec::with_capacity(records.len());
        let mut kept = Vec::with_capacity(records.len());
        for r in records {
            let Some(text) = body.get(r.clone()) else { continue };
            let mut cut = text.len().min(max_line);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            rows.push(p.parse(&text[..cut]));
            kept.push(r.start..r.start + cut);
        }
        let n = rows.len();
        let header = codec::file_header(&labels, now, file, end, Some(&kept));
        // Even no lines (blank ones only) move the file's offset on.
        self.publish(&rows);
        if rows.is_empty() {
            return Ok(0);
        }
        self.events.append_payload(rows, &[&header, body.as_bytes()])?;
        Ok(n)
    }

    /// How far the log records replayed at start-up say each file was read.
    pub fn replayed_file_offsets(&self) -> &HashMap<String, u64> {
        &self.replayed_files
    }

    /// The lock a file input holds from storing lines to writing its checkpoint.
    pub fn checkpoint_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.checkpoint
    }

    fn scan_for(&self, s: &Search, start: i64, end: i64, sure: crate::search::Sure, first: Option<FirstRows>) -> Scan {
        let (min_t, max_t) = s.time_range(start, end);
        let search = s.clone();
        Scan {
            min_t,
            max_t,
            filter: Some(s.row_filter(min_t, max_t, sure)),
            groups: Some(Arc::new(move |g| search.group_may_match(g))),
            first,
            ..Scan::all()
        }
    }

    /// Events matching `s` in `[start, end]` (ns): how many, and the first `limit` in
    /// `order`. Sealed rows known to match from a few columns are counted without
    /// being decoded unless they may be among the first `limit`.
    pub async fn search(&self, s: &Search, start: i64, end: i64, order: Order, limit: usize) -> Result<Found> {
        self.search_page(s, start, end, order, limit, None).await
    }

    /// [`LogStore::search`] from a cursor: the first `limit` matches after it (the
    /// total still counts every match in `[start, end]`).
    pub async fn search_page(
        &self,
        s: &Search,
        start: i64,
        end: i64,
        order: Order,
        limit: usize,
        after: Option<Cursor>,
    ) -> Result<Found> {
        let rank = |t: i64| FirstByTime::<LogRow>::rank(order, t);
        let cursor_rank = after.map(|c| rank(c.time));
        // Rows counted by the prefilter, those of them before the cursor, and the rank
        // a row must beat to enter the first `limit` once they are found.
        let counted = Arc::new(AtomicU64::new(0));
        let passed = Arc::new(AtomicU64::new(0));
        let bar = Arc::new(AtomicI64::new(if limit == 0 { i64::MIN } else { i64::MAX }));
        let sure = {
            let (counted, passed, bar) = (counted.clone(), passed.clone(), bar.clone());
            Arc::new(move |t: i64, _: &str| {
                let r = FirstByTime::<LogRow>::rank(order, t);
                let before = cursor_rank.is_some_and(|c| r < c);
                // Rows of the cursor's own time are decoded: which were returned is
                // decided by their order.
                let wanted = !before && r <= bar.load(AtomicOrdering::Relaxed);
                if !wanted {
                    counted.fetch_add(1, AtomicOrdering::Relaxed);
                    if before {
                        passed.fetch_add(1, AtomicOrdering::Relaxed);
                    }
                }
                wanted
            })
        };
        // Groups are read best first, so the bar is low early and fewer rows decoded;
        // every match is still counted.
        let page = FirstRows { newest: order == Order::Desc, bar: bar.clone(), skip: false };
        let scan = self.scan_for(s, start, end, sure, Some(page));
        if scan.min_t > scan.max_t {
            return Ok(Found::default());
        }
        let mut total = 0u64;
        let mut skipped = 0u64;
        let mut at_cursor = 0u64;
        let mut first = FirstByTime::new(order, limit);
        self.events
            .scan_at(&scan, |r, pos| {
                if s.matches(r) {
                    total += 1;
                    if let Some(c) = after {
                        let rr = rank(r.time);
                        if rr < rank(c.time) {
                            skipped += 1;
                            return ControlFlow::Continue(());
                        }
                        if r.time == c.time && at_cursor < c.skip {
                            at_cursor += 1;
                            skipped += 1;
                            return ControlFlow::Continue(());
                        }
                    }
                    first.offer_at(r.time, pos, || r.clone());
                    if limit > 0 {
                        bar.store(first.bar(), AtomicOrdering::Relaxed);
                    }
                }
                ControlFlow::Continue(())
            })
            .await?;
        let hits = first.into_sorted();
        let total = total + counted.load(AtomicOrdering::Relaxed);
        let before = skipped + passed.load(AtomicOrdering::Relaxed);
        let remaining = total.saturating_sub(before + hits.len() as u64);
        Ok(Found { total, hits, remaining })
    }

    /// Calls `visit` with every event matching the scan (those in memory in arrival
    /// order, then segments from the newest; no time order). For query engines over the store.
    pub async fn scan(&self, scan: &Scan, visit: impl FnMut(&LogRow) -> ControlFlow<()> + Send) -> Result<()> {
        Ok(self.events.scan(scan, visit).await?)
    }

    /// [`LogStore::scan`] with each event's position (see
    /// [`lantern_events::EventStore::scan_at`]).
    pub async fn scan_at(&self, scan: &Scan, visit: impl FnMut(&LogRow, u64) -> ControlFlow<()> + Send) -> Result<()> {
        Ok(self.events.scan_at(scan, visit).await?)
    }

    /// Reads only some columns of the events a scan selects (see
    /// [`lantern_events::EventStore::scan_columns`]).
    pub async fn scan_columns(
        &self,
        scan: &Scan,
        columns: &[&str],
        row: impl FnMut(&LogRow) + Send,
        batch: impl FnMut(&arrow_array::RecordBatch) + Send,
    ) -> Result<()> {
        Ok(self.events.scan_columns(scan, columns, row, batch).await?)
    }

    /// Matches of `s` in `[start, end]` counted per `step` (ns) and level: bucket start
    /// time → level → count.
    pub async fn volume(
        &self,
        s: &Search,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<BTreeMap<i64, BTreeMap<String, u64>>> {
        let step = step.max(1);
        // Rows known to match are counted from their time and level columns alone.
        type Buckets = std::collections::HashMap<(i64, String), u64>;
        let sure_counts: Arc<Mutex<Buckets>> = Arc::default();
        let sure = {
            let counts = sure_counts.clone();
            Arc::new(move |t: i64, level: &str| {
                let b = start + (t - start).div_euclid(step) * step;
                *counts.lock().entry((b, level.to_string())).or_default() += 1;
                false
            })
        };
        let scan = self.scan_for(s, start, end, sure, None);
        let mut out: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
        if scan.min_t > scan.max_t {
            return Ok(out);
        }
        self.events
            .scan(&scan, |r| {
                if s.matches(r) {
                    let b = start + (r.time - start).div_euclid(step) * step;
                    *out.entry(b).or_default().entry(r.stream.level.to_string()).or_default() += 1;
                }
                ControlFlow::Continue(())
            })
            .await?;
        for ((b, level), n) in sure_counts.lock().drain() {
            *out.entry(b).or_default().entry(level).or_default() += n;
        }
        Ok(out)
    }

    /// The streams with events in `[start, end]` (ns): from segment summaries and the
    /// events in memory.
    pub fn streams(&self, start: i64, end: i64) -> Vec<Arc<Stream>> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for summary in self.events.summaries(start, end) {
            for s in summary["streams"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
                if seen.insert(s.to_string()) {
                    if let Some(st) = stream_of_json(s) {
                        out.push(Arc::new(st));
                    }
                }
            }
        }
        let mut ptrs: HashSet<*const Stream> = HashSet::new();
        for r in self.events.head_rows(start, end) {
            if ptrs.insert(Arc::as_ptr(&r.stream)) {
                let text = r.stream.text();
                if seen.insert(format!("head{text}")) && !out.iter().any(|s: &Arc<Stream>| s.labels == r.stream.labels)
                {
                    out.push(r.stream.clone());
                }
            }
        }
        out
    }

    /// Rows per stream of the sealed row groups lying wholly inside `[min_t, max_t]`
    /// (ns): `(labels as JSON, level when no label gives it, rows)`. A scan with
    /// `skip_within` of that range does not read those groups.
    pub fn group_stream_counts(&self, min_t: i64, max_t: i64) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for (_, s) in self.events.group_summaries(min_t, max_t) {
            for e in s["streams"].as_array().into_iter().flatten() {
                if let (Some(l), Some(lv), Some(n)) = (e[0].as_str(), e[1].as_str(), e[2].as_u64()) {
                    out.push((l.to_string(), lv.to_string(), n));
                }
            }
        }
        out
    }

    /// Seals what is in memory if due, and applies retention.
    pub async fn maintain(&self) -> Result<()> {
        let _g = self.checkpoint.lock().await;
        Ok(self.events.maintain().await?)
    }

    /// The clock the store reads "now" from (arrival times, retention).
    pub fn clock(&self) -> &lantern_core::clock::SharedClock {
        self.events.clock()
    }

    /// Stops taking lines and makes everything logged durable (at shutdown).
    pub fn close(&self) -> Result<()> {
        Ok(self.events.close()?)
    }

    /// Seals what is in memory now.
    pub async fn seal(&self) -> Result<()> {
        let _g = self.checkpoint.lock().await;
        Ok(self.events.seal().await?)
    }

    /// Counts.
    pub fn stats(&self) -> lantern_events::Stats {
        self.events.stats()
    }
}
