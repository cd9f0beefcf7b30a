//! `GET|POST /api/v1/dashboards` and `GET|PUT|DELETE /api/v1/dashboards/{uid}`. A GET of
//! one dashboard answers the dashboard JSON itself (what Grafana imports); with
//! `?meta=true`, `{dashboard, meta}`.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lantern_http::{ApiError, ErrorKind};
use serde_json::{json, Value};

use crate::{Dashboards, Error};

/// Where the dashboards are once the stores are open (until then: 503).
pub type Slot = Arc<OnceLock<Dashboards>>;

/// The largest dashboard body accepted.
const MAX_BODY: usize = 16 << 20;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let kind = match &e {
            Error::Invalid(_) => ErrorKind::BadData,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::ReadOnly { .. } | Error::Exists(_) => ErrorKind::Conflict,
            Error::Io(_) => ErrorKind::Internal,
        };
        ApiError::new(kind, e.to_string())
    }
}

fn dashboards(slot: &Slot) -> Result<Dashboards, ApiError> {
    slot.get().cloned().ok_or_else(|| ApiError::unavailable("the dashboards are loading"))
}

/// The routes.
pub fn router(slot: Slot) -> Router {
    Router::new()
        .route("/api/v1/dashboards", get(list).post(create))
        .route("/api/v1/dashboards/{uid}", get(one).put(put).delete(delete))
        .with_state(slot)
}

fn respond(r: Result<Value, ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::new(ErrorKind::TooLarge, format!("a dashboard may be at most {MAX_BODY} bytes")));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_data(format!("the body is not JSON: {e}")))
}

/// Work on the store (file writes, fsyncs) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("dashboard task failed: {e}")))?
}

async fn list(State(slot): State<Slot>) -> Response {
    respond(
        async {
            let d = dashboards(&slot)?;
            let all = blocking(move || Ok(d.list())).await?;
            Ok(json!({"dashboards": all.iter().map(|s| s.to_json()).collect::<Vec<_>>()}))
        }
        .await,
    )
}

async fn create(State(slot): State<Slot>, body: Bytes) -> Response {
    respond(async {
        let d = dashboards(&slot)?;
        let v = body_json(&body)?;
        let s = blocking(move || d.create(v).map_err(ApiError::from)).await?;
        Ok(json!({"uid": s.uid, "version": s.version, "url": format!("/dashboards/{}", s.uid), "status": "success"}))
    }.await)
}

#[derive(serde::Deserialize)]
struct GetParams {
    #[serde(default)]
    meta: Option<String>,
}

async fn one(State(slot): State<Slot>, Path(uid): Path<String>, Query(p): Query<GetParams>) -> Response {
    respond(
        async {
            let d = dashboards(&slot)?;
            let (dash, summary) = blocking(move || d.get(&uid).map_err(ApiError::from)).await?;
            if matches!(p.meta.as_deref(), Some("true" | "1")) {
                Ok(json!({"dashboard": dash, "meta": summary.to_json()}))
            } else {
                Ok(dash)
            }
        }
        .await,
    )
}

async fn put(State(slot): State<Slot>, Path(uid): Path<String>, body: Bytes) -> Response {
    respond(async {
        let d = dashboards(&slot)?;
        let v = body_json(&body)?;
        let s = blocking(move || d.put(&uid, v).map_err(ApiError::from)).await?;
        Ok(json!({"uid": s.uid, "version": s.version, "url": format!("/dashboards/{}", s.uid), "status": "success"}))
    }.await)
}

async fn delete(State(slot): State<Slot>, Path(uid): Path<String>) -> Response {
    respond(
        async {
            let d = dashboards(&slot)?;
            let shown = uid.clone();
            blocking(move || d.delete(&uid).map_err(ApiError::from)).await?;
            Ok(json!({"deleted": shown, "status": "success"}))
        }
        .await,
    )
}
