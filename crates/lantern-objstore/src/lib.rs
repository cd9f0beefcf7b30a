//! The storage seam for sealed (immutable) files: metric blocks today, log and span
//! segments later.
//!
//! Every sealed file goes through [`Store`], which wraps an `object_store::ObjectStore`.
//! The default backend is the local filesystem under the data directory; S3, GCS or Azure
//! are another `ObjectStore` behind the same type, so moving there is configuration.
//! Mutable files (write-ahead logs, checkpoints) stay on local disk and do not use this.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};

/// Errors from the storage backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend refused or failed an operation.
    #[error("object store {op} {path:?} failed: {source}")]
    Backend {
        /// What was attempted (`put`, `get`, `list`, `delete`).
        op: &'static str,
        /// The object path.
        path: String,
        /// The backend's error.
        source: object_store::Error,
    },
    /// A local filesystem operation (directory creation, fsync) failed.
    #[error("{op} {path:?} failed: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A handle on the sealed-file store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Set for the local backend, so puts can be made durable with fsync.
    local_root: Option<PathBuf>,
}

impl Store {
    /// A store rooted at a local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            op: "create directory",
            path: root.to_path_buf(),
            source,
        })?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|source| Error::Backend {
            op: "open",
            path: root.display().to_string(),
            source,
        })?;
        Ok(Self { inner: Arc::new(fs), local_root: Some(root.to_path_buf()) })
    }

    /// A store over any `object_store` backend (S3, GCS, in-memory for tests…).
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner, local_root: None }
    }

    /// Writes an object whole. On the local backend the file and its directory are
    /// fsynced before this returns, so a sealed file survives a power loss once put.
    pub async fn put(&self, path: &str, data: Bytes) -> Result<()> {
        let p = ObjPath::from(path);
        self.inner.put(&p, PutPayload::from_bytes(data)).await.map_err(|source| Error::Backend {
            op: "put",
            path: path.to_string(),
            source,
        })?;
        if let Some(root) = &self.local_root {
            let file = root.join(path);
            sync_path(&file)?;
            if let Some(dir) = file.parent() {
                sync_path(dir)?;
            }
        }
        Ok(())
    }

    /// Reads an object whole.
    pub async fn get(&self, path: &str) -> Result<Bytes> {
        let p = ObjPath::from(path);
        let r =
            self.inner.get(&p).await.map_err(|source| Error::Backend { op: "get", path: path.to_string(), source })?;
        r.bytes().await.map_err(|source| Error::Backend { op: "get", path: path.to_string(), source })
    }

    /// Reads one byte range of an object.
    pub async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        let p = ObjPath::from(path);
        self.inner.get_range(&p, range).await.map_err(|source| Error::Backend {
            op: "get",
            path: path.to_string(),
            source,
        })
    }

    /// Reads several byte ranges of one object (adjacent ranges are coalesced by the backend).
    pub async fn get_ranges(&self, path: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let p = ObjPath::from(path);
        self.inner.get_ranges(&p, ranges).await.map_err(|source| Error::Backend {
            op: "get",
            path: path.to_string(),
            source,
        })
    }

    /// Lists the immediate "directories" under `prefix`.
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let p = ObjPath::from(prefix);
        let r = self.inner.list_with_delimiter(Some(&p)).await.map_err(|source| Error::Backend {
            op: "list",
            path: prefix.to_string(),
            source,
        })?;
        Ok(r.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect())
    }

    /// Every object under `prefix`.
    async fn list_all(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>> {
        let p = ObjPath::from(prefix);
        self.inner.list(Some(&p)).try_collect().await.map_err(|source| Error::Backend {
            op: "list",
            path: prefix.to_string(),
            source,
        })
    }

    /// Total size in bytes of the objects under `prefix`.
    pub async fn size_under(&self, prefix: &str) -> Result<u64> {
        Ok(self.list_all(prefix).await?.iter().map(|m| m.size).sum())
    }

    /// Whether an object exists.
    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.inner.head(&ObjPath::from(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Error::Backend { op: "head", path: path.to_string(), source }),
        }
    }

    /// Deletes every object under `prefix` (and, locally, the emptied directory).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        for m in self.list_all(prefix).await? {
            self.inner.delete(&m.location).await.map_err(|source| Error::Backend {
                op: "delete",
                path: m.location.to_string(),
                source,
            })?;
        }
        if let Some(root) = &self.local_root {
            let dir = root.join(prefix);
            // The backend removes files only; the empty directory is ours to remove.
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    }
}

fn sync_path(path: &Path) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|source| Error::Io { op: "open", path: path.to_path_buf(), source })?;
    f.sync_all().map_err(|source| Error::Io { op: "fsync", path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path()).unwrap();
        s.put("blocks/a/chunks", Bytes::from_static(b"0123456789")).await.unwrap();
        s.put("blocks/b/meta.json", Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(s.get("blocks/a/chunks").await.unwrap(), Bytes::from_static(b"0123456789"));
        let r = s.get_ranges("blocks/a/chunks", &[2..4, 7..10]).await.unwrap();
        assert_eq!(r, vec![Bytes::from_static(b"23"), Bytes::from_static(b"789")]);
        let mut dirs = s.list_dirs("blocks").await.unwrap();
        dirs.sort();
        assert_eq!(dirs, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(s.size_under("blocks").await.unwrap(), 12);
        assert!(s.exists("blocks/b/meta.json").await.unwrap());
        s.delete_prefix("blocks/a").await.unwrap();
        assert_eq!(s.list_dirs("blocks").await.unwrap(), vec!["b".to_string()]);
        assert!(!dir.path().join("blocks/a").exists());
    }
}
