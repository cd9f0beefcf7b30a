//! Runs Prometheus's PromQL test suite (`../shared/promqltest/testdata`, or
//! `LANTERN_PROMQLTEST_DIR`) against the engine over an in-memory store and prints a
//! per-file table of passed / failed / native-histogram evals. An eval counts as native
//! (and is not required to pass) when its expected result holds native histograms or
//! one of its selectors reads a series that holds them. Files are in `REQUIRED` once
//! they pass completely, so a regression fails the build.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::parser::Expr;
use std::path::PathBuf;

use lantern_core::{Labels, Matcher, Sample};
use lantern_promql::{Engine, Storage, Value};
use lantern_promqltest::{
    almost_equal, has_histograms, load_samples, parse_script, suite_dir, Command, Eval, EvalKind, ExpectKind, Expected,
    Point, TextMatch,
};

/// Files that must pass completely (native-histogram evals excepted): issue 3's list.
const REQUIRED: &[&str] = &[
    "aggregators.test",
    "at_modifier.test",
    "collision.test",
    "functions.test",
    "histograms.test",
    "limit.test",
    "literals.test",
    "name_label_dropping.test",
    "operators.test",
    "range_queries.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
];

#[derive(Default)]
struct Mem {
    series: BTreeMap<Labels, Vec<Sample>>,
    /// Series holding native-histogram samples (loaded with `{{…}}`, or made by
    /// `load_with_nhcb` from classic buckets), which the engine does not evaluate yet.
    histograms: BTreeSet<Labels>,
}

impl Mem {
    /// Whether a selector of `query` reads a series that holds native histograms.
    fn reads_histograms(&self, query: &str) -> bool {
        let Ok(expr) = promql_parser::parser::parse(query) else { return false };
        let mut selectors = Vec::new();
        collect_selectors(&expr, &mut selectors);
        selectors.iter().any(|vs| {
            let groups: Vec<&Vec<promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty() {
                vec![&vs.matchers.matchers]
            } else {
                vs.matchers.or_matchers.iter().collect()
            };
            self.histograms.iter().any(|l| {
                vs.name.as_deref().is_none_or(|n| l.metric_name() == Some(n))
                    && groups.iter().any(|g| g.iter().all(|m| m.is_match(l.get(&m.name).unwrap_or(""))))
            })
        })
    }
}

fn collect_selectors<'a>(e: &'a Expr, out: &mut Vec<&'a promql_parser::parser::VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        _ => {}
    }
}

/// The native histogram `load_with_nhcb` makes of a classic series: `x_bucket`,
/// `x_count` and `x_sum` become `x` (without `le`).
fn nhcb_of(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = ["_bucket", "_count", "_sum"].iter().find_map(|suffix| name.strip_suffix(suffix))?;
    if name.ends_with("_bucket") && labels.get("le").is_none() {
        return None;
    }
    Some(Labels::from_pairs(labels.iter().filter(|l| &*l.name != "le").map(|l| {
        if &*l.name == "__name__" {
            (l.name.clone(), std::sync::Arc::from(base))
        } else {
            (l.name.clone(), l.value.clone())
        }
    })))
}

impl Storage for Mem {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> lantern_promql::Result<Vec<(Labels, Vec<Sample>)>> {
        Ok(self
            .series
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
            .map(|(l, s)| (l.clone(), s.iter().copied().filter(|x| x.t >= mint && x.t <= maxt).collect::<Vec<_>>()))
            .filter(|(_, s)| !s.is_empty())
            .collect())
    }
}

/// Whether the engine's answer to `e` matches the expectation.
fn check(engine: &Engine, db: &Mem, e: &Eval) -> bool {
    let result: Result<Value, String> = match e.kind {
        EvalKind::Instant { at_ms } => engine.query_instant(db, &e.query, at_ms),
        EvalKind::Range { start_ms, end_ms, step_ms } => {
            engine.query_range(db, &e.query, start_ms, end_ms, step_ms).map(Value::Matrix)
        }
    }
    .map_err(|err| err.to_string());
    if e.expects_failure() {
        let Err(msg) = result else { return false };
        // Failing because a feature is missing is not the failure the test expects.
        if msg.starts_with("not supported yet") {
            return false;
        }
        return e.expects.iter().filter(|x| x.kind == ExpectKind::Fail).all(|x| match &x.text {
            None => true,
            Some(TextMatch::Msg(m)) => &msg == m,
            Some(TextMatch::Regex(r)) => regex_lite_match(r, &msg),
        });
    }
    let Ok(value) = result else { return false };
    let floats = |points: &[Point]| -> Vec<Option<f64>> {
        points
            .iter()
            .map(|p| match p {
                Point::Float(v) => Some(*v),
                _ => None,
            })
            .collect()
    };
    match (&e.expected, e.kind.clone(), value) {
        (Expected::Scalar(want), EvalKind::Instant { .. }, Value::Scalar(v)) => almost_equal(v, *want),
        (Expected::String(want), _, Value::String(s)) => &s == want,
        (Expected::Series(want), EvalKind::Instant { .. }, Value::Vector(got)) => {
            if e.expects.iter().any(|x| x.kind == ExpectKind::Ordered)
                && !got.iter().zip(want).all(|(g, w)| g.labels == w.labels)
            {
                return false;
            }
            got.len() == want.len()
                && want.iter().all(|w| {
                    got.iter().any(|g| {
                        g.labels == w.labels
                            && matches!(w.points.as_slice(), [Point::Float(v)] if almost_equal(*v, g.v))
                    })
                })
        }
        (Expected::Series(want), EvalKind::Range { start_ms, end_ms, step_ms }, Value::Matrix(got)) => {
            // Per series, the value at each step or nothing (`_`).
            let steps = ((end_ms - start_ms) / step_ms) as usize + 1;
            got.len() == want.len()
                && want.iter().all(|w| {
                    got.iter().find(|(l, _)| *l == w.labels).is_some_and(|(_, samples)| {
                        let mut vals = vec![None; steps];
                        for x in samples {
                            vals[((x.t - start_ms) / step_ms) as usize] = Some(x.v);
                        }
                        let expect: Vec<Option<f64>> =
                            floats(&w.points).into_iter().chain(std::iter::repeat(None)).take(steps).collect();
                        vals.iter().zip(&expect).all(|(g, x)| match (g, x) {
                            (Some(a), Some(b)) => almost_equal(*a, *b),
                            (None, None) => true,
                            _ => false,
                        })
                    })
                })
        }
        (Expected::RangeVector { series: want, .. }, EvalKind::Instant { .. }, Value::Matrix(got)) => {
            got.len() == want.len()
                && want.iter().all(|w| {
                    let want_floats: Vec<f64> = floats(&w.points).into_iter().flatten().collect();
                    got.iter().any(|(l, s)| {
                        *l == w.labels
                            && s.len() == want_floats.len()
                            && s.iter().zip(&want_floats).all(|(a, b)| almost_equal(a.v, *b))
                    })
                })
        }
        _ => false,
    }
}

/// The few regular expressions the suite's `expect … regex:` lines use, matched as
/// plain alternatives of substrings (no regex engine is needed by the engine itself).
fn regex_lite_match(re: &str, text: &str) -> bool {
    re.split('|').any(|alt| {
        let alt = alt.trim_matches(|c| c == '(' || c == ')' || c == '^' || c == '$');
        alt.split(".*").all(|part| text.contains(part))
    })
}

#[derive(Default, Debug)]
struct Tally {
    passed: usize,
    failed: usize,
    native: usize,
    /// Native-histogram evals that pass anyway (e.g. they only count series).
    native_passed: usize,
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `LANTERN_PROMQLTEST_VERBOSE=1` prints each failing eval of the files it names
/// (comma-separated, or `all`).
fn run_file(text: &str, verbose: bool) -> Tally {
    let engine = Engine::default();
    let mut db = Mem::default();
    let mut tally = Tally::default();
    for cmd in parse_script(text).unwrap_or_default() {
        match cmd {
            Command::Clear { .. } => db = Mem::default(),
            Command::Load { interval_ms, series, with_nhcb, .. } => {
                for s in &series {
                    let (samples, histograms) = load_samples(s, interval_ms);
                    if histograms > 0 {
                        db.histograms.insert(s.labels.clone());
                    }
                    if let Some(native) = with_nhcb.then(|| nhcb_of(&s.labels)).flatten() {
                        db.histograms.insert(native);
                    }
                    let e = db.series.entry(s.labels.clone()).or_default();
                    e.extend(samples);
                    e.sort_by_key(|x| x.t);
                }
            }
            Command::Eval(e) => {
                let expected_native = match &e.expected {
                    Expected::Series(s) | Expected::RangeVector { series: s, .. } => has_histograms(s),
                    _ => false,
                };
                let ok = check(&engine, &db, &e);
                let native = expected_native || db.reads_histograms(&e.query);
                if !ok && verbose && !native {
                    let got = match e.kind {
                        EvalKind::Instant { at_ms } => format!("{:?}", engine.query_instant(&db, &e.query, at_ms)),
                        EvalKind::Range { start_ms, end_ms, step_ms } => {
                            format!("{:?}", engine.query_range(&db, &e.query, start_ms, end_ms, step_ms))
                        }
                    };
                    println!("  FAIL line {}: {}\n    got {}", e.line, e.query, truncate(&got, 400));
                }
                if native {
                    tally.native += 1;
                    tally.native_passed += usize::from(ok);
                } else if ok {
                    tally.passed += 1;
                } else {
                    tally.failed += 1;
                }
            }
        }
    }
    tally
}

#[test]
fn prometheus_promql_suite() {
    let dir = suite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("\n*** PromQL test suite SKIPPED: {} not found (set LANTERN_PROMQLTEST_DIR) ***\n", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().and_then(|e| e.to_str()) == Some("test"));
    files.sort();
    println!("{:<28} {:>7} {:>7} {:>16}", "file", "passed", "failed", "native (passing)");
    let mut regressions = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let verbose = std::env::var("LANTERN_PROMQLTEST_VERBOSE")
            .is_ok_and(|v| v == "all" || v.split(',').any(|f| f == name || format!("{f}.test") == name));
        let t = run_file(&std::fs::read_to_string(path).unwrap(), verbose);
        println!("{name:<28} {:>7} {:>7} {:>7} ({:>6})", t.passed, t.failed, t.native, t.native_passed);
        if REQUIRED.contains(&name.as_str()) && (t.failed > 0 || t.passed == 0) {
            regressions.push(format!("{name}: {t:?}"));
        }
    }
    assert!(regressions.is_empty(), "required files no longer pass: {regressions:?}");
}
