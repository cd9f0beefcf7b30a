//! The web UI. The app's sources are in `ui/` (TypeScript, React, Mantine, uPlot,
//! CodeMirror); `npm run build` writes `ui/dist`, which is committed and embedded here, so
//! the binary serves the UI offline and a fresh clone needs no Node.js to run it.
//!
//! [`router`] answers the app's own files under `/assets/` (content-hashed names, cached
//! for a year, gzip when the client accepts it) and `index.html` for every page path and
//! its sub-paths, so links and reloads land on the right page. Other paths stay 404.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
struct Assets;

/// The app's page paths: each, and everything under it, answers `index.html`.
pub const PAGES: &[&str] =
    &["/explore", "/logs", "/traces", "/service-map", "/alerts", "/slos", "/investigate", "/dashboards"];

/// A file gzipped once, on its first request, and kept (a few dozen files).
fn gzipped(path: &str, data: &[u8]) -> Option<Arc<Vec<u8>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(v) = cache.lock().ok()?.get(path) {
        return Some(v.clone());
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::best());
    enc.write_all(data).ok()?;
    let v = Arc::new(enc.finish().ok()?);
    cache.lock().ok()?.insert(path.to_string(), v.clone());
    Some(v)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name == "gzip" || name == "*") && !q_zero
        },
    )
}

/// One embedded file, or 404.
fn file(path: &str, headers: &HeaderMap, cache: &'static str) -> Response {
    let Some(f) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, format!("no file {path:?} in the UI\n")).into_response();
    };
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let compressible = !path.ends_with(".png") && !path.ends_with(".woff2") && f.data.len() > 1024;
    if compressible && accepts_gzip(headers) {
        if let Some(gz) = gzipped(path, &f.data) {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            return (h, gz.as_ref().clone()).into_response();
        }
    }
    (h, f.data.into_owned()).into_response()
}

async fn index(headers: HeaderMap) -> Response {
    file("index.html", &headers, "no-cache")
}

async fn asset(Path(rest): Path<String>, headers: HeaderMap) -> Response {
    file(&format!("assets/{rest}"), &headers, "public, max-age=31536000, immutable")
}

async fn root_file(req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    file(&path, req.headers(), "public, max-age=3600")
}

/// The UI's routes: `/`, the page paths and their sub-paths, `/assets/…`, `/favicon.svg`.
pub fn router() -> Router {
    let mut r =
        Router::new().route("/", get(index)).route("/assets/{*rest}", get(asset)).route("/favicon.svg", get(root_file));
    for p in PAGES {
        r = r.route(p, get(index)).route(&format!("{p}/{{*rest}}"), get(index));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(path: &str, gzip: bool) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().uri(path);
        if gzip {
            req = req.header(header::ACCEPT_ENCODING, "gzip, deflate, br");
        }
        let res = router().oneshot(req.body(Body::empty()).expect("request")).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn pages_and_their_sub_paths_answer_the_app() {
        for path in
            ["/", "/explore", "/traces/0af7651916cd43dd8448eb211c80319c", "/dashboards/abc/edit", "/service-map"]
        {
            let (status, headers, body) = call(path, false).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            let text = String::from_utf8(body).expect("utf-8");
            assert!(text.contains("<div id=\"root\"></div>"), "{path}: {text}");
        }
        let (status, _, _) = call("/not-a-page", false).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn assets_are_served_with_long_caching_and_gzip() {
        let (_, _, index) = call("/", false).await;
        let index = String::from_utf8(index).expect("utf-8");
        let script =
            index.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("index.html names its script");
        let (status, headers, plain) = call(script, false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(headers[header::CACHE_CONTROL].to_str().expect("ascii").contains("immutable"));
        let (_, headers, gz) = call(script, true).await;
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).expect("gunzip");
        assert_eq!(out, plain);
        assert!(gz.len() < plain.len() / 2);
        let (status, _, _) = call("/assets/missing.js", false).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn gzip_negotiation_follows_q_values() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0.5"));
        assert!(accepts_gzip(&h));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
