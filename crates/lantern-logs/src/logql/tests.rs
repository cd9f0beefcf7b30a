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
        let store = crate::tests::open_with(tmp.path(), 4).await;
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

/// Sealed rows are prefiltered on their columns (line filters, `| json` label filters,
/// the page's bar) before they are decoded: every query must answer the same before and
/// after the rows are sealed, on lines whose needles sit in every place a line is
/// written from (field values and names, escapes, numbers, nested objects, times and
/// levels written back, text lines, stream labels shadowing fields).
#[tokio::test]
async fn sealed_rows_answer_as_rows_in_memory_do() {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::tests::open_with(tmp.path(), 3).await;
    let t0 = parse_time("2026-02-11T19:00:00Z").unwrap();
    let json = [
        r#"{"event": "payment_failed", "error": "Insufficient funds", "error_code": "INSUFFICIENT_FUNDS", "status": 500, "level": "error", "timestamp": "2026-02-11T19:00:01Z"}"#,
        r#"{"event": "payment_failed", "error": "Card declined", "error_code": "CARD_DECLINED", "status": 402, "level": "error", "timestamp": "2026-02-11T19:00:02Z"}"#,
        r#"{"event": "request_completed", "request_id": "req-00ab12", "status": 200, "duration_ms": 12.5, "level": "info", "timestamp": "2026-02-11T19:00:03Z"}"#,
        r#"{"event": "multi\nfoo line", "note": "say \"hi\"", "level": "warn", "timestamp": "2026-02-11T19:00:04Z"}"#,
        r#"{"event": "nested", "ctx": {"user": "u-7", "attempt": 3}, "ok": true, "gone": null, "level": "info", "timestamp": "2026-02-11T19:00:05Z"}"#,
        r#"{"event": "upstream timeout after 30s", "error_code": "UPSTREAM_TIMEOUT", "level": "error", "timestamp": "2026-02-11T19:00:06Z"}"#,
        r#"{"event": "mixed", "error_code": 7, "level": "info", "timestamp": "2026-02-11T19:00:07Z"}"#,
        r#"{"msg": "compact", "level": "debug"}"#,
        r#"{"event": "order-shipped_quickly", "request_id": "req-0a1b2c3d4e5f", "Trace.ID": "x-ABCDEF0123456789", "time": "yesterday-afternoon", "level": "info"}"#,
    ];
    store.append_jsonl(vec![("service".into(), "checkout".into())], t0, &json.join("\n"), 1 << 20).unwrap();
    let text = [
        "plain text line with Insufficient funds",
        "GET /api/orders 200 req-00ab12",
        "timeout after 5s",
        "done trace=abcdef0123456789 ok",
    ];
    store
        .append_jsonl(vec![("service".into(), "edge".into())], t0 + 10_000_000_000, &text.join("\n"), 1 << 20)
        .unwrap();
    // A stream label named like a field: `| json` makes the field `error_code_extracted`.
    let shadow = [r#"{"event": "shadowed", "error_code": "CARD_DECLINED", "level": "error"}"#];
    store
        .append_jsonl(
            vec![("service".into(), "shadow".into()), ("error_code".into(), "LABEL".into())],
            t0 + 20_000_000_000,
            &shadow.join("\n"),
            1 << 20,
        )
        .unwrap();
    let queries = [
        r#"{service=~".+"} |= "Insufficient""#,
        r#"{service=~".+"} |= "req-00ab12""#,
        r#"{service=~".+"} |= "error_code""#,
        r#"{service=~".+"} |= "nfoo""#,
        r#"{service=~".+"} |= "foo line""#,
        r#"{service=~".+"} |= "hi\"""#,
        r#"{service=~".+"} |= "500""#,
        r#"{service=~".+"} |= "12.5""#,
        r#"{service=~".+"} |= "true""#,
        r#"{service=~".+"} |= "null""#,
        r#"{service=~".+"} |= "u-7""#,
        r#"{service=~".+"} |= "attempt""#,
        r#"{service=~".+"} |= "T19:00""#,
        r#"{service=~".+"} |= "rror""#,
        r#"{service=~".+"} |= "debug""#,
        r#"{service=~".+"} |= ": 500""#,
        r#"{service=~".+"} |= "timeout after ""#,
        r#"{service=~".+"} != " 500""#,
        r#"{service=~".+"} |= " funds""#,
        r#"{service=~".+"} |= "\"status\": 200""#,
        r#"{service=~".+"} |= "nothing-like-this""#,
        r#"{service=~".+"} |= "Card" or "compact""#,
        r#"{service=~".+"} != "error_code""#,
        r#"{service=~".+"} != "Insufficient" != "timeout""#,
        r#"{service=~".+"} |~ "upstream timeout after [0-9]+s""#,
        r#"{service=~".+"} |~ "(?i)insufficient""#,
        r#"{service=~".+"} |~ "time(out)?""#,
        r#"{service=~".+"} !~ "timeout""#,
        r#"{service=~".+"} | json | error_code="CARD_DECLINED""#,
        r#"{service=~".+"} | json | error_code_extracted="CARD_DECLINED""#,
        r#"{service=~".+"} | json | error_code!="""#,
        r#"{service=~".+"} | json | error_code="7""#,
        r#"{service=~".+"} | json | status="500""#,
        r#"{service=~".+"} | json | ctx_user="u-7""#,
        r#"{service=~".+"} | json | error_code=~"CARD.*|UP.*" |= "timeout""#,
        r#"{service=~".+"} | line_format "{{.event}}" |= "nested""#,
        r#"{service=~".+"} | logfmt | error_code="CARD_DECLINED""#,
        r#"{service="checkout"} |= "payment""#,
        // Needles whose words' prefixes pick pages (see `tokens::needle_keys`).
        r#"{service=~".+"} |= "req-0a1b2c3d4e5f""#,
        r#"{service=~".+"} |= "-0a1b2c3d""#,
        r#"{service=~".+"} |= "x-ABCDEF0123""#,
        r#"{service=~".+"} |= ".ID\": \"x-ABCDEF""#,
        r#"{service=~".+"} |= "-shipped_q""#,
        r#"{service=~".+"} |= "-afternoon""#,
        r#"{service=~".+"} |= "=abcdef0123456789 ok""#,
        r#"{service=~".+"} |= "=abcdef0123456789 no""#,
        r#"{service=~".+"} |~ "req-0a1b2c3d[0-9a-f]+""#,
        r#"{service=~".+"}"#,
        r#"{service="checkout"}"#,
        r#"{level="error"}"#,
    ];
    let metric = [
        r#"sum(count_over_time({service=~".+"} |= "Insufficient" [1h]))"#,
        r#"sum by (error_code) (count_over_time({service=~".+"} | json | error_code!="" [1h]))"#,
        r#"sum by (service) (count_over_time({service=~".+"} != "timeout" [1h]))"#,
        r#"count_over_time({service=~".+"} |= "e" [1h])"#,
        r#"rate({service=~".+"} != "Card" != "nfoo" [1h])"#,
        r#"count_over_time({service=~".+"} |~ "time(out)?" [1h])"#,
        r#"sum by (service, error_code) (count_over_time({service=~".+"} | json | error_code=~"CARD.*|UP.*|7" [1h]))"#,
        r#"sum by (error_code, event) (rate({service=~".+"} |= "e" | json | error_code!="" [1h]))"#,
        r#"sum by (error_code_extracted, error_code) (count_over_time({service=~".+"} | json [1h]))"#,
        r#"sum by (ctx_user, status) (count_over_time({service=~".+"} != "Card" | json [1h]))"#,
        r#"sum (count_over_time({service=~".+"} | json | note="say \"hi\"" [1h]))"#,
        r#"sum by (error_code, service) (count_over_time({service=~".+"} |= "e" [1h]))"#,
    ];
    let mut cases = Vec::new();
    for q in queries {
        for dir in ["backward", "forward"] {
            for limit in [2, 100] {
                cases.push((format!("logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z {limit} {dir}"), q));
            }
        }
    }
    for q in metric {
        cases.push(("instant 2026-02-11T19:30:00Z".to_string(), q));
    }
    // Bare selectors are counted from the streams' and levels' columns (row groups
    // partly inside a window) or the row groups' summaries (wholly inside).
    for q in [
        r#"sum by (level) (count_over_time({service=~".+"}[1h]))"#,
        r#"count_over_time({service=~".+"}[1h])"#,
        r#"sum by (level) (count_over_time({service=~".+"}[5s]))"#,
        r#"rate({service=~".+"}[10s])"#,
        r#"sum by (error_code) (count_over_time({service=~".+"}[20s]))"#,
    ] {
        cases.push(("instant 2026-02-11T19:30:00Z".to_string(), q));
        cases.push(("instant 2026-02-11T19:00:05Z".to_string(), q));
        cases.push(("range 2026-02-11T19:00:00Z 2026-02-11T19:01:00Z 3s".to_string(), q));
    }
    let mut before = Vec::new();
    for (h, q) in &cases {
        before.push(answer(&store, h, q).await);
    }
    // Some must find rows, or the comparison says little.
    assert!(before.iter().filter(|a| !a.is_empty()).count() > cases.len() / 2, "{before:#?}");
    store.seal().await.unwrap();
    assert_eq!(store.stats().head_rows, 0);
    // Twice: the second time, row groups the first found nothing in are remembered
    // (the condition cache) and skipped; the answers stay the same.
    for round in 0..2 {
        for ((h, q), want) in cases.iter().zip(&before) {
            let got = answer(&store, h, q).await;
            assert_eq!(&got, want, "{h}: {q} (round {round})");
        }
    }
    // The needles found their lines (all but one), sealed, and with the segments'
    // filters (of the keys version that holds the needles' keys) read back.
    drop(store);
    let store = crate::tests::open_with(tmp.path(), 3).await;
    for (q, n) in [
        ("req-0a1b2c3d4e5f", 1),
        ("-0a1b2c3d", 1),
        ("x-ABCDEF0123", 1),
        ("-shipped_q", 1),
        ("-afternoon", 1),
        ("=abcdef0123456789 ok", 1),
        ("=abcdef0123456789 no", 0),
    ] {
        let q = format!(r#"{{service=~".+"}} |= "{q}""#);
        let got = answer(&store, "logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z 100 backward", &q).await;
        assert_eq!(got.len(), n, "{q}: {got:?}");
    }
    // A sum of counts or rates groups lines as they are read; `* 1` keeps the series
    // apart until the sum: the answers agree.
    let range = "range 2026-02-11T19:00:00Z 2026-02-11T19:01:00Z 10s";
    for (folded, apart) in [
        (
            r#"sum by (error_code) (count_over_time({service=~".+"} | json | error_code!="" [30s]))"#,
            r#"sum by (error_code) (count_over_time({service=~".+"} | json | error_code!="" [30s]) * 1)"#,
        ),
        (
            r#"sum without (service) (rate({service=~".+"} |= "e" [20s]))"#,
            r#"sum without (service) (rate({service=~".+"} |= "e" [20s]) * 1)"#,
        ),
        (
            r#"sum(count_over_time({service=~".+"} | json | status >= 400 or error_code=~"UP.*" [30s]))"#,
            r#"sum(count_over_time({service=~".+"} | json | status >= 400 or error_code=~"UP.*" [30s]) * 1)"#,
        ),
        (
            r#"sum by (level, ctx_user) (count_over_time({service=~".+"} | json | event!="x" [30s]))"#,
            r#"sum by (level, ctx_user) (count_over_time({service=~".+"} | json | event!="x" [30s]) * 1)"#,
        ),
        (
            r#"sum by (service, error_code) (count_over_time({service=~".+"} | json | error_code!="" [30s]))"#,
            r#"sum by (service, error_code) (count_over_time({service=~".+"} | json | error_code!="" [30s]) * 1)"#,
        ),
        (
            r#"sum(bytes_over_time({service=~".+"} != "timeout" [1m]))"#,
            r#"sum(bytes_over_time({service=~".+"} != "timeout" [1m]) * 1)"#,
        ),
    ] {
        let a = answer(&store, range, folded).await;
        assert!(!a.is_empty(), "{folded}");
        assert_eq!(a, answer(&store, range, apart).await, "{folded}");
    }
}

#[tokio::test]
async fn a_page_whose_best_candidates_fail_the_line_filter_is_read_again_in_full() {
    let tmp = tempfile::tempdir().unwrap();
    // One row group: the page's cut keeps its 100 newest candidates.
    let store = crate::tests::open_with(tmp.path(), 1000).await;
    let t0 = parse_time("2026-02-11T19:00:00Z").unwrap();
    // 300 lines a second apart; the prefilter finds "upstream timeout after " in all of
    // them, but the regex passes only the oldest 150 (one digit).
    let lines: Vec<String> = (0..300)
        .map(|i| {
            let secs = if i < 150 { 1 + i % 9 } else { 10 + i % 90 };
            let ts = rfc3339(t0 + i as i64 * 1_000_000_000);
            format!(r#"{{"event": "upstream timeout after {secs}s", "level": "error", "timestamp": "{ts}"}}"#)
        })
        .collect();
    store.append_jsonl(vec![("service".into(), "checkout".into())], t0, &lines.join("\n"), 1 << 20).unwrap();
    let q = r#"{service=~".+"} |~ "upstream timeout after [0-9]s""#;
    let cases = [
        "logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z 100 backward",
        "logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z 100 forward",
        "logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z 1000 backward",
    ];
    let mut before = Vec::new();
    for h in cases {
        before.push(answer(&store, h, q).await);
    }
    assert_eq!(before[0].len(), 100, "{:#?}", before[0]);
    assert_eq!(before[2].len(), 150);
    store.seal().await.unwrap();
    for round in 0..2 {
        for (h, want) in cases.iter().zip(&before) {
            assert_eq!(&answer(&store, h, q).await, want, "{h} (round {round})");
        }
    }
}

/// A page query's window or bar may leave out rows of a row group it reads: what its
/// condition says of the whole group is remembered all the same, so the query repeated
/// (with its window or bar elsewhere in the group) finds it known.
#[tokio::test]
async fn a_groups_condition_is_remembered_whole_when_a_window_cuts_it() {
    let tmp = tempfile::tempdir().unwrap();
    // One row group of 300 lines a second apart, a third of them matching.
    let store = crate::tests::open_with(tmp.path(), 1000).await;
    let t0 = parse_time("2026-02-11T19:00:00Z").unwrap();
    let lines: Vec<String> = (0..300)
        .map(|i| {
            let code = if i % 3 == 0 { "CARD_DECLINED" } else { "NONE" };
            format!(r#"{{"event": "payment", "error_code": "{code}", "n": {i}, "timestamp": "2026-02-11T19:{:02}:{:02}Z"}}"#, i / 60, i % 60)
        })
        .collect();
    store.append_jsonl(vec![("service".into(), "checkout".into())], t0, &lines.join("\n"), 1 << 20).unwrap();
    store.seal().await.unwrap();
    assert_eq!(store.stats().condition_cache_bytes, 0);
    // The window starts inside the group: 200 of its rows are in it.
    let q = r#"{service=~".+"} | json | error_code="CARD_DECLINED""#;
    let got = answer(&store, "logs 2026-02-11T19:01:40Z 2026-02-11T19:10:00Z 10 backward", q).await;
    assert_eq!(got.len(), 10);
    let has = |v: &[String], t: &str| v.iter().any(|l| l.contains(&format!("n=\"{t}\"")));
    assert!(has(&got, "270") && has(&got, "297") && !has(&got, "267"), "{got:?}");
    let remembered = store.stats().condition_cache_bytes;
    assert!(remembered > 0, "the group's condition is remembered");
    // The same condition over the whole group: known, so nothing more is remembered, and
    // the answer is the one worked out afresh.
    let all = answer(&store, "logs 2026-02-11T18:00:00Z 2026-02-11T20:00:00Z 100 forward", q).await;
    assert_eq!(all.len(), 100);
    assert!(has(&all, "0") && has(&all, "99") && has(&all, "297"), "{all:?}");
    assert_eq!(store.stats().condition_cache_bytes, remembered);
}
