//! The `debug` exporter: what passes, written to Lantern's log (`basic`: counts per
//! request; `normal`: a line per item; `detailed`: the request in OTLP/JSON).

use std::sync::Arc;

use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::{Delivery, SendError, Sender};
use crate::settings::{QueueSettings, RetrySettings};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `basic` (default), `normal` or `detailed`.
    pub verbosity: String,
    /// Accepted for compatibility (every request is written).
    pub sampling_initial: u64,
    /// Accepted for compatibility.
    pub sampling_thereafter: u64,
    /// Accepted for compatibility (Lantern's log is used).
    pub use_internal_logger: bool,
    /// Accepted for compatibility.
    pub output_paths: Vec<String>,
    /// The queue (off by default).
    pub sending_queue: QueueSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            verbosity: "basic".into(),
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
            output_paths: vec!["stdout".into()],
            sending_queue: QueueSettings { enabled: false, ..Default::default() },
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !matches!(self.verbosity.as_str(), "basic" | "normal" | "detailed") {
            p.push(format!("unknown verbosity level {:?}: use basic, normal or detailed", self.verbosity));
        }
        p.extend(self.sending_queue.problems());
        p
    }

    /// No retries: writing a log line does not fail.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            queue: self.sending_queue.clone(),
            retry: RetrySettings { enabled: false, ..Default::default() },
            timeout: std::time::Duration::ZERO,
        }
    }
}

/// Writes payloads to the log.
pub struct DebugSender {
    id: String,
    verbosity: String,
}

impl DebugSender {
    /// The sender of exporter `id`.
    pub fn new(id: &str, c: &Config) -> Arc<Self> {
        Arc::new(Self { id: id.to_string(), verbosity: c.verbosity.clone() })
    }
}

impl Sender for DebugSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let what = data.signal.items();
            match self.verbosity.as_str() {
                "basic" => {
                    tracing::info!(exporter = %self.id, signal = %data.signal, items = data.items, "{what}: {}", data.items)
                }
                _ => match crate::exporter::otlphttp::to_json(data) {
                    Ok(json) => tracing::info!(
                        exporter = %self.id,
                        signal = %data.signal,
                        items = data.items,
                        "{what}: {}\n{}",
                        data.items,
                        String::from_utf8_lossy(&json)
                    ),
                    Err(e) => tracing::warn!(exporter = %self.id, error = %e, "cannot show the data"),
                },
            }
            Ok(())
        })
    }
}
