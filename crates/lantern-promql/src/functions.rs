//! PromQL functions: per-sample math, `time`, `vector`, `scalar`, the `*_over_time`
//! family, and `rate`, `increase`, `delta`, `irate`, `idelta` with Prometheus's
//! extrapolation. Others are refused as not supported yet.

use lantern_core::{Labels, Sample};

use crate::engine::drop_name;
use crate::value::{cmp_nan_last, InstantSample, Value};
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
        "sort" | "sort_desc" => {
            let mut v = vector_arg(name, args.pop())?;
            let desc = name == "sort_desc";
            v.sort_by(|a, b| cmp_nan_last(a.v, b.v, desc));
            Ok(Value::Vector(v))
        }
        "histogram_quantile" => {
            let phi = scalar_arg(name, args.first())?;
            let v = vector_arg(name, args.into_iter().nth(1))?;
            Ok(Value::Vector(histogram_quantile(phi, v)))
        }
        "label_replace" => label_replace(args),
        "label_join" => label_join(args),
        _ => range_function(name, args),
    }
}

fn string_arg(name: &str, v: Option<&Value>) -> Result<String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Error::Execution(format!("{name}() expects a string"))),
    }
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut pairs: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> =
        labels.iter().filter(|l| &*l.name != name).map(|l| (l.name.clone(), l.value.clone())).collect();
    pairs.push((name.into(), value.into()));
    Labels::from_pairs(pairs)
}

fn check_unique(v: &[InstantSample]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    if v.iter().all(|s| seen.insert(&s.labels)) {
        Ok(())
    } else {
        Err(Error::Execution("vector cannot contain metrics with the same labelset".into()))
    }
}

/// `label_replace(v, dst, replacement, src, regex)`.
fn label_replace(args: Vec<Value>) -> Result<Value> {
    let name = "label_replace";
    let dst = string_arg(name, args.get(1))?;
    let replacement = string_arg(name, args.get(2))?;
    let src = string_arg(name, args.get(3))?;
    let re_src = string_arg(name, args.get(4))?;
    let re = regex::Regex::new(&format!("^(?s:{re_src})$"))
        .map_err(|e| Error::Execution(format!("invalid regular expression in label_replace(): {re_src}: {e}")))?;
    if !lantern_core::labels::is_valid_label_name(&dst) {
        return Err(Error::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let v = vector_arg(name, args.into_iter().next())?;
    let out: Vec<InstantSample> = v
        .into_iter()
        .map(|s| {
            let value = s.labels.get(&src).unwrap_or("");
            match re.captures(value) {
                Some(caps) => {
                    let mut res = String::new();
                    caps.expand(&replacement, &mut res);
                    InstantSample { labels: set_label(&s.labels, &dst, &res), v: s.v }
                }
                None => s,
            }
        })
        .collect();
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `label_join(v, dst, separator, src...)`.
fn label_join(args: Vec<Value>) -> Result<Value> {
    let name = "label_join";
    let dst = string_arg(name, args.get(1))?;
    let sep = string_arg(name, args.get(2))?;
    let srcs: Vec<String> =
        args[3.min(args.len())..].iter().map(|a| string_arg(name, Some(a))).collect::<Result<_>>()?;
    if !lantern_core::labels::is_valid_label_name(&dst) {
        return Err(Error::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    let v = vector_arg(name, args.into_iter().next())?;
    let out: Vec<InstantSample> = v
        .into_iter()
        .map(|s| {
            let joined = srcs.iter().map(|l| s.labels.get(l).unwrap_or("")).collect::<Vec<_>>().join(&sep);
            InstantSample { labels: set_label(&s.labels, &dst, &joined), v: s.v }
        })
        .collect();
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `histogram_quantile` over classic `le` buckets: linear interpolation inside the
/// bucket holding the rank, as Prometheus computes it.
fn histogram_quantile(phi: f64, v: Vec<InstantSample>) -> Vec<InstantSample> {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in v {
        let Some(le) = s.labels.get("le").and_then(parse_le) else { continue };
        let key = Labels::from_pairs(
            s.labels
                .iter()
                .filter(|l| &*l.name != "le" && &*l.name != lantern_core::METRIC_NAME)
                .map(|l| (l.name.clone(), l.value.clone())),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, b)) => b.push((le, s.v)),
            None => groups.push((key, vec![(le, s.v)])),
        }
    }
    groups.into_iter().map(|(labels, buckets)| InstantSample { labels, v: bucket_quantile(phi, buckets) }).collect()
}

/// A bucket's `le` bound.
fn parse_le(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "+inf" | "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn bucket_quantile(phi: f64, mut b: Vec<(f64, f64)>) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) || b.len() < 2 {
        return f64::NAN;
    }
    // Counts must not decrease with the bound; repair as Prometheus does.
    let mut max = f64::NEG_INFINITY;
    for x in &mut b {
        if x.1 < max {
            x.1 = max;
        }
        max = x.1;
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = phi * observations;
    let i = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
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
        "stdvar_over_time" => |s, _, _| Some(variance(s)),
        "stddev_over_time" => |s, _, _| Some(variance(s).sqrt()),
        "changes" => |s, _, _| {
            Some(s.windows(2).filter(|w| !(w[0].v == w[1].v || (w[0].v.is_nan() && w[1].v.is_nan()))).count() as f64)
        },
        "resets" => |s, _, _| Some(s.windows(2).filter(|w| w[1].v < w[0].v).count() as f64),
        "deriv" => |s, _, _| regression(s, s.first().map_or(0, |x| x.t)).map(|(slope, _)| slope),
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

/// Population variance (Welford).
fn variance(s: &[Sample]) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for x in s {
        n += 1.0;
        let d = x.v - mean;
        mean += d / n;
        m2 += d * (x.v - mean);
    }
    m2 / n
}

/// Least-squares slope (per second) and intercept at `at_ms`, for `deriv` and
/// `predict_linear`; `None` with fewer than two samples.
fn regression(s: &[Sample], at_ms: i64) -> Option<(f64, f64)> {
    if s.len() < 2 {
        return None;
    }
    let n = s.len() as f64;
    let (mut sx, mut sy, mut sxy, mut sxx) = (0.0, 0.0, 0.0, 0.0);
    let const_y = s.iter().all(|x| x.v == s[0].v);
    for x in s {
        let t = (x.t - at_ms) as f64 / 1000.0;
        sx += t;
        sy += x.v;
        sxy += t * x.v;
        sxx += t * t;
    }
    if const_y {
        return Some((0.0, s[0].v));
    }
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
