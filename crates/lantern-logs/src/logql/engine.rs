//! LogQL evaluation over the log store: log queries (entries by stream, newest or
//! oldest first, limited) and metric queries (range aggregations over each step's
//! window, vector aggregations, binary operations), for instants and ranges.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::Arc;

use std::sync::atomic::{AtomicI64, Ordering};

use arrow_array::{Array, Int64Array};
use lantern_events::{FirstRows, Scan};
use lantern_logql::{AggOp, BinOp, Expr, Grouping, LogExpr, RangeFn, VectorMatching};

use super::pipeline::{Entry, Labels, Pipeline};
use super::scan::{scan_of, Codes, Page, SureCounts};
use crate::error::Error;
use crate::model::LogRow;
use crate::store::{LogStore, Order};
use crate::table::{col, stream_of_json};
use crate::topk::FirstByTime;

/// Series a query may hold at most.
const MAX_SERIES: usize = 100_000;
/// Steps a range query may have at most (Loki's limit).
pub const MAX_STEPS: i64 = 11_000;

/// What a query covers.
#[derive(Debug, Clone)]
pub struct Params {
    /// First step (ns); the oldest entry of a log query.
    pub start: i64,
    /// Last step (ns, inclusive for metrics); entries of a log query are before it.
    pub end: i64,
    /// Step (ns); metric queries.
    pub step: i64,
    /// Entries of a log query at most.
    pub limit: usize,
    /// Order of a log query's entries.
    pub direction: Order,
}

/// One stream of a log query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOut {
    /// Labels.
    pub labels: Labels,
    /// Entries (time ns, line) in the query's direction.
    pub values: Vec<(i64, String)>,
}

/// One series of a metric answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOut {
    /// Labels.
    pub labels: Labels,
    /// Points (time ns, value).
    pub points: Vec<(i64, f64)>,
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Log entries by stream.
    Streams(Vec<StreamOut>),
    /// Series (one point each for an instant query).
    Series(Vec<SeriesOut>),
    /// A number.
    Scalar(Vec<(i64, f64)>),
}

/// Series with a value (or none) per step.
type Vectors = Vec<(Labels, Vec<Option<f64>>)>;

/// Values at every step: a vector of series, or a scalar.
enum Val {
    Vector(Vectors),
    Scalar(Vec<f64>),
}

struct Steps {
    times: Vec<i64>,
}

/// Runs a query.
pub async fn run(store: &LogStore, expr: &Expr, p: &Params) -> Result<Answer, Error> {
    if let Expr::Log(l) = expr {
        return Ok(Answer::Streams(log_query(store, l, p).await?));
    }
    let step = p.step.max(1);
    if p.end < p.start {
        return Err(Error::Invalid("end is before start".into()));
    }
    if (p.end - p.start) / step >= MAX_STEPS {
        return Err(Error::Invalid(format!(
            "exceeded maximum resolution of {MAX_STEPS} points per timeseries: try a larger step"
        )));
    }
    let n = ((p.end - p.start) / step) as usize + 1;
    let steps = Steps { times: (0..n).map(|i| p.start + i as i64 * step).collect() };
    let v = eval(store, expr, &steps).await?;
    Ok(match v {
        Val::Scalar(v) => Answer::Scalar(steps.times.iter().copied().zip(v).collect()),
        Val::Vector(series) => Answer::Series(
            series
                .into_iter()
                .map(|(labels, vals)| SeriesOut {
                    labels,
                    points: steps.times.iter().zip(vals).filter_map(|(t, v)| v.map(|v| (*t, v))).collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        ),
    })
}

/// Entry labels, plus `detected_level` for streams whose level no label names.
pub fn entry_of(pipe: &Pipeline, r: &LogRow) -> Option<Entry> {
    entry_with(pipe, r, None, true)
}

/// [`entry_of`], `| json` making only the labels `only` names (when given), the line
/// left empty unless `line` (or a stage made it).
fn entry_with(pipe: &Pipeline, r: &LogRow, only: Option<&[String]>, line: bool) -> Option<Entry> {
    if !pipe.stream_matches(&r.stream) {
        return None;
    }
    let mut e = pipe.run_with(r, only, line)?;
    if !r.stream.level.is_empty() && r.stream.label("level").is_none() {
        e.labels.entry("detected_level".into()).or_insert_with(|| r.stream.level.to_string());
    }
    Some(e)
}

async fn log_query(store: &LogStore, l: &LogExpr, p: &Params) -> Result<Vec<StreamOut>, Error> {
    let pipe = Arc::new(Pipeline::new(l)?);
    if p.end <= p.start || p.limit == 0 {
        return Ok(Vec::new());
    }
    // Rows whose time cannot enter the page are not decoded, nor groups holding none.
    // Of rows that may be entries, a row group's best `limit` are decoded first: when a
    // row left out could still have entered the page, it is read again without the cut.
    let mut cut = true;
    let first = loop {
        let bar = Arc::new(AtomicI64::new(i64::MAX));
        let dropped = cut.then(|| Arc::new(AtomicI64::new(i64::MAX)));
        let rows = FirstRows { newest: p.direction == Order::Desc, bar: bar.clone(), skip: true };
        let page = Page { rows, limit: p.limit, dropped: dropped.clone() };
        let scan = scan_of(&pipe, p.start, p.end - 1, Some(page), None);
        let mut first = FirstByTime::new(p.direction, p.limit);
        store
            .scan_at(&scan, |r, pos| {
                if let Some(e) = entry_of(&pipe, r) {
                    first.offer_at(e.time, pos, || e);
                    bar.store(first.bar(), Ordering::Relaxed);
                }
                ControlFlow::Continue(())
            })
            .await?;
        let dropped = dropped.map_or(i64::MAX, |d| d.load(Ordering::Relaxed));
        if dropped == i64::MAX || dropped > first.bar() {
            break first;
        }
        cut = false;
    };
    let entries = first.into_sorted();
    let mut streams: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    for e in entries {
        streams.entry(e.labels).or_default().push((e.time, e.line));
    }
    Ok(streams.into_iter().map(|(labels, values)| StreamOut { labels, values }).collect())
}

fn group_labels(l: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        None => Labels::new(),
        Some(g) if g.without => {
            l.iter().filter(|(k, _)| !g.labels.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        Some(g) => l.iter().filter(|(k, _)| g.labels.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

/// Samples of a range aggregation: per series, (time, value) unsorted.
async fn samples(
    store: &LogStore,
    func: RangeFn,
    log: &LogExpr,
    (min_t, max_t): (i64, i64),
    grouping: Option<&Grouping>,
    whole: bool,
    fold: Option<Option<&Grouping>>,
) -> Result<HashMap<Labels, Vec<(i64, f64)>>, Error> {
    let pipe = Arc::new(Pipeline::new(log)?);
    let mut out: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    let mut too_many = false;
    let counting = matches!(func, RangeFn::CountOverTime | RangeFn::Rate | RangeFn::AbsentOverTime);
    if pipe.is_empty && counting {
        return count_streams(store, &pipe, min_t, max_t, whole).await;
    }
    // Summed into groups: only the labels of the groups and the stages are made, and
    // without line filters, only the columns they are made of decoded.
    let only: Option<Vec<String>> = match fold {
        Some(None) => pipe.labels_read(&[]),
        Some(Some(g)) if !g.without => pipe.labels_read(&g.labels),
        _ => None,
    };
    // Rows the pipeline surely keeps are counted from their time and stream (and after
    // `| json`, the fields the groups read).
    let counted = matches!(func, RangeFn::CountOverTime | RangeFn::Rate).then(SureCounts::default);
    let sure = counted.as_ref().map(|c| (c, only.clone()));
    let mut scan = scan_of(&pipe, min_t, max_t, None, sure);
    let bytes = matches!(func, RangeFn::BytesOverTime | RangeFn::BytesRate);
    if let Some(names) =
        only.clone().filter(|_| !pipe.reads_line() && matches!(func, RangeFn::CountOverTime | RangeFn::Rate))
    {
        scan.decode = Some(Arc::new(move |c: &str| match c.strip_prefix('.') {
            Some(field) => {
                let label = super::pipeline::sanitize(field);
                names.iter().any(|n| *n == label || n.strip_suffix("_extracted") == Some(label.as_str()))
            }
            None => true,
        }));
    }
    store
        .scan(&scan, |r| {
            if let Some(e) = entry_with(&pipe, r, only.as_deref(), bytes) {
                let v = match func {
                    RangeFn::BytesOverTime | RangeFn::BytesRate => e.line.len() as f64,
                    RangeFn::CountOverTime | RangeFn::AbsentOverTime => 1.0,
                    RangeFn::Rate if e.value.is_none() => 1.0,
                    _ => e.value.unwrap_or(0.0),
                };
                let labels = if let Some(g) = fold {
                    group_labels(&e.labels, g)
                } else if func.needs_unwrap() || (func == RangeFn::Rate && e.value.is_some()) {
                    match grouping {
                        Some(_) => group_labels(&e.labels, grouping),
                        None => e.labels,
                    }
                } else {
                    e.labels
                };
                if !out.contains_key(&labels) && out.len() >= MAX_SERIES {
                    too_many = true;
                    return ControlFlow::Break(());
                }
                out.entry(labels).or_default().push((e.time, v));
            }
            ControlFlow::Continue(())
        })
        .await?;
    if too_many {
        return Err(Error::Limit(format!("the query would make more than {MAX_SERIES} series")));
    }
    for ((labels_json, level, fields), times) in counted.map(SureCounts::take).unwrap_or_default() {
        let Some(mut labels) = series_of(&pipe, &labels_json, &level) else { continue };
        // A stream label keeps its name (the field's label is `<name>_extracted`).
        for (k, v) in fields {
            labels.entry(k).or_insert(v);
        }
        let labels = match fold {
            Some(g) => group_labels(&labels, g),
            None => labels,
        };
        if !out.contains_key(&labels) && out.len() >= MAX_SERIES {
            return Err(Error::Limit(format!("the query would make more than {MAX_SERIES} series")));
        }
        out.entry(labels).or_default().extend(times.into_iter().map(|t| (t, 1.0)));
    }
    Ok(out)
}

/// The series of a stream (labels as `_labels` holds them, and the level when no label
/// gives it), if the selector takes it.
fn series_of(pipe: &Pipeline, labels_json: &str, level: &str) -> Option<Labels> {
    let s = stream_of_json(labels_json)?;
    if !pipe.labels_match(|n| s.label(n)) {
        return None;
    }
    let mut labels: Labels = s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if !level.is_empty() && s.label("level").is_none() {
        labels.entry("detected_level".into()).or_insert_with(|| crate::model::normalize_level(level));
    }
    Some(labels)
}

/// Counting events of a stream selector needs their times and streams only: sealed rows
/// are read as those columns, never decoded, and when one window covers the whole range
/// (`whole`), row groups lying in it are counted from their summaries without being read.
async fn count_streams(
    store: &LogStore,
    pipe: &Arc<Pipeline>,
    min_t: i64,
    max_t: i64,
    whole: bool,
) -> Result<HashMap<Labels, Vec<(i64, f64)>>, Error> {
    let mut series: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut by_stream: HashMap<(String, String), Option<usize>> = HashMap::new();
    let mut slot = |series: &mut Vec<(Labels, Vec<(i64, f64)>)>, lt: &str, level: &str| -> Option<usize> {
        if let Some(s) = by_stream.get(&(lt.to_string(), level.to_string())) {
            return *s;
        }
        let s = series_of(pipe, lt, level).map(|labels| {
            *index.entry(labels.clone()).or_insert_with(|| {
                series.push((labels, Vec::new()));
                series.len() - 1
            })
        });
        by_stream.insert((lt.to_string(), level.to_string()), s);
        s
    };
    let mut scan = Scan { filter: None, ..scan_of(pipe, min_t, max_t, None, None) };
    if whole {
        for (lt, level, n) in store.group_stream_counts(min_t, max_t) {
            if let Some(i) = slot(&mut series, &lt, &level) {
                series[i].1.push((max_t, n as f64));
            }
        }
        scan.skip_within = Some((min_t, max_t));
    }
    let mut head: Vec<Entry> = Vec::new();
    store
        .scan_columns(
            &scan,
            &[col::TIME, col::LABELS, col::LEVEL],
            |r| head.extend(entry_of(pipe, r)),
            |b| {
                let Some(t) = b.column_by_name(col::TIME).and_then(|c| c.as_any().downcast_ref::<Int64Array>()) else {
                    return;
                };
                let Some(labels_column) = b.column_by_name(col::LABELS) else {
                    return;
                };
                let rows: Vec<usize> = (0..b.num_rows()).collect();
                let labels = Codes::of(Some(labels_column), &rows);
                let level = Codes::of(b.column_by_name(col::LEVEL), &rows);
                // A row's series by the codes of its stream's labels and level: each
                // distinct pair is looked up once per batch.
                let mut seen: HashMap<(u32, u32), Option<usize>> = HashMap::new();
                let mut last: Option<((u32, u32), Option<usize>)> = None;
                for i in 0..b.num_rows() {
                    let ts = t.value(i);
                    if ts < min_t || ts > max_t {
                        continue;
                    }
                    let code = (labels.codes[i], level.codes[i]);
                    let s = match last {
                        Some((c, s)) if c == code => s,
                        _ => {
                            let s = *seen.entry(code).or_insert_with(|| {
                                let (lt, lv) = (labels.value(code.0).unwrap_or(""), level.value(code.1).unwrap_or(""));
                                slot(&mut series, lt, lv)
                            });
                            last = Some((code, s));
                            s
                        }
                    };
                    if let Some(s) = s {
                        series[s].1.push((ts, 1.0));
                    }
                }
            },
        )
        .await?;
    let mut out: HashMap<Labels, Vec<(i64, f64)>> = series.into_iter().collect();
    for e in head {
        out.entry(e.labels).or_default().push((e.time, 1.0));
    }
    if out.len() > MAX_SERIES {
        return Err(Error::Limit(format!("the query would make more than {MAX_SERIES} series")));
    }
    Ok(out)
}

fn range_value(func: RangeFn, w: &[(i64, f64)], range_s: f64, param: Option<f64>) -> Option<f64> {
    if w.is_empty() {
        return None;
    }
    let vals = || w.iter().map(|(_, v)| *v);
    let n = w.len() as f64;
    let sum: f64 = vals().sum();
    Some(match func {
        // Points may stand for many lines (a row group's count): their values are summed.
        RangeFn::CountOverTime => sum,
        RangeFn::Rate | RangeFn::BytesRate => sum / range_s,
        RangeFn::BytesOverTime | RangeFn::SumOverTime => sum,
        RangeFn::AvgOverTime => sum / n,
        RangeFn::MinOverTime => vals().fold(f64::INFINITY, f64::min),
        RangeFn::MaxOverTime => vals().fold(f64::NEG_INFINITY, f64::max),
        RangeFn::FirstOverTime => w[0].1,
        RangeFn::LastOverTime => w[w.len() - 1].1,
        RangeFn::StdvarOverTime | RangeFn::StddevOverTime => {
            let mean = sum / n;
            let var = vals().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            if func == RangeFn::StdvarOverTime {
                var
            } else {
                var.sqrt()
            }
        }
        RangeFn::QuantileOverTime => {
            let q = param.unwrap_or(0.5);
            let mut v: Vec<f64> = vals().collect();
            v.sort_by(f64::total_cmp);
            quantile(q, &v)
        }
        RangeFn::RateCounter => {
            let mut inc = 0.0;
            for pair in w.windows(2) {
                let d = pair[1].1 - pair[0].1;
                inc += if d >= 0.0 { d } else { pair[1].1 };
            }
            inc / range_s
        }
        RangeFn::AbsentOverTime => return None,
    })
}

fn quantile(q: f64, sorted: &[f64]) -> f64 {
    if sorted.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let w = rank - rank.floor();
    sorted[lo] * (1.0 - w) + sorted[hi.min(sorted.len() - 1)] * w
}

fn eval<'a>(
    store: &'a LogStore,
    expr: &'a Expr,
    steps: &'a Steps,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Val, Error>> + Send + 'a>> {
    Box::pin(async move {
        let n = steps.times.len();
        match expr {
            Expr::Log(_) => Err(Error::Invalid("a log query cannot be used where a metric query is needed".into())),
            Expr::Number(x) => Ok(Val::Scalar(vec![*x; n])),
            Expr::Vector(x) => Ok(Val::Vector(vec![(Labels::new(), vec![Some(*x); n])])),
            Expr::Range { .. } => range_agg(store, expr, steps, None).await,
            Expr::Agg { op, param, grouping, expr } => {
                // A sum of counts or rates per series is the count or rate of the
                // series' lines together: lines are grouped as they are read, so series
                // that the sum merges are never made.
                let linear = matches!(
                    &**expr,
                    Expr::Range {
                        func: RangeFn::CountOverTime | RangeFn::Rate | RangeFn::BytesOverTime | RangeFn::BytesRate,
                        grouping: None,
                        log,
                        ..
                    } if !log.stages.iter().any(|s| matches!(s, lantern_logql::Stage::Unwrap { .. }))
                );
                let inner = if *op == AggOp::Sum && linear {
                    range_agg(store, expr, steps, Some(grouping.as_ref())).await?
                } else {
                    eval(store, expr, steps).await?
                };
                let Val::Vector(series) = inner else {
                    return Err(Error::Invalid("a vector aggregation needs a vector, not a scalar".into()));
                };
                Ok(Val::Vector(aggregate(*op, *param, grouping.as_ref(), series, n)?))
            }
            Expr::Binary { op, lhs, rhs, return_bool, matching } => {
                let l = eval(store, lhs, steps).await?;
                let r = eval(store, rhs, steps).await?;
                binary(*op, l, r, *return_bool, matching.as_ref(), n)
            }
        }
    })
}

/// A range aggregation (`count_over_time(…)`, `rate(…)`…); with `fold`, its series
/// grouped as a `sum` of them by (or without) those labels groups them.
async fn range_agg(
    store: &LogStore,
    expr: &Expr,
    steps: &Steps,
    fold: Option<Option<&Grouping>>,
) -> Result<Val, Error> {
    let Expr::Range { func, log, range, offset, param, grouping } = expr else {
        return Err(Error::Invalid("a range aggregation was expected".into()));
    };
    let n = steps.times.len();
    let first = steps.times[0];
    let last = steps.times[n - 1];
    let min_t = first.saturating_sub(*range).saturating_sub(*offset).saturating_add(1);
    let max_t = last.saturating_sub(*offset);
    // One step: its window is the whole range read.
    let by_series = samples(store, *func, log, (min_t, max_t), grouping.as_ref(), n == 1, fold).await?;
    let range_s = *range as f64 / 1e9;
    let window = |pts: &[(i64, f64)], t: i64| {
        let hi = t - offset;
        let lo = hi - range;
        pts.partition_point(|p| p.0 <= lo)..pts.partition_point(|p| p.0 <= hi)
    };
    if *func == RangeFn::AbsentOverTime {
        // 1 at steps where no series has a line, labelled by the selector's
        // equality matchers.
        let mut any = vec![false; n];
        for (_, mut pts) in by_series {
            pts.sort_by_key(|p| p.0);
            for (i, t) in steps.times.iter().enumerate() {
                any[i] |= !window(&pts, *t).is_empty();
            }
        }
        let labels: Labels = log
            .selector
            .iter()
            .filter(|m| m.op == lantern_logql::MatchOp::Eq)
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect();
        return Ok(Val::Vector(vec![(labels, any.iter().map(|a| (!a).then_some(1.0)).collect())]));
    }
    let mut out = Vec::with_capacity(by_series.len());
    for (labels, mut pts) in by_series {
        pts.sort_by_key(|p| p.0);
        let vals: Vec<Option<f64>> =
            steps.times.iter().map(|t| range_value(*func, &pts[window(&pts, *t)], range_s, *param)).collect();
        out.push((labels, vals));
    }
    Ok(Val::Vector(out))
}

fn aggregate(op: AggOp, param: Option<f64>, g: Option<&Grouping>, series: Vectors, n: usize) -> Result<Vectors, Error> {
    match op {
        AggOp::Topk | AggOp::Bottomk => {
            let k = param.unwrap_or(0.0);
            if k.is_nan() || k < 1.0 {
                return Ok(Vec::new());
            }
            let k = k as usize;
            let mut groups: HashMap<Labels, Vec<usize>> = HashMap::new();
            for (i, (l, _)) in series.iter().enumerate() {
                groups.entry(group_labels(l, g)).or_default().push(i);
            }
            let mut keep = vec![vec![None; n]; series.len()];
            for members in groups.values() {
                #[allow(clippy::needless_range_loop)] // `step` indexes every series' values
                for step in 0..n {
                    let mut vals: Vec<(usize, f64)> =
                        members.iter().filter_map(|&i| series[i].1[step].map(|v| (i, v))).collect();
                    vals.sort_by(|a, b| {
                        let o = a.1.total_cmp(&b.1);
                        if op == AggOp::Topk {
                            o.reverse()
                        } else {
                            o
                        }
                    });
                    for (i, v) in vals.into_iter().take(k) {
                        keep[i][step] = Some(v);
                    }
                }
            }
            Ok(series
                .into_iter()
                .zip(keep)
                .map(|((l, _), v)| (l, v))
                .filter(|(_, v)| v.iter().any(Option::is_some))
                .collect())
        }
        AggOp::Sort | AggOp::SortDesc => {
            let mut s = series;
            s.sort_by(|a, b| {
                let x = a.1.last().copied().flatten().unwrap_or(f64::NAN);
                let y = b.1.last().copied().flatten().unwrap_or(f64::NAN);
                let o = x.total_cmp(&y);
                if op == AggOp::SortDesc {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(s)
        }
        _ => {
            let mut groups: BTreeMap<Labels, Vec<Vec<f64>>> = BTreeMap::new();
            for (l, vals) in &series {
                let e = groups.entry(group_labels(l, g)).or_insert_with(|| vec![Vec::new(); n]);
                for (step, v) in vals.iter().enumerate() {
                    if let Some(v) = v {
                        e[step].push(*v);
                    }
                }
            }
            Ok(groups
                .into_iter()
                .map(|(l, per_step)| {
                    let vals = per_step
                        .into_iter()
                        .map(|v| {
                            if v.is_empty() {
                                return None;
                            }
                            let c = v.len() as f64;
                            let sum: f64 = v.iter().sum();
                            Some(match op {
                                AggOp::Sum => sum,
                                AggOp::Avg => sum / c,
                                AggOp::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
                                AggOp::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                                AggOp::Count => c,
                                _ => {
                                    let mean = sum / c;
                                    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / c;
                                    if op == AggOp::Stdvar {
                                        var
                                    } else {
                                        var.sqrt()
                                    }
                                }
                            })
                        })
                        .collect();
                    (l, vals)
                })
                .collect())
        }
    }
}

fn apply(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Eq => f64::from(u8::from(a == b)),
        BinOp::Ne => f64::from(u8::from(a != b)),
        BinOp::Gt => f64::from(u8::from(a > b)),
        BinOp::Ge => f64::from(u8::from(a >= b)),
        BinOp::Lt => f64::from(u8::from(a < b)),
        BinOp::Le => f64::from(u8::from(a <= b)),
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

/// `a op b` for one point: the kept value, or `None` (a comparison that failed).
fn point(op: BinOp, a: f64, b: f64, return_bool: bool, keep_left: bool) -> Option<f64> {
    let r = apply(op, a, b);
    if op.is_comparison() && !return_bool {
        return (r == 1.0).then_some(if keep_left { a } else { b });
    }
    Some(r)
}

fn signature(l: &Labels, m: Option<&VectorMatching>) -> Labels {
    match m {
        None => l.clone(),
        Some(m) if m.on => {
            l.iter().filter(|(k, _)| m.labels.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        Some(m) => l.iter().filter(|(k, _)| !m.labels.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

fn binary(op: BinOp, l: Val, r: Val, return_bool: bool, m: Option<&VectorMatching>, n: usize) -> Result<Val, Error> {
    Ok(match (l, r) {
        (Val::Scalar(a), Val::Scalar(b)) => {
            if op.is_comparison() && !return_bool {
                return Err(Error::Invalid("comparisons between scalars must use the bool modifier".into()));
            }
            Val::Scalar(a.iter().zip(&b).map(|(x, y)| apply(op, *x, *y)).collect())
        }
        (Val::Vector(v), Val::Scalar(s)) => Val::Vector(
            v.into_iter()
                .map(|(l, vals)| {
                    let vals =
                        vals.iter().zip(&s).map(|(x, y)| x.and_then(|x| point(op, x, *y, return_bool, true))).collect();
                    (l, vals)
                })
                .collect(),
        ),
        (Val::Scalar(s), Val::Vector(v)) => Val::Vector(
            v.into_iter()
                .map(|(l, vals)| {
                    let vals = vals
                        .iter()
                        .zip(&s)
                        .map(|(y, x)| y.and_then(|y| point(op, *x, y, return_bool, false)))
                        .collect();
                    (l, vals)
                })
                .collect(),
        ),
        (Val::Vector(a), Val::Vector(b)) => {
            let rhs: HashMap<Labels, &Vec<Option<f64>>> = b.iter().map(|(l, v)| (signature(l, m), v)).collect();
            match op {
                BinOp::And | BinOp::Unless => Val::Vector(
                    a.into_iter()
                        .map(|(l, vals)| {
                            let other = rhs.get(&signature(&l, m));
                            let vals = vals
                                .iter()
                                .enumerate()
                                .map(|(i, v)| {
                                    let present = other.is_some_and(|o| o[i].is_some());
                                    v.filter(|_| present == (op == BinOp::And))
                                })
                                .collect();
                            (l, vals)
                        })
                        .collect(),
                ),
                BinOp::Or => {
                    let lhs_sigs: HashMap<Labels, Vec<bool>> =
                        a.iter().map(|(l, v)| (signature(l, m), v.iter().map(Option::is_some).collect())).collect();
                    let mut out = a.clone();
                    for (l, vals) in b {
                        let have = lhs_sigs.get(&signature(&l, m));
                        let vals =
                            vals.iter().enumerate().map(|(i, v)| v.filter(|_| !have.is_some_and(|h| h[i]))).collect();
                        out.push((l, vals));
                    }
                    Val::Vector(out)
                }
                _ => {
                    let mut out = Vec::new();
                    for (l, vals) in a {
                        let sig = signature(&l, m);
                        let Some(other) = rhs.get(&sig) else { continue };
                        let vals: Vec<Option<f64>> = (0..n)
                            .map(|i| match (vals[i], other[i]) {
                                (Some(x), Some(y)) => point(op, x, y, return_bool, true),
                                _ => None,
                            })
                            .collect();
                        let labels = if m.is_some() { sig } else { l };
                        out.push((labels, vals));
                    }
                    Val::Vector(out)
                }
            }
        }
    })
}
