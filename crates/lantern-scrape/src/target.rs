//! Targets: the labels a discovered address gets (Prometheus's defaults, then
//! `relabel_configs`), and the URL it is scraped at.

use std::collections::BTreeMap;
use std::time::Duration;

use lantern_core::{Labels, PromDuration};
use lantern_relabel::Rule;

use crate::config::{GlobalConfig, ScrapeConfig};
use crate::Error;

/// A target to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its labels before relabeling (`__address__`, `__meta_*`, …).
    pub discovered: BTreeMap<String, String>,
    /// Its labels after relabeling, without `__` labels: added to every series it exposes.
    pub labels: Labels,
    /// The URL scraped.
    pub url: String,
    /// How often.
    pub interval: Duration,
    /// How long a scrape may take.
    pub timeout: Duration,
}

/// What relabeling made of a discovered address.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// Scraped.
    Active(Target),
    /// Dropped by relabeling; its discovered labels are shown by the targets API.
    Dropped(BTreeMap<String, String>),
}

/// Builds the target for `address` with its group's labels.
pub fn populate(
    job: &ScrapeConfig,
    global: &GlobalConfig,
    rules: &[Rule],
    group: &BTreeMap<String, String>,
    address: &str,
) -> Result<Populated, Error> {
    let mut l: BTreeMap<String, String> = group.clone();
    l.insert("__address__".into(), address.to_string());
    let defaults = [
        ("job", job.job_name.clone()),
        ("__scheme__", job.scheme.clone()),
        ("__metrics_path__", job.metrics_path.clone()),
        ("__scrape_interval__", PromDuration(job.interval(global)).to_string()),
        ("__scrape_timeout__", PromDuration(job.timeout(global)).to_string()),
    ];
    for (k, v) in defaults {
        l.entry(k.into()).or_insert(v);
    }
    for (k, v) in &job.params {
        if let Some(first) = v.first() {
            l.entry(format!("__param_{k}")).or_insert_with(|| first.clone());
        }
    }
    let discovered = l.clone();
    if !lantern_relabel::process(rules, &mut l) {
        return Ok(Populated::Dropped(discovered));
    }
    let addr = l.get("__address__").cloned().unwrap_or_default();
    if addr.is_empty() {
        return Err(Error::Target("no address".into()));
    }
    if addr.contains('/') {
        return Err(Error::Target(format!("{addr:?} is not a valid hostname")));
    }
    let duration = |key: &str, fallback: Duration| -> Result<Duration, Error> {
        match l.get(key) {
            Some(s) => PromDuration::parse(s).map(|d| d.0).map_err(|e| Error::Target(format!("{key} {s:?}: {e}"))),
            None => Ok(fallback),
        }
    };
    let interval = duration("__scrape_interval__", job.interval(global))?;
    let timeout = duration("__scrape_timeout__", job.timeout(global))?;
    if interval.is_zero() || timeout > interval {
        return Err(Error::Target(format!(
            "scrape timeout {timeout:?} must be positive and at most the interval {interval:?}"
        )));
    }
    let scheme = l.get("__scheme__").cloned().unwrap_or_else(|| "http".into());
    let path = l.get("__metrics_path__").cloned().unwrap_or_else(|| "/metrics".into());
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in &job.params {
        let over = l.get(&format!("__param_{k}"));
        for (i, val) in v.iter().enumerate() {
            query.push((k.clone(), if i == 0 { over.cloned().unwrap_or_else(|| val.clone()) } else { val.clone() }));
        }
    }
    for (k, v) in &l {
        if let Some(p) = k.strip_prefix("__param_") {
            if !job.params.contains_key(p) {
                query.push((p.to_string(), v.clone()));
            }
        }
    }
    let mut url = format!("{scheme}://{addr}{path}");
    if !query.is_empty() {
        url.push(if path.contains('?') { '&' } else { '?' });
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        url.push_str(&q.join("&"));
    }
    l.entry("instance".into()).or_insert(addr);
    let labels = Labels::from_pairs(l.into_iter().filter(|(k, v)| !k.starts_with("__") && !v.is_empty()));
    Ok(Populated::Active(Target { discovered, labels, url, interval, timeout }))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(yaml: &str) -> ScrapeConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_relabeling_and_url() {
        let j = job(
            "job_name: node\nscrape_interval: 15s\nparams:\n  module: [http_2xx]\nrelabel_configs:\n  - source_labels: [__address__]\n    regex: '(.*):9100'\n    target_label: host\n  - source_labels: [team]\n    regex: drop-me\n    action: drop\n",
        );
        let g = GlobalConfig::default();
        let rules = lantern_relabel::compile(&j.relabel_configs).unwrap();
        let group = BTreeMap::from([("team".to_string(), "payments".to_string())]);
        let Populated::Active(t) = populate(&j, &g, &rules, &group, "web-1:9100").unwrap() else { panic!() };
        assert_eq!(t.url, "http://web-1:9100/metrics?module=http_2xx");
        assert_eq!(t.interval, Duration::from_secs(15));
        assert_eq!(t.timeout, Duration::from_secs(10));
        assert_eq!(
            t.labels,
            Labels::from_pairs([("host", "web-1"), ("instance", "web-1:9100"), ("job", "node"), ("team", "payments")])
        );
        assert_eq!(t.discovered["__address__"], "web-1:9100");
        let group = BTreeMap::from([("team".to_string(), "drop-me".to_string())]);
        assert!(matches!(populate(&j, &g, &rules, &group, "x:1").unwrap(), Populated::Dropped(_)));
    }
}
