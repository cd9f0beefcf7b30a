//! Settings many components share, with the Collector's keys and defaults: durations in
//! Go's format, the exporters' `timeout`, `retry_on_failure` and `sending_queue`, and a
//! client's `tls`, `headers` and `compression`.

use std::collections::BTreeMap;
use std::time::Duration;

use lantern_core::duration::{parse_go_nanos, GoUnits};
use serde::{Deserialize, Deserializer};

/// A duration written as Go writes them (`200ms`, `1m30s`) or as nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoDuration(pub Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Nanos(i64),
            Text(String),
        }
        let nanos = match Raw::deserialize(d)? {
            Raw::Nanos(n) => n,
            Raw::Text(s) => parse_go_nanos(&s, GoUnits::Go)
                .ok_or_else(|| serde::de::Error::custom(format!("time: invalid duration {s:?}")))?,
        };
        if nanos < 0 {
            return Err(serde::de::Error::custom(format!("duration must not be negative: {nanos}ns")));
        }
        Ok(GoDuration(Duration::from_nanos(nanos as u64)))
    }
}

/// A key present with no value (`grpc:`) is the defaults, as the Collector reads it.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// Text that may have been written as a number or boolean (an expanded `${PORT}`).
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Int(i) => i.to_string(),
        Raw::Float(f) => f.to_string(),
        Raw::Bool(b) => b.to_string(),
    })
}

/// `retry_on_failure`: exponential backoff with jitter between attempts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Whether failed sends are retried.
    pub enabled: bool,
    /// The first wait.
    pub initial_interval: GoDuration,
    /// Each wait is this fraction either side of the backoff, at random.
    pub randomization_factor: f64,
    /// Each backoff is the last one times this.
    pub multiplier: f64,
    /// The longest wait.
    pub max_interval: GoDuration,
    /// Give up once this long has passed since the first attempt (0: never).
    pub max_elapsed_time: GoDuration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: GoDuration(Duration::from_secs(5)),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: GoDuration(Duration::from_secs(30)),
            max_elapsed_time: GoDuration(Duration::from_secs(300)),
        }
    }
}

/// `sending_queue`: requests waiting to be sent, and how many are sent at once.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Whether requests are queued (else each is sent before the caller is answered).
    pub enabled: bool,
    /// Requests sent at once.
    pub num_consumers: usize,
    /// Requests the queue holds; past it, new ones are refused and counted.
    pub queue_size: usize,
    /// What `queue_size` counts: `requests` (the only sizer Lantern has).
    pub sizer: String,
    /// Whether a full queue makes the caller wait rather than refusing.
    pub block_on_overflow: bool,
    /// Whether the caller waits until its request is sent.
    pub wait_for_result: bool,
    /// The storage extension keeping the queue on disk (`file_storage`).
    pub storage: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: "requests".into(),
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
        }
    }
}

impl QueueSettings {
    /// Every problem, as the Collector words them.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.enabled {
            if self.num_consumers == 0 {
                p.push("sending_queue: `num_consumers` must be positive".into());
            }
            if self.queue_size == 0 {
                p.push("sending_queue: `queue_size` must be positive".into());
            }
        }
        if self.sizer != "requests" {
            p.push(format!("sending_queue: sizer {:?} is not supported: use requests", self.sizer));
        }
        p
    }
}

/// A client's `tls`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// Plain text, no TLS (gRPC clients).
    pub insecure: bool,
    /// TLS without checking the server's certificate.
    pub insecure_skip_verify: bool,
    /// A CA certificate file (PEM) to trust.
    pub ca_file: Option<String>,
    /// A client certificate (PEM).
    pub cert_file: Option<String>,
    /// The client certificate's key (PEM).
    pub key_file: Option<String>,
    /// The name to check the server's certificate against.
    pub server_name_override: Option<String>,
    /// Lowest TLS version (`1.2`, `1.3`).
    pub min_version: Option<String>,
    /// Highest TLS version.
    pub max_version: Option<String>,
}

/// Request headers a client adds.
pub type Headers = BTreeMap<String, String>;

/// A client's `compression`: `gzip` (the default), `none` or empty.
pub fn compression_problem(c: &str) -> Option<String> {
    match c {
        "" | "none" | "gzip" => None,
        "snappy" | "zstd" | "zlib" | "deflate" | "lz4" | "x-snappy-framed" => {
            Some(format!("compression {c:?} is not supported by Lantern: use gzip or none"))
        }
        other => Some(format!("unsupported compression type {other:?}")),
    }
}

/// The default `compression`.
pub fn gzip() -> String {
    "gzip".into()
}

/// The exporters' default `timeout`.
pub fn five_seconds() -> GoDuration {
    GoDuration(Duration::from_secs(5))
}
