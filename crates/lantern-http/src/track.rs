//! Every HTTP request counted and timed by route into Lantern's own metrics
//! (`lantern_http_requests_total`, `lantern_http_request_duration_seconds`): queries,
//! ingest and the UI alike, errors by their status code.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The middleware: add it with `Router::layer(axum::middleware::from_fn(track))` so
/// each route's pattern (`/api/v1/query`, `/api/traces/{id}`) names its requests.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    lantern_core::selfmon::http_request(route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}
