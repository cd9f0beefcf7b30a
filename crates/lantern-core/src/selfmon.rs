//! Lantern's own metrics, as `GET /metrics` shows them: every name, label and help text
//! is here, and each crate records through these functions (the `metrics` facade: no
//! cost until the server installs a recorder). Names follow Prometheus's conventions
//! (`lantern_` prefix, base units, `_total` counters).

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};

/// The `signal` label's values.
pub mod signal {
    /// Samples.
    pub const METRICS: &str = "metrics";
    /// Log records.
    pub const LOGS: &str = "logs";
    /// Spans.
    pub const TRACES: &str = "traces";
}

/// Bucket bounds of every `_seconds` histogram: 0.5 ms to a minute.
pub const DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

const INGEST_ITEMS: &str = "lantern_ingest_items_total";
const INGEST_BYTES: &str = "lantern_ingest_bytes_total";
const INGEST_REFUSED_ITEMS: &str = "lantern_ingest_refused_items_total";
const INGEST_REFUSED_REQUESTS: &str = "lantern_ingest_refused_requests_total";
const HTTP_REQUESTS: &str = "lantern_http_requests_total";
const HTTP_DURATION: &str = "lantern_http_request_duration_seconds";
const WAL_FSYNC: &str = "lantern_wal_fsync_duration_seconds";
const WAL_BYTES: &str = "lantern_wal_bytes";
const STORE_BYTES: &str = "lantern_store_bytes";
const STORE_FILES: &str = "lantern_store_files";
const HEAD_ITEMS: &str = "lantern_head_items";
const HEAD_SERIES: &str = "lantern_tsdb_head_series";
const HEAD_CHUNKS: &str = "lantern_tsdb_head_chunks";
const COMPACTIONS: &str = "lantern_compactions_total";
const RETENTION_DELETIONS: &str = "lantern_retention_deletions_total";
const RULE_EVALUATIONS: &str = "lantern_rule_group_evaluations_total";
const RULE_FAILURES: &str = "lantern_rule_evaluation_failures_total";
const RULE_DURATION: &str = "lantern_rule_group_evaluation_duration_seconds";
const NOTIFICATIONS_SENT: &str = "lantern_notifications_sent_total";
const NOTIFICATIONS_ERRORS: &str = "lantern_notifications_errors_total";
const NOTIFICATIONS_DROPPED: &str = "lantern_notifications_dropped_total";
const NOTIFICATIONS_QUEUE: &str = "lantern_notifications_queue_length";
const SCRAPES: &str = "lantern_scrapes_total";
const SCRAPE_FAILURES: &str = "lantern_scrape_failures_total";
const SCRAPE_DURATION: &str = "lantern_scrape_duration_seconds";
const BUILD_INFO: &str = "lantern_build_info";
const PIPELINE_RECEIVED: &str = "lantern_pipeline_received_items_total";
const PIPELINE_REFUSED: &str = "lantern_pipeline_refused_items_total";
const PIPELINE_SENT: &str = "lantern_pipeline_sent_items_total";
const PIPELINE_SEND_FAILED: &str = "lantern_pipeline_send_failed_items_total";
const PIPELINE_DROPPED: &str = "lantern_pipeline_dropped_items_total";
const PIPELINE_QUEUE_SIZE: &str = "lantern_pipeline_queue_size";
const PIPELINE_QUEUE_CAPACITY: &str = "lantern_pipeline_queue_capacity";

/// Writes the help text of every metric (once, when the server installs its recorder).
pub fn describe() {
    describe_counter!(INGEST_ITEMS, "Items stored (samples, log records, spans) by signal and protocol.");
    describe_counter!(INGEST_BYTES, Unit::Bytes, "Bytes of request bodies received for ingest, after decompression.");
    describe_counter!(
        INGEST_REFUSED_ITEMS,
        "Items refused by signal, protocol and reason; the rest of their batch was kept."
    );
    describe_counter!(
        INGEST_REFUSED_REQUESTS,
        "Ingest requests refused whole (too large, rate limited, malformed, store unavailable) by signal, protocol and reason."
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status code.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer HTTP requests, by route.");
    describe_histogram!(WAL_FSYNC, Unit::Seconds, "Time the write-ahead log's fsync took, by signal.");
    describe_gauge!(WAL_BYTES, Unit::Bytes, "Bytes of the write-ahead log on disk, by signal.");
    describe_gauge!(STORE_BYTES, Unit::Bytes, "Bytes of sealed data (blocks, segments) by signal.");
    describe_gauge!(STORE_FILES, "Sealed blocks (metrics) or segments (logs, traces) by signal.");
    describe_gauge!(HEAD_ITEMS, "Log records or spans in memory, not yet sealed into a segment.");
    describe_gauge!(HEAD_SERIES, "Series in the metrics store's head.");
    describe_gauge!(HEAD_CHUNKS, "Chunks in the metrics store's head (sealed and open).");
    describe_counter!(COMPACTIONS, "Compactions of sealed data, by signal.");
    describe_counter!(RETENTION_DELETIONS, "Blocks or segments deleted by retention, by signal.");
    describe_counter!(RULE_EVALUATIONS, "Evaluations of rule groups (alerting, recording, SLO), by group.");
    describe_counter!(RULE_FAILURES, "Rules whose evaluation failed, by group.");
    describe_histogram!(RULE_DURATION, Unit::Seconds, "Time one evaluation of a rule group took, by group.");
    describe_counter!(NOTIFICATIONS_SENT, "Alerts delivered to each Alertmanager or webhook.");
    describe_counter!(NOTIFICATIONS_ERRORS, "Alerts whose delivery to a destination failed (after every attempt).");
    describe_counter!(NOTIFICATIONS_DROPPED, "Alerts dropped because the notification queue was full.");
    describe_gauge!(NOTIFICATIONS_QUEUE, "Batches of alerts waiting to be sent.");
    describe_counter!(SCRAPES, "Scrapes of targets, by job.");
    describe_counter!(SCRAPE_FAILURES, "Scrapes that failed (target down, bad answer, timeout), by job.");
    describe_histogram!(SCRAPE_DURATION, Unit::Seconds, "Time one scrape took, by job.");
    describe_gauge!(BUILD_INFO, "Lantern's version, as a label; the value is 1.");
    describe_counter!(
        PIPELINE_RECEIVED,
        "Collector mode: items (spans, metric points, log records) a receiver passed on, by component, transport and signal."
    );
    describe_counter!(
        PIPELINE_REFUSED,
        "Collector mode: items a receiver or processor refused (the sender was told to retry or that the data was bad), by component, signal and reason."
    );
    describe_counter!(PIPELINE_SENT, "Collector mode: items an exporter sent, by component and signal.");
    describe_counter!(
        PIPELINE_SEND_FAILED,
        "Collector mode: items of failed send attempts (each attempt counted), by component and signal."
    );
    describe_counter!(
        PIPELINE_DROPPED,
        "Collector mode: items given up on (queue full, retries exhausted, refused as bad, sampled out), by component, signal and reason."
    );
    describe_gauge!(PIPELINE_QUEUE_SIZE, "Collector mode: requests in an exporter's sending queue.");
    describe_gauge!(PIPELINE_QUEUE_CAPACITY, "Collector mode: requests an exporter's sending queue holds at most.");
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// `items` of `signal` stored through `protocol` (`remote_write`, `otlp_grpc`, `otlp_http`,
/// `scrape`, `jsonl`, `loki`, `file`).
pub fn ingested(signal: &'static str, protocol: &'static str, items: u64) {
    if items > 0 {
        counter!(INGEST_ITEMS, "signal" => signal, "protocol" => protocol).increment(items);
    }
}

/// `bytes` of request body received for `signal` through `protocol`.
pub fn ingest_bytes(signal: &'static str, protocol: &'static str, bytes: u64) {
    counter!(INGEST_BYTES, "signal" => signal, "protocol" => protocol).increment(bytes);
}

/// `items` refused for `reason` (`invalid`, `out_of_order`, `duplicate`, `too_long`, …).
pub fn refused_items(signal: &'static str, protocol: &'static str, reason: &'static str, items: u64) {
    if items > 0 {
        counter!(INGEST_REFUSED_ITEMS, "signal" => signal, "protocol" => protocol, "reason" => reason).increment(items);
    }
}

/// A whole request refused for `reason` (`too_large`, `rate_limited`, `malformed`,
/// `unsupported`, `unavailable`, `internal`).
pub fn refused_request(signal: &'static str, protocol: &'static str, reason: &'static str) {
    counter!(INGEST_REFUSED_REQUESTS, "signal" => signal, "protocol" => protocol, "reason" => reason).increment(1);
}

/// One HTTP request answered by `route` (its pattern, `/api/v1/query`) with `code`.
pub fn http_request(route: String, code: u16, seconds: f64) {
    counter!(HTTP_REQUESTS, "handler" => route.clone(), "code" => code.to_string()).increment(1);
    histogram!(HTTP_DURATION, "handler" => route).record(seconds);
}

/// One fsync of `signal`'s write-ahead log.
pub fn wal_fsync(signal: &'static str, seconds: f64) {
    histogram!(WAL_FSYNC, "signal" => signal).record(seconds);
}

/// One compaction of `signal`'s sealed data.
pub fn compacted(signal: &'static str) {
    counter!(COMPACTIONS, "signal" => signal).increment(1);
}

/// `n` blocks or segments of `signal` deleted by retention.
pub fn retention_deleted(signal: &'static str, n: u64) {
    counter!(RETENTION_DELETIONS, "signal" => signal).increment(n);
}

/// The sizes of one signal's store, as of now.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreSizes {
    /// Bytes of the write-ahead log.
    pub wal_bytes: u64,
    /// Bytes of sealed blocks or segments.
    pub sealed_bytes: u64,
    /// Sealed blocks or segments.
    pub files: u64,
    /// Items in memory (log records, spans; unused for metrics).
    pub head_items: Option<u64>,
}

/// Sets the gauges of `signal`'s store.
pub fn store_sizes(signal: &'static str, s: StoreSizes) {
    gauge!(WAL_BYTES, "signal" => signal).set(s.wal_bytes as f64);
    gauge!(STORE_BYTES, "signal" => signal).set(s.sealed_bytes as f64);
    gauge!(STORE_FILES, "signal" => signal).set(s.files as f64);
    if let Some(n) = s.head_items {
        gauge!(HEAD_ITEMS, "signal" => signal).set(n as f64);
    }
}

/// Sets the metrics head's gauges.
pub fn tsdb_head(series: u64, chunks: u64) {
    gauge!(HEAD_SERIES).set(series as f64);
    gauge!(HEAD_CHUNKS).set(chunks as f64);
}

/// One evaluation of rule group `group` (`file;name`, as Prometheus labels it) that
/// took `seconds`, `failures` of whose rules failed.
pub fn rule_group_evaluated(group: &str, seconds: f64, failures: u64) {
    counter!(RULE_EVALUATIONS, "rule_group" => group.to_string()).increment(1);
    histogram!(RULE_DURATION, "rule_group" => group.to_string()).record(seconds);
    // Present (at 0) from the first evaluation, so `rate()` sees the first failure.
    counter!(RULE_FAILURES, "rule_group" => group.to_string()).increment(failures);
}

/// What one notification destination (`kind`: `alertmanager` or `webhook`) has seen
/// since start: alerts sent, failed and dropped.
pub fn notifications(kind: &'static str, url: &str, sent: u64, failed: u64, dropped: u64) {
    let labels = [("kind", kind.to_string()), ("destination", url.to_string())];
    counter!(NOTIFICATIONS_SENT, &labels).absolute(sent);
    counter!(NOTIFICATIONS_ERRORS, &labels).absolute(failed);
    counter!(NOTIFICATIONS_DROPPED, &labels).absolute(dropped);
}

/// Batches of alerts waiting to be sent.
pub fn notification_queue(batches: usize) {
    gauge!(NOTIFICATIONS_QUEUE).set(batches as f64);
}

/// One scrape of a target of `job`: how long it took and whether it worked.
pub fn scraped(job: &str, seconds: f64, ok: bool) {
    counter!(SCRAPES, "job" => job.to_string()).increment(1);
    counter!(SCRAPE_FAILURES, "job" => job.to_string()).increment(u64::from(!ok));
    histogram!(SCRAPE_DURATION, "job" => job.to_string()).record(seconds);
}

/// Collector mode: what one pipeline component (`component`: its ID, e.g.
/// `otlp/backend`) did with items of one signal (`traces`, `metrics`, `logs`).
pub mod pipeline {
    use metrics::{counter, gauge};

    /// `items` a receiver passed on, received over `transport` (`grpc`, `http`).
    pub fn received(component: &str, transport: &'static str, signal: &'static str, items: u64) {
        counter!(super::PIPELINE_RECEIVED, "component" => component.to_string(), "transport" => transport, "signal" => signal)
            .increment(items);
    }

    /// `items` refused for `reason` (`memory_limit`, `downstream`, `invalid`).
    pub fn refused(component: &str, signal: &'static str, reason: &'static str, items: u64) {
        counter!(super::PIPELINE_REFUSED, "component" => component.to_string(), "signal" => signal, "reason" => reason)
            .increment(items);
    }

    /// `items` an exporter sent.
    pub fn sent(component: &str, signal: &'static str, items: u64) {
        counter!(super::PIPELINE_SENT, "component" => component.to_string(), "signal" => signal).increment(items);
    }

    /// `items` of one failed send attempt.
    pub fn send_failed(component: &str, signal: &'static str, items: u64) {
        counter!(super::PIPELINE_SEND_FAILED, "component" => component.to_string(), "signal" => signal)
            .increment(items);
    }

    /// `items` given up on for `reason` (`queue_full`, `retries_exhausted`, `permanent`,
    /// `shutdown`, `filtered`, `sampled`).
    pub fn dropped(component: &str, signal: &'static str, reason: &'static str, items: u64) {
        counter!(super::PIPELINE_DROPPED, "component" => component.to_string(), "signal" => signal, "reason" => reason)
            .increment(items);
    }

    /// An exporter's queue: requests in it and at most.
    pub fn queue(component: &str, signal: &'static str, size: usize, capacity: usize) {
        gauge!(super::PIPELINE_QUEUE_SIZE, "component" => component.to_string(), "signal" => signal).set(size as f64);
        gauge!(super::PIPELINE_QUEUE_CAPACITY, "component" => component.to_string(), "signal" => signal)
            .set(capacity as f64);
    }
}
