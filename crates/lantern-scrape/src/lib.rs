//! The scrape manager: Prometheus's `scrape_configs` (static and file-based discovery,
//! relabeling, authentication, TLS, limits), one loop per target writing into the
//! metrics store with staleness markers and the `up`/`scrape_*` series, and the
//! `/api/v1/targets` and `/api/v1/targets/metadata` APIs.
//!
//! Start at [`ScrapeManager::start`]; [`config`] holds the configuration types,
//! [`target`] turns a discovered address into a target, [`scrape`] scrapes one.

pub mod api;
pub mod config;
pub mod discovery;
pub mod error;
pub mod scrape;
pub mod sink;
pub mod target;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
pub use sink::{Handle, ScrapeStore};
use tokio::sync::watch;

use config::{GlobalConfig, ScrapeConfig};
use scrape::{Health, JobSettings, TargetState};
use target::Populated;

/// How a scrape authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `basic_auth` (the password may come from a file, re-read each scrape).
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Option<String>,
        /// The password file.
        password_file: Option<std::path::PathBuf>,
    },
    /// `authorization`.
    Header {
        /// The scheme (`Bearer`).
        kind: String,
        /// The credentials.
        credentials: Option<String>,
        /// The credentials file.
        credentials_file: Option<std::path::PathBuf>,
    },
}

impl Auth {
    /// The `Authorization` header value.
    pub fn header(&self) -> Result<String, Error> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| Error::Config(format!("reading {}: {e}", p.display())))
        };
        match self {
            Auth::Basic { username, password, password_file } => {
                let pw = match (password, password_file) {
                    (Some(p), _) => p.clone(),
                    (None, Some(f)) => read(f)?,
                    (None, None) => String::new(),
                };
                Ok(format!("Basic {}", base64(format!("{username}:{pw}").as_bytes())))
            }
            Auth::Header { kind, credentials, credentials_file } => {
                let c = match (credentials, credentials_file) {
                    (Some(c), _) => c.clone(),
                    (None, Some(f)) => read(f)?,
                    (None, None) => String::new(),
                };
                Ok(format!("{kind} {c}"))
            }
        }
    }
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One job's targets as the API shows them.
#[derive(Default)]
struct JobView {
    active: Vec<Arc<Mutex<TargetState>>>,
    dropped: Vec<BTreeMap<String, String>>,
}

/// Runs every job's discovery and scrape loops.
pub struct ScrapeManager {
    jobs: RwLock<BTreeMap<String, JobView>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl ScrapeManager {
    /// Validates `jobs` (every problem, with its key) and starts scraping them into `db`.
    pub fn start(
        db: Arc<dyn ScrapeStore>,
        global: GlobalConfig,
        jobs: Vec<ScrapeConfig>,
    ) -> Result<Arc<Self>, Vec<String>> {
        let errs = config::validate(&global, &jobs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let (stop, _) = watch::channel(false);
        let m = Arc::new(Self { jobs: RwLock::new(BTreeMap::new()), stop, tasks: Mutex::new(Vec::new()) });
        for (i, job) in jobs.into_iter().enumerate() {
            let settings = job_settings(&job).map_err(|e| vec![format!("key scrape_configs[{i}]: {e}")])?;
            let (m2, db, global) = (m.clone(), db.clone(), global.clone());
            let h = tokio::spawn(async move { m2.run_job(db, global, job, Arc::new(settings)).await });
            m.tasks.lock().push(h);
        }
        Ok(m)
    }

    /// Stops every loop; each marks its series stale before it ends.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn run_job(
        self: Arc<Self>,
        db: Arc<dyn ScrapeStore>,
        global: GlobalConfig,
        job: ScrapeConfig,
        settings: Arc<JobSettings>,
    ) {
        let rules = lantern_relabel::compile(&job.relabel_configs).unwrap_or_default();
        let mut stop = self.stop.subscribe();
        // Target identity (URL and labels) → its loop's stop switch and task.
        let mut running: BTreeMap<String, (watch::Sender<bool>, tokio::task::JoinHandle<()>)> = BTreeMap::new();
        let mut file_state = Vec::new();
        let mut file_groups: Vec<discovery::Group> = Vec::new();
        let mut last_full_read = Instant::now();
        let refresh =
            job.file_sd_configs.iter().map(|f| f.refresh_interval.0).min().unwrap_or(Duration::from_secs(300));
        let mut first = true;
        loop {
            let files: Vec<std::path::PathBuf> = job.file_sd_configs.iter().flat_map(discovery::files).collect();
            let fp = discovery::fingerprint(&files);
            if first || fp != file_state || last_full_read.elapsed() >= refresh {
                file_state = fp;
                last_full_read = Instant::now();
                let mut groups = Vec::new();
                for f in &files {
                    match discovery::read_file(f) {
                        Ok(g) => groups.extend(g),
                        Err(e) => {
                            tracing::warn!(job = job.job_name, error = %e, "file_sd: keeping the file's previous targets")
                        }
                    }
                }
                if first || !groups.is_empty() || files.is_empty() {
                    file_groups = groups;
                }
                let mut view = JobView::default();
                let mut wanted: BTreeMap<String, target::Target> = BTreeMap::new();
                for g in discovery::static_groups(&job).into_iter().chain(file_groups.iter().cloned()) {
                    for addr in &g.targets {
                        match target::populate(&job, &global, &rules, &g.labels, addr) {
                            Ok(Populated::Active(t)) => {
                                wanted.entry(format!("{}|{}", t.url, t.labels)).or_insert(t);
                            }
                            Ok(Populated::Dropped(d)) => view.dropped.push(d),
                            Err(e) => tracing::warn!(job = job.job_name, target = addr, error = %e, "target dropped"),
                        }
                    }
                }
                // Stop loops of targets that went away; start the new ones.
                let gone: Vec<String> = running.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect();
                for k in gone {
                    if let Some((tx, h)) = running.remove(&k) {
                        let _ = tx.send(true);
                        let _ = h.await;
                    }
                }
                let old_states: BTreeMap<String, Arc<Mutex<TargetState>>> = self
                    .jobs
                    .read()
                    .get(&job.job_name)
                    .map(|v| {
                        v.active
                            .iter()
                            .map(|s| {
                                let t = &s.lock().target;
                                (format!("{}|{}", t.url, t.labels), s.clone())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, t) in wanted {
                    let state = match old_states.get(&k) {
                        Some(s) => s.clone(),
                        None => Arc::new(Mutex::new(TargetState {
                            target: t.clone(),
                            health: Health::Unknown,
                            last_error: String::new(),
                            last_scrape: None,
                            last_duration: 0.0,
                            metadata: BTreeMap::new(),
                        })),
                    };
                    view.active.push(state.clone());
                    running.entry(k).or_insert_with(|| {
                        let (tx, rx) = watch::channel(false);
                        (tx, tokio::spawn(scrape::run(t, settings.clone(), db.clone(), state, rx)))
                    });
                }
                self.jobs.write().insert(job.job_name.clone(), view);
                first = false;
            }
            let poll = if job.file_sd_configs.is_empty() { Duration::from_secs(3600) } else { Duration::from_secs(2) };
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => break,
            }
        }
        for (_, (tx, h)) in running {
            let _ = tx.send(true);
            let _ = h.await;
        }
    }
}

fn job_settings(job: &ScrapeConfig) -> Result<JobSettings, Error> {
    let mut b = reqwest::Client::builder().pool_max_idle_per_host(2);
    if let Some(tls) = &job.tls_config {
        if tls.server_name.is_some() {
            return Err(Error::Config("tls_config.server_name is not supported yet".into()));
        }
        if let Some(ca) = &tls.ca_file {
            let pem =
                std::fs::read(ca).map_err(|e| Error::Config(format!("tls_config.ca_file {}: {e}", ca.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Config(format!("tls_config.ca_file: {e}")))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => {
                let mut pem = std::fs::read(c)
                    .map_err(|e| Error::Config(format!("tls_config.cert_file {}: {e}", c.display())))?;
                pem.extend(
                    std::fs::read(k).map_err(|e| Error::Config(format!("tls_config.key_file {}: {e}", k.display())))?,
                );
                b = b.identity(
                    reqwest::Identity::from_pem(&pem).map_err(|e| Error::Config(format!("tls_config: {e}")))?,
                );
            }
            (None, None) => {}
            _ => return Err(Error::Config("tls_config: cert_file and key_file go together".into())),
        }
        b = b.danger_accept_invalid_certs(tls.insecure_skip_verify);
    }
    let client = b.build().map_err(|e| Error::Config(format!("http client: {e}")))?;
    let auth = match (&job.basic_auth, &job.authorization) {
        (Some(a), _) => Some(Auth::Basic {
            username: a.username.clone(),
            password: a.password.clone(),
            password_file: a.password_file.clone(),
        }),
        (None, Some(a)) => Some(Auth::Header {
            kind: a.kind.clone(),
            credentials: a.credentials.clone(),
            credentials_file: a.credentials_file.clone(),
        }),
        (None, None) => None,
    };
    Ok(JobSettings {
        honor_labels: job.honor_labels,
        honor_timestamps: job.honor_timestamps,
        metric_rules: lantern_relabel::compile(&job.metric_relabel_configs)
            .map_err(|e| Error::Config(e.to_string()))?,
        sample_limit: job.sample_limit,
        label_limit: job.label_limit,
        label_name_length_limit: job.label_name_length_limit,
        label_value_length_limit: job.label_value_length_limit,
        body_size_limit: job.body_size_limit.0,
        client,
        auth,
    })
}

#[cfg(test)]
mod tests;

pub use error::Error;
