//! `GET /api/v1/targets` and `GET /api/v1/targets/metadata`, in Prometheus's JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lantern_http::ApiError;
use serde::Serialize;

use crate::scrape::Health;
use crate::ScrapeManager;

/// Where the handlers find the manager, which starts once the store is open (until
/// then the APIs answer 503).
pub type Slot = Arc<std::sync::OnceLock<Arc<ScrapeManager>>>;

/// The routes of the scrape APIs.
pub fn router(slot: Slot) -> Router {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/targets/metadata", get(metadata))
        .with_state(slot)
}

fn manager(slot: &Slot) -> Result<Arc<ScrapeManager>, ApiError> {
    slot.get().cloned().ok_or_else(|| ApiError::unavailable("the scrape manager is starting; retry shortly"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Active {
    discovered_labels: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    scrape_pool: String,
    scrape_url: String,
    global_url: String,
    last_error: String,
    last_scrape: String,
    last_scrape_duration: f64,
    health: &'static str,
    scrape_interval: String,
    scrape_timeout: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dropped {
    discovered_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Targets {
    active_targets: Vec<Active>,
    dropped_targets: Vec<Dropped>,
    dropped_target_counts: BTreeMap<String, usize>,
}

fn map(l: &lantern_core::Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

async fn targets(State(slot): State<Slot>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let state = q.get("state").map(String::as_str).unwrap_or("any");
    if !matches!(state, "any" | "active" | "dropped") {
        return ApiError::bad_data(format!("invalid parameter \"state\": {state:?} is not any, active or dropped"))
            .into_response();
    }
    let pool = q.get("scrapePool").filter(|p| !p.is_empty());
    let mut out =
        Targets { active_targets: Vec::new(), dropped_targets: Vec::new(), dropped_target_counts: BTreeMap::new() };
    for (job, view) in m.jobs.read().iter() {
        if pool.is_some_and(|p| p != job) {
            continue;
        }
        out.dropped_target_counts.insert(job.clone(), view.dropped.len());
        if state != "dropped" {
            for s in &view.active {
                let s = s.lock();
                out.active_targets.push(Active {
                    discovered_labels: s.target.discovered.clone(),
                    labels: map(&s.target.labels),
                    scrape_pool: job.clone(),
                    scrape_url: s.target.url.clone(),
                    global_url: s.target.url.clone(),
                    last_error: s.last_error.clone(),
                    last_scrape: s.last_scrape.map_or_else(
                        || "0001-01-01T00:00:00Z".to_string(),
                        |t| {
                            chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                        },
                    ),
                    last_scrape_duration: s.last_duration,
                    health: match s.health {
                        Health::Up => "up",
                        Health::Down => "down",
                        Health::Unknown => "unknown",
                    },
                    scrape_interval: lantern_core::PromDuration(s.target.interval).to_string(),
                    scrape_timeout: lantern_core::PromDuration(s.target.timeout).to_string(),
                });
            }
        }
        if state != "active" {
            out.dropped_targets.extend(view.dropped.iter().map(|d| Dropped { discovered_labels: d.clone() }));
        }
    }
    lantern_http::success(out)
}

#[derive(Serialize)]
struct TargetMeta {
    target: BTreeMap<String, String>,
    metric: String,
    #[serde(rename = "type")]
    kind: String,
    help: String,
    unit: String,
}

async fn metadata(State(slot): State<Slot>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let matchers = match q.get("match_target").filter(|s| !s.is_empty()) {
        Some(sel) => match lantern_http::selector::parse_selector(sel) {
            Ok(groups) => groups,
            Err(e) => return e.into_response(),
        },
        None => Vec::new(),
    };
    let metric = q.get("metric").filter(|s| !s.is_empty());
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        Some(Ok(l)) if l >= 0 => l as usize,
        Some(_) => return ApiError::bad_data("invalid parameter \"limit\"").into_response(),
        None => 0,
    };
    let mut out = Vec::new();
    'jobs: for view in m.jobs.read().values() {
        for s in &view.active {
            let s = s.lock();
            let l = &s.target.labels;
            let selected = matchers.is_empty()
                || matchers.iter().any(|g| g.iter().all(|mt| mt.matches(l.get(&mt.name).unwrap_or(""))));
            if !selected {
                continue;
            }
            for (name, meta) in &s.metadata {
                if metric.is_some_and(|m| m != name) {
                    continue;
                }
                out.push(TargetMeta {
                    target: map(l),
                    metric: name.clone(),
                    kind: meta.kind.clone(),
                    help: meta.help.clone(),
                    unit: meta.unit.clone(),
                });
                if limit > 0 && out.len() >= limit {
                    break 'jobs;
                }
            }
        }
    }
    lantern_http::success(out)
}
