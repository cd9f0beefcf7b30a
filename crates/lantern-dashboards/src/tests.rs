//! The dashboards API through its axum router (no port): import, export, versions,
//! errors naming paths, read-only sources, durability across a reopen, provisioning
//! reloads, generated overviews, and Grafana-shaped exports importing whole.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use lantern_core::{Labels, Sample};
use lantern_tsdb::Tsdb;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{api, Dashboards};

fn testdata(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

async fn tsdb(dir: &std::path::Path) -> Arc<Tsdb> {
    let store = lantern_objstore::Store::local(&dir.join("metrics")).unwrap();
    Arc::new(Tsdb::open(&dir.join("metrics/wal"), store, Default::default()).await.unwrap())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

struct App {
    router: axum::Router,
    dashboards: Dashboards,
    db: Arc<Tsdb>,
}

async fn app(dir: &std::path::Path, provision: Option<&std::path::Path>) -> App {
    let db = tsdb(dir).await;
    let dashboards = Dashboards::open(&dir.join("dashboards"), provision, db.clone()).unwrap();
    let slot: api::Slot = Arc::new(OnceLock::new());
    let _ = slot.set(dashboards.clone());
    App { router: api::router(slot), dashboards, db }
}

async fn call(app: &App, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(path);
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_seeds_legacy_dashboard_imports_and_exports_in_the_current_model() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None).await;
    let (s, v) = call(&app, Method::POST, "/api/v1/dashboards", Some(testdata("seed-dashboard.json"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["uid"], "service-overview");
    assert_eq!(v["version"], 1);
    let (s, d) = call(&app, Method::GET, "/api/v1/dashboards/service-overview", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(d.get("rows").is_none());
    let panels = d["panels"].as_array().unwrap();
    assert_eq!(panels.iter().filter(|p| p["type"] == "graph").count(), 4);
    assert_eq!(panels[0]["type"], "row");
    // What was exported imports again unchanged, as Grafana would take it.
    assert!(crate::validate::problems(&d).is_empty());
    let (s, meta) = call(&app, Method::GET, "/api/v1/dashboards/service-overview?meta=true", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(meta["meta"]["source"], "saved");
    assert_eq!(meta["dashboard"]["title"], "Service Overview");
    // The same title again gets its own uid; the same uid again is a conflict.
    let (_, v2) = call(&app, Method::POST, "/api/v1/dashboards", Some(testdata("seed-dashboard.json"))).await;
    assert_eq!(v2["uid"], "service-overview-2");
    let (s, e) =
        call(&app, Method::POST, "/api/v1/dashboards", Some(json!({"title": "x", "uid": "service-overview"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/dashboards",
        Some(json!({"dashboard": {"title": "replaced", "uid": "service-overview"}, "overwrite": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d) = call(&app, Method::GET, "/api/v1/dashboards/service-overview", None).await;
    assert_eq!((d["title"].as_str(), d["version"].as_i64()), (Some("replaced"), Some(2)));
    // Without a uid, `overwrite` replaces the saved dashboard of the same title.
    let again = json!({"dashboard": {"title": "Service Overview", "panels": []}, "overwrite": true});
    let (s, v3) = call(&app, Method::POST, "/api/v1/dashboards", Some(again)).await;
    assert_eq!(s, StatusCode::OK, "{v3}");
    assert_eq!((v3["uid"].as_str(), v3["version"].as_i64()), (Some("service-overview-2"), Some(2)));
}

#[tokio::test]
async fn bad_dashboards_are_refused_with_the_path_of_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None).await;
    let bad = json!({"title": "t", "panels": [
        {"type": "stat", "targets": [{"expr": "up"}]},
        {"type": "stat", "targets": [{"expr": "up"}]},
        {"type": "graph", "targets": [{"expr": "sum(rate(x[5m]) by (job)"}]}
    ]});
    let (s, e) = call(&app, Method::POST, "/api/v1/dashboards", Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = e["error"].as_str().unwrap();
    assert!(msg.starts_with("panels[2].targets[0].expr: "), "{msg}");
    let (s, e) = call(&app, Method::POST, "/api/v1/dashboards", Some(json!("not a dashboard"))).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("the dashboard is not a JSON object")));
    let req = Request::builder().method(Method::POST).uri("/api/v1/dashboards").body(Body::from("{not json")).unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (s, e) = call(&app, Method::PUT, "/api/v1/dashboards/a", Some(json!({"title": "t", "uid": "b"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "uid: the body's uid \"b\" is not the path's \"a\"");
    let (s, _) = call(&app, Method::GET, "/api/v1/dashboards/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&app, Method::DELETE, "/api/v1/dashboards/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn saved_dashboards_survive_a_reopen_and_a_torn_save() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app(dir.path(), None).await;
        let (s, _) =
            call(&app, Method::PUT, "/api/v1/dashboards/kept", Some(json!({"title": "Kept", "panels": []}))).await;
        assert_eq!(s, StatusCode::OK);
        let (_, v) = call(&app, Method::PUT, "/api/v1/dashboards/kept", Some(json!({"title": "Kept v2"}))).await;
        assert_eq!(v["version"], 2);
        call(&app, Method::PUT, "/api/v1/dashboards/gone", Some(json!({"title": "Gone"}))).await;
        let (s, _) = call(&app, Method::DELETE, "/api/v1/dashboards/gone", None).await;
        assert_eq!(s, StatusCode::OK);
    }
    // A save cut short before its rename leaves a temporary file; the old version stands.
    std::fs::write(dir.path().join("dashboards/kept.json.tmp"), b"{\"title\": \"half").unwrap();
    let app = app(dir.path(), None).await;
    let (_, d) = call(&app, Method::GET, "/api/v1/dashboards/kept", None).await;
    assert_eq!((d["title"].as_str(), d["version"].as_i64()), (Some("Kept v2"), Some(2)));
    let (s, _) = call(&app, Method::GET, "/api/v1/dashboards/gone", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!dir.path().join("dashboards/kept.json.tmp").exists());
}

#[tokio::test]
async fn provisioned_dashboards_are_read_only_and_follow_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let boards = dir.path().join("boards");
    std::fs::create_dir_all(boards.join("team")).unwrap();
    std::fs::write(boards.join("seed.json"), testdata("seed-dashboard.json").to_string()).unwrap();
    std::fs::write(boards.join("team/broken.json"), "{").unwrap();
    let app = app(dir.path(), Some(&boards)).await;
    let (_, list) = call(&app, Method::GET, "/api/v1/dashboards", None).await;
    let list = list["dashboards"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "the broken file is skipped: {list:?}");
    assert_eq!((list[0]["uid"].as_str(), list[0]["source"].as_str()), (Some("seed"), Some("provisioned")));
    let (s, e) = call(&app, Method::PUT, "/api/v1/dashboards/seed", Some(json!({"title": "mine"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e["error"].as_str().unwrap().contains("provisioned from"), "{e}");
    let (s, _) = call(&app, Method::DELETE, "/api/v1/dashboards/seed", None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // A changed file is read again; one that turns invalid keeps its last good version.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        boards.join("team/broken.json"),
        json!({"title": "Fixed", "uid": "fixed", "panels": []}).to_string(),
    )
    .unwrap();
    std::fs::write(
        boards.join("seed.json"),
        json!({"title": "Seed", "panels": [{"type": "graph", "targets": [{"expr": "rate("}]}]}).to_string(),
    )
    .unwrap();
    assert_eq!(app.dashboards.reload_provisioned(), 2);
    let (_, d) = call(&app, Method::GET, "/api/v1/dashboards/fixed", None).await;
    assert_eq!(d["title"], "Fixed");
    let (_, d) = call(&app, Method::GET, "/api/v1/dashboards/seed", None).await;
    assert_eq!(d["title"], "Service Overview", "the last good version stays");
}

#[tokio::test]
async fn every_service_seen_gets_a_generated_overview() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None).await;
    let t = now_ms();
    let series = |pairs: &[(&str, &str)]| (Labels::from_pairs(pairs.iter().copied()), vec![Sample { t, v: 1.0 }]);
    app.db
        .append(vec![
            series(&[("__name__", "http_requests_total"), ("job", "checkout"), ("status", "200")]),
            series(&[("__name__", "http_request_duration_seconds_bucket"), ("job", "checkout"), ("le", "0.1")]),
            series(&[("__name__", "queue_depth"), ("job", "checkout")]),
            series(&[
                ("__name__", "traces_spanmetrics_calls_total"),
                ("service", "inventory"),
                ("span_kind", "SPAN_KIND_SERVER"),
            ]),
        ])
        .unwrap();
    let (_, list) = call(&app, Method::GET, "/api/v1/dashboards", None).await;
    let uids: Vec<&str> = list["dashboards"].as_array().unwrap().iter().filter_map(|d| d["uid"].as_str()).collect();
    assert_eq!(uids, ["service-overview-checkout", "service-overview-inventory"]);
    let (s, d) = call(&app, Method::GET, "/api/v1/dashboards/service-overview-checkout", None).await;
    assert_eq!(s, StatusCode::OK);
    let sat = d["panels"].as_array().unwrap().iter().rfind(|p| p["title"] == "Saturation").unwrap();
    assert_eq!(sat["targets"][0]["expr"], r#"queue_depth{job="checkout"}"#);
    let (s, e) = call(&app, Method::DELETE, "/api/v1/dashboards/service-overview-checkout", None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // Saving a copy of a generated dashboard is how it is changed.
    let mut copy = d.clone();
    copy["uid"] = json!("checkout-mine");
    let (s, _) = call(&app, Method::POST, "/api/v1/dashboards", Some(copy)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn grafana_exports_with_rows_variables_and_mixed_datasources_import_whole() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None).await;
    for (file, uid, panels) in [
        ("grafana-host-overview.json", "host-overview-x1", 39),
        ("grafana-checkout-mixed.json", "checkout-mixed-x1", 27),
    ] {
        let original = testdata(file);
        let (s, v) = call(&app, Method::POST, "/api/v1/dashboards", Some(original.clone())).await;
        assert_eq!(s, StatusCode::OK, "{file}: {v}");
        assert_eq!(v["uid"], uid);
        let (_, d) = call(&app, Method::GET, &format!("/api/v1/dashboards/{uid}"), None).await;
        // Every panel (those inside collapsed rows too) is kept as it came, unknown types included.
        let count = |v: &Value| {
            let mut n = 0;
            let mut panels = v["panels"].as_array().unwrap().clone();
            crate::model::visit_panels(&mut panels, &mut |_| n += 1);
            n
        };
        assert_eq!((count(&original), count(&d)), (panels, panels), "{file}");
        assert_eq!(d["panels"], original["panels"], "{file}: panels are exported as imported");
        assert_eq!(d["templating"], original["templating"]);
        assert_eq!(d["__inputs"], original["__inputs"]);
    }
}

mod arbitrary {
    //! Any JSON, and dashboards with any values in their fields, are checked without panics.
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[ -~]{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "panels",
                "rows",
                "targets",
                "expr",
                "$__rate_interval",
                "rate(x[5m])",
                "{a=\"b\"}"
            ])
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "title",
                            "uid",
                            "panels",
                            "rows",
                            "type",
                            "targets",
                            "expr",
                            "datasource",
                            "gridPos",
                            "templating",
                            "list",
                            "name",
                            "current",
                            "value",
                            "collapsed",
                            "span",
                            "height",
                            "h",
                            "w",
                            "x",
                            "y",
                            "dashboard",
                        ]),
                        inner
                    ),
                    0..6
                )
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn preparing_any_json_never_panics(v in any_json()) {
            let _ = crate::store::prepare(v);
        }

        #[test]
        fn substituting_any_text_never_panics(q in "[ -~]{0,40}") {
            let _ = crate::validate::substitute(&q, &[("x".into(), "v".into())]);
        }
    }
}
