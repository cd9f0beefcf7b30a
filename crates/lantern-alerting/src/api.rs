//! HTTP: `GET /api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON,
//! `POST /-/reload` (also `PUT`), `GET /api/v1/alertmanagers`, `GET /api/v1/notifiers`
//! (what each destination was sent, failed, retried, dropped), `GET /api/v1/slos` and
//! `/api/v1/slos/{name}`, `/api/v1/slos/{name}/budget` (the burn-down: the budget left
//! over the window, at `points` times from its start to now).

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lantern_http::{success, ApiError, Params};
use lantern_rules::alerts::{Alert, State as AState};
use lantern_rules::eval::RuleState;
use lantern_tsdb::TsdbStorage;
use serde_json::{json, Value};

use crate::manager::{rfc3339, RuleManager};
use crate::slo::{burn_down, status, window_start, SloStatus};

/// Where the manager is once the stores are open (until then: 503).
pub type Slot = Arc<OnceLock<RuleManager>>;

/// The manager, or 503 while the stores open.
fn manager(slot: &Slot) -> Result<RuleManager, ApiError> {
    slot.get().cloned().ok_or_else(|| ApiError::unavailable("the rule engine is starting"))
}

/// The routes of the rule engine.
pub fn router(m: Slot) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .route("/api/v1/notifiers", get(notifiers))
        .route("/api/v1/slos", get(slos))
        .route("/api/v1/slos/{name}", get(slo))
        .route("/api/v1/slos/{name}/budget", get(budget))
        .route("/-/reload", post(reload).put(reload))
        .with_state(m)
}

/// Seconds as Go's JSON writes a float64: `60`, not `60.0`.
fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

fn alert_json(a: &Alert) -> Value {
    let mut v = json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.name(),
        "activeAt": rfc3339(a.active_at),
        "value": lantern_rules::template::go_exp(a.value, false),
    });
    if a.keep_firing_since.is_some() {
        v["keepFiringSince"] = json!(rfc3339(a.keep_firing_since.unwrap_or_default()));
    }
    v
}

fn rule_json(r: &RuleState, with_alerts: bool) -> Value {
    let secs = |d: Option<lantern_core::PromDuration>| seconds(d.map_or(0, |d| d.0.as_millis() as i64));
    let mut v = json!({
        "name": r.rule.name(),
        "query": r.query_text(),
        "health": r.health.name(),
        "evaluationTime": r.eval_seconds,
        "lastEvaluation": r.last_eval.map_or("0001-01-01T00:00:00Z".to_string(), rfc3339),
    });
    // As Prometheus: an alerting rule always lists its labels, a recording rule only
    // when it has some.
    if r.rule.alert.is_some() || !r.rule.labels.is_empty() {
        v["labels"] = json!(r.rule.labels);
    }
    if r.rule.lang == lantern_rules::Lang::Logql {
        v["lang"] = json!("logql");
    }
    if let Some(e) = &r.last_error {
        v["lastError"] = json!(e);
    }
    if r.rule.alert.is_some() {
        let live: Vec<&Alert> = r.alerts.alerts().filter(|a| a.state != AState::Inactive).collect();
        let state = if live.iter().any(|a| a.state == AState::Firing) {
            "firing"
        } else if live.is_empty() {
            "inactive"
        } else {
            "pending"
        };
        v["type"] = json!("alerting");
        v["state"] = json!(state);
        v["duration"] = json!(secs(r.rule.for_));
        v["keepFiringFor"] = json!(secs(r.rule.keep_firing_for));
        v["annotations"] = json!(r.rule.annotations);
        if with_alerts {
            v["alerts"] = Value::Array(live.into_iter().map(alert_json).collect());
        }
    } else {
        v["type"] = json!("recording");
    }
    v
}

async fn rules(State(slot): State<Slot>, RawQuery(q): RawQuery) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let p = Params::from_pairs(url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect());
    let kind = p.get("type").unwrap_or_default().to_string();
    if !kind.is_empty() && kind != "alert" && kind != "record" {
        return ApiError::bad_data(format!("invalid parameter \"type\": {kind:?} is not alert or record"))
            .into_response();
    }
    let names = p.all("rule_name[]");
    let groups = p.all("rule_group[]");
    let files = p.all("file[]");
    let with_alerts = p.get("exclude_alerts") != Some("true");
    let mut out = Vec::new();
    // Groups by file, then in file order, as Prometheus lists them.
    let mut all: Vec<_> = m.groups().into_iter().enumerate().collect();
    all.sort_by_cached_key(|(i, g)| (g.lock().file.clone(), *i));
    for (_, g) in all {
        let g = g.lock();
        if (!groups.is_empty() && !groups.contains(&g.name.as_str()))
            || (!files.is_empty() && !files.contains(&g.file.as_str()))
        {
            continue;
        }
        let rules: Vec<Value> = g
            .rules
            .iter()
            .filter(|r| match kind.as_str() {
                "alert" => r.rule.alert.is_some(),
                "record" => r.rule.record.is_some(),
                _ => true,
            })
            .filter(|r| names.is_empty() || names.contains(&r.rule.name()))
            .map(|r| rule_json(r, with_alerts))
            .collect();
        // As Prometheus: a group stays (empty) when filtered by type, and goes when no
        // rule of it has one of the names asked for.
        if rules.is_empty() && !names.is_empty() {
            continue;
        }
        out.push(json!({
            "name": g.name,
            "file": g.file,
            "interval": seconds(g.interval_ms),
            "limit": g.limit,
            "rules": rules,
            "evaluationTime": g.eval_seconds,
            "lastEvaluation": g.last_eval.map_or("0001-01-01T00:00:00Z".to_string(), rfc3339),
        }));
    }
    success(json!({ "groups": out }))
}

async fn alerts(State(slot): State<Slot>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let mut out = Vec::new();
    for g in m.groups() {
        let g = g.lock();
        for r in &g.rules {
            out.extend(r.alerts.alerts().filter(|a| a.state != AState::Inactive).map(alert_json));
        }
    }
    success(json!({ "alerts": out }))
}

async fn alertmanagers(State(slot): State<Slot>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let active: Vec<Value> =
        m.notifier().counters().iter().filter(|c| c.kind == "alertmanager").map(|c| json!({ "url": c.url })).collect();
    success(json!({ "activeAlertmanagers": active, "droppedAlertmanagers": [] }))
}

async fn notifiers(State(slot): State<Slot>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let out: Vec<Value> = m
        .notifier()
        .counters()
        .iter()
        .map(|c| {
            json!({
                "url": c.url,
                "kind": c.kind,
                "sent": c.sent.load(Ordering::Relaxed),
                "failed": c.failed.load(Ordering::Relaxed),
                "retries": c.retries.load(Ordering::Relaxed),
                "dropped": c.dropped.load(Ordering::Relaxed),
                "lastError": *c.last_error.lock(),
            })
        })
        .collect();
    success(json!({ "notifiers": out }))
}

async fn reload(State(slot): State<Slot>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match m.reload().await {
        Ok(()) => (StatusCode::OK, "rules reloaded\n").into_response(),
        Err(errs) => lantern_http::error_response(
            lantern_http::ErrorKind::Internal,
            format!("failed to reload config: the rules in force are kept:\n{}\n", errs.join("\n")),
        ),
    }
}

/// Every SLO's state (or one's), computed on a blocking thread.
async fn statuses(m: RuleManager, only: Option<String>) -> Result<Vec<SloStatus>, ApiError> {
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let storage = TsdbStorage::new(m.db().clone(), rt);
        let now = m.db().clock().now_ms();
        let set = m.slos();
        let mut out = Vec::new();
        for (file, slo) in set.slos.iter().filter(|(_, s)| only.as_deref().is_none_or(|n| n == s.name)) {
            out.push(status(m.engine(), &storage, file, slo, now));
        }
        out
    })
    .await
    .map_err(|e| ApiError::internal(format!("computing SLOs failed: {e}")))
}

fn firing_for(m: &RuleManager, slo: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for g in m.groups() {
        let g = g.lock();
        if g.name != lantern_rules::slo::generate::group_name(slo) {
            continue;
        }
        for r in &g.rules {
            out.extend(r.alerts.alerts().filter(|a| a.state == AState::Firing).map(alert_json));
        }
    }
    out
}

fn slo_json(m: &RuleManager, s: &SloStatus) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["burn_rates"] = Value::Object(s.burn_rates.iter().map(|(w, b)| (w.clone(), json!(b))).collect());
    v["alerts"] = Value::Array(firing_for(m, &s.name));
    v
}

async fn slos(State(slot): State<Slot>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match statuses(m.clone(), None).await {
        Ok(list) => success(json!({ "slos": list.iter().map(|s| slo_json(&m, s)).collect::<Vec<_>>() })),
        Err(e) => e.into_response(),
    }
}

async fn slo(State(slot): State<Slot>, Path(name): Path<String>) -> Response {
    let m = match manager(&slot) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match statuses(m.clone(), Some(name.clone())).await {
        Ok(list) => match list.first() {
            Some(s) => success(slo_json(&m, s)),
            None => ApiError::new(lantern_http::ErrorKind::NotFound, format!("no SLO named {name:?}")).into_response(),
        },
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v1/slos/{name}/budget?points=N`: the budget left (percent) at N times
/// (default 100) from the start of the SLO's window to now.
async fn budget(
    State(slot): State<Slot>,
    Path(name): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let run = async {
        let m = manager(&slot)?;
        let points = match q.get("points").map(String::as_str) {
            None | Some("") => 100,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|n| (2..=1000).contains(n))
                .ok_or_else(|| ApiError::bad_data(format!("points {p:?} is not a number from 2 to 1000")))?,
        };
        let set = m.slos();
        let Some((_, slo)) = set.slos.iter().find(|(_, s)| s.name == name).cloned() else {
            return Err(ApiError::new(lantern_http::ErrorKind::NotFound, format!("no SLO named {name:?}")));
        };
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let storage = TsdbStorage::new(m.db().clone(), rt);
            let now = m.db().clock().now_ms();
            let pts = burn_down(m.engine(), &storage, &slo, now, points);
            let points: Vec<Value> = pts.iter().map(|(t, v)| json!([*t as f64 / 1000.0, v])).collect();
            json!({ "window_start": window_start(&slo, now) as f64 / 1000.0, "points": points })
        })
        .await
        .map_err(|e| ApiError::internal(format!("computing the burn-down failed: {e}")))
    };
    match run.await {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}
