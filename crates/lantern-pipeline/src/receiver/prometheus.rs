//! The `prometheus` receiver: Prometheus's `scrape_configs` (and `global`) under
//! `config:`, scraped by Lantern's own scrape manager (`lantern-scrape`: discovery,
//! relabeling, negotiation, limits, `up` and `scrape_*`), the samples of each scrape
//! sent on as OTLP metrics ([`crate::promconv`]) by family type.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::{Exemplar, Labels, Sample};
use lantern_scrape::config::{GlobalConfig, ScrapeConfig};
use lantern_scrape::{Handle, ScrapeManager, ScrapeStore};
use lantern_tsdb::metadata::MetricMeta;
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::consumer::Next;
use crate::data::{Decoded, Payload};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The embedded Prometheus configuration.
    pub config: PromConfig,
    /// Accepted for compatibility.
    #[serde(default)]
    pub trim_metric_suffixes: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub use_start_time_metric: Option<bool>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub start_time_metric_regex: Option<String>,
    /// Accepted for compatibility (Lantern always reports `up` and `scrape_*`).
    #[serde(default)]
    pub report_extra_scrape_metrics: Option<bool>,
    /// The target allocator (not supported by Lantern).
    #[serde(default)]
    pub target_allocator: Option<serde_yaml::Value>,
}

/// `config`: a Prometheus configuration, of which `global` and `scrape_configs` apply.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PromConfig {
    /// Defaults for the jobs.
    pub global: GlobalConfig,
    /// The jobs.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Refused, as the Collector refuses it.
    pub alerting: Option<serde_yaml::Value>,
    /// Refused.
    pub remote_read: Option<serde_yaml::Value>,
    /// Refused.
    pub remote_write: Option<serde_yaml::Value>,
    /// Refused.
    pub rule_files: Option<serde_yaml::Value>,
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let c = &self.config;
        for (key, set) in [
            ("alerting", c.alerting.is_some()),
            ("remote_read", c.remote_read.is_some()),
            ("remote_write", c.remote_write.is_some()),
            ("rule_files", c.rule_files.is_some()),
        ] {
            if set {
                p.push(format!("config::{key}: unsupported features: {key} is not allowed in the receiver's Prometheus configuration"));
            }
        }
        if self.target_allocator.is_some() {
            p.push("target_allocator is not supported by Lantern".into());
        }
        if c.scrape_configs.is_empty() {
            p.push("config::scrape_configs: at least one scrape config must be specified".into());
        }
        p.extend(
            lantern_scrape::config::validate(&c.global, &c.scrape_configs).into_iter().map(|e| format!("config::{e}")),
        );
        p
    }
}

/// Requests on their way to the pipeline at most (a scrape finding it full fails).
const PENDING: usize = 256;

/// Scrapes converted and handed to the pipeline.
struct ToPipeline {
    kinds: Mutex<HashMap<String, String>>,
    tx: mpsc::Sender<Payload>,
}

impl ScrapeStore for ToPipeline {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn handle(&self, labels: &Labels) -> Result<Handle, String> {
        Ok(Handle::Labels(labels.clone()))
    }

    fn append(&self, rows: &[(&Handle, Sample, &[Exemplar])]) -> Result<Vec<usize>, String> {
        let series: Vec<(Labels, Sample, Vec<Exemplar>)> = rows
            .iter()
            .filter_map(|(h, s, ex)| match h {
                Handle::Labels(l) => Some((l.clone(), *s, ex.to_vec())),
                Handle::Tsdb(_) => None,
            })
            .collect();
        let req = crate::promconv::to_otlp(&series, &self.kinds.lock(), "lantern.prometheus");
        let p = Decoded::Metrics(req).encode();
        if p.items > 0 {
            self.tx.try_send(p).map_err(|_| "the pipeline is not keeping up: scrape dropped".to_string())?;
        }
        Ok(Vec::new())
    }

    fn set_metadata(&self, family: &str, meta: &MetricMeta) {
        self.kinds.lock().insert(family.to_string(), meta.kind.clone());
    }
}

/// Starts scraping; stops (marking what it scraped stale) when `shutdown` turns true.
pub fn start(
    id: &str,
    c: &Config,
    next: Next,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<Payload>(PENDING);
    let store = Arc::new(ToPipeline { kinds: Mutex::default(), tx });
    let manager = ScrapeManager::start(store, c.config.global.clone(), c.config.scrape_configs.clone())
        .map_err(|e| e.join("; "))?;
    let name = id.to_string();
    tasks.push(tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let items = p.items as u64;
            match next.consume(p).await {
                Ok(()) => lantern_core::selfmon::pipeline::received(&name, "http", "metrics", items),
                Err(e) => {
                    lantern_core::selfmon::pipeline::refused(&name, "metrics", "downstream_retryable", items);
                    tracing::warn!(receiver = %name, error = %e, "scraped samples refused downstream");
                }
            }
        }
    }));
    tasks.push(tokio::spawn(async move {
        let _ = shutdown.wait_for(|s| *s).await;
        manager.stop().await;
    }));
    Ok(())
}
