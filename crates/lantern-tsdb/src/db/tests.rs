//! Tests of the store as a whole: append, replay, cut, compaction, retention, and a
//! random-operation model check against a plain map.

use std::collections::BTreeMap;
use std::time::Duration;

use lantern_core::{Labels, MatchOp, Matcher, Sample, STALE_NAN};
use lantern_objstore::Store;
use proptest::prelude::*;

use crate::{Options, Rejection, Tsdb};

fn opts() -> Options {
    Options {
        block_range: Duration::from_millis(1000),
        retention_time: None,
        retention_size: None,
        out_of_order_window: Duration::from_millis(5000),
        max_exemplars_per_series: 3,
        max_exemplar_series: 100,
        block_cache_bytes: 1 << 20,
        clock: lantern_core::clock::system(),
    }
}

async fn open(dir: &std::path::Path, o: Options) -> Tsdb {
    let store = Store::local(&dir.join("data")).unwrap();
    Tsdb::open(&dir.join("wal"), store, o).await.unwrap()
}

fn series(name: &str, job: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", job)])
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()]
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn exemplars_survive_reopen_and_head_cuts_bounded_per_series() {
    let dir = tempfile::tempdir().unwrap();
    run(async {
        let db = open(dir.path(), opts()).await;
        let labels = series("request_duration_seconds_bucket", "api");
        for i in 0..5i64 {
            let mut b = crate::Batch::new();
            b.begin_series();
            for l in &labels {
                b.label(l.name.as_bytes(), l.value.as_bytes());
            }
            b.sample(Sample::new(i * 100, i as f64));
            b.exemplar(lantern_core::Exemplar {
                labels: Labels::from_pairs([("trace_id", format!("{i:032x}"))]),
                value: 0.5,
                t: i * 100,
            });
            b.end_series();
            let out = db.append_batch(&b).unwrap();
            assert_eq!(out.exemplars_appended, 1);
        }
        let traces = |db: &Tsdb| -> Vec<String> {
            db.exemplars(&all(), i64::MIN, i64::MAX)
                .into_iter()
                .flat_map(|(_, e)| e.into_iter().map(|x| x.labels.get("trace_id").unwrap().to_string()))
                .collect()
        };
        let want: Vec<String> = (2..5).map(|i| format!("{i:032x}")).collect();
        assert_eq!(traces(&db), want, "the newest 3 are kept");
        db.close().unwrap();
        let db = open(dir.path(), opts()).await;
        assert_eq!(traces(&db), want, "after a restart");
        // A flush moves every sample into blocks and checkpoints the log, deleting the
        // segments: the exemplars now live only in the checkpoint.
        db.flush().await.unwrap();
        db.close().unwrap();
        let segments = std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
            .map(|e| std::fs::metadata(e.unwrap().path()).unwrap().len())
            .sum::<u64>();
        assert_eq!(segments, 0, "the segments holding the exemplars are gone (or empty)");
        let db = open(dir.path(), opts()).await;
        assert_eq!(traces(&db), want, "after a flush and a restart");
        db.close().unwrap();
    });
}

#[test]
fn appends_by_handle_survive_reopen_and_notice_garbage_collection() {
    let dir = tempfile::tempdir().unwrap();
    run(async {
        let db = open(dir.path(), opts()).await;
        let labels = series("scraped", "a");
        let h = db.handle(&labels).unwrap();
        let (out, gone) =
            db.append_handles_unsynced(&[(&h, Sample::new(100, 1.0), &[]), (&h, Sample::new(200, 2.0), &[])]).unwrap();
        assert_eq!((out.appended, gone.len()), (2, 0));
        let (out, _) = db.append_handles_unsynced(&[(&h, Sample::new(200, 2.0), &[])]).unwrap();
        assert_eq!(out.already_stored, 1);
        // A flush persists everything and collects the emptied series: the handle is stale.
        db.flush().await.unwrap();
        let (out, gone) = db.append_handles_unsynced(&[(&h, Sample::new(300, 3.0), &[])]).unwrap();
        assert_eq!((out.appended, gone), (0, vec![0]));
        let h = db.handle(&labels).unwrap();
        let (out, gone) = db.append_handles_unsynced(&[(&h, Sample::new(300, 3.0), &[])]).unwrap();
        assert_eq!((out.appended, gone.len()), (1, 0));
        assert_eq!(db.handle_labels(&h), labels);
        db.close().unwrap();
        let db = open(dir.path(), opts()).await;
        let got = db.select(&all(), i64::MIN, i64::MAX).await.unwrap();
        let vals: Vec<(i64, f64)> = got[0].1.iter().map(|x| (x.t, x.v)).collect();
        assert_eq!(vals, vec![(100, 1.0), (200, 2.0), (300, 3.0)]);
        db.close().unwrap();
    });
}

#[test]
fn samples_survive_reopen_with_staleness_markers() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open(dir.path(), opts()).await;
            let out =
                db.append(vec![(series("up", "a"), vec![Sample::new(10, 1.0), Sample::new(20, STALE_NAN)])]).unwrap();
            assert_eq!(out.appended, 2);
        }
        let db = open(dir.path(), opts()).await;
        let got = db.select(&[Matcher::equal("job", "a")], 0, 100).await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].1[1].same_bits(&Sample::new(20, STALE_NAN)));
    });
}

#[test]
fn too_old_and_conflicting_samples_are_reported_and_the_rest_kept() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), opts()).await;
        db.append(vec![(series("up", "a"), vec![Sample::new(10_000, 1.0)])]).unwrap();
        let out = db
            .append(vec![
                (series("up", "a"), vec![Sample::new(1_000, 1.0), Sample::new(9_000, 2.0), Sample::new(10_000, 3.0)]),
                (series("up", "b"), vec![Sample::new(10_000, 4.0)]),
            ])
            .unwrap();
        assert_eq!(out.appended, 2);
        let reasons: Vec<Rejection> = out.rejected.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, vec![Rejection::TooOld, Rejection::DuplicateTimestamp]);
        assert_eq!(db.select(&all(), 0, 20_000).await.unwrap().len(), 2);
    });
}

#[test]
fn cut_compact_and_reopen_keep_every_sample_once() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = 0;
        {
            let db = open(dir.path(), opts()).await;
            for t in (0..20_000).step_by(100) {
                db.append(vec![
                    (series("m", "a"), vec![Sample::new(t, t as f64)]),
                    (series("m", "b"), vec![Sample::new(t, 1.0)]),
                ])
                .unwrap();
                expected += 2;
                if t % 1000 == 0 {
                    db.maintain().await.unwrap();
                }
            }
            // An out-of-order sample below the floor is accepted and persisted by the next cut.
            let out = db.append(vec![(series("m", "a"), vec![Sample::new(16_050, -1.0)])]).unwrap();
            assert_eq!(out.appended, 1);
            expected += 1;
            db.maintain().await.unwrap();
            let st = db.stats();
            assert!(st.blocks >= 2, "{st:?}");
            assert!(st.head_floor >= 18_000, "{st:?}");
            assert!(st.blocks < 15, "compaction merged blocks: {st:?}");
        }
        let db = open(dir.path(), opts()).await;
        let got = db.select(&all(), i64::MIN, i64::MAX).await.unwrap();
        let n: usize = got.iter().map(|(_, s)| s.len()).sum();
        assert_eq!(n, expected);
        for (_, s) in &got {
            assert!(s.windows(2).all(|w| w[0].t < w[1].t));
        }
        let a = &got[0].1;
        assert!(a.iter().any(|s| s.t == 16_050 && s.v == -1.0));
        assert_eq!(db.series(&[vec![Matcher::equal("job", "b")]], 0, 100).len(), 1);
        let either = [vec![Matcher::equal("job", "a")], vec![Matcher::equal("job", "b")]];
        assert_eq!(db.series(&either, 0, 100).len(), 2, "selectors are a union");
        assert_eq!(db.label_values("job", &[], i64::MIN, i64::MAX), vec!["a", "b"]);
        assert_eq!(db.label_names(&[vec![Matcher::equal("job", "b")]], i64::MIN, i64::MAX), vec!["__name__", "job"]);
    });
}

#[test]
fn flush_persists_the_whole_head_and_later_samples_still_land() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), opts()).await;
        for t in (0..5_500).step_by(100) {
            db.append(vec![(series("m", "a"), vec![Sample::new(t, 1.0)])]).unwrap();
        }
        db.flush().await.unwrap();
        let st = db.stats();
        assert_eq!(st.block_samples, 55, "{st:?}");
        assert_eq!(st.head_series, 0, "{st:?}");
        // The next in-order sample continues the series; one inside the flushed range
        // becomes an out-of-order sample.
        db.append(vec![(series("m", "a"), vec![Sample::new(5_500, 2.0), Sample::new(5_450, 3.0)])]).unwrap();
        drop(db);
        let db = open(dir.path(), opts()).await;
        let got = db.select(&all(), i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(got[0].1.len(), 57);
    });
}

#[test]
fn retention_by_time_and_size_removes_oldest_blocks() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let o = Options { retention_time: Some(Duration::from_millis(4000)), ..opts() };
        let db = open(dir.path(), o).await;
        for t in (0..12_000).step_by(100) {
            db.append(vec![(series("m", "a"), vec![Sample::new(t, 1.0)])]).unwrap();
            if t % 1000 == 0 {
                db.maintain().await.unwrap();
            }
        }
        db.maintain().await.unwrap();
        let got = db.select(&all(), i64::MIN, i64::MAX).await.unwrap();
        let oldest = got[0].1[0].t;
        assert!(oldest >= 6_000, "retention removed old blocks, oldest left {oldest}");
        drop(db);
        let o = Options { retention_size: Some(1), ..opts() };
        let db = open(dir.path(), o).await;
        db.maintain().await.unwrap();
        assert_eq!(db.stats().blocks, 0);
    });
}

/// The store holds exactly one sample per acknowledged series and timestamp, with one
/// of the values written there.
async fn check_model(db: &Tsdb, model: &BTreeMap<(u8, i64), Vec<f64>>, step: &str) {
    let got = db.select(&all(), i64::MIN, i64::MAX).await.unwrap();
    let mut seen: BTreeMap<(u8, i64), f64> = BTreeMap::new();
    for (labels, samples) in got {
        let s: u8 = labels.get("job").unwrap().parse().unwrap();
        for x in samples {
            assert!(seen.insert((s, x.t), x.v).is_none(), "duplicate sample returned");
        }
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>(),
        "every acknowledged sample, once, after {step}"
    );
    for (k, v) in &seen {
        assert!(model[k].contains(v), "value {v} at {k:?} was written, after {step}");
    }
    // The newest sample per series, as instant queries read it, agrees with a full read.
    for (mint, maxt) in [(i64::MIN, i64::MAX), (0, 10_000), (5_000, 20_000), (25_000, 40_000)] {
        let full = db.select(&all(), mint, maxt).await.unwrap();
        let want: Vec<(Labels, i64, u64)> =
            full.iter().filter_map(|(l, s)| s.last().map(|x| (l.clone(), x.t, x.v.to_bits()))).collect();
        let got: Vec<(Labels, i64, u64)> = db
            .select_last(&all(), mint, maxt)
            .await
            .unwrap()
            .into_iter()
            .map(|(l, x)| (l, x.t, x.v.to_bits()))
            .collect();
        assert_eq!(got, want, "select_last over [{mint}, {maxt}] after {step}");
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, i64, i32)>),
    Maintain,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0u8..4, 0i64..30_000, any::<i32>()), 1..20).prop_map(Op::Append),
        1 => Just(Op::Maintain),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the order of appends, cuts and restarts, the store returns exactly one
    /// sample per acknowledged series and timestamp, with a value that was written there.
    #[test]
    fn store_matches_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(async {
            let dir = tempfile::tempdir().unwrap();
            let o = Options { out_of_order_window: Duration::from_millis(1_000_000), ..opts() };
            let mut db = Some(open(dir.path(), o.clone()).await);
            let mut model: BTreeMap<(u8, i64), Vec<f64>> = BTreeMap::new();
            for (i, op) in ops.into_iter().enumerate() {
                let op_name = match &op {
                    Op::Append(_) => "append",
                    Op::Maintain => "maintain",
                    Op::Reopen => "reopen",
                };
                match op {
                    Op::Append(samples) => {
                        let input: Vec<(Labels, Vec<Sample>)> = samples
                            .iter()
                            .map(|&(s, t, v)| (series("m", &s.to_string()), vec![Sample::new(t, v as f64)]))
                            .collect();
                        let out = db.as_ref().unwrap().append(input).unwrap();
                        // Rejections come in input order; match them up in that order.
                        let mut rejected = out.rejected.iter().map(|r| (r.labels.get("job").unwrap().to_string(), r.t)).peekable();
                        for &(s, t, v) in &samples {
                            let allowed = model.entry((s, t)).or_default();
                            if allowed.is_empty() || allowed.contains(&(v as f64)) {
                                if allowed.is_empty() {
                                    allowed.push(v as f64);
                                }
                                continue;
                            }
                            // A conflicting write: refused while the first value is in the head;
                            // below the floor (already in a block) it may be taken, and either
                            // value may then be read back.
                            if rejected.peek() == Some(&(s.to_string(), t)) {
                                rejected.next();
                            } else {
                                allowed.push(v as f64);
                            }
                        }
                        let rejected: Vec<_> = rejected.collect();
                        assert!(rejected.is_empty());
                    }
                    Op::Maintain => db.as_ref().unwrap().maintain().await.unwrap(),
                    Op::Reopen => {
                        drop(db.take());
                        db = Some(open(dir.path(), o.clone()).await);
                    }
                }
                check_model(db.as_ref().unwrap(), &model, &format!("op {i}: {op_name}")).await;
            }
        });
    }
}

#[test]
fn series_recreated_after_gc_keep_their_own_samples() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let o = Options { out_of_order_window: Duration::from_millis(1_000_000), ..opts() };
        let db = open(dir.path(), o.clone()).await;
        let app = |v: &[(u8, i64)]| {
            db.append(v.iter().map(|&(s, t)| (series("m", &s.to_string()), vec![Sample::new(t, s as f64)])).collect())
                .unwrap()
        };
        app(&[(1, 0), (3, 26_396), (2, 24_156)]);
        db.maintain().await.unwrap();
        app(&[(0, 7560), (1, 148), (3, 9796), (2, 12_760)]);
        let check = |got: Vec<(Labels, Vec<Sample>)>, step: &str| {
            for (labels, samples) in got {
                let s: f64 = labels.get("job").unwrap().parse().unwrap();
                assert!(samples.iter().all(|x| x.v == s), "{step}: {labels}: {samples:?}");
            }
        };
        check(db.select(&all(), i64::MIN, i64::MAX).await.unwrap(), "before reopen");
        drop(db);
        let db = open(dir.path(), o.clone()).await;
        check(db.select(&all(), i64::MIN, i64::MAX).await.unwrap(), "after reopen");
        db.maintain().await.unwrap();
        check(db.select(&all(), i64::MIN, i64::MAX).await.unwrap(), "after maintain");
    });
}

#[test]
fn blocks_in_use_by_a_reader_are_deleted_only_after_it_lets_go() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), Options { retention_time: Some(Duration::from_millis(2000)), ..opts() }).await;
        for t in (0..3000).step_by(100) {
            db.append(vec![(series("m", "a"), vec![Sample::new(t, 1.0)])]).unwrap();
        }
        db.flush().await.unwrap();
        let reader = db.blocks_overlapping(0, 999);
        assert_eq!(reader.len(), 1);
        let id = reader[0].meta.id.clone();
        for t in (3000..6000).step_by(100) {
            db.append(vec![(series("m", "a"), vec![Sample::new(t, 1.0)])]).unwrap();
        }
        db.flush().await.unwrap();
        assert!(db.blocks_overlapping(0, 999).is_empty(), "retention took the old block out of the list");
        let got = reader[0].samples(&reader[0].select(&all(), 0, 999), 0, 999).await.unwrap();
        assert_eq!(got[0].1.len(), 10, "a reader that holds the block still reads its files");
        drop(reader);
        db.maintain().await.unwrap();
        let store = Store::local(&dir.path().join("data")).unwrap();
        assert!(crate::block::Block::read_meta(&store, &id).await.unwrap().is_none(), "deleted once unused");
    });
}
