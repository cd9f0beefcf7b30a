//! Scraping a real HTTP target (served by the test on loopback) into a real store.

use std::sync::Arc;
use std::time::Duration;

use lantern_core::{is_stale_nan, MatchOp, Matcher};
use lantern_objstore::Store;
use lantern_tsdb::{Options, Tsdb};
use parking_lot::Mutex;

use super::*;

/// A target whose body, content type and status the test sets.
#[derive(Clone)]
struct Exporter {
    page: Arc<Mutex<(u16, String, String)>>,
    addr: String,
}

impl Exporter {
    async fn start(body: &str) -> Exporter {
        Self::start_with_auth(body, None).await
    }

    /// An exporter that answers 401 unless the `Authorization` header is `auth`.
    async fn start_with_auth(body: &str, auth: Option<&str>) -> Exporter {
        let page = Arc::new(Mutex::new((200u16, "text/plain; version=0.0.4".to_string(), body.to_string())));
        let p = page.clone();
        let auth = auth.map(str::to_string);
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let (p, auth) = (p.clone(), auth.clone());
                async move {
                    let (mut status, ct, mut body) = p.lock().clone();
                    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
                    if auth.is_some() && given != auth {
                        (status, body) = (401, "unauthorized".into());
                    }
                    (axum::http::StatusCode::from_u16(status).unwrap(), [(axum::http::header::CONTENT_TYPE, ct)], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Exporter { page, addr }
    }

    fn set(&self, status: u16, ct: &str, body: &str) {
        *self.page.lock() = (status, ct.to_string(), body.to_string());
    }
}

async fn store(dir: &std::path::Path) -> Arc<Tsdb> {
    let s = Store::local(&dir.join("data")).unwrap();
    Arc::new(Tsdb::open(&dir.join("wal"), s, Options::default()).await.unwrap())
}

fn job(yaml: &str) -> ScrapeConfig {
    serde_yaml::from_str(yaml).unwrap()
}

fn global() -> GlobalConfig {
    GlobalConfig {
        scrape_interval: lantern_core::PromDuration(Duration::from_millis(200)),
        scrape_timeout: Some(lantern_core::PromDuration(Duration::from_millis(150))),
        ..GlobalConfig::default()
    }
}

async fn values(db: &Tsdb, name: &str) -> Vec<(lantern_core::Labels, Vec<f64>)> {
    db.select(&[Matcher::new(MatchOp::Equal, "__name__", name).unwrap()], i64::MIN / 2, i64::MAX / 2)
        .await
        .unwrap()
        .into_iter()
        .map(|(l, s)| (l, s.into_iter().map(|x| x.v).collect()))
        .collect()
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 5 s");
}

async fn wait_for_async<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) {
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 5 s");
}

fn state_of(m: &ScrapeManager, job: &str) -> TargetState {
    try_state(m, job).expect("the job has a target")
}

fn try_state(m: &ScrapeManager, job: &str) -> Option<TargetState> {
    m.jobs.read().get(job).and_then(|v| v.active.first().map(|s| s.lock().clone()))
}

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_label_and_mark_stale() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path()).await;
    let exp = Exporter::start(
        "# HELP http_requests_total Total HTTP requests\n# TYPE http_requests_total counter\n\
         http_requests_total{method=\"GET\",endpoint=\"/api/a\",status=\"200\",instance=\"mine\"} 3\n\
         http_requests_total{method=\"GET\",endpoint=\"/api/b\",status=\"200\"} 1\n\
         go_goroutines 7\n",
    )
    .await;
    let j = job(&format!(
        "job_name: app\nstatic_configs:\n  - targets: ['{}']\n    labels:\n      env: test\nmetric_relabel_configs:\n  - source_labels: [__name__]\n    regex: go_.*\n    action: drop\n",
        exp.addr
    ));
    let m = ScrapeManager::start(db.clone(), global(), vec![j]).unwrap();
    wait_for(|| try_state(&m, "app").is_some_and(|s| s.health == Health::Up)).await;
    let reqs = values(&db, "http_requests_total").await;
    assert_eq!(reqs.len(), 2);
    let a = &reqs[0].0;
    assert_eq!(a.get("job"), Some("app"));
    assert_eq!(a.get("env"), Some("test"));
    assert_eq!(a.get("instance"), Some(exp.addr.as_str()), "target labels win without honor_labels");
    assert_eq!(a.get("exported_instance"), Some("mine"));
    assert!(values(&db, "go_goroutines").await.is_empty(), "dropped by metric_relabel_configs");
    let up = values(&db, "up").await;
    assert_eq!(up[0].1.last(), Some(&1.0));
    assert_eq!(values(&db, "scrape_samples_scraped").await[0].1.last(), Some(&3.0));
    assert_eq!(values(&db, "scrape_samples_post_metric_relabeling").await[0].1.last(), Some(&2.0));
    assert_eq!(db.metadata().get(Some("http_requests_total"), 0, 0)["http_requests_total"][0].kind, "counter");

    // A flush persists everything and the store collects the emptied head series: the
    // loop's handles go stale, and it takes new ones (labels made again) without losing
    // a scrape.
    let before = values(&db, "http_requests_total").await[0].1.len();
    db.flush().await.unwrap();
    wait_for_async(|| async { values(&db, "http_requests_total").await[0].1.len() >= before + 2 }).await;
    assert_eq!(try_state(&m, "app").unwrap().health, Health::Up, "{}", state_of(&m, "app").last_error);

    // A series that vanishes gets a staleness marker.
    exp.set(200, "text/plain", "http_requests_total{method=\"GET\",endpoint=\"/api/a\",status=\"200\"} 4\n");
    wait_for_async(|| async {
        values(&db, "http_requests_total")
            .await
            .iter()
            .any(|(l, v)| l.get("endpoint") == Some("/api/b") && v.last().is_some_and(|x| is_stale_nan(*x)))
    })
    .await;

    // A malformed body fails the scrape with the line and reason; up goes to 0.
    exp.set(200, "text/plain", "ok_metric 1\nbad_metric{x=\"1\" 2\n");
    wait_for(|| try_state(&m, "app").is_some_and(|s| s.health == Health::Down)).await;
    let s = state_of(&m, "app");
    assert!(s.last_error.contains("line 2"), "{}", s.last_error);
    assert_eq!(values(&db, "up").await[0].1.last(), Some(&0.0));

    // Duplicates, and invalid UTF-8, too.
    exp.set(200, "text/plain", "a 1\nb 2\na 3\n");
    wait_for(|| try_state(&m, "app").is_some_and(|s| s.last_error.contains("duplicate"))).await;
    assert!(state_of(&m, "app").last_error.contains("line 3"));
    exp.set(200, "text/plain", "a 1\nb{x=\"y\"} 1 1 1\n");
    wait_for(|| try_state(&m, "app").is_some_and(|s| s.last_error.contains("line 2: unexpected"))).await;

    m.stop().await;
    let up = values(&db, "up").await;
    assert!(up[0].1.last().is_some_and(|x| is_stale_nan(*x)), "stopping marks the target's series stale");
}

#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_exemplars_honor_labels_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path()).await;
    let exp = Exporter::start("").await;
    exp.set(
        200,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "# TYPE http_request_duration_seconds histogram\n# UNIT http_request_duration_seconds seconds\n\
         http_request_duration_seconds_bucket{le=\"0.1\",job=\"theirs\"} 2 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.05 1700000000.5\n\
         http_request_duration_seconds_bucket{le=\"+Inf\",job=\"theirs\"} 3\n# EOF\n",
    );
    let j = job(&format!("job_name: om\nhonor_labels: true\nstatic_configs:\n  - targets: ['{}']\n", exp.addr));
    let m = ScrapeManager::start(db.clone(), global(), vec![j]).unwrap();
    wait_for(|| try_state(&m, "om").is_some_and(|s| s.health == Health::Up)).await;
    let b = values(&db, "http_request_duration_seconds_bucket").await;
    assert_eq!(b[0].0.get("job"), Some("theirs"), "honor_labels keeps the exposed job");
    let ex = db.exemplars(&[Matcher::equal("le", "0.1")], i64::MIN / 2, i64::MAX / 2);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].1[0].labels.get("trace_id"), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(ex[0].1[0].t, 1_700_000_000_500);
    assert_eq!(
        db.metadata().get(Some("http_request_duration_seconds"), 0, 0)["http_request_duration_seconds"][0].unit,
        "seconds"
    );
    m.stop().await;

    let j = job(&format!("job_name: lim\nsample_limit: 1\nstatic_configs:\n  - targets: ['{}']\n", exp.addr));
    let m = ScrapeManager::start(db.clone(), global(), vec![j]).unwrap();
    wait_for(|| try_state(&m, "lim").is_some_and(|s| s.health == Health::Down)).await;
    assert!(state_of(&m, "lim").last_error.contains("sample limit"), "{}", state_of(&m, "lim").last_error);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_sd_targets_follow_the_file_and_bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path()).await;
    let a = Exporter::start("m 1\n").await;
    let b = Exporter::start("m 2\n").await;
    let file = dir.path().join("targets.yml");
    std::fs::write(&file, format!("- targets: ['{}']\n  labels:\n    team: a\n", a.addr)).unwrap();
    let j = job(&format!("job_name: fsd\nfile_sd_configs:\n  - files: ['{}']\n", file.display()));
    let m = ScrapeManager::start(db.clone(), global(), vec![j]).unwrap();
    wait_for(|| m.jobs.read().get("fsd").is_some_and(|v| v.active.len() == 1)).await;
    std::fs::write(&file, format!("- targets: ['{}', '{}']\n", a.addr, b.addr)).unwrap();
    wait_for(|| m.jobs.read().get("fsd").is_some_and(|v| v.active.len() == 2)).await;
    m.stop().await;

    let bad = job("job_name: x\nscheme: ftp\nscrape_interval: 1s\nscrape_timeout: 2s\nrelabel_configs:\n  - action: hashmod\n    target_label: y\n");
    let errs = ScrapeManager::start(db.clone(), global(), vec![bad.clone(), bad]).err().unwrap();
    let all = errs.join("\n");
    for want in ["scheme", "scrape_timeout", "modulus", "used by another job"] {
        assert!(all.contains(want), "{all}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_and_bearer_tokens_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path()).await;
    // "user:secret" in base64.
    let basic = Exporter::start_with_auth("a 1\n", Some("Basic dXNlcjpzZWNyZXQ=")).await;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cr3t\n").unwrap();
    let bearer = Exporter::start_with_auth("b 1\n", Some("Bearer s3cr3t")).await;
    let jobs = vec![
        job(&format!("job_name: basic\nbasic_auth:\n  username: user\n  password: secret\nstatic_configs:\n  - targets: ['{}']\n", basic.addr)),
        job(&format!(
            "job_name: bearer\nauthorization:\n  credentials_file: {}\nstatic_configs:\n  - targets: ['{}']\n",
            token_file.display(),
            bearer.addr
        )),
        job(&format!("job_name: none\nstatic_configs:\n  - targets: ['{}']\n", basic.addr)),
    ];
    let m = ScrapeManager::start(db.clone(), global(), jobs).unwrap();
    wait_for(|| try_state(&m, "basic").is_some_and(|s| s.health == Health::Up)).await;
    wait_for(|| try_state(&m, "bearer").is_some_and(|s| s.health == Health::Up)).await;
    wait_for(|| try_state(&m, "none").is_some_and(|s| s.health == Health::Down)).await;
    assert!(state_of(&m, "none").last_error.contains("401"), "{}", state_of(&m, "none").last_error);
    m.stop().await;
}
