//! Remote-written series come back exactly from the series API, across a restart.

use std::collections::BTreeSet;

use crate::harness::{get_json, remote_write, ts, Server};

fn label_sets(v: &serde_json::Value) -> BTreeSet<Vec<(String, String)>> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
        .collect()
}

#[test]
fn remote_written_series_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path());
    let client = crate::harness::http();
    let now = 1_790_000_000_000i64;
    let mut sent: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
    let mut batch = Vec::new();
    for i in 0..300 {
        let method = ["GET", "POST", "PUT"][i % 3];
        let endpoint = format!("/api/item{}", i / 3);
        let status = if i % 7 == 0 { "500" } else { "200" };
        let labels = [
            ("__name__", "http_requests_total"),
            ("method", method),
            ("endpoint", endpoint.as_str()),
            ("status", status),
        ];
        batch.push(ts(&labels, &[(now, i as f64), (now + 15_000, i as f64 + 1.0)]));
        let mut set: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        set.sort();
        sent.insert(set);
    }
    let (status, body) = remote_write(&client, &srv.url("/api/v1/write"), batch).unwrap();
    assert_eq!(status, 204, "{body}");
    let q = "/api/v1/series?match[]=http_requests_total&start=1789999999&end=1790000100";
    assert_eq!(label_sets(&get_json(&srv.url(q))), sent);
    let v = get_json(&srv.url("/api/v1/label/method/values"));
    assert_eq!(v["data"], serde_json::json!(["GET", "POST", "PUT"]));
    srv.restart();
    assert_eq!(label_sets(&get_json(&srv.url(q))), sent, "same series after a restart");
}
