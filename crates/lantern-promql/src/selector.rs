//! Selectors over a grid: instant vectors with the lookback delta and staleness, range
//! vectors (matrix selectors) and subqueries, each read from storage once per query.

use lantern_core::{is_stale_nan, Labels, MatchOp, Matcher, Sample, METRIC_NAME};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{MatrixSelector, SubqueryExpr, VectorSelector};

use crate::engine::{selector_time, Ctx};
use crate::value::{Grid, Pt, RangeInput, RangeSeries, Series, Val};
use crate::{Error, Result};

/// An instant-vector selector: at each step, the last sample in the left-open lookback
/// window `(t - lookback, t]`, unless it is a staleness marker. With `timestamps`, the
/// value is the sample's own time in seconds (for `timestamp()`).
pub(crate) fn vector(ctx: &Ctx, vs: &VectorSelector, grid: Grid, timestamps: bool) -> Result<Vec<Series>> {
    let times: Vec<i64> =
        (0..grid.n).map(|i| selector_time(vs.at.as_ref(), vs.offset.as_ref(), grid.t(i), ctx.q)).collect();
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else { return Ok(Vec::new()) };
    let lookback = ctx.engine.lookback_ms;
    let mut out = Vec::new();
    if first == last {
        // One time for every step (an instant query, or `@`): only the newest sample counts.
        for (labels, s) in select_last(ctx, vs, first - lookback + 1, last)? {
            if !is_stale_nan(s.v) {
                let v = if timestamps { s.t as f64 / 1000.0 } else { s.v };
                out.push(Series {
                    labels,
                    drop_name: false,
                    points: (0..grid.n).map(|i| Pt { i: i as u32, v }).collect(),
                });
            }
        }
        return Ok(out);
    }
    for (labels, samples) in select_all(ctx, vs, first - lookback + 1, last)? {
        let mut points = Vec::new();
        let mut j = 0;
        for (i, &t) in times.iter().enumerate() {
            while j < samples.len() && samples[j].t <= t {
                j += 1;
            }
            if j == 0 {
                continue;
            }
            let s = samples[j - 1];
            if s.t > t - lookback && !is_stale_nan(s.v) {
                points.push(Pt { i: i as u32, v: if timestamps { s.t as f64 / 1000.0 } else { s.v } });
            }
        }
        if !points.is_empty() {
            out.push(Series { labels, drop_name: false, points });
        }
    }
    ctx.add_samples(out.iter().map(|s| s.points.len()).sum())?;
    Ok(out)
}

/// A matrix selector: the samples of each window `(end - range, end]`, staleness
/// markers left out.
pub(crate) fn matrix(ctx: &Ctx, ms: &MatrixSelector, grid: Grid) -> Result<RangeInput> {
    let range = ms.range.as_millis() as i64;
    let ends: Vec<i64> =
        (0..grid.n).map(|i| selector_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), grid.t(i), ctx.q)).collect();
    let (Some(&first), Some(&last)) = (ends.first(), ends.last()) else {
        return Ok(RangeInput { series: Vec::new(), range, ends });
    };
    let series = select_all(ctx, &ms.vs, first - range + 1, last)?
        .into_iter()
        .map(|(labels, mut samples)| {
            samples.retain(|s| !is_stale_nan(s.v));
            RangeSeries { labels, drop_name: false, samples }
        })
        .filter(|s| !s.samples.is_empty())
        .collect();
    Ok(RangeInput { series, range, ends })
}

/// A subquery: the inner expression evaluated once over every step its windows need,
/// at multiples of the subquery's step.
pub(crate) fn subquery(ctx: &Ctx, sq: &SubqueryExpr, grid: Grid) -> Result<RangeInput> {
    let range = sq.range.as_millis() as i64;
    let step = sq.step.map_or(ctx.engine.default_step_ms, |d| d.as_millis() as i64);
    if step <= 0 {
        return Err(Error::Execution("subquery step must be positive".into()));
    }
    let ends: Vec<i64> =
        (0..grid.n).map(|i| selector_time(sq.at.as_ref(), sq.offset.as_ref(), grid.t(i), ctx.q)).collect();
    let (Some(&first), Some(&last)) = (ends.first(), ends.last()) else {
        return Ok(RangeInput { series: Vec::new(), range, ends });
    };
    // The first inner step is the first multiple of the step at or after the earliest
    // window start.
    let lo = first - range;
    let mut start = lo.div_euclid(step) * step;
    if start < lo {
        start += step;
    }
    if last < start {
        return Ok(RangeInput { series: Vec::new(), range, ends });
    }
    let inner = Grid { start, step, n: ((last - start) / step) as usize + 1 };
    let series = match ctx.eval(&sq.expr, inner)? {
        Val::Vector(v) => v
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                drop_name: s.drop_name,
                samples: s.points.iter().map(|p| Sample::new(inner.t(p.i as usize), p.v)).collect(),
            })
            .collect(),
        Val::Scalar(v) => vec![RangeSeries {
            labels: Labels::default(),
            drop_name: false,
            samples: v.iter().enumerate().map(|(i, &x)| Sample::new(inner.t(i), x)).collect(),
        }],
        _ => return Err(Error::Execution("subqueries need an instant vector or a scalar".into())),
    };
    Ok(RangeInput { series, range, ends })
}

fn select_all(ctx: &Ctx, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Vec<(Labels, Vec<Sample>)>> {
    let alternatives = alternatives(vs)?;
    if alternatives.len() == 1 {
        return ctx.select(&alternatives[0], mint, maxt);
    }
    // `{a="1" or b="2"}`: the union of the alternatives, each series once.
    let mut all: std::collections::BTreeMap<Labels, Vec<Sample>> = std::collections::BTreeMap::new();
    for m in alternatives {
        for (labels, samples) in ctx.select(&m, mint, maxt)? {
            all.insert(labels, samples);
        }
    }
    Ok(all.into_iter().collect())
}

fn select_last(ctx: &Ctx, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Vec<(Labels, Sample)>> {
    let alternatives = alternatives(vs)?;
    if let [only] = alternatives.as_slice() {
        return ctx.select_last(only, mint, maxt);
    }
    let mut all: std::collections::BTreeMap<Labels, Sample> = std::collections::BTreeMap::new();
    for m in &alternatives {
        all.extend(ctx.select_last(m, mint, maxt)?);
    }
    Ok(all.into_iter().collect())
}

/// A selector's matcher sets, one per `or` alternative (with `or` inside the braces the
/// parser keeps every alternative in `or_matchers`).
fn alternatives(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    if vs.matchers.or_matchers.is_empty() {
        Ok(vec![matchers_of(vs, &vs.matchers.matchers)?])
    } else {
        vs.matchers.or_matchers.iter().map(|m| matchers_of(vs, m)).collect()
    }
}

/// A selector's matchers, the metric name included.
pub(crate) fn matchers_of(vs: &VectorSelector, list: &[promql_parser::label::Matcher]) -> Result<Vec<Matcher>> {
    let mut matchers = Vec::new();
    if let Some(name) = &vs.name {
        matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
    }
    for m in list {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        matchers.push(Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| Error::Parse(e.to_string()))?);
    }
    Ok(matchers)
}

/// The matcher sets of every selector in `expr` (one per `or` alternative), for APIs that
/// read what a query reads (exemplars).
pub fn selector_matchers(expr: &promql_parser::parser::Expr) -> Result<Vec<Vec<Matcher>>> {
    use promql_parser::parser::Expr;
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                stack.extend(a.param.as_deref());
                continue;
            }
            Expr::Unary(u) => {
                stack.push(&u.expr);
                continue;
            }
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
                continue;
            }
            Expr::Paren(p) => {
                stack.push(&p.expr);
                continue;
            }
            Expr::Subquery(s) => {
                stack.push(&s.expr);
                continue;
            }
            Expr::Call(c) => {
                stack.extend(c.args.args.iter().map(|a| a.as_ref()));
                continue;
            }
            _ => continue,
        };
        out.extend(alternatives(vs)?);
    }
    Ok(out)
}
