//! Where dashboards live: saved ones (one JSON file each under the data directory,
//! written to a temporary file, fsynced and renamed, so a crash leaves the old or the new
//! version, never half of one), provisioned ones (a directory of JSON files, read again
//! when a file changes; read-only through the API) and the generated Service Overviews.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lantern_tsdb::Tsdb;
use parking_lot::RwLock;
use serde_json::{json, Value};

use crate::model::{convert_rows, fill_layout, slug, unwrap_import};
use crate::{generated, validate, Error, Result};

/// Where a dashboard comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Saved through the API or the UI.
    Saved,
    /// Read from `dashboards_dir`.
    Provisioned,
    /// Made by Lantern for a service.
    Generated,
}

impl Source {
    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            Source::Saved => "saved",
            Source::Provisioned => "provisioned",
            Source::Generated => "generated",
        }
    }
}

/// A dashboard in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Where it comes from.
    pub source: Source,
    /// The provisioned file it was read from.
    pub file: Option<String>,
    /// Its version (incremented on every save).
    pub version: i64,
}

impl Summary {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"uid": self.uid, "title": self.title, "tags": self.tags, "source": self.source.name(), "version": self.version});
        if let Some(f) = &self.file {
            v["file"] = json!(f);
        }
        v
    }
}

#[derive(Debug, Clone)]
struct Entry {
    dashboard: Value,
    file: Option<String>,
}

fn summary(uid: &str, e: &Entry, source: Source) -> Summary {
    let d = &e.dashboard;
    Summary {
        uid: uid.to_string(),
        title: d.get("title").and_then(Value::as_str).unwrap_or(uid).to_string(),
        tags: d
            .get("tags")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |t| t.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        source,
        file: e.file.clone(),
        version: d.get("version").and_then(Value::as_i64).unwrap_or(1),
    }
}

/// Checks a dashboard and puts it in the current model: Grafana's wrapper removed, legacy
/// rows converted, panel ids and positions filled. Returns it and the wrapper's `overwrite`.
pub fn prepare(body: Value) -> Result<(Value, bool)> {
    let (mut dash, overwrite) = unwrap_import(body);
    let problems = validate::problems(&dash);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if let Some(obj) = dash.as_object_mut() {
        convert_rows(obj);
        fill_layout(obj);
        obj.remove("id");
    }
    Ok((dash, overwrite))
}

/// Which files a directory held, and when each last changed (to notice a change).
type Fingerprint = Vec<(PathBuf, std::time::SystemTime, u64)>;

#[derive(Default)]
struct Provisioned {
    fingerprint: Fingerprint,
    /// uid → entry.
    entries: BTreeMap<String, Entry>,
}

struct Inner {
    saved_dir: PathBuf,
    provision_dir: Option<PathBuf>,
    saved: RwLock<BTreeMap<String, Entry>>,
    provisioned: RwLock<Provisioned>,
    db: Arc<Tsdb>,
}

/// The dashboards, shared by the API and the provisioning loop.
#[derive(Clone)]
pub struct Dashboards(Arc<Inner>);

/// How far back services are looked for (the generated dashboards).
const SERVICE_LOOKBACK_MS: i64 = 24 * 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", path.display()))
}

impl Dashboards {
    /// Opens the saved dashboards in `saved_dir` (created if missing) and reads the
    /// provisioned ones from `provision_dir`. A provisioned file that is not a valid
    /// dashboard is logged with its problems and skipped.
    pub fn open(saved_dir: &Path, provision_dir: Option<&Path>, db: Arc<Tsdb>) -> Result<Dashboards> {
        std::fs::create_dir_all(saved_dir).map_err(|e| io("cannot create", saved_dir, e))?;
        let mut saved = BTreeMap::new();
        for entry in std::fs::read_dir(saved_dir).map_err(|e| io("cannot read", saved_dir, e))? {
            let path = entry.map_err(|e| io("cannot read", saved_dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) == Some("tmp") {
                // A save interrupted before its rename: the previous version stands.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
            let dashboard: Value = serde_json::from_slice(&text)
                .map_err(|e| Error::Io(format!("saved dashboard {} is not JSON: {e}", path.display())))?;
            let uid = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            saved.insert(uid, Entry { dashboard, file: None });
        }
        let d = Dashboards(Arc::new(Inner {
            saved_dir: saved_dir.to_path_buf(),
            provision_dir: provision_dir.map(Path::to_path_buf),
            saved: RwLock::new(saved),
            provisioned: RwLock::new(Provisioned::default()),
            db,
        }));
        d.reload_provisioned();
        Ok(d)
    }

    /// Reads the provisioning directory again if any file in it changed; returns the
    /// number of dashboards it holds now. Problems are logged per file, and a file that
    /// became invalid keeps its last good version.
    pub fn reload_provisioned(&self) -> usize {
        let Some(dir) = &self.0.provision_dir else { return 0 };
        let mut files = Vec::new();
        collect_json(dir, &mut files, 0);
        let fingerprint: Fingerprint = files
            .iter()
            .filter_map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((p.clone(), m.modified().ok()?, m.len()))
            })
            .collect();
        let mut prov = self.0.provisioned.write();
        if prov.fingerprint == fingerprint && !prov.entries.is_empty() {
            return prov.entries.len();
        }
        let mut entries = BTreeMap::new();
        for path in &files {
            let shown = path.display().to_string();
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| format!("not JSON: {e}")))
                .and_then(|v| prepare(v).map_err(|e| e.to_string()));
            match parsed {
                Ok((mut dash, _)) => {
                    let uid = match dash.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
                        Some(u) => u.to_string(),
                        None => slug(path.file_stem().and_then(|s| s.to_str()).unwrap_or("dashboard")),
                    };
                    dash["uid"] = json!(uid);
                    if entries.contains_key(&uid) {
                        tracing::warn!(file = %shown, uid = %uid, "dashboards_dir: another file has this uid; this one is skipped");
                        continue;
                    }
                    entries.insert(uid, Entry { dashboard: dash, file: Some(shown) });
                }
                Err(e) => {
                    tracing::warn!(file = %shown, error = %e, "dashboards_dir: not loaded");
                    if let Some((uid, old)) =
                        prov.entries.iter().find(|(_, e)| e.file.as_deref() == Some(shown.as_str()))
                    {
                        entries.insert(uid.clone(), old.clone());
                    }
                }
            }
        }
        tracing::info!(dir = %dir.display(), dashboards = entries.len(), "dashboards provisioned");
        prov.fingerprint = fingerprint;
        prov.entries = entries;
        prov.entries.len()
    }

    fn services(&self) -> BTreeMap<String, generated::Service> {
        let now = now_ms();
        generated::services(&self.0.db, now - SERVICE_LOOKBACK_MS, now)
    }

    /// Every dashboard: provisioned, saved, then generated, each by title.
    pub fn list(&self) -> Vec<Summary> {
        let mut out: Vec<Summary> = Vec::new();
        for (uid, e) in &self.0.provisioned.read().entries {
            out.push(summary(uid, e, Source::Provisioned));
        }
        for (uid, e) in self.0.saved.read().iter() {
            if !out.iter().any(|s| &s.uid == uid) {
                out.push(summary(uid, e, Source::Saved));
            }
        }
        for s in self.services().into_values() {
            let uid = generated::uid(&s.name);
            if !out.iter().any(|x| x.uid == uid) {
                out.push(summary(&uid, &Entry { dashboard: generated::overview(&s), file: None }, Source::Generated));
            }
        }
        out.sort_by(|a, b| (a.source == Source::Generated, &a.title).cmp(&(b.source == Source::Generated, &b.title)));
        out
    }

    /// One dashboard and its summary.
    pub fn get(&self, uid: &str) -> Result<(Value, Summary)> {
        if let Some(e) = self.0.provisioned.read().entries.get(uid) {
            return Ok((e.dashboard.clone(), summary(uid, e, Source::Provisioned)));
        }
        if let Some(e) = self.0.saved.read().get(uid) {
            return Ok((e.dashboard.clone(), summary(uid, e, Source::Saved)));
        }
        if let Some(name) = uid.strip_prefix("service-overview-") {
            let found = self.services().into_values().find(|s| generated::uid(&s.name) == uid || s.name == name);
            if let Some(s) = found {
                let now = now_ms();
                let s = generated::describe(&self.0.db, s, now - SERVICE_LOOKBACK_MS, now);
                let e = Entry { dashboard: generated::overview(&s), file: None };
                return Ok((e.dashboard.clone(), summary(uid, &e, Source::Generated)));
            }
        }
        Err(Error::NotFound(uid.to_string()))
    }

    fn read_only(&self, uid: &str) -> Option<Error> {
        if let Some(e) = self.0.provisioned.read().entries.get(uid) {
            let file = e.file.clone().unwrap_or_default();
            return Some(Error::ReadOnly { uid: uid.into(), why: format!("provisioned from {file}") });
        }
        if uid.starts_with("service-overview-") && !self.0.saved.read().contains_key(uid) && self.get(uid).is_ok() {
            return Some(Error::ReadOnly { uid: uid.into(), why: "generated by Lantern".into() });
        }
        None
    }

    /// Saves a new dashboard (`POST`): its uid, or one made from its title. An existing
    /// saved uid is replaced only with `overwrite`; without a uid, `overwrite` replaces
    /// the saved dashboard of the same title (as Grafana does, so that a script saving
    /// its dashboard on every deploy keeps one), and otherwise a new uid is made.
    pub fn create(&self, body: Value) -> Result<Summary> {
        let (mut dash, overwrite) = prepare(body)?;
        let given = dash.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()).map(str::to_string);
        let uid = match given {
            Some(u) => {
                if let Some(e) = self.read_only(&u) {
                    return Err(e);
                }
                if !overwrite && self.0.saved.read().contains_key(&u) {
                    return Err(Error::Exists(u));
                }
                u
            }
            None => {
                let title = dash.get("title").and_then(Value::as_str).unwrap_or("dashboard");
                let same_title = || {
                    let saved = self.0.saved.read();
                    saved
                        .iter()
                        .find(|(_, e)| e.dashboard.get("title").and_then(Value::as_str) == Some(title))
                        .map(|(uid, _)| uid.clone())
                };
                match overwrite.then(same_title).flatten() {
                    Some(uid) => uid,
                    None => self.free_uid(&slug(title)),
                }
            }
        };
        dash["uid"] = json!(uid);
        self.write(&uid, dash)
    }

    /// Saves a dashboard under `uid` (`PUT`), creating or replacing it.
    pub fn put(&self, uid: &str, body: Value) -> Result<Summary> {
        if !crate::model::valid_uid(uid) {
            return Err(Error::Invalid(vec![format!(
                "uid: {uid:?} must be letters, digits, '-' or '_', at most 40 characters"
            )]));
        }
        let (mut dash, _) = prepare(body)?;
        if let Some(body_uid) = dash.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            if body_uid != uid {
                return Err(Error::Invalid(vec![format!(
                    "uid: the body's uid {body_uid:?} is not the path's {uid:?}"
                )]));
            }
        }
        if let Some(e) = self.read_only(uid) {
            return Err(e);
        }
        dash["uid"] = json!(uid);
        self.write(uid, dash)
    }

    fn free_uid(&self, base: &str) -> String {
        let taken = |u: &str| self.0.saved.read().contains_key(u) || self.0.provisioned.read().entries.contains_key(u);
        if !taken(base) {
            return base.to_string();
        }
        (2..).map(|i| format!("{}-{i}", &base[..base.len().min(36)])).find(|u| !taken(u)).unwrap_or_default()
    }

    fn write(&self, uid: &str, mut dash: Value) -> Result<Summary> {
        let mut saved = self.0.saved.write();
        let version = saved.get(uid).and_then(|e| e.dashboard.get("version")).and_then(Value::as_i64).unwrap_or(0) + 1;
        dash["version"] = json!(version);
        let bytes = serde_json::to_vec_pretty(&dash).map_err(|e| Error::Io(e.to_string()))?;
        let path = self.0.saved_dir.join(format!("{uid}.json"));
        lantern_wal::write_atomic(&path, &bytes).map_err(|e| Error::Io(e.to_string()))?;
        let e = Entry { dashboard: dash, file: None };
        let s = summary(uid, &e, Source::Saved);
        saved.insert(uid.to_string(), e);
        Ok(s)
    }

    /// Deletes a saved dashboard.
    pub fn delete(&self, uid: &str) -> Result<()> {
        if let Some(e) = self.read_only(uid) {
            return Err(e);
        }
        let mut saved = self.0.saved.write();
        if !saved.contains_key(uid) {
            return Err(Error::NotFound(uid.to_string()));
        }
        let path = self.0.saved_dir.join(format!("{uid}.json"));
        std::fs::remove_file(&path).map_err(|e| io("cannot delete", &path, e))?;
        lantern_wal::sync_dir(&self.0.saved_dir).map_err(|e| Error::Io(e.to_string()))?;
        saved.remove(uid);
        Ok(())
    }
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "dashboards_dir cannot be read");
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() && depth < 4 {
            collect_json(&p, out, depth + 1);
        } else if p.extension().and_then(|e| e.to_str()) == Some("json") {
            out.push(p);
        }
    }
}
