//! Lantern's configuration: a YAML file (`--config`), overridden by `LANTERN_*`
//! environment variables and command-line flags. Defaults live in the `Default` impls
//! here and nowhere else; [`Config::validate`] reports every problem with its key.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lantern_core::{ByteSize, PromDuration};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the write-ahead log and blocks live.
    pub data_dir: PathBuf,
    /// The one HTTP port for every HTTP API and the UI.
    pub http_addr: String,
    /// OTLP over gRPC: metrics, logs and traces.
    pub otlp_grpc_addr: String,
    /// OTLP over HTTP: metrics, logs and traces.
    pub otlp_http_addr: String,
    /// Jaeger's gRPC collector API (`PostSpans`, conventionally `:14250`); empty: off.
    pub jaeger_grpc_addr: String,
    /// The metrics store.
    pub metrics: MetricsConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// The PromQL engine.
    pub query: QueryConfig,
    /// The span store.
    pub traces: TracesConfig,
    /// The log store.
    pub logs: LogsConfig,
    /// Files whose lines are stored as logs, followed as `tail -F` does.
    pub log_files: Vec<LogFileConfig>,
    /// Defaults for scraping (Prometheus's `global:`).
    pub global: lantern_scrape::config::GlobalConfig,
    /// Targets to scrape, in Prometheus's `scrape_configs` syntax.
    pub scrape_configs: Vec<lantern_scrape::config::ScrapeConfig>,
    /// Rule files (globs) in Prometheus's format; relative to the config file.
    pub rule_files: Vec<String>,
    /// SLO files (globs); relative to the config file.
    pub slo_files: Vec<String>,
    /// A directory of Grafana dashboard JSON files, provisioned read-only and read
    /// again when they change; relative to the config file.
    pub dashboards_dir: Option<String>,
    /// Which fields and attributes hold request-scoped IDs across the signals.
    pub correlation: CorrelationConfig,
    /// OpenTelemetry Collector processors by ID (`attributes`, `resource`, `filter`,
    /// `transform`, `probabilistic_sampler`, with the Collector's keys) that shape OTLP
    /// and Jaeger data before it is stored; `pipelines` says which run for each signal.
    pub processors: std::collections::BTreeMap<String, serde_yaml::Value>,
    /// The processors each signal's data goes through before it is stored, in order.
    pub pipelines: IngestPipelines,
    /// The file this was read from (not a key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Where alerts go (Prometheus's `alerting:`, plus `webhooks:`).
    pub alerting: lantern_alerting::AlertingConfig,
    /// The URL users reach Lantern at (alerts link back to it); default
    /// `http://<http_addr>`.
    pub external_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./lantern-data"),
            http_addr: "127.0.0.1:9700".into(),
            otlp_grpc_addr: "127.0.0.1:4317".into(),
            otlp_http_addr: "127.0.0.1:4318".into(),
            jaeger_grpc_addr: String::new(),
            metrics: MetricsConfig::default(),
            limits: LimitsConfig::default(),
            query: QueryConfig::default(),
            traces: TracesConfig::default(),
            logs: LogsConfig::default(),
            log_files: Vec::new(),
            global: Default::default(),
            scrape_configs: Vec::new(),
            rule_files: Vec::new(),
            slo_files: Vec::new(),
            dashboards_dir: None,
            correlation: CorrelationConfig::default(),
            processors: Default::default(),
            pipelines: IngestPipelines::default(),
            source: None,
            alerting: Default::default(),
            external_url: None,
        }
    }
}

/// `metrics:` — the time-series store.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Delete data older than this (`0` keeps it forever).
    pub retention_time: PromDuration,
    /// Delete the oldest blocks while the store is larger than this (`0`: no limit).
    pub retention_size: ByteSize,
    /// Time span of a block cut from the in-memory head.
    pub block_duration: PromDuration,
    /// Samples up to this far behind the newest one are accepted (backfill, catch-up).
    pub out_of_order_window: PromDuration,
    /// How often the head is cut into blocks, blocks compacted and retention applied.
    pub maintenance_interval: PromDuration,
    /// Exemplars kept per series (the newest); they survive restarts. 0 keeps none.
    pub max_exemplars_per_series: usize,
    /// Series whose exemplars are kept at most.
    pub max_exemplar_series: usize,
    /// Memory for decompressed block data kept for repeated queries.
    pub block_cache_size: ByteSize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        let d = |s: u64| PromDuration(Duration::from_secs(s));
        Self {
            retention_time: d(15 * 86_400),
            retention_size: ByteSize(0),
            block_duration: d(2 * 3600),
            out_of_order_window: d(24 * 3600),
            maintenance_interval: d(60),
            max_exemplars_per_series: 10,
            max_exemplar_series: 1_000_000,
            block_cache_size: ByteSize(256 << 20),
        }
    }
}

/// `traces:` — the span store and the metrics made from spans.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// Delete spans older than this (`0` keeps them forever).
    pub retention_time: PromDuration,
    /// Delete the oldest segments while sealed spans take more than this (`0`: no limit).
    pub retention_size: ByteSize,
    /// Spans in memory are sealed into a segment past this many…
    pub segment_max_spans: usize,
    /// …or once the oldest is this old.
    pub segment_max_age: PromDuration,
    /// How often span metrics (RED and service graph) are written to the metrics store.
    pub span_metrics_interval: PromDuration,
    /// Memory for remembering, per sealed row group, which spans a search's condition
    /// holds for, so a repeated search skips the others (as ClickHouse's query
    /// condition cache does; `0` turns it off).
    pub condition_cache_size: ByteSize,
}

impl Default for TracesConfig {
    fn default() -> Self {
        let d = |s: u64| PromDuration(Duration::from_secs(s));
        Self {
            retention_time: d(7 * 86_400),
            retention_size: ByteSize(0),
            condition_cache_size: ByteSize(64 << 20),
            segment_max_spans: 250_000,
            segment_max_age: d(600),
            span_metrics_interval: d(15),
        }
    }
}

/// `logs:` — the log store and its ingest limits.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Delete log lines older than this (`0` keeps them forever).
    pub retention_time: PromDuration,
    /// Delete the oldest segments while sealed logs take more than this (`0`: no limit).
    pub retention_size: ByteSize,
    /// Lines in memory are sealed into a segment past this many…
    pub segment_max_lines: usize,
    /// …or once the oldest is this old.
    pub segment_max_age: PromDuration,
    /// Longer lines are rejected (by line number; the rest of the request is stored).
    pub max_line_size: ByteSize,
    /// Larger ingest requests are rejected whole (413).
    pub max_request_size: ByteSize,
    /// Ingest bytes per second across every log endpoint; past it, 429 (`0`: no limit).
    pub ingest_rate_limit: ByteSize,
    /// Bytes a burst may take above the rate.
    pub ingest_burst_size: ByteSize,
    /// How often `log_files` are checked for new lines.
    pub file_poll_interval: PromDuration,
    /// Fields matched whole by searches (besides `trace_id` and `span_id`); default
    /// `correlation.keys`.
    pub id_fields: Option<Vec<String>>,
    /// Memory for remembering, per sealed row group, which lines a query's condition
    /// (selector, line and field filters, search) holds for, so a repeated query reads
    /// only those (as ClickHouse's query condition cache does; `0` turns it off).
    pub condition_cache_size: ByteSize,
}

/// `pipelines:` — the processors of each signal, by ID.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestPipelines {
    /// Spans.
    pub traces: IngestPipeline,
    /// Metric points (OTLP).
    pub metrics: IngestPipeline,
    /// Log records (OTLP).
    pub logs: IngestPipeline,
}

/// One signal's `processors`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestPipeline {
    /// Processor IDs, in order.
    pub processors: Vec<String>,
}

/// Each signal's processor steps (traces, metrics, logs).
pub type IngestSteps = [std::sync::Arc<Vec<(String, lantern_pipeline::shape::Step)>>; 3];

impl Config {
    /// The processors each signal's OTLP data goes through, built; every problem with its key.
    pub fn ingest_steps(&self) -> Result<IngestSteps, Vec<String>> {
        use lantern_pipeline::components::Processor;
        use lantern_pipeline::id::{ComponentId, Signal};
        let mut errs = Vec::new();
        let mut built = std::collections::BTreeMap::new();
        for (name, v) in &self.processors {
            let id = match ComponentId::parse(name) {
                Ok(id) => id,
                Err(e) => {
                    errs.push(format!("key processors::{name}: {e}"));
                    continue;
                }
            };
            match Processor::decode(&id.kind, name, v.clone()) {
                Ok(p) => {
                    built.insert(name.clone(), (id, p));
                }
                Err(e) => errs.push(format!("key processors::{name}: {e}")),
            }
        }
        let mut out: Vec<std::sync::Arc<Vec<(String, lantern_pipeline::shape::Step)>>> = Vec::new();
        for (signal, p) in [
            (Signal::Traces, &self.pipelines.traces),
            (Signal::Metrics, &self.pipelines.metrics),
            (Signal::Logs, &self.pipelines.logs),
        ] {
            let mut steps = Vec::new();
            for name in &p.processors {
                let key = format!("key pipelines::{signal}::processors");
                match built.get(name) {
                    None if !self.processors.contains_key(name) => {
                        errs.push(format!("{key}: references processor {name:?} which is not configured"))
                    }
                    None => {}
                    Some((_, proc)) if !proc.supports(signal) => {
                        errs.push(format!("{key}: the processor {name:?} does not take {signal}"))
                    }
                    Some((id, proc)) => match lantern_pipeline::shape::step(id, proc) {
                        Ok(s) => steps.push((name.clone(), s)),
                        Err(e) => errs.push(format!("key processors::{name}: {e}")),
                    },
                }
            }
            out.push(std::sync::Arc::new(steps));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let [t, m, l]: [_; 3] = out.try_into().map_err(|_| vec!["internal: three signals".to_string()])?;
        Ok([t, m, l])
    }
}

/// `correlation:` — the identifiers one request carries through every signal.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationConfig {
    /// Log fields, span and resource attributes and exemplar labels holding IDs, besides
    /// `trace_id` and `span_id` (always).
    pub keys: Vec<String>,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        Self { keys: lantern_logs::model::DEFAULT_ID_KEYS.iter().map(|k| k.to_string()).collect() }
    }
}

/// One entry of `log_files:`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogFileConfig {
    /// Paths or glob patterns (`/var/log/app/*.log`).
    pub paths: Vec<String>,
    /// The `service` label of their lines.
    pub service: String,
    /// More stream labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// How lines group into records (a traceback is one record); each line is one
    /// without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiline: Option<MultilineConfig>,
}

/// `log_files[].multiline:` — which lines start a record; the others continue it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    /// A regular expression: a line it matches starts a record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_start_pattern: Option<String>,
    /// A built-in rule instead: `python` or `java` (tracebacks and stack traces, and
    /// indented lines, continue a record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// How long a record at a file's end waits for more lines (default 500ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_flush_period: Option<PromDuration>,
}

impl MultilineConfig {
    /// The rule, or what is wrong with it.
    pub fn rule(&self) -> Result<lantern_logs::multiline::Multiline, String> {
        use lantern_logs::multiline::{Multiline, PRESETS};
        match (&self.line_start_pattern, &self.preset) {
            (Some(_), Some(_)) => Err("line_start_pattern and preset: give one of them, not both".into()),
            (None, None) => Err("line_start_pattern or preset: one of them is needed".into()),
            (Some(p), None) => Multiline::start_pattern(p)
                .map_err(|e| format!("line_start_pattern: {p:?} is not a valid regular expression: {e}")),
            (None, Some(name)) => {
                Multiline::preset(name).ok_or_else(|| format!("preset: {name:?} is not one of {}", PRESETS.join(", ")))
            }
        }
    }
}

impl Default for LogsConfig {
    fn default() -> Self {
        let d = |s: u64| PromDuration(Duration::from_secs(s));
        Self {
            retention_time: d(7 * 86_400),
            retention_size: ByteSize(0),
            segment_max_lines: 250_000,
            segment_max_age: d(600),
            max_line_size: ByteSize(256 * 1024),
            max_request_size: ByteSize(64 << 20),
            ingest_rate_limit: ByteSize(0),
            ingest_burst_size: ByteSize(64 << 20),
            file_poll_interval: d(1),
            id_fields: None,
            condition_cache_size: ByteSize(64 << 20),
        }
    }
}

/// `query:` — the PromQL engine (Prometheus's `--query.*` flags).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for the latest sample.
    pub lookback_delta: PromDuration,
    /// Longest a query may run before it is stopped with a `timeout` error.
    pub timeout: PromDuration,
    /// Most samples one query may hold in memory, else an `execution` error.
    pub max_samples: usize,
    /// Most series one query result may have, else an `execution` error.
    pub max_series: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        let e = lantern_promql::Engine::default();
        Self {
            lookback_delta: PromDuration(Duration::from_millis(e.lookback_ms as u64)),
            timeout: PromDuration(e.timeout.unwrap_or(Duration::from_secs(120))),
            max_samples: e.max_samples,
            max_series: e.max_series,
        }
    }
}

impl QueryConfig {
    /// The engine these settings describe.
    pub fn engine(&self) -> lantern_promql::Engine {
        lantern_promql::Engine {
            lookback_ms: self.lookback_delta.0.as_millis() as i64,
            timeout: Some(self.timeout.0),
            max_samples: self.max_samples,
            max_series: self.max_series,
            ..lantern_promql::Engine::default()
        }
    }
}

/// `limits:` — protection against oversized requests.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body accepted as sent (compressed), else 413.
    pub max_request_body_size: ByteSize,
    /// Largest remote-write body after decompression, else 413.
    pub max_decompressed_body_size: ByteSize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_request_body_size: ByteSize(32 << 20), max_decompressed_body_size: ByteSize(256 << 20) }
    }
}

impl Config {
    /// Reads a YAML config file; errors name the file, the key path and the problem.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("config file {}: cannot read: {e}", path.display()))?;
        let mut c = Self::from_yaml(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
        c.source = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        // Every path in the file is relative to the file (as Prometheus reads rule
        // files): the data directory, rule, SLO and dashboard files, log files, and the
        // scrape configs' files. Paths given as flags are relative to where lantern runs.
        let dir = path.parent().unwrap_or(Path::new("."));
        for f in c
            .rule_files
            .iter_mut()
            .chain(c.slo_files.iter_mut())
            .chain(c.dashboards_dir.iter_mut())
            .chain(c.log_files.iter_mut().flat_map(|l| l.paths.iter_mut()))
        {
            if Path::new(f.as_str()).is_relative() {
                *f = dir.join(f.as_str()).display().to_string();
            }
        }
        // The default data directory (not written in the file) stays where lantern runs.
        let data_dir_written =
            serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok_and(|v| v.get("data_dir").is_some());
        if data_dir_written && c.data_dir.is_relative() {
            c.data_dir = dir.join(&c.data_dir);
        }
        for s in &mut c.scrape_configs {
            s.resolve_paths(dir);
        }
        Ok(c)
    }

    /// Parses YAML text (empty text means all defaults).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let de = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            if path == "." || path.is_empty() {
                return inner;
            }
            // serde_yaml starts its message with the path it knows ("logs: …"): the key
            // is already said.
            let first = path.split(['.', '[']).next().unwrap_or("");
            let message = inner
                .strip_prefix(&format!("{path}: "))
                .or_else(|| inner.strip_prefix(&format!("{first}: ")))
                .unwrap_or(&inner);
            format!("key {path}: {message}")
        })
    }

    /// Every problem in the configuration, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (key, addr) in [
            ("http_addr", &self.http_addr),
            ("otlp_grpc_addr", &self.otlp_grpc_addr),
            ("otlp_http_addr", &self.otlp_http_addr),
            ("jaeger_grpc_addr", &self.jaeger_grpc_addr),
        ] {
            if key == "jaeger_grpc_addr" && addr.is_empty() {
                continue;
            }
            if let Err(e) = resolve_addr(addr) {
                errs.push(format!("key {key}: {e}"));
            }
        }
        errs.extend(lantern_scrape::config::validate(&self.global, &self.scrape_configs));
        if let Err(e) = self.ingest_steps() {
            errs.extend(e);
        }
        errs.extend(self.alerting.validate().into_iter().map(|e| format!("key {e}")));
        for (i, k) in self.correlation.keys.iter().enumerate() {
            if k.trim().is_empty() {
                errs.push(format!("key correlation.keys[{i}]: a key name cannot be empty"));
            }
        }
        if let Some(u) = &self.external_url {
            if !u.starts_with("http://") && !u.starts_with("https://") {
                errs.push(format!("key external_url: {u:?} is not an http(s) URL"));
            }
        }
        let q = &self.query;
        if q.lookback_delta.0 < Duration::from_millis(1) {
            errs.push("key query.lookback_delta: must be positive".into());
        }
        if q.timeout.0 < Duration::from_millis(1) {
            errs.push("key query.timeout: must be positive".into());
        }
        if q.max_samples == 0 {
            errs.push("key query.max_samples: must be positive".into());
        }
        if q.max_series == 0 {
            errs.push("key query.max_series: must be positive".into());
        }
        if self.data_dir.as_os_str().is_empty() {
            errs.push("key data_dir: must not be empty".into());
        }
        let m = &self.metrics;
        if m.block_duration.0 < Duration::from_secs(60) {
            errs.push(format!("key metrics.block_duration: {} is too short (minimum 1m)", m.block_duration));
        }
        if m.maintenance_interval.0 < Duration::from_secs(1) {
            errs.push(format!(
                "key metrics.maintenance_interval: {} is too short (minimum 1s)",
                m.maintenance_interval
            ));
        }
        if !m.retention_time.0.is_zero() && m.retention_time.0 < m.block_duration.0 {
            errs.push(format!(
                "key metrics.retention_time: {} is shorter than metrics.block_duration ({})",
                m.retention_time, m.block_duration
            ));
        }
        let t = &self.traces;
        if t.segment_max_spans == 0 {
            errs.push("key traces.segment_max_spans: must be positive".into());
        }
        if t.segment_max_age.0 < Duration::from_secs(1) {
            errs.push(format!("key traces.segment_max_age: {} is too short (minimum 1s)", t.segment_max_age));
        }
        if t.span_metrics_interval.0 < Duration::from_secs(1) {
            errs.push(format!(
                "key traces.span_metrics_interval: {} is too short (minimum 1s)",
                t.span_metrics_interval
            ));
        }
        let l = &self.logs;
        if l.segment_max_lines == 0 {
            errs.push("key logs.segment_max_lines: must be positive".into());
        }
        if l.segment_max_age.0 < Duration::from_secs(1) {
            errs.push(format!("key logs.segment_max_age: {} is too short (minimum 1s)", l.segment_max_age));
        }
        if l.max_line_size.0 == 0 {
            errs.push("key logs.max_line_size: must be greater than 0".into());
        }
        if l.max_request_size.0 == 0 {
            errs.push("key logs.max_request_size: must be greater than 0".into());
        }
        if l.file_poll_interval.0 < Duration::from_millis(10) {
            errs.push(format!("key logs.file_poll_interval: {} is too short (minimum 10ms)", l.file_poll_interval));
        }
        for (i, f) in self.log_files.iter().enumerate() {
            if f.paths.is_empty() {
                errs.push(format!("key log_files[{i}].paths: at least one path or pattern is needed"));
            }
            for p in &f.paths {
                if let Err(e) = glob::Pattern::new(p) {
                    errs.push(format!("key log_files[{i}].paths: {p:?} is not a valid pattern: {e}"));
                }
            }
            if f.service.is_empty() {
                errs.push(format!("key log_files[{i}].service: must not be empty"));
            }
            if let Some(m) = &f.multiline {
                if let Err(e) = m.rule() {
                    errs.push(format!("key log_files[{i}].multiline.{e}"));
                }
            }
            for name in f.labels.keys() {
                let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok || name == "service" || name == "filename" {
                    errs.push(format!("key log_files[{i}].labels: {name:?} is not a label name that can be set here"));
                }
            }
        }
        if self.limits.max_request_body_size.0 == 0 {
            errs.push("key limits.max_request_body_size: must be greater than 0".into());
        }
        if self.limits.max_decompressed_body_size.0 == 0 {
            errs.push("key limits.max_decompressed_body_size: must be greater than 0".into());
        }
        errs
    }

    /// The store options this configuration asks for.
    pub fn tsdb_options(&self) -> lantern_tsdb::Options {
        let m = &self.metrics;
        lantern_tsdb::Options {
            block_range: m.block_duration.0,
            retention_time: (!m.retention_time.0.is_zero()).then_some(m.retention_time.0),
            retention_size: (m.retention_size.0 != 0).then_some(m.retention_size.0),
            out_of_order_window: m.out_of_order_window.0,
            max_exemplars_per_series: m.max_exemplars_per_series,
            max_exemplar_series: m.max_exemplar_series,
            block_cache_bytes: usize::try_from(m.block_cache_size.0).unwrap_or(usize::MAX),
            ..lantern_tsdb::Options::default()
        }
    }
}

impl Config {
    /// The span store options this configuration asks for.
    pub fn trace_options(&self) -> lantern_events::Options {
        let t = &self.traces;
        lantern_events::Options {
            max_head_rows: t.segment_max_spans,
            max_head_age: t.segment_max_age.0,
            retention_age: (!t.retention_time.0.is_zero()).then_some(t.retention_time.0),
            retention_bytes: (t.retention_size.0 != 0).then_some(t.retention_size.0),
            condition_cache_bytes: usize::try_from(t.condition_cache_size.0).unwrap_or(usize::MAX),
            // Row groups of 16384 spans in pages of 4096: a quarter of the column chunks
            // (each a new zstd context) of groups of 4096, while a trace's rows still
            // decompress one page of each column. On 3M spans: searches a third faster,
            // trace by ID unchanged, 3% less disk; groups of 65536 made lookups slower.
            row_group_rows: 16_384,
            ..lantern_events::Options::default()
        }
    }
}

impl Config {
    /// The log store options this configuration asks for.
    pub fn log_options(&self) -> lantern_events::Options {
        let l = &self.logs;
        lantern_events::Options {
            max_head_rows: l.segment_max_lines,
            max_head_age: l.segment_max_age.0,
            retention_age: (!l.retention_time.0.is_zero()).then_some(l.retention_time.0),
            retention_bytes: (l.retention_size.0 != 0).then_some(l.retention_size.0),
            // Larger row groups than spans': log columns compress better in long runs.
            row_group_rows: 65_536,
            condition_cache_bytes: usize::try_from(l.condition_cache_size.0).unwrap_or(usize::MAX),
            ..lantern_events::Options::default()
        }
    }

    /// The log fields searches match whole: `logs.id_fields`, else `correlation.keys`.
    pub fn log_id_fields(&self) -> lantern_logs::IdFields {
        lantern_logs::IdFields::with_keys(self.logs.id_fields.as_ref().unwrap_or(&self.correlation.keys))
    }

    /// The configuration as YAML, with passwords and credentials shown as `<secret>`
    /// (as Prometheus's `/api/v1/status/config` shows them).
    pub fn masked_yaml(&self) -> String {
        fn mask(v: &mut serde_yaml::Value) {
            match v {
                serde_yaml::Value::Mapping(m) => {
                    for (k, x) in m.iter_mut() {
                        let secret = matches!(k.as_str(), Some("password" | "credentials" | "bearer_token"));
                        if secret && !x.is_null() {
                            *x = serde_yaml::Value::String("<secret>".into());
                        } else {
                            mask(x);
                        }
                    }
                }
                serde_yaml::Value::Sequence(s) => s.iter_mut().for_each(mask),
                _ => {}
            }
        }
        match serde_yaml::to_value(self) {
            Ok(mut v) => {
                mask(&mut v);
                serde_yaml::to_string(&v).unwrap_or_default()
            }
            Err(e) => format!("# the configuration cannot be shown: {e}\n"),
        }
    }

    /// The file inputs.
    pub fn file_inputs(&self) -> Vec<lantern_logs::files::FileInput> {
        self.log_files
            .iter()
            .map(|f| {
                let mut input = lantern_logs::files::FileInput::new(
                    f.paths.clone(),
                    f.service.clone(),
                    f.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                );
                if let Some(m) = &f.multiline {
                    // Checked by `validate`.
                    input.multiline = m.rule().ok();
                    if let Some(d) = m.force_flush_period {
                        input.force_flush_period = d.0;
                    }
                }
                input
            })
            .collect()
    }

    /// The log ingest limits.
    pub fn log_limits(&self) -> (lantern_logs_api::Limits, lantern_logs_api::RateLimit) {
        let l = &self.logs;
        let size = |b: ByteSize| usize::try_from(b.0).unwrap_or(usize::MAX);
        (
            lantern_logs_api::Limits {
                max_line_bytes: size(l.max_line_size),
                max_request_bytes: size(l.max_request_size),
            },
            lantern_logs_api::RateLimit::new(
                (l.ingest_rate_limit.0 != 0).then_some(l.ingest_rate_limit.0),
                l.ingest_burst_size.0,
            ),
        )
    }
}

/// Resolves `host:port` (or `:port`, meaning every interface) to a socket address.
pub fn resolve_addr(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.to_socket_addrs()
        .map_err(|e| format!("address {s:?} is invalid: {e}"))?
        .next()
        .ok_or_else(|| format!("address {s:?} resolves to nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_example_config_loads_and_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lantern.example.yaml");
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.validate(), Vec::<String>::new());
        assert_eq!(c.metrics.out_of_order_window.to_string(), "1d");
    }

    /// The committed `lantern.example.yaml` is the configuration reference: it must name
    /// every key the config types have, each with its default value (a key whose default
    /// is unset appears commented, with an example), so the two cannot drift apart.
    #[test]
    fn the_example_config_names_every_key_with_its_default() {
        fn leaves(v: &serde_yaml::Value, path: String, out: &mut Vec<(String, serde_yaml::Value)>) {
            match v {
                serde_yaml::Value::Mapping(m) if !m.is_empty() => {
                    for (k, x) in m {
                        let k = k.as_str().unwrap_or_default();
                        leaves(x, if path.is_empty() { k.to_string() } else { format!("{path}.{k}") }, out);
                    }
                }
                _ => out.push((path, v.clone())),
            }
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lantern.example.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut documented = Vec::new();
        leaves(&serde_yaml::from_str(&text).unwrap(), String::new(), &mut documented);
        let documented: std::collections::BTreeMap<String, serde_yaml::Value> = documented.into_iter().collect();
        let mut keys = Vec::new();
        leaves(&serde_yaml::to_value(Config::default()).unwrap(), String::new(), &mut keys);
        let mut missing = Vec::new();
        for (key, default) in &keys {
            let name = key.rsplit('.').next().unwrap();
            let present = if default.is_null() {
                // Unset by default: shown commented out, with an example value.
                text.lines().any(|l| l.trim_start().starts_with(&format!("# {name}:")))
            } else {
                documented.contains_key(key)
            };
            if !present {
                missing.push(key.clone());
            }
        }
        assert!(missing.is_empty(), "keys of the config types missing from lantern.example.yaml: {missing:?}");
        // Every value written there is the default (the data directory is relative to the
        // file, as every path in a config file is).
        let mut c = Config::from_file(&path).unwrap();
        assert_eq!(c.data_dir, path.parent().unwrap().join("./lantern-data"));
        c.data_dir = Config::default().data_dir;
        c.source = None;
        assert_eq!(c, Config::default(), "a value in lantern.example.yaml is not the default");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Config::from_yaml("metrics:\n  retention_tme: 5d\n").unwrap_err();
        assert!(e.contains("metrics") && e.contains("retention_tme"), "{e}");
        let e = Config::from_yaml("metrics:\n  retention_time: 5x\n").unwrap_err();
        assert!(e.starts_with("key metrics.retention_time:") && e.contains("5x"), "{e}");
        let e = Config::from_yaml("limits:\n  max_request_body_size: lots\n").unwrap_err();
        assert!(e.contains("limits.max_request_body_size"), "{e}");
        let c = Config { http_addr: "nonsense".into(), ..Config::default() };
        assert_eq!(c.validate().len(), 1);
        assert!(c.validate()[0].starts_with("key http_addr:"));
    }

    #[test]
    fn multiline_rules_are_checked() {
        let errs = |m: &str| {
            Config::from_yaml(&format!("log_files:\n  - paths: [a.log]\n    service: a\n    multiline: {m}\n"))
                .unwrap()
                .validate()
        };
        assert!(errs("{preset: python}").is_empty());
        assert!(errs("{line_start_pattern: '^\\d{4}-'}").is_empty());
        assert_eq!(errs("{preset: ruby}"), ["key log_files[0].multiline.preset: \"ruby\" is not one of python, java"]);
        let e = errs("{line_start_pattern: '(unclosed'}");
        assert!(
            e[0].starts_with("key log_files[0].multiline.line_start_pattern: \"(unclosed\" is not a valid"),
            "{e:?}"
        );
        assert!(errs("{preset: java, line_start_pattern: x}")[0].contains("not both"));
        assert!(errs("{}")[0].contains("one of them is needed"));
    }

    #[test]
    fn alerting_problems_name_their_keys_and_rule_files_follow_the_config_file() {
        let c = Config::from_yaml(
            "alerting:\n  alert_relabel_configs:\n    - action: replace\n  alertmanagers:\n    - api_version: v1\n      static_configs:\n        - targets: ['http://am:9093']\n  webhooks:\n    - url: ftp://x\nexternal_url: lantern:9700\n",
        )
        .unwrap();
        let errs = c.validate();
        assert_eq!(errs.len(), 5, "{errs:#?}");
        assert!(errs[0].starts_with("key alerting.alert_relabel_configs: relabel step 0:"), "{errs:#?}");
        assert!(errs[1].starts_with("key alerting.alertmanagers[0].api_version: \"v1\" is not supported"), "{errs:#?}");
        assert!(errs[2].starts_with("key alerting.alertmanagers[0].static_configs[0].targets:"), "{errs:#?}");
        assert!(errs[3].starts_with("key alerting.webhooks[0].url:"), "{errs:#?}");
        assert!(errs[4].starts_with("key external_url:"), "{errs:#?}");
        let e = Config::from_yaml("alerting:\n  alertmanager: []\n").unwrap_err();
        assert!(e.contains("alerting") && e.contains("alertmanager"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.yaml");
        std::fs::write(
            &path,
            "rule_files: ['rules/*.yml', '/abs/r.yml']\nslo_files: [slos.yml]\ndashboards_dir: boards\n",
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.rule_files, [dir.path().join("rules/*.yml").display().to_string(), "/abs/r.yml".into()]);
        assert_eq!(c.slo_files, [dir.path().join("slos.yml").display().to_string()]);
        assert_eq!(c.dashboards_dir, Some(dir.path().join("boards").display().to_string()));
        assert_eq!(c.data_dir, PathBuf::from("./lantern-data"), "the default stays where lantern runs");
    }

    #[test]
    fn every_path_in_a_config_file_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lantern.yaml");
        std::fs::write(
            &path,
            "data_dir: data\nlog_files:\n  - paths: [logs/*.log, /var/log/x.log]\n    service: app\nscrape_configs:\n  - job_name: j\n    file_sd_configs: [{files: [targets/*.json]}]\n    tls_config: {ca_file: ca.pem}\n",
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(
            c.log_files[0].paths,
            [dir.path().join("logs/*.log").display().to_string(), "/var/log/x.log".into()]
        );
        assert_eq!(
            c.scrape_configs[0].file_sd_configs[0].files,
            [dir.path().join("targets/*.json").display().to_string()]
        );
        assert_eq!(c.scrape_configs[0].tls_config.as_ref().unwrap().ca_file, Some(dir.path().join("ca.pem")));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::from_yaml("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.http_addr, "127.0.0.1:9700");
        assert_eq!(c.metrics.out_of_order_window.to_string(), "1d");
        assert_eq!(resolve_addr(":4317").unwrap().port(), 4317);
    }
}
