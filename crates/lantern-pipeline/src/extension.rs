//! Extensions: `file_storage` (a directory where exporters keep their sending queues,
//! so a restart loses nothing queued) and `health_check` (an HTTP endpoint answering
//! 200 while the pipelines run).

use std::path::PathBuf;

use serde::Deserialize;

use crate::settings::{lenient_string, GoDuration};

/// `file_storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorage {
    /// Where queues are kept.
    pub directory: PathBuf,
    /// Whether the directory is made if missing.
    pub create_directory: bool,
    /// Accepted for compatibility.
    pub timeout: Option<GoDuration>,
    /// Accepted for compatibility (files are removed once sent).
    pub compaction: Option<serde_yaml::Value>,
    /// Accepted for compatibility.
    pub fsync: Option<bool>,
}

impl Default for FileStorage {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("/var/lib/otelcol/file_storage"),
            create_directory: false,
            timeout: None,
            compaction: None,
            fsync: None,
        }
    }
}

/// `health_check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// Listen address (default `localhost:13133`).
    #[serde(deserialize_with = "lenient_string")]
    pub endpoint: String,
    /// The path answered (default `/`).
    pub path: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self { endpoint: "localhost:13133".into(), path: "/".into() }
    }
}

/// An extension's configuration.
#[derive(Debug, Clone)]
pub enum Extension {
    /// `file_storage`.
    FileStorage(FileStorage),
    /// `health_check`.
    HealthCheck(HealthCheck),
}

impl FileStorage {
    /// Checks the directory (made first if `create_directory`).
    pub fn prepare(&self) -> Result<(), String> {
        if self.create_directory {
            std::fs::create_dir_all(&self.directory)
                .map_err(|e| format!("directory {}: cannot create it: {e}", self.directory.display()))?;
        }
        match std::fs::metadata(&self.directory) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(format!("directory {} is not a directory", self.directory.display())),
            Err(e) => Err(format!("directory {}: {e}", self.directory.display())),
        }
    }
}
