//! One target's scraping: fetch with content negotiation, parse, label (target labels,
//! `honor_labels`, `metric_relabel_configs`, limits), store with exemplars, mark vanished
//! series stale, and write the `up`/`scrape_*` series.

use lantern_core::selfmon::{self, signal::METRICS};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::sink::{Handle, ScrapeStore};
use lantern_core::{Exemplar, Labels, Sample, STALE_NAN};
use lantern_expfmt::{Entry, Format, Parser};
use lantern_tsdb::batch::LabelsKey;
use lantern_tsdb::metadata::MetricMeta;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::target::Target;
use crate::Error;

/// What a job's scrapes share.
#[derive(Debug)]
pub struct JobSettings {
    /// Exposed labels win over target labels.
    pub honor_labels: bool,
    /// Exposed timestamps are used.
    pub honor_timestamps: bool,
    /// `metric_relabel_configs`.
    pub metric_rules: Vec<lantern_relabel::Rule>,
    /// Limits (0: none).
    pub sample_limit: usize,
    /// Most labels per series (0: none).
    pub label_limit: usize,
    /// Longest label name (0: none).
    pub label_name_length_limit: usize,
    /// Longest label value (0: none).
    pub label_value_length_limit: usize,
    /// Largest body in bytes (0: none).
    pub body_size_limit: u64,
    /// The HTTP client (TLS settings, timeouts).
    pub client: reqwest::Client,
    /// Authentication, resolved per scrape (files are re-read).
    pub auth: Option<crate::Auth>,
}

/// Target health as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape worked.
    Up,
    /// The last scrape failed.
    Down,
}

/// A target's state, shared with the targets API.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// The target.
    pub target: Target,
    /// Health.
    pub health: Health,
    /// Why the last scrape failed ("" when it did not).
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took, seconds.
    pub last_duration: f64,
    /// Metadata the target exposed, by metric family.
    pub metadata: BTreeMap<String, MetricMeta>,
}

/// Bodies up to this size are processed on the scrape's own task.
const INLINE_BODY_BYTES: usize = 256 << 10;

const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// How a cached series' labels can be made again (only needed when the store has
/// collected its series and a new handle is wanted).
enum Source {
    /// The series as the target exposes it.
    Exposed(Box<[u8]>),
    /// The target's `up`/`scrape_*` series with this index in [`REPORT_NAMES`].
    Report(usize),
}

/// What the loop remembers between scrapes. Series are numbered by their final label
/// set; per sample, the exposed bytes are hashed once, then only numbers and the store's
/// handles are used. Label sets are not kept: a handle is taken while they are at hand.
#[derive(Default)]
struct Cache {
    /// Hash of the series bytes as exposed → series number (`None`: dropped by metric
    /// relabeling). 128 bits with seeds chosen per process, as the head keys label sets.
    series: FastMap<LabelsKey, Option<u32>>,
    /// Final label set (its key) → series number.
    ids: FastMap<LabelsKey, u32>,
    /// Series number → how to make its labels again.
    source: Vec<Source>,
    /// Series number → the store's handle on it.
    handles: Vec<Option<Handle>>,
    /// Labels of series numbered in this scrape, until their handle is taken.
    fresh: Vec<(u32, Labels)>,
    /// The series stored by the last scrape (to mark the vanished ones stale).
    previous: Vec<u32>,
    /// Scratch: the scrape a series was last seen in.
    seen_in: Vec<u32>,
    /// The last good scrape's samples in exposition order (key, number): targets expose
    /// series in the same order each time, so the sample at position `i` is checked
    /// against entry `i` first, a sequential read instead of a table probe.
    order: Vec<(LabelsKey, Option<u32>)>,
    /// Scratch for the order being read.
    order_next: Vec<(LabelsKey, Option<u32>)>,
    /// The current scrape's number.
    scrape: u32,
    /// The numbers of the target's `up` and `scrape_*` series.
    report: Option<[u32; 5]>,
}

impl Cache {
    fn id_of(&mut self, labels: Labels, source: Source) -> u32 {
        let key = lantern_tsdb::batch::key_of(&labels);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.source.len() as u32;
        self.source.push(source);
        self.handles.push(None);
        self.seen_in.push(0);
        self.ids.insert(key, id);
        self.fresh.push((id, labels));
        id
    }

    /// The labels of series `id`, made again from its source.
    fn labels_of(&self, id: u32, target: &Target, job: &JobSettings) -> Option<Labels> {
        match &self.source[id as usize] {
            Source::Report(i) => Some(with_name(&target.labels, REPORT_NAMES[*i])),
            Source::Exposed(bytes) => {
                let mut line = bytes.to_vec();
                line.extend_from_slice(b" 0\n");
                let entry = Parser::new(&line, Format::PrometheusText).next()?.ok()?;
                match entry {
                    Entry::Sample(s) => series_labels(&s, target, job).ok().flatten(),
                    _ => None,
                }
            }
        }
    }
}

/// The counts a scrape reports in its synthetic series.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    scraped: usize,
    post_relabel: usize,
    /// Series not in the previous scrape.
    added: usize,
}

/// Scrapes `target` every interval, at an offset spread by the target's identity, until
/// `stop` turns true; then marks everything it wrote stale.
pub async fn run(
    target: Target,
    job: Arc<JobSettings>,
    db: Arc<dyn ScrapeStore>,
    state: Arc<Mutex<TargetState>>,
    mut stop: watch::Receiver<bool>,
) {
    let interval_ms = target.interval.as_millis().max(1) as u64;
    let offset = {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(0x5c4a_9e11).build_hasher();
        target.url.hash(&mut h);
        target.labels.hash(&mut h);
        h.finish() % interval_ms
    };
    let now_ms = || u64::try_from(db.now_ms()).unwrap_or(0);
    // The first scrape at the next time ≡ offset (mod interval): scrapes of all targets
    // spread over the interval instead of firing together.
    let wait = (offset + interval_ms - now_ms() % interval_ms) % interval_ms;
    let mut next = tokio::time::Instant::now() + Duration::from_millis(wait);
    let mut cache = Cache::default();
    let job_name = target.labels.get("job").unwrap_or_default().to_string();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => break,
        }
        let t = db.now_ms();
        let started = UNIX_EPOCH + Duration::from_millis(u64::try_from(t).unwrap_or(0));
        let clock = Instant::now();
        let fetched = fetch(&target, &job).await;
        let body_bytes = fetched.as_ref().map_or(0, |(b, _)| b.len());
        let small = body_bytes <= INLINE_BODY_BYTES;
        let c = std::mem::take(&mut cache);
        let (c, result) = if small {
            // A small scrape is parsed and logged (without fsync) in well under a
            // millisecond: on this task, sparing a hand-off to the blocking pool.
            store(c, fetched, &target, &job, &*db, t, clock)
        } else {
            let (job, db, target) = (job.clone(), db.clone(), target.clone());
            match tokio::task::spawn_blocking(move || store(c, fetched, &target, &job, &*db, t, clock)).await {
                Ok(r) => r,
                Err(e) => (Cache::default(), Err((Error::Task(e.to_string()), Default::default()))),
            }
        };
        cache = c;
        let mut result = result;
        let meta_ok = match &mut result {
            Ok((_, meta)) | Err((_, meta)) => std::mem::take(meta),
        };
        // Targets rarely change their metadata: the store is told only when they do.
        if state.lock().metadata != meta_ok {
            for (family, m) in &meta_ok {
                db.set_metadata(family, m);
            }
        }
        let mut s = state.lock();
        s.last_scrape = Some(started);
        s.last_duration = clock.elapsed().as_secs_f64();
        s.metadata = meta_ok;
        selfmon::scraped(&job_name, s.last_duration, result.is_ok());
        match result {
            Ok((report, _)) => {
                selfmon::ingest_bytes(METRICS, "scrape", body_bytes as u64);
                selfmon::ingested(METRICS, "scrape", report.post_relabel as u64);
                s.health = Health::Up;
                s.last_error.clear();
            }
            Err((e, _)) => {
                tracing::debug!(target = %target.url, error = %e, "scrape failed");
                s.health = Health::Down;
                s.last_error = e.to_string();
            }
        }
        drop(s);
        next += target.interval;
        let now = tokio::time::Instant::now();
        while next <= now {
            next += target.interval;
        }
    }
    // Gone or stopping: every series it wrote, and its own, end now.
    let t = db.now_ms();
    let mut rows: Vec<(u32, Sample, Vec<Exemplar>)> =
        cache.previous.iter().map(|&id| (id, Sample::new(t, STALE_NAN), Vec::new())).collect();
    let report = report_ids(&mut cache, &target);
    rows.extend(report.iter().map(|&id| (id, Sample::new(t, STALE_NAN), Vec::new())));
    let _ = tokio::task::spawn_blocking(move || append_by_handle(&mut cache, &*db, &rows, &target, &job)).await;
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

fn with_name(labels: &Labels, name: &str) -> Labels {
    let mut pairs: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> =
        labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    pairs.push((lantern_core::METRIC_NAME.into(), name.into()));
    Labels::from_pairs(pairs)
}

/// The body and its format, or why there is none.
async fn fetch(target: &Target, job: &JobSettings) -> Result<(bytes::Bytes, Format), Error> {
    let mut req = job
        .client
        .get(&target.url)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", target.timeout.as_secs_f64()))
        .timeout(target.timeout);
    if let Some(auth) = &job.auth {
        req = req.header(reqwest::header::AUTHORIZATION, auth.header()?);
    }
    let mut resp = req.send().await.map_err(|e| Error::Fetch(describe(&e, target.timeout)))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(Error::Fetch(format!("server returned HTTP status {}", resp.status())));
    }
    let format = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::PrometheusText, Format::from_content_type);
    let limit = job.body_size_limit;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Fetch(describe(&e, target.timeout)))? {
        body.extend_from_slice(&chunk);
        if limit > 0 && body.len() as u64 > limit {
            return Err(Error::Fetch(format!("body size limit exceeded: more than {limit} bytes")));
        }
    }
    Ok((body.into(), format))
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("Get: context deadline exceeded (scrape timeout {timeout:?})");
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

type Stored = Result<(Report, BTreeMap<String, MetricMeta>), (Error, BTreeMap<String, MetricMeta>)>;

/// Parses, labels and stores one scrape (on a blocking thread), with the report series.
fn store(
    mut cache: Cache,
    fetched: Result<(bytes::Bytes, Format), Error>,
    target: &Target,
    job: &JobSettings,
    db: &dyn ScrapeStore,
    t: i64,
    clock: Instant,
) -> (Cache, Stored) {
    let mut meta = BTreeMap::new();
    cache.scrape = cache.scrape.wrapping_add(1).max(1);
    let parsed = fetched.and_then(|(body, format)| parse(&mut cache, &body, format, target, job, t, &mut meta));
    let (rows, report, result) = match parsed {
        Ok((rows, report)) => (rows, report, Ok(())),
        // A failed scrape stores nothing, and what the last one stored ends now.
        Err(e) => (Vec::new(), Report::default(), Err(e)),
    };
    let scrape = cache.scrape;
    let mut all: Vec<(u32, Sample, Vec<Exemplar>)> = Vec::with_capacity(rows.len() + 5);
    // After a failed scrape, everything the last one stored ends (some series may have
    // been seen before the failure, but nothing of this scrape is stored).
    let gone: Vec<u32> = if result.is_err() {
        cache.previous.clone()
    } else {
        cache.previous.iter().copied().filter(|&id| cache.seen_in[id as usize] != scrape).collect()
    };
    cache.previous = rows.iter().map(|r| r.0).collect();
    all.extend(rows);
    for id in gone {
        all.push((id, Sample::new(t, STALE_NAN), Vec::new()));
    }
    let up = if result.is_ok() { 1.0 } else { 0.0 };
    let values =
        [up, clock.elapsed().as_secs_f64(), report.scraped as f64, report.post_relabel as f64, report.added as f64];
    let report_ids = report_ids(&mut cache, target);
    for (id, v) in report_ids.iter().zip(values) {
        all.push((*id, Sample::new(t, v), Vec::new()));
    }
    let appended = append_by_handle(&mut cache, db, &all, target, job);
    let result = match (result, appended) {
        (Ok(()), Ok(())) => Ok((report, meta)),
        (Err(e), _) | (Ok(()), Err(e)) => Err((e, meta)),
    };
    (cache, result)
}

/// The numbers of the target's report series.
fn report_ids(cache: &mut Cache, target: &Target) -> [u32; 5] {
    if let Some(ids) = cache.report {
        return ids;
    }
    let mut ids = [0u32; 5];
    for (i, n) in REPORT_NAMES.iter().enumerate() {
        ids[i] = cache.id_of(with_name(&target.labels, n), Source::Report(i));
    }
    cache.report = Some(ids);
    ids
}

/// Stores rows through the store's series handles, taking handles for new series and
/// again for series the store has collected since.
fn append_by_handle(
    cache: &mut Cache,
    db: &dyn ScrapeStore,
    rows: &[(u32, Sample, Vec<Exemplar>)],
    target: &Target,
    job: &JobSettings,
) -> Result<(), Error> {
    let failed = Error::Store;
    for (id, labels) in std::mem::take(&mut cache.fresh) {
        cache.handles[id as usize] = Some(db.handle(&labels).map_err(failed)?);
    }
    let renew = |cache: &mut Cache, id: u32| -> Result<(), Error> {
        let labels = cache
            .labels_of(id, target, job)
            .ok_or_else(|| Error::Store(format!("the labels of series {id} cannot be made again")))?;
        cache.handles[id as usize] = Some(db.handle(&labels).map_err(failed)?);
        Ok(())
    };
    for (id, _, _) in rows {
        if cache.handles[*id as usize].is_none() {
            renew(cache, *id)?;
        }
    }
    let mut todo: Vec<usize> = (0..rows.len()).collect();
    for _ in 0..2 {
        let refs: Vec<(&Handle, Sample, &[Exemplar])> = todo
            .iter()
            .filter_map(|&i| {
                let (id, s, ex) = &rows[i];
                cache.handles[*id as usize].as_ref().map(|h| (h, *s, ex.as_slice()))
            })
            .collect();
        let gone = db.append(&refs).map_err(failed)?;
        if gone.is_empty() {
            return Ok(());
        }
        todo = gone.into_iter().map(|k| todo[k]).collect();
        for &i in &todo {
            renew(cache, rows[i].0)?;
        }
    }
    Ok(())
}

type Rows = Vec<(u32, Sample, Vec<Exemplar>)>;

fn parse(
    cache: &mut Cache,
    body: &[u8],
    format: Format,
    target: &Target,
    job: &JobSettings,
    t: i64,
    meta: &mut BTreeMap<String, MetricMeta>,
) -> Result<(Rows, Report), Error> {
    let mut rows: Rows = Vec::with_capacity(cache.order.len());
    let mut report = Report::default();
    let scrape = cache.scrape;
    let mut order = std::mem::take(&mut cache.order_next);
    order.clear();
    for entry in Parser::new(body, format) {
        match entry.map_err(|e| Error::Exposition(e.to_string()))? {
            Entry::Help { name, text } => meta.entry(name.into_owned()).or_insert_with(unknown).help = text,
            Entry::Type { name, kind } => {
                meta.entry(name.into_owned()).or_insert_with(unknown).kind = kind.as_str().to_string()
            }
            Entry::Unit { name, unit } => meta.entry(name.into_owned()).or_insert_with(unknown).unit = unit.to_string(),
            Entry::Sample(s) => {
                let key = lantern_tsdb::batch::labels_key(std::iter::once((s.series, &b""[..])));
                let id = match cache.order.get(report.scraped) {
                    Some(&(k, id)) if k == key => id,
                    _ => match cache.series.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id = series_labels(&s, target, job)?
                                .map(|l| cache.id_of(l, Source::Exposed(s.series.into())));
                            cache.series.insert(key, id);
                            id
                        }
                    },
                };
                report.scraped += 1;
                order.push((key, id));
                let Some(id) = id else { continue };
                report.post_relabel += 1;
                if job.sample_limit > 0 && report.post_relabel > job.sample_limit {
                    return Err(Error::Exposition(format!(
                        "sample limit exceeded: more than {} samples",
                        job.sample_limit
                    )));
                }
                let last = cache.seen_in[id as usize];
                if last == scrape {
                    return Err(Error::Exposition(format!(
                        "line {}: duplicate sample for series {}",
                        s.line,
                        String::from_utf8_lossy(s.series)
                    )));
                }
                if last == 0 || last != scrape.wrapping_sub(1) {
                    report.added += 1;
                }
                cache.seen_in[id as usize] = scrape;
                let ts = match (job.honor_timestamps, s.timestamp_ms) {
                    (true, Some(ts)) => ts,
                    _ => t,
                };
                let ex = s
                    .exemplar
                    .as_ref()
                    .map(|e| Exemplar {
                        labels: Labels::from_pairs(e.labels.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))),
                        value: e.value,
                        t: e.timestamp_ms.unwrap_or(ts),
                    })
                    .into_iter()
                    .collect();
                rows.push((id, Sample::new(ts, s.value), ex));
            }
        }
    }
    cache.order_next = std::mem::replace(&mut cache.order, order);
    Ok((rows, report))
}

fn unknown() -> MetricMeta {
    MetricMeta { kind: "unknown".into(), help: String::new(), unit: String::new() }
}

/// The labels a scraped series is stored with, or `None` if metric relabeling drops it.
fn series_labels(s: &lantern_expfmt::Sample<'_>, target: &Target, job: &JobSettings) -> Result<Option<Labels>, Error> {
    let line = s.line;
    let exposed = s.labels().map_err(|e| Error::Exposition(e.to_string()))?;
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    m.insert(lantern_core::METRIC_NAME.into(), s.name.to_string());
    for (n, v) in exposed {
        m.insert(n.into_owned(), v.into_owned());
    }
    for l in &target.labels {
        let (name, value) = (l.name.to_string(), l.value.to_string());
        if job.honor_labels {
            if m.get(&name).is_none_or(|v| v.is_empty()) {
                m.insert(name, value);
            }
        } else {
            if let Some(clash) = m.remove(&name).filter(|v| !v.is_empty()) {
                let mut renamed = format!("exported_{name}");
                while m.contains_key(&renamed) {
                    renamed = format!("exported_{renamed}");
                }
                m.insert(renamed, clash);
            }
            m.insert(name, value);
        }
    }
    if !lantern_relabel::process(&job.metric_rules, &mut m) {
        return Ok(None);
    }
    if job.label_limit > 0 && m.len() > job.label_limit {
        return Err(Error::Exposition(format!(
            "line {line}: label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
            s.name,
            m.len(),
            job.label_limit
        )));
    }
    for (n, v) in &m {
        if job.label_name_length_limit > 0 && n.len() > job.label_name_length_limit {
            return Err(Error::Exposition(format!(
                "line {line}: label name {n:?} is longer than label_name_length_limit ({})",
                job.label_name_length_limit
            )));
        }
        if job.label_value_length_limit > 0 && v.len() > job.label_value_length_limit {
            return Err(Error::Exposition(format!(
                "line {line}: value of label {n:?} is longer than label_value_length_limit ({})",
                job.label_value_length_limit
            )));
        }
    }
    let labels: Vec<lantern_core::Label> = m.into_iter().map(|(n, v)| lantern_core::Label::new(n, v)).collect();
    Labels::validated(labels).map(Some).map_err(|e| Error::Exposition(format!("line {line}: {e}")))
}
