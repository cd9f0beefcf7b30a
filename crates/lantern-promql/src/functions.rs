//! PromQL functions: per-sample math, `time`, `vector`, `scalar`, the `*_over_time`
//! family, and `rate`, `increase`, `delta`, `irate`, `idelta` with Prometheus's
//! extrapolation. Others are refused as not supported yet.

use lantern_core::{Labels, Sample};

use crate::engine::drop_name;
use crate::value::{InstantSample, Value};
use crate::{Error, Result};

fn unsupported(name: &str) -> Error {
    Error::Unsupported(format!("function {name}()"))
}

fn vector_arg(name: &str, v: Option<Value>) -> Result<Vec<InstantSample>> {
    match v {
        Some(Value::Vector(v)) => Ok(v),
        _ => Err(Error::Execution(format!("{name}() expects an instant vector"))),
    }
}

fn scalar_arg(name: &str, v: Option<&Value>) -> Result<f64> {
    match v {
        Some(Value::Scalar(s)) => Ok(*s),
        _ => Err(Error::Execution(format!("{name}() expects a scalar"))),
    }
}

/// Applies `f` to every sample of a vector, dropping the metric name.
fn map_vector(v: Vec<InstantSample>, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(v.into_iter().map(|s| InstantSample { labels: drop_name(&s.labels), v: f(s.v) }).collect())
}

/// Calls function `name` on evaluated arguments at time `t` (ms).
pub fn call(name: &str, mut args: Vec<Value>, t: i64) -> Result<Value> {
    let math: Option<fn(f64) -> f64> = match name {
        "abs" => Some(f64::abs),
        "ceil" => Some(f64::ceil),
        "floor" => Some(f64::floor),
        "exp" => Some(f64::exp),
        "ln" => Some(f64::ln),
        "log2" => Some(f64::log2),
        "log10" => Some(f64::log10),
        "sqrt" => Some(f64::sqrt),
        "sgn" => Some(|v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        "sin" => Some(f64::sin),
        "cos" => Some(f64::cos),
        "tan" => Some(f64::tan),
        "asin" => Some(f64::asin),
        "acos" => Some(f64::acos),
        "atan" => Some(f64::atan),
        "sinh" => Some(f64::sinh),
        "cosh" => Some(f64::cosh),
        "tanh" => Some(f64::tanh),
        "asinh" => Some(f64::asinh),
        "acosh" => Some(f64::acosh),
        "atanh" => Some(f64::atanh),
        "deg" => Some(f64::to_degrees),
        "rad" => Some(f64::to_radians),
        _ => None,
    };
    if let Some(f) = math {
        let v = vector_arg(name, args.pop())?;
        return Ok(map_vector(v, f));
    }
    match name {
        "time" => Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "vector" => {
            let s = scalar_arg(name, args.first())?;
            Ok(Value::Vector(vec![InstantSample { labels: Labels::default(), v: s }]))
        }
        "scalar" => {
            let v = vector_arg(name, args.pop())?;
            Ok(Value::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let params: Vec<f64> = args[1..].iter().map(|a| scalar_arg(name, Some(a))).collect::<Result<_>>()?;
            let v = vector_arg(name, args.into_iter().next())?;
            let (lo, hi) = match name {
                "clamp" => (params[0], params[1]),
                "clamp_min" => (params[0], f64::INFINITY),
                _ => (f64::NEG_INFINITY, params[0]),
            };
            if lo > hi {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(map_vector(v, |x| if x.is_nan() { x } else { x.max(lo).min(hi) }))
        }
        "round" => {
            let to = match args.get(1) {
                Some(a) => scalar_arg(name, Some(a))?,
                None => 1.0,
            };
            let v = vector_arg(name, args.into_iter().next())?;
            // Prometheus rounds half up, toward +Inf, via the inverse to avoid float error.
            let inv = 1.0 / to;
            Ok(map_vector(v, |x| (x * inv + 0.5).floor() / inv))
        }
        _ => range_function(name, args),
    }
}

fn range_function(name: &str, mut args: Vec<Value>) -> Result<Value> {
    let f: fn(&[Sample], i64, i64) -> Option<f64> = match name {
        "avg_over_time" => |s, _, _| Some(s.iter().map(|x| x.v).sum::<f64>() / s.len() as f64),
        "sum_over_time" => |s, _, _| Some(s.iter().map(|x| x.v).sum()),
        "count_over_time" => |s, _, _| Some(s.len() as f64),
        "min_over_time" => {
            |s, _, _| Some(s.iter().map(|x| x.v).fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }))
        }
        "max_over_time" => {
            |s, _, _| Some(s.iter().map(|x| x.v).fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }))
        }
        "present_over_time" => |_, _, _| Some(1.0),
        "rate" => |s, a, b| extrapolated(s, a, b, true, true),
        "increase" => |s, a, b| extrapolated(s, a, b, true, false),
        "delta" => |s, a, b| extrapolated(s, a, b, false, false),
        "irate" => |s, _, _| instant(s, true),
        "idelta" => |s, _, _| instant(s, false),
        other => return Err(unsupported(other)),
    };
    let Some(Value::Matrix { series, start_ms, end_ms }) = args.pop() else {
        return Err(Error::Execution(format!("{name}() expects a range vector")));
    };
    let out = series
        .into_iter()
        .filter_map(|(labels, samples)| {
            f(&samples, start_ms, end_ms).map(|v| InstantSample { labels: drop_name(&labels), v })
        })
        .collect();
    Ok(Value::Vector(out))
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated toward its
/// edges as Prometheus does (at most half a sample interval past the data, never below
/// zero for counters).
fn extrapolated(s: &[Sample], start_ms: i64, end_ms: i64, counter: bool, per_second: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.v - first.v;
    if counter {
        for w in s.windows(2) {
            if w[1].v < w[0].v {
                result += w[0].v;
            }
        }
    }
    let range_s = (end_ms - start_ms) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_gap = sampled / (s.len() - 1) as f64;
    let mut to_start = (first.t - start_ms) as f64 / 1000.0;
    let mut to_end = (end_ms - last.t) as f64 / 1000.0;
    if counter && result > 0.0 && first.v >= 0.0 {
        // A counter cannot have been below zero: do not extrapolate past that point.
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_gap * 1.1;
    if to_start >= threshold {
        to_start = avg_gap / 2.0;
    }
    if to_end >= threshold {
        to_end = avg_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= range_s;
    }
    Some(result * factor)
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
