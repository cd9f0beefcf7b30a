//! The query API answers as Prometheus does: the same remote-written data goes to Lantern
//! and to a real Prometheus (Debian's package, remote-write receiver on), and a set of
//! instant and range queries must give the same series and values. Also: promtool's
//! `query instant` works against Lantern.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::{get_json, http, remote_write, ts, Prometheus, Server};

/// Deterministic pseudo-random numbers (xorshift), so both servers get identical data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 200;

/// One scrape's worth of series at step `k`: counters (one resets), a classic histogram,
/// gauges, and a gauge that goes stale halfway.
fn scrape(
    k: i64,
    t: i64,
    rng: &mut Rng,
    state: &mut BTreeMap<String, f64>,
) -> Vec<lantern_prom_api::proto::TimeSeries> {
    let mut out = Vec::new();
    let counter = |key: String, inc: f64, state: &mut BTreeMap<String, f64>| -> f64 {
        let v = state.entry(key).or_insert(0.0);
        *v += inc;
        *v
    };
    for job in ["api", "web"] {
        for instance in ["0", "1", "2"] {
            for (method, code) in [("GET", "200"), ("GET", "500"), ("POST", "200")] {
                let key = format!("req{job}{instance}{method}{code}");
                let mut v = counter(key.clone(), (rng.next() * 10.0).floor(), state);
                if job == "web" && instance == "1" && code == "500" && k == POINTS / 2 {
                    state.insert(key, 0.0);
                    v = 0.0;
                }
                let labels = [
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", instance),
                    ("method", method),
                    ("code", code),
                ];
                out.push(ts(&labels, &[(t, v)]));
            }
            let mut cum = 0.0;
            for le in ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"] {
                cum += (rng.next() * 5.0).floor();
                let v = counter(format!("h{job}{instance}{le}"), cum, state);
                let labels =
                    [("__name__", "request_duration_seconds_bucket"), ("job", job), ("instance", instance), ("le", le)];
                out.push(ts(&labels, &[(t, v)]));
            }
            let count = state[&format!("h{job}{instance}+Inf")];
            let sum = counter(format!("s{job}{instance}"), rng.next() * cum * 0.3, state);
            out.push(ts(
                &[("__name__", "request_duration_seconds_count"), ("job", job), ("instance", instance)],
                &[(t, count)],
            ));
            out.push(ts(
                &[("__name__", "request_duration_seconds_sum"), ("job", job), ("instance", instance)],
                &[(t, sum)],
            ));
            let mem = state.entry(format!("m{job}{instance}")).or_insert(4e8 + rng.next() * 2e8);
            *mem += (rng.next() - 0.5) * 1e7;
            out.push(ts(&[("__name__", "memory_bytes"), ("job", job), ("instance", instance)], &[(t, *mem)]));
        }
    }
    if k <= POINTS / 2 {
        let v = if k == POINTS / 2 { lantern_core::STALE_NAN } else { (k % 7) as f64 };
        out.push(ts(&[("__name__", "short_lived"), ("job", "batch")], &[(t, v)]));
    }
    out
}

/// A query's result as comparable values: series (labels as text) → points.
fn result_of(v: &serde_json::Value) -> Result<BTreeMap<String, Vec<(f64, String)>>, String> {
    if v["status"] != "success" {
        return Err(format!("{}: {}", v["errorType"], v["error"]));
    }
    let data = &v["data"];
    let point = |p: &serde_json::Value| (p[0].as_f64().unwrap_or(f64::NAN), p[1].as_str().unwrap_or("").to_string());
    let mut out = BTreeMap::new();
    match data["resultType"].as_str() {
        Some("scalar") | Some("string") => {
            out.insert("scalar".to_string(), vec![point(&data["result"])]);
        }
        _ => {
            for r in data["result"].as_array().into_iter().flatten() {
                let points = match r.get("values") {
                    Some(vals) => vals.as_array().unwrap().iter().map(point).collect(),
                    None => vec![point(&r["value"])],
                };
                out.insert(r["metric"].to_string(), points);
            }
        }
    }
    Ok(out)
}

fn close(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300),
        _ => false,
    }
}

fn compare(query: &str, lantern: &serde_json::Value, prom: &serde_json::Value) -> Result<usize, String> {
    let l = result_of(lantern).map_err(|e| format!("lantern failed: {e}"))?;
    let p = result_of(prom).map_err(|e| format!("prometheus failed: {e}"))?;
    if l.keys().collect::<Vec<_>>() != p.keys().collect::<Vec<_>>() {
        return Err(format!("{query}: series differ\n  lantern    {:?}\n  prometheus {:?}", l.keys(), p.keys()));
    }
    for (k, lp) in &l {
        let pp = &p[k];
        let same = lp.len() == pp.len() && lp.iter().zip(pp).all(|(a, b)| a.0 == b.0 && close(&a.1, &b.1));
        if !same {
            return Err(format!("{query}: {k} differs\n  lantern    {lp:?}\n  prometheus {pp:?}"));
        }
    }
    Ok(l.len())
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "sum without (instance) (rate(http_requests_total{code=~\"5..\"}[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))",
    "topk(3, rate(http_requests_total[5m]))",
    "bottomk(2, memory_bytes)",
    "max_over_time(memory_bytes[10m:1m])",
    "avg_over_time(rate(http_requests_total[5m])[15m:30s])",
    "http_requests_total{method=~\"G.*\",code!~\"2..\"}",
    "sum(rate(http_requests_total{code=\"500\"}[5m])) / sum(rate(http_requests_total[5m]))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "increase(http_requests_total[10m])",
    "irate(http_requests_total[5m])",
    "resets(http_requests_total[30m])",
    "delta(memory_bytes[10m])",
    "deriv(memory_bytes[10m])",
    "predict_linear(memory_bytes[10m], 3600)",
    "quantile(0.75, memory_bytes)",
    "stddev by (job) (memory_bytes)",
    "count by (job) (http_requests_total)",
    "avg(memory_bytes) by (job)",
    "memory_bytes > bool 5e8",
    "memory_bytes > 5e8",
    "memory_bytes offset 5m",
    "label_replace(memory_bytes, \"host\", \"h-$1\", \"instance\", \"(.*)\")",
    "http_requests_total and on(job, instance) (memory_bytes > 5e8)",
    "http_requests_total unless on(job) memory_bytes{job=\"api\"}",
    "rate(http_requests_total[5m]) * on(job, instance) group_left() (memory_bytes / 1e9)",
    "changes(memory_bytes[10m])",
    "absent(nonexistent_metric{job=\"x\"})",
    "clamp_max(memory_bytes, 5e8)",
    "vector(1) + 1",
    "time()",
    "scalar(sum(memory_bytes))",
    "quantile_over_time(0.9, memory_bytes[10m])",
    "short_lived",
    "last_over_time(short_lived[30m])",
    "count_over_time(short_lived[30m])",
    "count_values(\"mem\", round(memory_bytes / 1e8))",
    "sum(http_requests_total) by (code) - sum(http_requests_total offset 10m) by (code)",
    "max(memory_bytes @ end()) by (job)",
];

#[test]
fn query_api_answers_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let lantern = Server::start(&dir.path().join("lantern"));
    let prom =
        Prometheus::start(dir.path(), "global:\n  scrape_interval: 1h\n", &["--web.enable-remote-write-receiver"]);
    let client = http();
    // The data ends about now (Prometheus only takes recent samples), 1.3 s past whole
    // steps so that no subquery step (a multiple of its step) falls on a sample.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let end = (now / STEP_MS - 1) * STEP_MS + 1_300;
    let start = end - (POINTS - 1) * STEP_MS;
    let (mut rng, mut state) = (Rng(0x9e37_79b9_7f4a_7c15), BTreeMap::new());
    for chunk in 0..POINTS / 20 {
        let mut batch = Vec::new();
        for k in chunk * 20..(chunk + 1) * 20 {
            batch.extend(scrape(k, start + k * STEP_MS, &mut rng, &mut state));
        }
        for url in [lantern.url("/api/v1/write"), format!("{}/api/v1/write", prom.url)] {
            let (status, body) = remote_write(&client, &url, batch.clone()).unwrap();
            assert!(status == 204 || status == 200, "{url}: {status} {body}");
        }
    }
    // Evaluation times between samples: Prometheus 2.x closes its windows on the left,
    // Prometheus 3 (and Lantern) does not; off the sample grid the two agree.
    let at = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let t = end - 5 * 60_000 + 7_500;
    let (range_start, range_end) = (start + 31 * 60_000 + 3_700, end - 3 * 60_000 + 3_700);
    let enc = |q: &str| -> String {
        q.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    let mut failures = Vec::new();
    let mut compared = 0;
    for q in QUERIES {
        let instant = format!("/api/v1/query?query={}&time={}", enc(q), at(t));
        let range =
            format!("/api/v1/query_range?query={}&start={}&end={}&step=60", enc(q), at(range_start), at(range_end));
        for path in [instant, range] {
            let l = get_json(&lantern.url(&path));
            let p = get_json(&format!("{}{}", prom.url, path));
            match compare(q, &l, &p) {
                Ok(n) => compared += n,
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} comparisons differ:\n{}",
        failures.len(),
        QUERIES.len() * 2,
        failures.join("\n")
    );
    assert!(compared > 500, "only {compared} series compared: the data did not load");
    eprintln!("{} queries, {compared} series compared with Prometheus", QUERIES.len() * 2);

    // The comparison can tell results apart (a guard against comparing nothing).
    let path = |q: &str| format!("/api/v1/query?query={}&time={}", enc(q), at(t));
    let (l, p) = (
        get_json(&lantern.url(&path("sum(memory_bytes)"))),
        get_json(&format!("{}{}", prom.url, path("avg(memory_bytes)"))),
    );
    assert!(compare("sum vs avg", &l, &p).is_err());

    // Errors: both refuse the same bad queries with the same error type.
    for q in ["sum(", "rate(memory_bytes)", "http_requests_total + on(job) memory_bytes"] {
        let path = format!("/api/v1/query?query={}&time={}", enc(q), at(t));
        let (l, p) = (get_json(&lantern.url(&path)), get_json(&format!("{}{}", prom.url, path)));
        assert_eq!(l["status"], "error", "{q}: {l}");
        assert_eq!(l["errorType"], p["errorType"], "{q}: lantern {l} prometheus {p}");
    }

    // promtool, from the same Debian package, queries Lantern as it would Prometheus.
    let out = Command::new("promtool")
        .args(["query", "instant", &lantern.url(""), "sum by (job) (memory_bytes)", "--time", &at(t)])
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "promtool failed: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("{job=\"api\"} =>") && text.contains("{job=\"web\"} =>"), "promtool printed: {text}");
    let out = Command::new("promtool")
        .args(["query", "range", &lantern.url(""), "memory_bytes{instance=\"0\"}"])
        .args(["--start", &at(range_start), "--end", &at(range_end), "--step", "1m"])
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "promtool failed: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("memory_bytes{instance=\"0\", job=\"api\"} =>"), "promtool printed: {text}");
}
