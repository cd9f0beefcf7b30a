//! `kill -9` during ingest loses no acknowledged sample.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::{remote_read, remote_write, ts, Server};

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path());
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
                    let t = base + i * 1000;
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
    std::thread::sleep(Duration::from_millis(1500));
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
