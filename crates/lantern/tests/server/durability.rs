//! `kill -9` during ingest loses no acknowledged sample.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::{remote_read, remote_write, ts, Server};

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path());
    ingest_kill_and_check(srv, 1000, Duration::from_millis(1500));
}

/// The same while the head is cut into blocks, compacted and checkpointed every second:
/// 1-minute blocks and samples 15 s apart make the data outgrow the head all the time.
#[test]
fn kill_9_during_head_cuts_and_compaction_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(&cfg, "metrics:\n  block_duration: 1m\n  maintenance_interval: 1s\n").unwrap();
    let data = dir.path().join("data");
    let srv = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    ingest_kill_and_check(srv, 15_000, Duration::from_millis(3500));
    let blocks = std::fs::read_dir(data.join("metrics/blocks")).map(|d| d.count()).unwrap_or(0);
    assert!(blocks > 0, "the head was cut into blocks during the test");
}

/// Writer threads remote-write with timestamps `step_ms` apart until the server is
/// killed with SIGKILL after `run_for`; after a restart every acknowledged sample must be
/// readable.
fn ingest_kill_and_check(mut srv: Server, step_ms: i64, run_for: Duration) {
    let url = srv.url("/api/v1/write");
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, i64, f64)>>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, stop, acked) = (url.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let client = crate::harness::http();
                let base = 1_790_000_000_000i64;
                let mut i = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    let t = base + i * step_ms;
                    let series: Vec<_> = (0..20)
                        .map(|s| {
                            let id = format!("w{w}s{s}");
                            ts(&[("__name__", "durability_test"), ("series", &id)], &[(t, (i * 100 + s) as f64)])
                        })
                        .collect();
                    match remote_write(&client, &url, series) {
                        Ok((204, _)) => {
                            let mut a = acked.lock().unwrap();
                            for s in 0..20 {
                                a.push((format!("w{w}s{s}"), t, (i * 100 + s) as f64));
                            }
                        }
                        Ok((status, body)) => panic!("unexpected answer {status}: {body}"),
                        // The server was killed mid-request: not acknowledged.
                        Err(_) => break,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(run_for);
    srv.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 1000, "the writers got going: {} samples acknowledged", acked.len());

    srv.restart();
    let got = remote_read(&srv.url("/api/v1/read"), "durability_test");
    let mut stored: HashMap<(String, i64), f64> = HashMap::new();
    for s in got {
        let id = s.labels.iter().find(|l| l.name == "series").unwrap().value.clone();
        for x in s.samples {
            stored.insert((id.clone(), x.timestamp), x.value);
        }
    }
    let missing: Vec<_> = acked.iter().filter(|(id, t, v)| stored.get(&(id.clone(), *t)) != Some(v)).take(5).collect();
    assert!(missing.is_empty(), "{} acknowledged samples, missing e.g. {missing:?}", acked.len());
}
