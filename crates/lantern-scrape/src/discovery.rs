//! Where targets come from: `static_configs`, and `file_sd_configs` files (YAML or JSON
//! lists of `{targets, labels}`), re-read when they change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{FileSdConfig, ScrapeConfig, StaticConfig};
use crate::Error;

/// Targets sharing labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels for all of them (file groups carry `__meta_filepath`).
    pub labels: BTreeMap<String, String>,
}

/// The groups written in the config.
pub fn static_groups(job: &ScrapeConfig) -> Vec<Group> {
    job.static_configs.iter().map(|s| Group { targets: s.targets.clone(), labels: s.labels.clone() }).collect()
}

/// The files a `file_sd_configs` entry names now (globs expanded), sorted.
pub fn files(cfg: &FileSdConfig) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pattern in &cfg.files {
        match glob::glob(pattern) {
            Ok(paths) => out.extend(paths.flatten()),
            Err(e) => tracing::warn!(pattern, error = %e, "file_sd: bad glob"),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A fingerprint of the files (name, size, modification time): a change means re-read.
pub fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok();
            (p.clone(), m.as_ref().map_or(0, |m| m.len()), m.and_then(|m| m.modified().ok()))
        })
        .collect()
}

/// Reads the groups of one file; an error names the file and the problem.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Group>, Error> {
    let bad = |message: String| Error::Discovery { path: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let list: Vec<StaticConfig> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?
    };
    Ok(list
        .into_iter()
        .map(|s| {
            let mut labels = s.labels;
            labels.insert("__meta_filepath".into(), path.display().to_string());
            Group { targets: s.targets, labels }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_json_files_found_by_glob() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yml"), "- targets: ['a:1', 'b:2']\n  labels:\n    env: prod\n").unwrap();
        std::fs::write(dir.path().join("b.json"), r#"[{"targets": ["c:3"]}]"#).unwrap();
        let cfg = FileSdConfig {
            files: vec![format!("{}/*.yml", dir.path().display()), format!("{}/*.json", dir.path().display())],
            refresh_interval: lantern_core::PromDuration(std::time::Duration::from_secs(60)),
        };
        let f = files(&cfg);
        assert_eq!(f.len(), 2);
        let groups: Vec<Group> = f.iter().flat_map(|p| read_file(p).unwrap()).collect();
        assert_eq!(groups[0].targets, vec!["a:1", "b:2"]);
        assert_eq!(groups[0].labels["env"], "prod");
        assert!(groups[0].labels["__meta_filepath"].ends_with("a.yml"));
        assert_eq!(groups[1].targets, vec!["c:3"]);
        std::fs::write(dir.path().join("a.yml"), "- targets: [oops\n").unwrap();
        assert!(read_file(&dir.path().join("a.yml")).unwrap_err().to_string().contains("a.yml"));
    }
}
