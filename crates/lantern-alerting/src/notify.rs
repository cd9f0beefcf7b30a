//! Sending alerts: to each Alertmanager as `POST /api/v2/alerts` (a JSON list with
//! `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`; not retried, since
//! firing alerts are sent again every resend delay, as Prometheus does), and to each
//! webhook in Alertmanager's webhook format, retried with backoff. Batches wait in a
//! bounded queue; what is sent, failed and dropped is counted per destination and
//! shown by `/api/v1/notifiers`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lantern_rules::alerts::LabelSet;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::AlertingConfig;
use crate::Error;

/// Batches waiting to be sent at most (Prometheus's queue holds 10,000 alerts).
const QUEUE_BATCHES: usize = 1000;

/// One alert as notifiers receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Labels (external labels added).
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// When it started firing (RFC 3339).
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When it resolved, or until when it holds if not sent again (RFC 3339).
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// A link to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Resolved (not part of Alertmanager's v2 body).
    #[serde(skip)]
    pub resolved: bool,
}

/// What one destination has seen.
#[derive(Debug, Default)]
pub struct Counters {
    /// The destination.
    pub url: String,
    /// `alertmanager` or `webhook`.
    pub kind: &'static str,
    /// Alerts delivered.
    pub sent: AtomicU64,
    /// Alerts whose delivery failed (after every attempt).
    pub failed: AtomicU64,
    /// Attempts that failed and were retried.
    pub retries: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
    /// The last error.
    pub last_error: Mutex<Option<String>>,
}

struct Dest {
    url: String,
    timeout: Duration,
    webhook_attempts: Option<u32>,
    counters: Arc<Counters>,
}

/// Hands batches of alerts to the sender task.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Vec<Notification>>,
    dests: Arc<Vec<Arc<Counters>>>,
    relabel: Arc<Vec<lantern_relabel::Rule>>,
}

impl Notifier {
    /// Starts the sender task for the configured destinations.
    pub fn start(cfg: &AlertingConfig, external_url: &str) -> Notifier {
        let mut dests = Vec::new();
        for (url, timeout) in cfg.alertmanager_urls() {
            let counters = Arc::new(Counters { url: url.clone(), kind: "alertmanager", ..Default::default() });
            dests.push(Dest { url, timeout, webhook_attempts: None, counters });
        }
        for w in &cfg.webhooks {
            let counters = Arc::new(Counters { url: w.url.clone(), kind: "webhook", ..Default::default() });
            dests.push(Dest {
                url: w.url.clone(),
                timeout: w.timeout.0,
                webhook_attempts: Some(w.max_attempts.max(1)),
                counters,
            });
        }
        let counters = Arc::new(dests.iter().map(|d| d.counters.clone()).collect());
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        tokio::spawn(send_loop(rx, dests, external_url.to_string()));
        // Checked by `AlertingConfig::validate` at start-up.
        let relabel = Arc::new(lantern_relabel::compile(&cfg.alert_relabel_configs).unwrap_or_default());
        Notifier { tx, dests: counters, relabel }
    }

    /// Queues a batch (after `alert_relabel_configs`, which may change labels or drop
    /// alerts); when the queue is full it is dropped and counted.
    pub fn send(&self, mut batch: Vec<Notification>) {
        if !self.relabel.is_empty() {
            batch.retain_mut(|n| lantern_relabel::process(&self.relabel, &mut n.labels));
        }
        if batch.is_empty() || self.dests.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        if self.tx.try_send(batch).is_err() {
            tracing::warn!(alerts = n, "notification queue is full; alerts dropped");
            for d in self.dests.iter() {
                d.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Each destination's counters.
    pub fn counters(&self) -> &[Arc<Counters>] {
        &self.dests
    }

    /// Batches waiting for the sender.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

async fn send_loop(mut rx: mpsc::Receiver<Vec<Notification>>, dests: Vec<Dest>, external_url: String) {
    let client = reqwest::Client::builder().user_agent(concat!("Lantern/", env!("CARGO_PKG_VERSION"))).build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the notification client; alerts will not be sent");
            return;
        }
    };
    let external_url = Arc::new(external_url);
    while let Some(batch) = rx.recv().await {
        let batch = Arc::new(batch);
        for d in &dests {
            let (client, batch, counters) = (client.clone(), batch.clone(), d.counters.clone());
            let (url, timeout) = (d.url.clone(), d.timeout);
            match d.webhook_attempts {
                None => {
                    // Alertmanager: one attempt; the next resend repeats it.
                    let body = serde_json::to_vec(&*batch).unwrap_or_default();
                    tokio::spawn(async move {
                        let r = post(&client, &url, timeout, body).await;
                        record(&counters, r, batch.len() as u64);
                    });
                }
                Some(attempts) => {
                    let external_url = external_url.clone();
                    tokio::spawn(async move {
                        for (key, alerts) in by_alertname(&batch) {
                            let body = webhook_body(&key, &alerts, &external_url);
                            let mut wait = Duration::from_millis(500);
                            let mut result = Ok(());
                            for attempt in 1..=attempts {
                                result = post(&client, &url, timeout, body.clone()).await;
                                if result.is_ok() || attempt == attempts {
                                    break;
                                }
                                counters.retries.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(wait).await;
                                wait = (wait * 2).min(Duration::from_secs(30));
                            }
                            record(&counters, result, alerts.len() as u64);
                        }
                    });
                }
            }
        }
    }
}

fn record(c: &Counters, r: Result<(), Error>, n: u64) {
    match r {
        Ok(()) => {
            c.sent.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::warn!(url = %c.url, error = %e, alerts = n, "sending alerts failed");
            c.failed.fetch_add(n, Ordering::Relaxed);
            *c.last_error.lock() = Some(e.to_string());
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, timeout: Duration, body: Vec<u8>) -> Result<(), Error> {
    let r = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| Error::Send { url: url.to_string(), message: e.to_string() })?;
    let status = r.status();
    if status.is_success() {
        Ok(())
    } else {
        let text = r.text().await.unwrap_or_default();
        Err(Error::Refused { url: url.to_string(), status: status.to_string(), body: text.chars().take(200).collect() })
    }
}

/// Alerts grouped by `alertname` (one webhook message per group, as an Alertmanager
/// route grouped by alertname would send).
fn by_alertname(batch: &[Notification]) -> BTreeMap<String, Vec<&Notification>> {
    let mut out: BTreeMap<String, Vec<&Notification>> = BTreeMap::new();
    for n in batch {
        out.entry(n.labels.get("alertname").cloned().unwrap_or_default()).or_default().push(n);
    }
    out
}

/// A stable fingerprint of a label set (16 hex digits).
pub fn fingerprint(labels: &LabelSet) -> String {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    format!("{:016x}", h.digest())
}

/// Labels every alert of the list shares.
fn common(maps: &[&LabelSet]) -> LabelSet {
    let Some((first, rest)) = maps.split_first() else { return LabelSet::new() };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|m| m.get(*k) == Some(v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Alertmanager's webhook payload (version 4) for the alerts of one alertname.
pub fn webhook_body(alertname: &str, alerts: &[&Notification], external_url: &str) -> Vec<u8> {
    let firing = alerts.iter().any(|a| !a.resolved);
    let status = |resolved: bool| if resolved { "resolved" } else { "firing" };
    let labels: Vec<&LabelSet> = alerts.iter().map(|a| &a.labels).collect();
    let annotations: Vec<&LabelSet> = alerts.iter().map(|a| &a.annotations).collect();
    let body = serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname={alertname:?}}}"),
        "truncatedAlerts": 0,
        "status": status(!firing),
        "receiver": "lantern",
        "groupLabels": {"alertname": alertname},
        "commonLabels": common(&labels),
        "commonAnnotations": common(&annotations),
        "externalURL": external_url,
        "alerts": alerts.iter().map(|a| serde_json::json!({
            "status": status(a.resolved),
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": a.starts_at,
            "endsAt": a.ends_at,
            "generatorURL": a.generator_url,
            "fingerprint": fingerprint(&a.labels),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
