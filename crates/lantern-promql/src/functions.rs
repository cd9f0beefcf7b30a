//! PromQL functions on instant vectors and scalars: math, `time`, `vector`, `scalar`,
//! `timestamp`, `clamp*`, `round`, the date functions, `sort*`, `label_replace`,
//! `label_join`, `absent`, classic `histogram_quantile`. Functions over range vectors
//! live in [`crate::range_fn`].

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{Datelike, Timelike};
use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{Call, Expr};

use crate::engine::Ctx;
use crate::value::{cmp_nan_last, Grid, Pt, Series, Val};
use crate::{range_fn, selector, Error, Result};

pub(crate) fn vector_arg(ctx: &Ctx, e: Option<&Expr>, grid: Grid, name: &str) -> Result<Vec<Series>> {
    match e.map(|e| ctx.eval(e, grid)).transpose()? {
        Some(Val::Vector(v)) => Ok(v),
        _ => Err(Error::Execution(format!("{name}() expects an instant vector"))),
    }
}

pub(crate) fn scalar_arg(ctx: &Ctx, e: Option<&Expr>, grid: Grid, name: &str) -> Result<Vec<f64>> {
    match e.map(|e| ctx.eval(e, grid)).transpose()? {
        Some(Val::Scalar(v)) => Ok(v),
        _ => Err(Error::Execution(format!("{name}() expects a scalar"))),
    }
}

fn string_arg(ctx: &Ctx, e: Option<&Expr>, grid: Grid, name: &str) -> Result<String> {
    match e.map(|e| ctx.eval(e, grid)).transpose()? {
        Some(Val::String(s)) => Ok(s),
        _ => Err(Error::Execution(format!("{name}() expects a string"))),
    }
}

/// Applies `f(step, value)` to every point, dropping the metric name.
fn map_points(mut v: Vec<Series>, f: impl Fn(usize, f64) -> Option<f64>) -> Vec<Series> {
    for s in &mut v {
        s.drop_name = true;
        s.points = s.points.iter().filter_map(|p| f(p.i as usize, p.v).map(|v| Pt { i: p.i, v })).collect();
    }
    v.retain(|s| !s.points.is_empty());
    v
}

fn math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

/// A date function of seconds since the epoch (UTC), as Go's `time` computes it.
fn date(name: &str) -> Option<fn(chrono::DateTime<chrono::Utc>) -> f64> {
    Some(match name {
        "minute" => |t| t.minute() as f64,
        "hour" => |t| t.hour() as f64,
        "day_of_week" => |t| t.weekday().num_days_from_sunday() as f64,
        "day_of_month" => |t| t.day() as f64,
        "day_of_year" => |t| t.ordinal() as f64,
        "month" => |t| t.month() as f64,
        "year" => |t| t.year() as f64,
        "days_in_month" => |t| {
            let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
            chrono::NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|next| next.pred_opt())
                .map_or(f64::NAN, |last| last.day() as f64)
        },
        _ => return None,
    })
}

/// Calls function `c` over the grid.
pub(crate) fn call(ctx: &Ctx, c: &Call, grid: Grid) -> Result<Val> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| args.get(i).copied();
    if let Some(f) = math(name) {
        return Ok(Val::Vector(map_points(vector_arg(ctx, arg(0), grid, name)?, |_, v| Some(f(v)))));
    }
    if let Some(f) = date(name) {
        let to_date = move |secs: f64| -> f64 {
            if !secs.is_finite() {
                return f64::NAN;
            }
            chrono::DateTime::from_timestamp(secs as i64, 0).map_or(f64::NAN, f)
        };
        return Ok(Val::Vector(match arg(0) {
            Some(e) => map_points(vector_arg(ctx, Some(e), grid, name)?, |_, v| Some(to_date(v))),
            None => vec![Series {
                labels: Labels::default(),
                drop_name: false,
                points: (0..grid.n).map(|i| Pt { i: i as u32, v: to_date(grid.t(i) as f64 / 1000.0) }).collect(),
            }],
        }));
    }
    match name {
        "time" => Ok(Val::Scalar((0..grid.n).map(|i| grid.t(i) as f64 / 1000.0).collect())),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; grid.n])),
        "vector" => {
            let s = scalar_arg(ctx, arg(0), grid, name)?;
            let points = s.into_iter().enumerate().map(|(i, v)| Pt { i: i as u32, v }).collect();
            Ok(Val::Vector(vec![Series { labels: Labels::default(), drop_name: false, points }]))
        }
        "scalar" => {
            let v = vector_arg(ctx, arg(0), grid, name)?;
            let mut out = vec![f64::NAN; grid.n];
            let mut count = vec![0u32; grid.n];
            for s in &v {
                for p in &s.points {
                    out[p.i as usize] = p.v;
                    count[p.i as usize] += 1;
                }
            }
            Ok(Val::Scalar(out.into_iter().zip(count).map(|(v, c)| if c == 1 { v } else { f64::NAN }).collect()))
        }
        "timestamp" => {
            let mut inner = arg(0);
            while let Some(Expr::Paren(p)) = inner {
                inner = Some(&p.expr);
            }
            // Of a selector, the samples' own times; of anything else, the evaluation time.
            let mut v = match inner {
                Some(Expr::VectorSelector(vs)) => selector::vector(ctx, vs, grid, true)?,
                _ => map_points(vector_arg(ctx, arg(0), grid, name)?, |i, _| Some(grid.t(i) as f64 / 1000.0)),
            };
            v.iter_mut().for_each(|s| s.drop_name = true);
            Ok(Val::Vector(v))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = vector_arg(ctx, arg(0), grid, name)?;
            let a = scalar_arg(ctx, arg(1), grid, name)?;
            let b = if name == "clamp" { scalar_arg(ctx, arg(2), grid, name)? } else { Vec::new() };
            Ok(Val::Vector(map_points(v, |i, x| {
                let (lo, hi) = match name {
                    "clamp" => (a[i], b[i]),
                    "clamp_min" => (a[i], f64::INFINITY),
                    _ => (f64::NEG_INFINITY, a[i]),
                };
                if name == "clamp" && hi < lo {
                    return None;
                }
                // Go's math.Max/Min: NaN in, NaN out.
                Some(if x.is_nan() || lo.is_nan() || hi.is_nan() { f64::NAN } else { x.max(lo).min(hi) })
            })))
        }
        "round" => {
            let v = vector_arg(ctx, arg(0), grid, name)?;
            let to = match arg(1) {
                Some(e) => scalar_arg(ctx, Some(e), grid, name)?,
                None => vec![1.0; grid.n],
            };
            // Prometheus rounds half up, toward +Inf, via the inverse to avoid float error.
            Ok(Val::Vector(map_points(v, |i, x| {
                let inv = 1.0 / to[i];
                Some((x * inv + 0.5).floor() / inv)
            })))
        }
        "sort" | "sort_desc" => {
            let mut v = vector_arg(ctx, arg(0), grid, name)?;
            // Only an instant query's result has an order.
            if grid.n == 1 {
                let desc = name == "sort_desc";
                v.sort_by(|a, b| cmp_nan_last(a.points[0].v, b.points[0].v, desc));
            }
            Ok(Val::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = vector_arg(ctx, arg(0), grid, name)?;
            let labels: Vec<String> =
                (1..args.len()).map(|i| string_arg(ctx, arg(i), grid, name)).collect::<Result<_>>()?;
            v.sort_by(|a, b| {
                let ord = labels
                    .iter()
                    .map(|l| natural_cmp(a.labels.get(l).unwrap_or(""), b.labels.get(l).unwrap_or("")))
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| a.labels.cmp(&b.labels));
                if name == "sort_by_label_desc" {
                    ord.reverse()
                } else {
                    ord
                }
            });
            Ok(Val::Vector(v))
        }
        "label_replace" => label_replace(ctx, &args, grid),
        "label_join" => label_join(ctx, &args, grid),
        "histogram_quantile" => {
            let phi = scalar_arg(ctx, arg(0), grid, name)?;
            let v = vector_arg(ctx, arg(1), grid, name)?;
            Ok(Val::Vector(over_buckets(v, |i, b| bucket_quantile(phi[i], b))))
        }
        "histogram_fraction" => {
            let lower = scalar_arg(ctx, arg(0), grid, name)?;
            let upper = scalar_arg(ctx, arg(1), grid, name)?;
            let v = vector_arg(ctx, arg(2), grid, name)?;
            Ok(Val::Vector(over_buckets(v, |i, b| bucket_fraction(lower[i], upper[i], b))))
        }
        // These read native histograms only; float samples are ignored (Prometheus adds
        // an info annotation), so over classic data the result is empty.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            for a in &args {
                ctx.eval(a, grid)?;
            }
            Ok(Val::Vector(Vec::new()))
        }
        "absent" => {
            let v = vector_arg(ctx, arg(0), grid, name)?;
            let mut present = vec![false; grid.n];
            for s in &v {
                for p in &s.points {
                    present[p.i as usize] = true;
                }
            }
            Ok(Val::Vector(absent_series(arg(0), &present)))
        }
        _ => range_fn::call(ctx, name, &args, grid),
    }
}

/// The result of `absent` / `absent_over_time`: 1 at each step where nothing was present,
/// labelled from the selector's equality matchers.
pub(crate) fn absent_series(e: Option<&Expr>, present: &[bool]) -> Vec<Series> {
    let points: Vec<Pt> =
        present.iter().enumerate().filter(|(_, &p)| !p).map(|(i, _)| Pt { i: i as u32, v: 1.0 }).collect();
    if points.is_empty() {
        return Vec::new();
    }
    let matchers = match e {
        Some(Expr::VectorSelector(vs)) => Some(&vs.matchers.matchers),
        Some(Expr::MatrixSelector(ms)) => Some(&ms.vs.matchers.matchers),
        _ => None,
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut has = HashSet::new();
    for m in matchers.into_iter().flatten() {
        if m.name == METRIC_NAME {
            continue;
        }
        pairs.retain(|(n, _)| *n != m.name);
        // A name matched twice, or not by equality, is left out (Prometheus's historic rule).
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && has.insert(m.name.clone()) {
            pairs.push((m.name.clone(), m.value.clone()));
        }
    }
    vec![Series { labels: Labels::from_pairs(pairs), drop_name: false, points }]
}

/// Compares strings with runs of digits ordered by number ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let lx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ly = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (nx, ny) = (&x[..lx], &y[..ly]);
                let tx = nx.iter().skip_while(|&&c| c == b'0').count();
                let ty = ny.iter().skip_while(|&&c| c == b'0').count();
                let ord = tx.cmp(&ty).then_with(|| nx[lx - tx..].cmp(&ny[ly - ty..]));
                if ord.is_ne() {
                    return ord;
                }
                x = &x[lx..];
                y = &y[ly..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut pairs: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> =
        labels.iter().filter(|l| &*l.name != name).map(|l| (l.name.clone(), l.value.clone())).collect();
    pairs.push((name.into(), value.into()));
    Labels::from_pairs(pairs)
}

/// Fails if two series share a label set at the same step.
fn check_unique(v: Vec<Series>) -> Result<Vec<Series>> {
    crate::engine::merge_same_labels(v, "vector cannot contain metrics with the same labelset")
}

fn label_replace(ctx: &Ctx, args: &[&Expr], grid: Grid) -> Result<Val> {
    let name = "label_replace";
    let arg = |i: usize| args.get(i).copied();
    let dst = string_arg(ctx, arg(1), grid, name)?;
    let replacement = string_arg(ctx, arg(2), grid, name)?;
    let src = string_arg(ctx, arg(3), grid, name)?;
    let re_src = string_arg(ctx, arg(4), grid, name)?;
    let re = regex::Regex::new(&format!("^(?s:{re_src})$"))
        .map_err(|e| Error::Execution(format!("invalid regular expression in label_replace(): {re_src}: {e}")))?;
    if !lantern_core::labels::is_valid_label_name(&dst) {
        return Err(Error::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let mut v = vector_arg(ctx, arg(0), grid, name)?;
    for s in &mut v {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut res = String::new();
            caps.expand(&replacement, &mut res);
            s.labels = set_label(&s.labels, &dst, &res);
            // Writing the name keeps it: it is no longer the input's name.
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    Ok(Val::Vector(check_unique(v)?))
}

fn label_join(ctx: &Ctx, args: &[&Expr], grid: Grid) -> Result<Val> {
    let name = "label_join";
    let arg = |i: usize| args.get(i).copied();
    let dst = string_arg(ctx, arg(1), grid, name)?;
    let sep = string_arg(ctx, arg(2), grid, name)?;
    let srcs: Vec<String> = (3..args.len()).map(|i| string_arg(ctx, arg(i), grid, name)).collect::<Result<_>>()?;
    if !lantern_core::labels::is_valid_label_name(&dst) {
        return Err(Error::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    let mut v = vector_arg(ctx, arg(0), grid, name)?;
    for s in &mut v {
        let joined = srcs.iter().map(|l| s.labels.get(l).unwrap_or("")).collect::<Vec<_>>().join(&sep);
        s.labels = set_label(&s.labels, &dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    Ok(Val::Vector(check_unique(v)?))
}

/// Applies `f(step, buckets)` to each classic histogram: series grouped by all labels but
/// `le` (the name is dropped afterwards, so two histograms that differ only by name
/// collide, as in Prometheus).
fn over_buckets(v: Vec<Series>, f: impl Fn(usize, &mut Vec<(f64, f64)>) -> f64) -> Vec<Series> {
    let mut index: foldhash::HashMap<Labels, usize> = foldhash::HashMap::default();
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    for (k, s) in v.iter().enumerate() {
        let Some(le) = s.labels.get("le").and_then(parse_le) else { continue };
        let key =
            Labels::from_sorted_unchecked(s.labels.iter().filter(|l| &*l.name != "le").cloned().collect::<Vec<_>>());
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push((le, k));
    }
    let n = v.iter().flat_map(|s| s.points.last()).map(|p| p.i as usize + 1).max().unwrap_or(0);
    let mut out = Vec::new();
    let mut buckets: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    for (labels, members) in groups {
        for (le, k) in members {
            for p in &v[k].points {
                buckets[p.i as usize].push((le, p.v));
            }
        }
        let mut points = Vec::new();
        for (i, b) in buckets.iter_mut().enumerate() {
            if !b.is_empty() {
                points.push(Pt { i: i as u32, v: f(i, b) });
                b.clear();
            }
        }
        if !points.is_empty() {
            out.push(Series { labels, drop_name: true, points });
        }
    }
    out
}

/// A bucket's `le` bound.
fn parse_le(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "+inf" | "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Whether `a` and `b` are equal within relative `epsilon` (Prometheus's `almost.Equal`).
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Sorts buckets `(upper bound, cumulative count)` by bound, merges equal bounds
/// (`le="1"` and `le="1.0"`), and makes counts non-decreasing: tiny float noise is
/// smoothed, real decreases are clamped, as Prometheus does. `false` without a `+Inf`
/// bucket.
fn normalize_buckets(b: &mut Vec<(f64, f64)>) -> bool {
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(Ordering::Equal));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return false;
    }
    b.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            true
        } else {
            false
        }
    });
    let mut prev = b[0].1;
    for x in b.iter_mut().skip(1) {
        if x.1 == prev {
            continue;
        }
        if almost_equal(prev, x.1, 1e-12) || x.1 < prev {
            x.1 = prev;
            continue;
        }
        prev = x.1;
    }
    true
}

/// The share of observations between `lower` and `upper` in classic buckets:
/// interpolating linearly inside finite buckets; inside the open-ended first or last
/// bucket a bound counts as sitting on the bucket's finite edge.
fn bucket_fraction(lower: f64, upper: f64, b: &mut Vec<(f64, f64)>) -> f64 {
    if !normalize_buckets(b) {
        return f64::NAN;
    }
    let count = b[b.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    // The estimated number of observations at or below x.
    let rank = |x: f64| -> f64 {
        if x == f64::NEG_INFINITY {
            return 0.0;
        }
        if x == f64::INFINITY {
            return count;
        }
        // The first bucket starts at zero when its bound is positive, else at -Inf.
        let first_lower = if b[0].0 > 0.0 { 0.0 } else { f64::NEG_INFINITY };
        let mut prev = (first_lower, 0.0);
        for &(le, cum) in b.iter() {
            if x <= le {
                if x <= prev.0 {
                    return prev.1;
                }
                if prev.0 == f64::NEG_INFINITY {
                    return cum;
                }
                if le == f64::INFINITY {
                    return prev.1;
                }
                return prev.1 + (cum - prev.1) * (x - prev.0) / (le - prev.0);
            }
            prev = (le, cum);
        }
        count
    };
    (rank(upper) - rank(lower)) / count
}

/// The quantile of classic buckets `(upper bound, cumulative count)`: linear
/// interpolation inside the bucket holding the rank, as Prometheus computes it.
fn bucket_quantile(phi: f64, b: &mut Vec<(f64, f64)>) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    if !normalize_buckets(b) {
        return f64::NAN;
    }
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = phi * observations;
    let i = b[..b.len() - 1].iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    if i == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (mut start, end, mut count) = (0.0, b[i].0, b[i].1);
    if i > 0 {
        start = b[i - 1].0;
        count -= b[i - 1].1;
        rank -= b[i - 1].1;
    }
    start + (end - start) * (rank / count)
}
