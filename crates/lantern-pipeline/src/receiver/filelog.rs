//! The `filelog` receiver: files followed by the log store's own tailer
//! (`lantern_logs::files::Tailer`: globs, rotation and truncation, multiline records,
//! positions checkpointed so a restart neither loses nor repeats a line), each record
//! an OTLP log record whose body is the line. Positions are kept in the `storage`
//! extension's directory (else they last as long as the process, as the Collector's).
//! `start_at: end` (the default) skips what files held at start. Operators:
//! `json_parser` (the body's JSON object into attributes, with `timestamp` and
//! `severity` read from them) and `regex_parser` (named groups into attributes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lantern_logs::files::{FileInput, FileSink, Tailer};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1 as pl;
use opentelemetry_proto::tonic::resource::v1::Resource;
use regex::Regex;
use serde::Deserialize;

use crate::consumer::Next;
use crate::data::Decoded;
use crate::settings::GoDuration;

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Globs of files to follow (required).
    pub include: Vec<String>,
    /// Globs of files not to follow.
    pub exclude: Vec<String>,
    /// `end` (default) or `beginning`: where files found at start are read from.
    pub start_at: String,
    /// How often files are checked.
    pub poll_interval: GoDuration,
    /// Whether records carry `log.file.name`.
    pub include_file_name: bool,
    /// Whether records carry `log.file.path`.
    pub include_file_path: bool,
    /// `utf-8` only.
    pub encoding: String,
    /// Longest record, bytes (longer ones are cut).
    pub max_log_size: lantern_core::ByteSize,
    /// How long a multiline record at a file's end waits for more lines.
    pub force_flush_period: GoDuration,
    /// Records spanning lines: `line_start_pattern`.
    pub multiline: Option<MultilineConfig>,
    /// Attributes added to every record.
    pub attributes: BTreeMap<String, String>,
    /// Resource attributes of every record.
    pub resource: BTreeMap<String, String>,
    /// The `file_storage` extension keeping positions.
    pub storage: Option<String>,
    /// Parsers run on each record, in order.
    pub operators: Vec<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub fingerprint_size: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub max_concurrent_files: Option<u64>,
    /// Accepted for compatibility (a refused record is read again at the next poll).
    pub retry_on_failure: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub exclude_older_than: Option<GoDuration>,
}

/// `multiline`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    /// Lines matching this start a record.
    pub line_start_pattern: Option<String>,
    /// Lines matching this end a record (not supported by Lantern).
    pub line_end_pattern: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            start_at: "end".into(),
            poll_interval: GoDuration(Duration::from_millis(200)),
            include_file_name: true,
            include_file_path: false,
            encoding: "utf-8".into(),
            max_log_size: lantern_core::ByteSize(1 << 20),
            force_flush_period: GoDuration(Duration::from_millis(500)),
            multiline: None,
            attributes: BTreeMap::new(),
            resource: BTreeMap::new(),
            storage: None,
            operators: Vec::new(),
            fingerprint_size: None,
            max_concurrent_files: None,
            retry_on_failure: None,
            exclude_older_than: None,
        }
    }
}

/// A parser.
#[derive(Debug, Clone)]
enum Operator {
    Json { timestamp: Option<String>, severity: Option<String> },
    Regex(Regex),
}

fn operators(list: &[serde_yaml::Value]) -> Result<Vec<Operator>, String> {
    let field = |v: &serde_yaml::Value, block: &str| -> Option<String> {
        let from = v.get(block)?.get("parse_from")?.as_str()?;
        Some(from.strip_prefix("attributes.").unwrap_or(from).to_string())
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| match v.get("type").and_then(|t| t.as_str()) {
            Some("json_parser") => {
                Ok(Operator::Json { timestamp: field(v, "timestamp"), severity: field(v, "severity") })
            }
            Some("regex_parser") => {
                let re = v
                    .get("regex")
                    .and_then(|r| r.as_str())
                    .ok_or(format!("operators[{i}]: regex_parser needs a regex"))?;
                Regex::new(re).map(Operator::Regex).map_err(|e| format!("operators[{i}]: invalid regex: {e}"))
            }
            Some(other) => Err(format!("operators[{i}]: the {other} operator is not supported by Lantern yet")),
            None => Err(format!("operators[{i}]: type is required")),
        })
        .collect()
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.include.is_empty() {
            p.push("'include' must be specified".into());
        }
        if !matches!(self.start_at.as_str(), "end" | "beginning") {
            p.push(format!("invalid 'start_at' {:?}: use end or beginning", self.start_at));
        }
        if !self.encoding.eq_ignore_ascii_case("utf-8") && !self.encoding.eq_ignore_ascii_case("utf8") {
            p.push(format!("encoding {:?} is not supported by Lantern: use utf-8", self.encoding));
        }
        if let Some(m) = &self.multiline {
            if m.line_end_pattern.is_some() {
                p.push("multiline::line_end_pattern is not supported by Lantern: use line_start_pattern".into());
            } else if let Some(Err(e)) = m.line_start_pattern.as_deref().map(Regex::new) {
                p.push(format!("multiline::line_start_pattern: {e}"));
            }
        }
        if let Err(e) = operators(&self.operators) {
            p.push(e);
        }
        p
    }
}

/// Hands records to a pipeline.
struct Sink {
    id: String,
    config: Config,
    operators: Vec<Operator>,
    exclude: Vec<glob::Pattern>,
    next: Next,
    runtime: tokio::runtime::Handle,
}

fn string(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue { value: Some(any_value::Value::StringValue(s.into())) })
}

fn json_value(v: &serde_json::Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let v = match v {
        serde_json::Value::String(s) => V::StringValue(s.clone()),
        serde_json::Value::Bool(b) => V::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64()?),
        },
        serde_json::Value::Null => return None,
        other => V::StringValue(other.to_string()),
    };
    Some(AnyValue { value: Some(v) })
}

fn severity(text: &str) -> i32 {
    match text.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "information" => 9,
        "warn" | "warning" => 13,
        "error" | "err" => 17,
        "fatal" | "critical" | "crit" => 21,
        _ => 0,
    }
}

impl Sink {
    fn record(&self, path: &str, line: &str, now: u64) -> pl::LogRecord {
        let mut r = pl::LogRecord { observed_time_unix_nano: now, body: string(line), ..Default::default() };
        for op in &self.operators {
            match op {
                Operator::Json { timestamp, severity: sev } => {
                    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(line) else {
                        continue;
                    };
                    for (k, v) in &m {
                        if let Some(v) = json_value(v) {
                            r.attributes.push(KeyValue { key: k.clone(), value: Some(v) });
                        }
                    }
                    if let Some(t) = timestamp.as_ref().and_then(|k| m.get(k)) {
                        let parsed = match t {
                            serde_json::Value::String(s) => lantern_logs::jsonl::parse_time(s),
                            other => other.as_f64().and_then(|x| lantern_logs::jsonl::parse_time(&x.to_string())),
                        };
                        if let Some(ns) = parsed {
                            r.time_unix_nano = ns.max(0) as u64;
                        }
                    }
                    if let Some(s) = sev.as_ref().and_then(|k| m.get(k)).and_then(|v| v.as_str()) {
                        r.severity_text = s.to_string();
                        r.severity_number = severity(s);
                    }
                }
                Operator::Regex(re) => {
                    if let Some(c) = re.captures(line) {
                        for name in re.capture_names().flatten() {
                            if let Some(m) = c.name(name) {
                                r.attributes.push(KeyValue { key: name.into(), value: string(m.as_str()) });
                            }
                        }
                    }
                }
            }
        }
        if self.config.include_file_name {
            let name = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            r.attributes.push(KeyValue { key: "log.file.name".into(), value: string(name) });
        }
        if self.config.include_file_path {
            r.attributes.push(KeyValue { key: "log.file.path".into(), value: string(path) });
        }
        for (k, v) in &self.config.attributes {
            r.attributes.push(KeyValue { key: k.clone(), value: string(v.clone()) });
        }
        r
    }
}

impl FileSink for Sink {
    fn append_file(
        &self,
        _labels: Vec<(String, String)>,
        path: &str,
        _file: &str,
        _end: u64,
        body: &str,
        records: &[std::ops::Range<usize>],
        max_line: usize,
        checkpoint: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<usize> {
        if self.exclude.iter().any(|p| p.matches(path)) {
            return checkpoint().map(|()| 0);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let Some(text) = body.get(r.clone()) else { continue };
            let mut cut = text.len().min(max_line);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push(self.record(path, &text[..cut], now));
        }
        let n = out.len();
        if n > 0 {
            let req = ExportLogsServiceRequest {
                resource_logs: vec![pl::ResourceLogs {
                    resource: Some(Resource {
                        attributes: self
                            .config
                            .resource
                            .iter()
                            .map(|(k, v)| KeyValue { key: k.clone(), value: string(v.clone()) })
                            .collect(),
                        ..Default::default()
                    }),
                    scope_logs: vec![pl::ScopeLogs {
                        scope: Some(InstrumentationScope { name: "lantern.filelog".into(), ..Default::default() }),
                        log_records: out,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let p = Decoded::Logs(req).encode();
            let items = p.items as u64;
            // Called on a blocking thread: the pipeline's answer is waited for here, and
            // a refusal leaves the lines to be read again at the next poll.
            match self.runtime.block_on(self.next.consume(p)) {
                Ok(()) => lantern_core::selfmon::pipeline::received(&self.id, "file", "logs", items),
                Err(e) => {
                    lantern_core::selfmon::pipeline::refused(&self.id, "logs", "downstream_retryable", items);
                    return Err(std::io::Error::other(format!("the pipeline refused the records: {e}")));
                }
            }
        }
        checkpoint()?;
        Ok(n)
    }
}

/// Starts following the files; positions go under `storage` (a directory) if given.
pub fn start(
    id: &str,
    c: &Config,
    storage: Option<PathBuf>,
    next: Next,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    let safe: String = id.chars().map(|ch| if ch.is_ascii_alphanumeric() || ch == '_' { ch } else { '_' }).collect();
    let positions = match storage {
        Some(dir) => dir.join(format!("receiver_{safe}_positions.json")),
        None => {
            // Positions for this run only: a file nobody else reads, removed first.
            let p = std::env::temp_dir().join(format!("lantern-filelog-{safe}-{}.json", std::process::id()));
            let _ = std::fs::remove_file(&p);
            p
        }
    };
    let mut input = FileInput::new(c.include.clone(), "", Vec::new());
    input.force_flush_period = c.force_flush_period.0;
    if let Some(pattern) = c.multiline.as_ref().and_then(|m| m.line_start_pattern.as_deref()) {
        input.multiline =
            Some(lantern_logs::multiline::Multiline::start_pattern(pattern).map_err(|e| format!("multiline: {e}"))?);
    }
    let sink = Arc::new(Sink {
        id: id.to_string(),
        config: c.clone(),
        operators: operators(&c.operators)?,
        exclude: c
            .exclude
            .iter()
            .map(|g| glob::Pattern::new(g).map_err(|e| format!("exclude {g:?}: {e}")))
            .collect::<Result<_, _>>()?,
        next,
        runtime: tokio::runtime::Handle::current(),
    });
    let max_line = usize::try_from(c.max_log_size.0).unwrap_or(usize::MAX).max(1);
    let mut tailer = Tailer::new(sink, vec![input], positions, max_line);
    if c.start_at == "end" {
        tailer = tailer.start_at_end();
    }
    let interval = c.poll_interval.0.max(Duration::from_millis(10));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tasks.push(tokio::spawn(async move {
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = stop_tx.send(true);
    }));
    tasks.push(tokio::spawn(tailer.run(interval, stop_rx)));
    Ok(())
}
