//! Data-driven LogQL cases: every file in `testdata/logql/` loads JSON lines, runs
//! queries and compares the answers (adding a case is adding text to a file).
//!
//! ```text
//! load service=checkout           # JSON lines (or text) until a blank line
//! {"event": "a", "level": "info", "timestamp": "2026-02-11T19:00:00Z"}
//!
//! instant 2026-02-11T19:05:00Z    # or: range START END STEP | logs START END LIMIT forward|backward
//! sum by (level) (count_over_time({service="checkout"}[10m]))
//! {level="info"} 1                # expected, until a blank line: series (sorted) with
//!                                 # values per step (`_` where none), `scalar v…`,
//!                                 # log entries `{labels} TIME LINE`, or `error TEXT`
//! ```

use std::path::Path;

use lantern_events::Options;
use lantern_objstore::Store;

use super::engine::{run, Answer, Params};
use crate::jsonl::parse_time;
use crate::model::rfc3339;
use crate::store::{LogStore, Order};

fn labels_text(l: &super::pipeline::Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v}")
    } else {
        format!("{v:.6}").trim_end_matches('0').to_string()
    }
}

async fn answer(store: &LogStore, header: &str, query: &str) -> Vec<String> {
    let parts: Vec<&str> = header.split_whitespace().collect();
    let t = |s: &str| parse_time(s).unwrap_or_else(|| panic!("bad time {s}"));
    let (params, steps) = match parts[0] {
        "instant" => (Params { start: t(parts[1]), end: t(parts[1]), step: 1, limit: 100, direction: Order::Desc }, 1),
        "range" => {
            let step = lantern_logql::parse_duration(parts[3]).unwrap();
            let (s, e) = (t(parts[1]), t(parts[2]));
            (Params { start: s, end: e, step, limit: 100, direction: Order::Desc }, ((e - s) / step + 1) as usize)
        }
        "logs" => {
            let dir = if parts[4] == "forward" { Order::Asc } else { Order::Desc };
            (
                Params {
                    start: t(parts[1]),
                    end: t(parts[2]),
                    step: 1,
                    limit: parts[3].parse().unwrap(),
                    direction: dir,
                },
                0,
            )
        }
        other => panic!("unknown query kind {other}"),
    };
    let expr = match lantern_logql::parse(query) {
        Ok(e) => e,
        Err(e) => return vec![format!("error {e}")],
    };
    let ans = match run(store, &expr, &params).await {
        Ok(a) => a,
        Err(e) => return vec![format!("error {e}")],
    };
    let times: Vec<i64> = (0..steps).map(|i| params.start + i as i64 * params.step).collect();
    match ans {
        Answer::Scalar(v) => vec![format!("scalar {}", v.iter().map(|(_, v)| num(*v)).collect::<Vec<_>>().join(" "))],
        Answer::Series(s) => {
            let mut out: Vec<String> = s
                .iter()
                .map(|s| {
                    let vals: Vec<String> = times
                        .iter()
                        .map(|t| s.points.iter().find(|p| p.0 == *t).map_or("_".to_string(), |p| num(p.1)))
                        .collect();
                    format!("{} {}", labels_text(&s.labels), vals.join(" "))
                })
                .collect();
            out.sort();
            out
        }
        Answer::Streams(s) => s
            .iter()
            .flat_map(|s| s.values.iter().map(move |(t, l)| format!("{} {} {l}", labels_text(&s.labels), rfc3339(*t))))
            .collect(),
    }
}

#[tokio::test]
async fn logql_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/logql");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut cases = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let store = LogStore::open(
            &tmp.path().join("wal"),
            Store::local(&tmp.path().join("objects")).unwrap(),
            Options { row_group_rows: 4, ..Options::default() },
        )
        .await
        .unwrap();
        let blocks: Vec<&str> = text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()).collect();
        for block in blocks {
            let lines: Vec<&str> = block.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
            let Some(head) = lines.first() else { continue };
            if let Some(rest) = head.strip_prefix("load") {
                let mut now = 0;
                let labels: Vec<(String, String)> = rest
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                    .filter(|(k, v)| k != "now" || parse_time(v).map(|t| now = t).is_none())
                    .collect();
                let body = lines[1..].join("\n");
                store.append_jsonl(labels, now, &body, 1 << 20).unwrap();
                continue;
            }
            if head.trim() == "seal" {
                store.seal().await.unwrap();
                continue;
            }
            cases += 1;
            let got = answer(&store, head, lines[1]).await;
            let want: Vec<String> = lines[2..].iter().map(|l| l.trim().to_string()).collect();
            let ok = if want.len() == 1 && want[0].starts_with("error ") {
                got.len() == 1 && got[0].contains(&want[0][6..])
            } else {
                got == want
            };
            if !ok {
                failures.push(format!(
                    "{}: {}\n  {}\n  want: {want:#?}\n  got:  {got:#?}",
                    file.display(),
                    head,
                    lines[1]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n{}", failures.len(), failures.join("\n"));
}
