//! Prometheus's `scrape_configs` syntax, with its defaults and validation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use lantern_core::PromDuration;
use lantern_relabel::RelabelConfig;
use serde::{Deserialize, Serialize};

/// Scrape defaults for every job (Prometheus's `global:` section).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// How often to scrape (1m).
    pub scrape_interval: PromDuration,
    /// How long a scrape may take (10s, or the interval if that is shorter).
    pub scrape_timeout: Option<PromDuration>,
    /// How often rules are evaluated (1m).
    pub evaluation_interval: PromDuration,
    /// Labels added to alerts and remote-written data (not to stored series).
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            scrape_interval: PromDuration(Duration::from_secs(60)),
            scrape_timeout: None,
            evaluation_interval: PromDuration(Duration::from_secs(60)),
            external_labels: BTreeMap::new(),
        }
    }
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The `job` label of its targets.
    pub job_name: String,
    /// Defaults to the global interval.
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Defaults to the global timeout (at most the interval).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// `/metrics` by default.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Keep the target's own labels when they clash with the server's.
    #[serde(default)]
    pub honor_labels: bool,
    /// Use the timestamps the target exposes.
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// TLS settings for `https`.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// Targets listed in the config.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Targets listed in files (YAML or JSON), re-read when they change.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Applied to each target's labels before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Applied to each scraped series before storing.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// A scrape with more samples than this (after metric relabeling) fails (0: none).
    #[serde(default)]
    pub sample_limit: usize,
    /// A scrape with a series of more labels than this fails (0: none).
    #[serde(default)]
    pub label_limit: usize,
    /// A scrape with a longer label name fails (0: none).
    #[serde(default)]
    pub label_name_length_limit: usize,
    /// A scrape with a longer label value fails (0: none).
    #[serde(default)]
    pub label_value_length_limit: usize,
    /// A scrape with a larger body fails (0: none).
    #[serde(default)]
    pub body_size_limit: lantern_core::ByteSize,
}

impl ScrapeConfig {
    /// Makes the relative file paths (`file_sd_configs` files, credential and TLS
    /// files) relative to `base`, the config file's directory, as Prometheus reads them.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(b) = &mut self.basic_auth {
            b.password_file.as_mut().map(abs);
        }
        if let Some(a) = &mut self.authorization {
            a.credentials_file.as_mut().map(abs);
        }
        if let Some(t) = &mut self.tls_config {
            t.ca_file.as_mut().map(abs);
            t.cert_file.as_mut().map(abs);
            t.key_file.as_mut().map(abs);
        }
        for f in &mut self.file_sd_configs {
            for p in &mut f.files {
                if std::path::Path::new(p.as_str()).is_relative() {
                    *p = base.join(p.as_str()).display().to_string();
                }
            }
        }
    }
}

fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}

/// `basic_auth`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user.
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (`Bearer` by default).
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    /// The credentials.
    #[serde(default)]
    pub credentials: Option<String>,
    /// A file holding the credentials.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

fn bearer() -> String {
    "Bearer".into()
}

/// `tls_config`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name to check the server certificate against.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `static_configs` entry: targets and labels for them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels for all of them.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// File paths; the last path element may hold `*` globs.
    pub files: Vec<String>,
    /// How often to re-read them even without a change seen (5m).
    #[serde(default = "five_minutes")]
    pub refresh_interval: PromDuration,
}

fn five_minutes() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}

impl GlobalConfig {
    /// The timeout after defaults: 10s, but never longer than the interval unless set.
    pub fn timeout(&self) -> Duration {
        self.scrape_timeout.map_or(Duration::from_secs(10).min(self.scrape_interval.0), |t| t.0)
    }
}

impl ScrapeConfig {
    /// The interval after defaults.
    pub fn interval(&self, g: &GlobalConfig) -> Duration {
        self.scrape_interval.unwrap_or(g.scrape_interval).0
    }

    /// The timeout after defaults (never longer than the interval).
    pub fn timeout(&self, g: &GlobalConfig) -> Duration {
        self.scrape_timeout.map_or(g.timeout(), |t| t.0).min(self.interval(g))
    }
}

/// Every problem of the scrape section, each naming its key.
pub fn validate(g: &GlobalConfig, jobs: &[ScrapeConfig]) -> Vec<String> {
    let mut errs = Vec::new();
    if g.scrape_interval.0.is_zero() {
        errs.push("key global.scrape_interval: must be positive".into());
    }
    if let Some(t) = g.scrape_timeout.filter(|t| t.0 > g.scrape_interval.0) {
        errs.push(format!(
            "key global.scrape_timeout: {t} is longer than global.scrape_interval ({})",
            g.scrape_interval
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, j) in jobs.iter().enumerate() {
        let key = format!("scrape_configs[{i}]");
        if j.job_name.is_empty() {
            errs.push(format!("key {key}.job_name: must not be empty"));
        }
        if !names.insert(j.job_name.clone()) {
            errs.push(format!("key {key}.job_name: {:?} is used by another job", j.job_name));
        }
        if j.scrape_interval.is_some_and(|d| d.0.is_zero()) {
            errs.push(format!("key {key}.scrape_interval: must be positive"));
        }
        if let (Some(t), Some(iv)) = (j.scrape_timeout, j.scrape_interval) {
            if t.0 > iv.0 {
                errs.push(format!("key {key}.scrape_timeout: {t} is longer than scrape_interval ({iv})"));
            }
        }
        if j.scheme != "http" && j.scheme != "https" {
            errs.push(format!("key {key}.scheme: {:?} must be http or https", j.scheme));
        }
        if !j.metrics_path.starts_with('/') {
            errs.push(format!("key {key}.metrics_path: {:?} must start with '/'", j.metrics_path));
        }
        if j.basic_auth.is_some() && j.authorization.is_some() {
            errs.push(format!("key {key}: at most one of basic_auth and authorization"));
        }
        if let Some(b) = &j.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                errs.push(format!("key {key}.basic_auth: at most one of password and password_file"));
            }
        }
        if let Some(a) = &j.authorization {
            if a.credentials.is_some() && a.credentials_file.is_some() {
                errs.push(format!("key {key}.authorization: at most one of credentials and credentials_file"));
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                errs.push(format!("key {key}.authorization.type: Basic is not allowed here, use basic_auth"));
            }
        }
        for (k, sc) in j.static_configs.iter().enumerate() {
            for t in &sc.targets {
                if t.contains('/') {
                    errs.push(format!("key {key}.static_configs[{k}].targets: {t:?} is not a host:port address"));
                }
            }
        }
        for (k, f) in j.file_sd_configs.iter().enumerate() {
            for file in &f.files {
                if !(file.ends_with(".json") || file.ends_with(".yml") || file.ends_with(".yaml")) {
                    errs.push(format!(
                        "key {key}.file_sd_configs[{k}].files: {file:?} must end in .json, .yml or .yaml"
                    ));
                }
            }
        }
        if let Err(e) = lantern_relabel::compile(&j.relabel_configs) {
            errs.push(format!("key {key}.relabel_configs: {e}"));
        }
        if let Err(e) = lantern_relabel::compile(&j.metric_relabel_configs) {
            errs.push(format!("key {key}.metric_relabel_configs: {e}"));
        }
    }
    errs
}
