//! Functions over range vectors: the `*_over_time` family, `rate`, `increase`,
//! `delta`, `irate`, `idelta`, `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing` and `absent_over_time`, applied to every step's window.

use lantern_core::Sample;
use promql_parser::parser::Expr;

use crate::aggregate::quantile;
use crate::engine::Ctx;
use crate::functions::{absent_series, scalar_arg};
use crate::value::{kahan_add, Grid, Mean, Pt, Series, Val, Variance};
use crate::{Error, Result};

/// What a range function sees at one step.
struct Window<'a> {
    samples: &'a [Sample],
    /// Exclusive start and inclusive end of the window, ms.
    start: i64,
    end: i64,
    /// The evaluation time of the step, ms.
    t: i64,
    /// The function's scalar parameters at this step.
    params: [f64; 2],
    /// For `rate` and `increase`: the counter resets inside the window (index in the
    /// series, value before the reset), found once per series instead of per window.
    resets: Option<&'a [(usize, f64)]>,
}

type RangeFn = fn(&Window) -> Option<f64>;

fn function(name: &str) -> Option<RangeFn> {
    Some(match name {
        "avg_over_time" => |w| {
            let mut m = Mean::default();
            w.samples.iter().for_each(|x| m.add(x.v));
            Some(m.value())
        },
        "sum_over_time" => |w| {
            let (s, c) = w.samples.iter().fold((0.0, 0.0), |(s, c), x| kahan_add(x.v, s, c));
            Some(s + c)
        },
        "count_over_time" => |w| Some(w.samples.len() as f64),
        "min_over_time" => {
            |w| Some(w.samples.iter().map(|x| x.v).fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }))
        }
        "max_over_time" => {
            |w| Some(w.samples.iter().map(|x| x.v).fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }))
        }
        "last_over_time" => |w| w.samples.last().map(|x| x.v),
        "first_over_time" => |w| w.samples.first().map(|x| x.v),
        "ts_of_last_over_time" => |w| w.samples.last().map(|x| x.t as f64 / 1000.0),
        "ts_of_first_over_time" => |w| w.samples.first().map(|x| x.t as f64 / 1000.0),
        "ts_of_max_over_time" => |w| extreme_time(w.samples, |v, best| v >= best),
        "ts_of_min_over_time" => |w| extreme_time(w.samples, |v, best| v <= best),
        "present_over_time" => |_| Some(1.0),
        "stdvar_over_time" => |w| Some(variance(w.samples)),
        "stddev_over_time" => |w| Some(variance(w.samples).sqrt()),
        "quantile_over_time" => |w| {
            let mut v: Vec<f64> = w.samples.iter().map(|x| x.v).collect();
            Some(quantile(w.params[0], &mut v))
        },
        "mad_over_time" => |w| {
            let mut v: Vec<f64> = w.samples.iter().map(|x| x.v).collect();
            let median = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            Some(quantile(0.5, &mut dev))
        },
        "changes" => |w| {
            let s = w.samples;
            Some(s.windows(2).filter(|p| !(p[0].v == p[1].v || (p[0].v.is_nan() && p[1].v.is_nan()))).count() as f64)
        },
        "resets" => |w| Some(w.samples.windows(2).filter(|p| p[1].v < p[0].v).count() as f64),
        "deriv" => |w| regression(w.samples, w.samples.first().map_or(0, |x| x.t)).map(|(slope, _)| slope),
        "predict_linear" => |w| regression(w.samples, w.t).map(|(slope, icpt)| icpt + slope * w.params[0]),
        "rate" => |w| extrapolated(w, true, true),
        "increase" => |w| extrapolated(w, true, false),
        "delta" => |w| extrapolated(w, false, false),
        "irate" => |w| instant(w.samples, true),
        "idelta" => |w| instant(w.samples, false),
        "double_exponential_smoothing" => |w| smoothing(w.samples, w.params[0], w.params[1]),
        _ => return None,
    })
}

/// Calls range function `name` over the grid.
pub(crate) fn call(ctx: &Ctx, name: &str, args: &[&Expr], grid: Grid) -> Result<Val> {
    let arg = |i: usize| args.get(i).copied();
    if name == "absent_over_time" {
        let e = arg(0).ok_or_else(|| Error::Execution("absent_over_time() expects a range vector".into()))?;
        let input = ctx.range_input(e, grid)?;
        let mut present = vec![false; grid.n];
        for s in &input.series {
            input.for_each_window(&s.samples, |i, _| present[i] = true);
        }
        return Ok(Val::Vector(absent_series(Some(e), &present)));
    }
    let Some(f) = function(name) else {
        return Err(Error::Unsupported(format!("function {name}()")));
    };
    // Where the range vector is, and which scalar parameters come with it.
    let (matrix, param_args): (usize, &[usize]) = match name {
        "quantile_over_time" => (1, &[0]),
        "predict_linear" => (0, &[1]),
        "double_exponential_smoothing" => (0, &[1, 2]),
        _ => (0, &[]),
    };
    let mut params: Vec<Vec<f64>> = Vec::new();
    for &p in param_args {
        params.push(scalar_arg(ctx, arg(p), grid, name)?);
    }
    if name == "double_exponential_smoothing" {
        for (i, what, short) in [(0, "smoothing", "sf"), (1, "trend", "tf")] {
            if let Some(&bad) = params[i].iter().find(|&&x| !(x > 0.0 && x < 1.0)) {
                return Err(Error::Execution(format!(
                    "invalid {what} factor. Expected: 0 < {short} < 1, got: {}",
                    go_float(bad)
                )));
            }
        }
    }
    let e = arg(matrix).ok_or_else(|| Error::Execution(format!("{name}() expects a range vector")))?;
    let input = ctx.range_input(e, grid)?;
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let param = |k: usize, i: usize| params.get(k).map_or(0.0, |p| p[i]);
    let constant_params = params.iter().all(|p| p.windows(2).all(|w| w[0].to_bits() == w[1].to_bits()));
    let counter = matches!(name, "rate" | "increase");
    let mut out = Vec::with_capacity(input.series.len());
    for s in &input.series {
        ctx.check_time()?;
        let mut points = Vec::new();
        let resets: Vec<(usize, f64)> = if counter {
            s.samples.windows(2).enumerate().filter(|(_, p)| p[1].v < p[0].v).map(|(k, p)| (k + 1, p[0].v)).collect()
        } else {
            Vec::new()
        };
        let eval = |i: usize, lo: usize, samples: &[Sample]| {
            let end = input.ends[i];
            // Resets at indices k with lo < k < lo + len: both samples inside the window.
            let window_resets = counter.then(|| {
                let a = resets.partition_point(|r| r.0 <= lo);
                let b = resets.partition_point(|r| r.0 < lo + samples.len());
                &resets[a..b]
            });
            f(&Window {
                samples,
                start: end - input.range,
                end,
                t: grid.t(i),
                params: [param(0, i), param(1, i)],
                resets: window_resets,
            })
        };
        if input.fixed() && constant_params && grid.n > 1 && name != "predict_linear" {
            // Every step reads the same window (an `@` modifier): compute once.
            let mut first = None;
            input.for_each_window_at(&s.samples, |i, lo, w| {
                if first.is_none() {
                    first = eval(i, lo, w);
                }
            });
            if let Some(v) = first {
                points = (0..grid.n).map(|i| Pt { i: i as u32, v }).collect();
            }
        } else {
            input.for_each_window_at(&s.samples, |i, lo, w| {
                if let Some(v) = eval(i, lo, w) {
                    points.push(Pt { i: i as u32, v });
                }
            });
        }
        if !points.is_empty() {
            out.push(Series { labels: s.labels.clone(), drop_name: !keep_name || s.drop_name, points });
        }
    }
    ctx.add_samples(out.iter().map(|s| s.points.len()).sum())?;
    Ok(Val::Vector(out))
}

/// A float as Go's `%f` prints it.
fn go_float(v: f64) -> String {
    format!("{v:.6}")
}

/// The time (s) of the largest (or smallest) value, the latest one on ties.
fn extreme_time(s: &[Sample], better: fn(f64, f64) -> bool) -> Option<f64> {
    let first = s.first()?;
    let (mut best, mut t) = (first.v, first.t);
    for x in s {
        if better(x.v, best) || best.is_nan() {
            best = x.v;
            t = x.t;
        }
    }
    Some(t as f64 / 1000.0)
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated toward its
/// edges as Prometheus does (at most half a sample interval past the data, never below
/// zero for counters).
fn extrapolated(w: &Window, counter: bool, per_second: bool) -> Option<f64> {
    let s = w.samples;
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.v - first.v;
    if counter {
        // Added in order, as Prometheus adds them, so results match to the bit.
        match w.resets {
            Some(resets) => resets.iter().for_each(|r| result += r.1),
            None => {
                for p in s.windows(2) {
                    if p[1].v < p[0].v {
                        result += p[0].v;
                    }
                }
            }
        }
    }
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_gap = sampled / (s.len() - 1) as f64;
    let mut to_start = (first.t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last.t) as f64 / 1000.0;
    let threshold = avg_gap * 1.1;
    if to_start >= threshold {
        to_start = avg_gap / 2.0;
    }
    if counter {
        // A counter cannot have been below zero: do not extrapolate past that point.
        let mut to_zero = to_start;
        if result > 0.0 && first.v >= 0.0 {
            to_zero = sampled * (first.v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= (w.end - w.start) as f64 / 1000.0;
    }
    Some(result * factor)
}

fn variance(s: &[Sample]) -> f64 {
    let mut v = Variance::default();
    s.iter().for_each(|x| v.add(x.v));
    v.value()
}

/// Least-squares slope (per second) and intercept at `at_ms` with compensated sums, for
/// `deriv` and `predict_linear`; `None` with fewer than two samples.
fn regression(s: &[Sample], at_ms: i64) -> Option<(f64, f64)> {
    if s.len() < 2 {
        return None;
    }
    let init = s[0].v;
    if s.iter().all(|x| x.v == init) {
        return Some(if init.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, init) });
    }
    let n = s.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sxx, mut cxx) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for p in s {
        let x = (p.t - at_ms) as f64 / 1000.0;
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(p.v, sy, cy);
        (sxy, cxy) = kahan_add(x * p.v, sxy, cxy);
        (sxx, cxx) = kahan_add(x * x, sxx, cxx);
    }
    let (sx, sy, sxy, sxx) = (sx + cx, sy + cy, sxy + cxy, sxx + cxx);
    let cov = sxy - sx * sy / n;
    let var = sxx - sx * sx / n;
    let slope = cov / var;
    Some((slope, sy / n - slope * sx / n))
}

/// `irate` and `idelta`: from the last two samples.
fn instant(s: &[Sample], rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (a, b) = (s[s.len() - 2], s[s.len() - 1]);
    let mut d = b.v - a.v;
    if rate {
        if b.v < a.v {
            d = b.v;
        }
        let dt = (b.t - a.t) as f64 / 1000.0;
        if dt == 0.0 {
            return None;
        }
        d /= dt;
    }
    Some(d)
}

/// Holt's double exponential smoothing with smoothing factor `sf` and trend factor `tf`.
fn smoothing(s: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, s[0].v);
    let mut b = s[1].v - s[0].v;
    for (i, x) in s.iter().enumerate().skip(1) {
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = sf * x.v + y;
    }
    Some(s1)
}
