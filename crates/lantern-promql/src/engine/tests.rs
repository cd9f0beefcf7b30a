use super::*;
use lantern_core::STALE_NAN;

struct Fixed(Vec<(Labels, Vec<Sample>)>);

impl Storage for Fixed {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
        Ok(self
            .0
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
            .map(|(l, s)| (l.clone(), s.iter().copied().filter(|x| x.t >= mint && x.t <= maxt).collect()))
            .collect())
    }
}

fn data() -> Fixed {
    let up = |job: &str| Labels::from_pairs([("__name__", "up"), ("job", job)]);
    Fixed(vec![
        (up("a"), vec![Sample::new(0, 1.0), Sample::new(60_000, 2.0)]),
        (up("b"), vec![Sample::new(0, 5.0), Sample::new(60_000, STALE_NAN)]),
    ])
}

fn vector(v: Value) -> Vec<(String, f64)> {
    let Value::Vector(v) = v else { panic!("{v:?}") };
    v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect()
}

#[test]
fn scalars_and_bool_comparisons() {
    let e = Engine::default();
    let d = Fixed(vec![]);
    assert_eq!(e.query_instant(&d, "1 + 2 * 3", 0).unwrap(), Value::Scalar(7.0));
    assert_eq!(e.query_instant(&d, "2 ^ 3 ^ 2", 0).unwrap(), Value::Scalar(512.0));
    assert_eq!(e.query_instant(&d, "1 < bool 2", 0).unwrap(), Value::Scalar(1.0));
    assert!(e.query_instant(&d, "1 < 2", 0).is_err());
}

#[test]
fn selectors_honour_lookback_staleness_and_offset() {
    let e = Engine::default();
    let d = data();
    assert_eq!(vector(e.query_instant(&d, "up", 90_000).unwrap()), vec![("up{job=\"a\"}".to_string(), 2.0)]);
    assert_eq!(vector(e.query_instant(&d, "up offset 1m", 90_000).unwrap()).len(), 2);
    assert!(vector(e.query_instant(&d, "up", 60_000 + 300_000).unwrap()).is_empty(), "lookback is left-open");
    assert_eq!(
        vector(e.query_instant(&d, "-up{job='a'} * 2", 60_000).unwrap()),
        vec![("{job=\"a\"}".to_string(), -4.0)]
    );
    assert_eq!(vector(e.query_instant(&d, "up > 1", 0).unwrap()), vec![("up{job=\"b\"}".to_string(), 5.0)]);
    assert_eq!(vector(e.query_instant(&d, "sum(up)", 0).unwrap()), vec![("{}".to_string(), 6.0)]);
    assert_eq!(vector(e.query_instant(&d, "topk(1, up)", 0).unwrap()), vec![("up{job=\"b\"}".to_string(), 5.0)]);
    assert_eq!(vector(e.query_instant(&d, "quantile(0.5, up)", 0).unwrap()), vec![("{}".to_string(), 3.0)]);
    assert_eq!(
        vector(e.query_instant(&d, "up{job='a'} + on() up{job='b'}", 0).unwrap()),
        vec![("{}".to_string(), 6.0)]
    );
    assert_eq!(vector(e.query_instant(&d, "up unless up{job='a'}", 0).unwrap()).len(), 1);
    assert!(e.query_instant(&d, "up + on() up", 0).is_err(), "many-to-many is refused");
    assert_eq!(vector(e.query_instant(&d, "increase(up{job='a'}[2m])", 60_000).unwrap()).len(), 1);
    assert_eq!(vector(e.query_instant(&d, "count_over_time(up[2m])", 60_000).unwrap()).len(), 2);
    // Subquery steps at 0s and 30s lie inside (-30s, 30s]; both series have a value at each.
    assert_eq!(
        vector(e.query_instant(&d, "count_over_time(up[1m:30s])", 30_000).unwrap()),
        vec![("{job=\"a\"}".to_string(), 2.0), ("{job=\"b\"}".to_string(), 2.0)]
    );
    assert_eq!(
        vector(e.query_instant(&d, "abs(-up{job='a'})", 60_000).unwrap()),
        vec![("{job=\"a\"}".to_string(), 2.0)]
    );
    assert_eq!(vector(e.query_instant(&d, "avg by (job) (up)", 0).unwrap()).len(), 2);
    assert_eq!(vector(e.query_instant(&d, "stddev without (job) (up)", 0).unwrap()), vec![("{}".to_string(), 2.0)]);
}

#[test]
fn range_queries_evaluate_every_step_and_merge_by_labels() {
    let e = Engine::default();
    let d = data();
    let m = e.query_range(&d, "up", 0, 60_000, 30_000).unwrap();
    let got: Vec<(String, Vec<(i64, f64)>)> =
        m.into_iter().map(|(l, s)| (l.to_string(), s.into_iter().map(|x| (x.t, x.v)).collect())).collect();
    assert_eq!(
        got,
        vec![
            ("up{job=\"a\"}".to_string(), vec![(0, 1.0), (30_000, 1.0), (60_000, 2.0)]),
            ("up{job=\"b\"}".to_string(), vec![(0, 5.0), (30_000, 5.0)]),
        ]
    );
    // `-a or -b`: both lose their names; they never share a step, so they merge.
    let m = e.query_range(&d, "-up{job='b'} or -up{job='a'}", 0, 60_000, 60_000).unwrap();
    assert_eq!(m.len(), 2, "different job labels stay apart: {m:?}");
    assert!(matches!(e.query_range(&d, "up[1m]", 0, 60_000, 30_000), Err(Error::BadData(_))));
    assert!(matches!(e.query_range(&d, "up", 0, 60_000, 0), Err(Error::BadData(_))));
}

#[test]
fn limits_stop_a_query() {
    let d = data();
    let e = Engine { max_samples: 1, ..Engine::default() };
    assert!(matches!(e.query_instant(&d, "up", 0), Err(Error::Execution(m)) if m.contains("too many samples")));
    let e = Engine { max_series: 1, ..Engine::default() };
    assert!(matches!(e.query_instant(&d, "up", 0), Err(Error::Execution(m)) if m.contains("series")));
    let e = Engine { timeout: Some(Duration::ZERO), ..Engine::default() };
    assert!(matches!(e.query_instant(&d, "sum(up)", 0), Err(Error::Timeout(_))));
}
