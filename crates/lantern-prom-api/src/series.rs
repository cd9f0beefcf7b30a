//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use lantern_core::labels::is_valid_label_name;
use lantern_http::selector::parse_selectors;
use lantern_http::time::{MAX_TIME_MS, MIN_TIME_MS};
use lantern_http::{success, ApiError, Params};

use crate::{respond, PromApi};

struct Common {
    groups: Vec<Vec<lantern_core::Matcher>>,
    start: i64,
    end: i64,
    limit: Option<usize>,
}

async fn common(
    api: &PromApi,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Common, ApiError> {
    let p = Params::from_request(method, uri, headers, body, api.limits.max_request_bytes).await?;
    let groups = parse_selectors(&p.all("match[]"))?;
    let start = p.time_ms("start", MIN_TIME_MS)?;
    let end = p.time_ms("end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    Ok(Common { groups, start, end, limit: p.usize("limit")?.filter(|&l| l > 0) })
}

fn truncate<T>(mut v: Vec<T>, limit: Option<usize>) -> Vec<T> {
    if let Some(l) = limit {
        v.truncate(l);
    }
    v
}

pub(crate) async fn series(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let c = common(&api, &method, &uri, &headers, body).await?;
            if c.groups.is_empty() {
                return Err(ApiError::bad_data("no match[] parameter provided"));
            }
            let all = api.db()?.series(&c.groups, c.start, c.end);
            let out: Vec<BTreeMap<&str, &str>> =
                all.iter().map(|ls| ls.iter().map(|l| (&*l.name, &*l.value)).collect()).collect();
            Ok(success(truncate(out, c.limit)))
        }
        .await,
    )
}

pub(crate) async fn labels(
    State(api): State<PromApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let c = common(&api, &method, &uri, &headers, body).await?;
            let names = api.db()?.label_names(&c.groups, c.start, c.end);
            Ok(success(truncate(names, c.limit)))
        }
        .await,
    )
}

pub(crate) async fn label_values(
    State(api): State<PromApi>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            if !is_valid_label_name(&name) {
                return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
            }
            let c = common(&api, &method, &uri, &headers, body).await?;
            let values = api.db()?.label_values(&name, &c.groups, c.start, c.end);
            Ok(success(truncate(values, c.limit)))
        }
        .await,
    )
}
