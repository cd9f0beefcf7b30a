//! The evaluator: walks an expression tree once per query, each node producing its
//! values for every step of the query's grid.

use foldhash::{HashMap, HashMapExt};
use std::cell::Cell;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lantern_core::{Labels, Matcher, Sample, METRIC_NAME};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{AtModifier, Expr, Offset};

use crate::value::{Grid, InstantSample, Pt, RangeInput, Series, Val, Value};
use crate::{aggregate, binary, functions, selector, Error, Result};

/// The time range of the query being evaluated (equal ends for an instant query);
/// `@ start()` and `@ end()` refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// First evaluation time, ms.
    pub start: i64,
    /// Last evaluation time, ms.
    pub end: i64,
}

/// Where the engine reads samples from.
pub trait Storage {
    /// Series matching every matcher, with their samples in `[mint, maxt]` ascending
    /// (staleness markers included). Series without samples in the range may be left out.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>>;

    /// Series matching every matcher with their newest sample in `[mint, maxt]` (a
    /// staleness marker included): all an instant selector at one time needs. Stores
    /// that can answer this without reading every sample should.
    fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Sample)>> {
        let all = self.select(matchers, mint, maxt)?;
        Ok(all.into_iter().filter_map(|(l, s)| s.last().map(|x| (l, *x))).collect())
    }
}

/// The evaluator and its settings.
#[derive(Debug, Clone)]
pub struct Engine {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_ms: i64,
    /// Step of a subquery written without one (Prometheus: the global evaluation
    /// interval, 1m by default).
    pub default_step_ms: i64,
    /// Most samples one query may hold in memory (Prometheus: `--query.max-samples`).
    pub max_samples: usize,
    /// Most series one result may have.
    pub max_series: usize,
    /// Longest a query may run.
    pub timeout: Option<Duration>,
    /// Most steps of a range query (Prometheus: 11,000).
    pub max_steps: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            lookback_ms: 5 * 60 * 1000,
            default_step_ms: 60 * 1000,
            max_samples: 50_000_000,
            max_series: 500_000,
            timeout: Some(Duration::from_secs(120)),
            max_steps: 11_000,
        }
    }
}

impl Engine {
    /// Parses and evaluates `query` at time `t` (ms).
    pub fn query_instant(&self, storage: &dyn Storage, query: &str, t: i64) -> Result<Value> {
        let expr = parse(query)?;
        self.instant(storage, &expr, t)
    }

    /// Evaluates a parsed expression at time `t` (ms).
    pub fn instant(&self, storage: &dyn Storage, expr: &Expr, t: i64) -> Result<Value> {
        let ctx = Ctx::new(self, storage, Bounds { start: t, end: t });
        let grid = Grid { start: t, step: 1, n: 1 };
        Ok(match ctx.eval(expr, grid)? {
            Val::Scalar(v) => Value::Scalar(v[0]),
            Val::String(s) => Value::String(s),
            Val::Vector(series) => {
                let series = ctx.finish(series)?;
                Value::Vector(
                    series
                        .into_iter()
                        .filter_map(|s| s.points.first().map(|p| InstantSample { labels: s.labels, v: p.v }))
                        .collect(),
                )
            }
            Val::Matrix(mut input) => {
                let mut out = Vec::new();
                for s in std::mem::take(&mut input.series) {
                    let mut window = Vec::new();
                    input.for_each_window(&s.samples, |_, w| window = w.to_vec());
                    if !window.is_empty() {
                        let labels = if s.drop_name { drop_name(&s.labels) } else { s.labels };
                        out.push((labels, window));
                    }
                }
                ctx.check_series(out.len())?;
                Value::Matrix(out)
            }
        })
    }

    /// Parses and evaluates `query` at every step of `[start, end]` (ms); the result is a
    /// matrix ordered by labels, as Prometheus's `query_range` returns it.
    pub fn query_range(
        &self,
        storage: &dyn Storage,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>> {
        let expr = parse(query)?;
        self.range(storage, &expr, start, end, step)
    }

    /// Evaluates a parsed expression at every step of `[start, end]`.
    pub fn range(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>> {
        if step <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::BadData("end timestamp must not be before start time".into()));
        }
        let n = ((end - start) / step) as usize + 1;
        if n > self.max_steps {
            return Err(Error::BadData(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                self.max_steps
            )));
        }
        // Refused before any evaluation, as Prometheus does.
        if matches!(expr.value_type(), ValueType::String | ValueType::Matrix) {
            return Err(not_for_range(expr));
        }
        let ctx = Ctx::new(self, storage, Bounds { start, end });
        let grid = Grid { start, step, n };
        let series = match ctx.eval(expr, grid)? {
            Val::Scalar(v) => vec![Series {
                labels: Labels::default(),
                drop_name: false,
                points: v.into_iter().enumerate().map(|(i, v)| Pt { i: i as u32, v }).collect(),
            }],
            Val::Vector(series) => ctx.finish(series)?,
            Val::String(_) | Val::Matrix(_) => return Err(not_for_range(expr)),
        };
        let mut out: Vec<(Labels, Vec<Sample>)> = series
            .into_iter()
            .map(|s| (s.labels, s.points.into_iter().map(|p| Sample::new(grid.t(p.i as usize), p.v)).collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// The error for a range query whose expression is not a scalar or an instant vector.
fn not_for_range(expr: &Expr) -> Error {
    let kind = if expr.value_type() == ValueType::String { "string" } else { "range vector" };
    Error::BadData(format!("invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"))
}

/// Parses a query, with Prometheus's error type. A syntax error says where
/// (`parse error at char 15: …`) when [`crate::diagnose`] finds the mistake.
pub fn parse(query: &str) -> Result<Expr> {
    promql_parser::parser::parse(query).map_err(|e| match crate::diagnose::diagnose(query) {
        Some((pos, what)) => Error::Parse(format!("parse error at char {}: {what}", pos + 1)),
        None => Error::Parse(e),
    })
}

/// The state of one query's evaluation.
pub(crate) struct Ctx<'a> {
    pub engine: &'a Engine,
    storage: &'a dyn Storage,
    /// The outer query's range, for `@ start()` / `@ end()`.
    pub q: Bounds,
    deadline: Option<Instant>,
    samples: Cell<usize>,
}

impl<'a> Ctx<'a> {
    fn new(engine: &'a Engine, storage: &'a dyn Storage, q: Bounds) -> Self {
        let deadline = engine.timeout.map(|d| Instant::now() + d);
        Self { engine, storage, q, deadline, samples: Cell::new(0) }
    }

    /// Fails once the query has run past its timeout.
    pub fn check_time(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(Error::Timeout("query timed out in expression evaluation".into())),
            _ => Ok(()),
        }
    }

    /// Accounts for `n` more samples held by the query.
    pub fn add_samples(&self, n: usize) -> Result<()> {
        let total = self.samples.get() + n;
        self.samples.set(total);
        if total > self.engine.max_samples {
            return Err(Error::Execution(
                "query processing would load too many samples into memory in query execution".into(),
            ));
        }
        Ok(())
    }

    fn check_series(&self, n: usize) -> Result<()> {
        if n > self.engine.max_series {
            return Err(Error::Execution(format!(
                "query result has {n} series, more than the limit of {} (query.max_series)",
                self.engine.max_series
            )));
        }
        Ok(())
    }

    /// The newest sample per series (see [`Storage::select_last`]).
    pub fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Sample)>> {
        self.check_time()?;
        let data = self.storage.select_last(matchers, mint, maxt)?;
        self.add_samples(data.len())?;
        Ok(data)
    }

    /// Reads from storage, counting the samples against the query's limit.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
        self.check_time()?;
        let data = self.storage.select(matchers, mint, maxt)?;
        self.add_samples(data.iter().map(|(_, s)| s.len()).sum())?;
        Ok(data)
    }

    /// Evaluates `expr` at every step of `grid`.
    pub fn eval(&self, expr: &Expr, grid: Grid) -> Result<Val> {
        self.check_time()?;
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; grid.n])),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, grid),
            Expr::Unary(u) => match self.eval(&u.expr, grid)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut v) => {
                    for s in &mut v {
                        s.drop_name = true;
                        s.points.iter_mut().for_each(|p| p.v = -p.v);
                    }
                    Ok(Val::Vector(v))
                }
                _ => Err(Error::Execution("unary minus is only defined on scalars and instant vectors".into())),
            },
            Expr::Binary(b) => binary::eval(self, b, grid),
            Expr::Aggregate(a) => aggregate::eval(self, a, grid),
            Expr::VectorSelector(vs) => Ok(Val::Vector(selector::vector(self, vs, grid, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Ok(Val::Matrix(self.range_input(expr, grid)?)),
            Expr::Call(c) => functions::call(self, c, grid),
            Expr::Extension(_) => Err(Error::Unsupported(format!("{expr}"))),
        }
    }

    /// Evaluates a range-vector expression (a matrix selector or a subquery, possibly in
    /// parentheses) for every step's window.
    pub fn range_input(&self, expr: &Expr, grid: Grid) -> Result<RangeInput> {
        match expr {
            Expr::Paren(p) => self.range_input(&p.expr, grid),
            Expr::MatrixSelector(ms) => selector::matrix(self, ms, grid),
            Expr::Subquery(sq) => selector::subquery(self, sq, grid),
            other => Err(Error::Execution(format!("expected a range vector, got {other}"))),
        }
    }

    /// Removes the names marked for removal and merges series that now share a label
    /// set, failing if two of them have a value at the same step.
    pub fn finish(&self, series: Vec<Series>) -> Result<Vec<Series>> {
        let series: Vec<Series> = series
            .into_iter()
            .map(|mut s| {
                if s.drop_name {
                    s.labels = drop_name(&s.labels);
                    s.drop_name = false;
                }
                s
            })
            .collect();
        let out = merge_same_labels(series, "vector cannot contain metrics with the same labelset")?;
        self.check_series(out.len())?;
        Ok(out)
    }
}

/// Merges series with equal labels (keeping the first one's place); `collision` is the
/// error when two have a point at the same step.
pub(crate) fn merge_same_labels(series: Vec<Series>, collision: &str) -> Result<Vec<Series>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut merged = false;
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged = true;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.points.sort_by_key(|p| p.i);
            if s.points.windows(2).any(|w| w[0].i == w[1].i) {
                return Err(Error::Execution(collision.into()));
            }
        }
    }
    Ok(out)
}

/// The time a selector or subquery reads at: its `@` time (or the evaluation time)
/// minus its `offset`.
pub(crate) fn selector_time(at: Option<&AtModifier>, offset: Option<&Offset>, t: i64, q: Bounds) -> i64 {
    let base = match at {
        None => t,
        Some(AtModifier::Start) => q.start,
        Some(AtModifier::End) => q.end,
        Some(AtModifier::At(when)) => match when.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        },
    };
    base - match offset {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// `labels` without the metric name.
pub(crate) fn drop_name(labels: &Labels) -> Labels {
    if labels.get(METRIC_NAME).is_none() {
        return labels.clone();
    }
    Labels::from_sorted_unchecked(labels.iter().filter(|l| &*l.name != METRIC_NAME).cloned().collect())
}

#[cfg(test)]
mod tests;
