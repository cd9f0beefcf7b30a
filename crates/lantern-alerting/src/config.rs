//! `alerting:` in Prometheus's syntax (`alert_relabel_configs`, `alertmanagers:` with
//! `static_configs`, `scheme`, `path_prefix`, `timeout`, `api_version`), plus Lantern's
//! `webhooks:` for users without an Alertmanager.

use std::time::Duration;

use lantern_core::PromDuration;
use serde::{Deserialize, Serialize};

/// `alerting:`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert before it is sent (a dropped alert is not sent).
    pub alert_relabel_configs: Vec<lantern_relabel::RelabelConfig>,
    /// Alertmanagers that receive every alert (API v2).
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Webhooks that receive alerts in Alertmanager's webhook format.
    pub webhooks: Vec<WebhookConfig>,
    /// How often a firing alert is sent again (Prometheus: `--rules.alert.resend-delay`).
    pub resend_delay: PromDuration,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            alert_relabel_configs: Vec::new(),
            alertmanagers: Vec::new(),
            webhooks: Vec::new(),
            resend_delay: PromDuration(Duration::from_secs(60)),
        }
    }
}

/// One `alertmanagers:` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// `host:port` of each Alertmanager.
    pub static_configs: Vec<StaticConfig>,
    /// `http` or `https`.
    pub scheme: String,
    /// Prefix of the API path (an Alertmanager behind a path).
    pub path_prefix: String,
    /// Per request.
    pub timeout: PromDuration,
    /// Only `v2` (Alertmanager 0.16 and later).
    pub api_version: String,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        Self {
            static_configs: Vec::new(),
            scheme: "http".into(),
            path_prefix: String::new(),
            timeout: PromDuration(Duration::from_secs(10)),
            api_version: "v2".into(),
        }
    }
}

/// Targets of one Alertmanager entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port`.
    pub targets: Vec<String>,
}

/// One `webhooks:` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Where the JSON is POSTed.
    pub url: String,
    /// Per attempt.
    pub timeout: PromDuration,
    /// Attempts per message before it counts as failed (waiting 0.5 s, 1 s, 2 s… between).
    pub max_attempts: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { url: String::new(), timeout: PromDuration(Duration::from_secs(10)), max_attempts: 5 }
    }
}

impl AlertingConfig {
    /// Every problem, with its key path.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = lantern_relabel::compile(&self.alert_relabel_configs) {
            out.push(format!("alerting.alert_relabel_configs: {e}"));
        }
        for (i, am) in self.alertmanagers.iter().enumerate() {
            let key = format!("alerting.alertmanagers[{i}]");
            if am.api_version != "v2" {
                out.push(format!("{key}.api_version: {:?} is not supported (only v2)", am.api_version));
            }
            if am.scheme != "http" && am.scheme != "https" {
                out.push(format!("{key}.scheme: {:?} must be http or https", am.scheme));
            }
            for (j, sc) in am.static_configs.iter().enumerate() {
                for t in &sc.targets {
                    if t.is_empty() || t.contains('/') {
                        out.push(format!("{key}.static_configs[{j}].targets: {t:?} is not host:port"));
                    }
                }
            }
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            if url::Url::parse(&w.url).map(|u| u.scheme().starts_with("http")).unwrap_or(false) {
                if w.max_attempts == 0 {
                    out.push(format!("alerting.webhooks[{i}].max_attempts: must be at least 1"));
                }
            } else {
                out.push(format!("alerting.webhooks[{i}].url: {:?} is not an http(s) URL", w.url));
            }
        }
        out
    }

    /// The Alertmanager API URLs alerts go to.
    pub fn alertmanager_urls(&self) -> Vec<(String, Duration)> {
        let mut out = Vec::new();
        for am in &self.alertmanagers {
            let prefix = am.path_prefix.trim_end_matches('/');
            for sc in &am.static_configs {
                for t in &sc.targets {
                    out.push((format!("{}://{t}{prefix}/api/v2/alerts", am.scheme), am.timeout.0));
                }
            }
        }
        out
    }
}
