//! A real Prometheus (Debian's package) scrapes itself and remote-writes to Lantern; the
//! series API of both must list the same series.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{try_get_json, Prometheus, Server};

fn series_set(base: &str, start: f64, end: f64) -> BTreeSet<String> {
    let v = try_get_json(&format!("{base}/api/v1/series?match[]=%7Bjob%3D%22prometheus%22%7D&start={start}&end={end}"));
    let Some(v) = v else { return BTreeSet::new() };
    v["data"].as_array().map(|a| a.iter().map(|o| o.to_string()).collect()).unwrap_or_default()
}

#[test]
fn prometheus_remote_write_series_match_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let lantern = Server::start(&dir.path().join("lantern"));
    let prom = Prometheus::start(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{{port}}']\n\
             remote_write:\n  - url: {}\n    queue_config:\n      batch_send_deadline: 1s\n",
            lantern.url("/api/v1/write")
        ),
        &[],
    );
    let prom_url = prom.url.clone();
    let now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let start = now() - 60.0;
    // Prometheus discovers its targets a few seconds after start; wait for real scrapes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while series_set(&prom_url, start, now() + 60.0).len() < 100 {
        assert!(Instant::now() < deadline, "prometheus did not scrape itself");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    // Compare over a window that has closed, once remote write has caught up with it.
    let end = now() - 1.0;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let p = series_set(&prom_url, start, end);
        let l = series_set(&lantern.url(""), start, end);
        if p.len() >= 100 && p == l {
            break;
        }
        if Instant::now() >= deadline {
            eprintln!("{}", prom.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "series differ: prometheus {} lantern {}; only in prometheus e.g. {:?}; only in lantern e.g. {:?}",
            p.len(),
            l.len(),
            p.difference(&l).take(3).collect::<Vec<_>>(),
            l.difference(&p).take(3).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
