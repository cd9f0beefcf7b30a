//! The `file` exporter: every request appended to `path`, as one OTLP/JSON object per
//! line (`format: json`, the default) or as the protobuf message after its length as a
//! 4-byte big-endian number (`format: proto`); with `rotation`, a file past
//! `max_megabytes` is renamed with the time before its extension and a new one
//! started, keeping `max_backups` of the old ones.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Deserialize;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::{Delivery, SendError, Sender};
use crate::settings::{QueueSettings, RetrySettings};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The file written (required).
    pub path: String,
    /// `json` (default) or `proto`.
    pub format: String,
    /// `zstd` is not supported by Lantern yet; empty or `none`.
    pub compression: String,
    /// Rotation.
    pub rotation: Option<Rotation>,
    /// Accepted for compatibility (each request is written and flushed).
    pub flush_interval: Option<serde_yaml::Value>,
    /// Accepted for compatibility (writes append).
    pub append: Option<bool>,
}

/// `rotation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rotation {
    /// Size past which the file is rotated, MB.
    pub max_megabytes: u64,
    /// Accepted for compatibility (old files are kept by count).
    pub max_days: u64,
    /// Old files kept.
    pub max_backups: usize,
    /// Whether the time in names is local (else UTC).
    pub localtime: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Self { max_megabytes: 100, max_days: 0, max_backups: 100, localtime: false }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: String::new(),
            format: "json".into(),
            compression: String::new(),
            rotation: None,
            flush_interval: None,
            append: None,
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.path.is_empty() {
            p.push("path must be non-empty".into());
        }
        if !matches!(self.format.as_str(), "json" | "proto") {
            p.push(format!("format type is not supported: {:?}", self.format));
        }
        if !matches!(self.compression.as_str(), "" | "none") {
            p.push(format!("compression {:?} is not supported by Lantern yet", self.compression));
        }
        p
    }

    /// Writing does not wait on anyone: no queue, no retries.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            queue: QueueSettings { enabled: false, ..Default::default() },
            retry: RetrySettings { enabled: false, ..Default::default() },
            timeout: std::time::Duration::ZERO,
        }
    }
}

/// Appends requests to a file.
pub struct FileSender {
    config: Config,
    file: Mutex<Option<std::fs::File>>,
}

impl FileSender {
    /// The sender for these settings; the file is opened (and made) now.
    pub fn new(c: &Config) -> Result<Arc<Self>, String> {
        let f = open(Path::new(&c.path))?;
        Ok(Arc::new(Self { config: c.clone(), file: Mutex::new(Some(f)) }))
    }

    fn rotate(&self, file: &mut Option<std::fs::File>) -> Result<(), String> {
        let Some(r) = &self.config.rotation else { return Ok(()) };
        let len = file.as_ref().and_then(|f| f.metadata().ok()).map_or(0, |m| m.len());
        if len < r.max_megabytes.max(1) << 20 {
            return Ok(());
        }
        *file = None;
        let path = PathBuf::from(&self.config.path);
        let stamp = if r.localtime {
            chrono::Local::now().format("%Y-%m-%dT%H-%M-%S%.3f").to_string()
        } else {
            chrono::Utc::now().format("%Y-%m-%dT%H-%M-%S%.3f").to_string()
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let rotated = path.with_file_name(format!("{stem}-{stamp}{ext}"));
        std::fs::rename(&path, &rotated).map_err(|e| format!("rotating {}: {e}", path.display()))?;
        // Keep the newest `max_backups` rotated files.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()).or(Some(Path::new("."))) {
            let mut old: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with(&format!("{stem}-")) && n.ends_with(&ext) && *p != path)
                        })
                        .collect()
                })
                .unwrap_or_default();
            old.sort();
            while old.len() > r.max_backups {
                let _ = std::fs::remove_file(old.remove(0));
            }
        }
        *file = Some(open(&path)?);
        Ok(())
    }
}

fn open(path: &Path) -> Result<std::fs::File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl Sender for FileSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let bytes = if self.config.format == "json" {
                let mut j = crate::exporter::otlphttp::to_json(data).map_err(SendError::Permanent)?;
                j.push(b'\n');
                j
            } else {
                let mut b = Vec::with_capacity(data.body.len() + 4);
                b.extend_from_slice(&(data.body.len() as u32).to_be_bytes());
                b.extend_from_slice(&data.body);
                b
            };
            let mut f = self.file.lock();
            self.rotate(&mut f).map_err(SendError::retryable)?;
            let file = f.as_mut().ok_or_else(|| SendError::retryable("the file is not open"))?;
            file.write_all(&bytes).map_err(|e| SendError::retryable(format!("writing {}: {e}", self.config.path)))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::id::Signal;

    #[tokio::test]
    async fn requests_are_appended_as_json_lines_or_length_prefixed_protobuf_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let p = Payload::new(Signal::Traces, crate::testing::spans("svc", 2).encode_to_vec().into()).unwrap();
        let json = dir.path().join("out/spans.json");
        let s = FileSender::new(&Config { path: json.display().to_string(), ..Default::default() }).unwrap();
        s.send(&p).await.unwrap();
        s.send(&p).await.unwrap();
        let text = std::fs::read_to_string(&json).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len(), 2, "{v}");

        let proto = dir.path().join("spans.pb");
        let c = Config {
            path: proto.display().to_string(),
            format: "proto".into(),
            rotation: Some(Rotation { max_megabytes: 1, max_backups: 1, ..Default::default() }),
            ..Default::default()
        };
        let s = FileSender::new(&c).unwrap();
        // Past a megabyte each: every send after the first rotates.
        let big = Payload::new(Signal::Traces, crate::testing::spans("svc", 40_000).encode_to_vec().into()).unwrap();
        assert!(big.body.len() > 1 << 20);
        for _ in 0..3 {
            s.send(&big).await.unwrap();
        }
        s.send(&p).await.unwrap();
        // The last send rotated the file of the third big request away.
        let b = std::fs::read(&proto).unwrap();
        let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        assert!(n == p.body.len() && b[4..] == p.body[..], "the request after its length");
        let files = std::fs::read_dir(dir.path()).unwrap().flatten().filter(|e| e.path().is_file()).count();
        assert_eq!(files, 2, "the current file and one backup");
    }
}
