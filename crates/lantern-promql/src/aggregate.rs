//! Aggregation operators over an instant vector: `sum`, `avg`, `min`, `max`, `count`,
//! `group`, `stddev`, `stdvar`, with `by (…)` / `without (…)` grouping.

use std::collections::HashMap;

use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{token, LabelModifier};

use crate::value::{cmp_nan_last, InstantSample};
use crate::{Error, Result};

/// The labels of the group a series falls in.
fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(keep)) => Labels::from_pairs(
            labels
                .iter()
                .filter(|l| keep.labels.iter().any(|k| *k == *l.name))
                .map(|l| (l.name.clone(), l.value.clone())),
        ),
        Some(LabelModifier::Exclude(drop)) => Labels::from_pairs(
            labels
                .iter()
                .filter(|l| &*l.name != METRIC_NAME && !drop.labels.iter().any(|k| *k == *l.name))
                .map(|l| (l.name.clone(), l.value.clone())),
        ),
    }
}

#[derive(Default)]
struct Group {
    labels: Labels,
    count: f64,
    sum: f64,
    /// Running mean and sum of squared deviations (Welford), for avg/stddev/stdvar.
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

/// The parameter of `topk`, `bottomk`, `limitk`, `quantile` or `count_values`.
#[derive(Debug, Clone)]
pub enum Param {
    /// A number (`k` or `φ`).
    Number(f64),
    /// A label name (`count_values`).
    Label(String),
}

/// Applies a parameterised aggregation; the selecting ones keep each series' own labels.
pub fn aggregate_with_param(
    op: token::TokenId,
    param: Param,
    modifier: Option<&LabelModifier>,
    input: Vec<InstantSample>,
) -> Result<Vec<InstantSample>> {
    match (op, &param) {
        (token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK | token::T_QUANTILE, Param::Number(_)) => {}
        (token::T_COUNT_VALUES, Param::Label(name)) if !lantern_core::labels::is_valid_label_name(name) => {
            return Err(Error::Execution(format!("invalid label name {name:?}")));
        }
        (token::T_COUNT_VALUES, Param::Label(_)) => {}
        (other, _) => return Err(Error::Unsupported(format!("aggregation {}", token::TokenType::new(other)))),
    }
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<InstantSample>> = HashMap::new();
    for s in input {
        let key = group_labels(&s.labels, modifier);
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(s);
    }
    let mut out = Vec::new();
    for key in order {
        let Some(mut members) = groups.remove(&key) else { continue };
        match (op, &param) {
            (token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK, Param::Number(k)) => {
                if k.is_nan() {
                    return Err(Error::Execution("Parameter value is NaN".into()));
                }
                let k = if *k < 1.0 { 0 } else { k.min(usize::MAX as f64) as usize };
                if op != token::T_LIMITK {
                    let top = op == token::T_TOPK;
                    members.sort_by(|a, b| cmp_nan_last(a.v, b.v, top));
                }
                out.extend(members.into_iter().take(k));
            }
            (token::T_QUANTILE, Param::Number(phi)) => {
                let mut vals: Vec<f64> = members.iter().map(|m| m.v).collect();
                out.push(InstantSample { labels: key, v: quantile(*phi, &mut vals) });
            }
            (token::T_COUNT_VALUES, Param::Label(name)) => {
                let mut counts: Vec<(String, f64)> = Vec::new();
                for m in &members {
                    let text = format_value(m.v);
                    match counts.iter_mut().find(|(t, _)| *t == text) {
                        Some((_, c)) => *c += 1.0,
                        None => counts.push((text, 1.0)),
                    }
                }
                for (text, c) in counts {
                    let mut pairs: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> =
                        key.iter().filter(|l| *l.name != **name).map(|l| (l.name.clone(), l.value.clone())).collect();
                    pairs.push((name.as_str().into(), text.into()));
                    out.push(InstantSample { labels: Labels::from_pairs(pairs), v: c });
                }
            }
            (other, _) => return Err(Error::Unsupported(format!("aggregation {}", token::TokenType::new(other)))),
        }
    }
    Ok(out)
}

/// The φ-quantile with linear interpolation between closest ranks, as Prometheus's
/// `quantile` aggregation computes it.
fn quantile(phi: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| a.total_cmp(b));
    let n = vals.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (rank.floor() + 1.0).min(n - 1.0) as usize;
    let weight = rank - rank.floor();
    vals[lower] * (1.0 - weight) + vals[upper] * weight
}

/// A value as Prometheus prints it in labels (`count_values`).
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Applies aggregation `op` to `input`.
pub fn aggregate(
    op: token::TokenId,
    modifier: Option<&LabelModifier>,
    input: Vec<InstantSample>,
) -> Result<Vec<InstantSample>> {
    match op {
        token::T_SUM
        | token::T_AVG
        | token::T_MIN
        | token::T_MAX
        | token::T_COUNT
        | token::T_GROUP
        | token::T_STDDEV
        | token::T_STDVAR => {}
        other => return Err(Error::Unsupported(format!("aggregation {}", token::TokenType::new(other)))),
    }
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Group> = HashMap::new();
    for s in input {
        let key = group_labels(&s.labels, modifier);
        let g = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Group { labels: key, min: s.v, max: s.v, ..Group::default() }
        });
        g.count += 1.0;
        g.sum += s.v;
        let delta = s.v - g.mean;
        g.mean += delta / g.count;
        g.m2 += delta * (s.v - g.mean);
        // NaN loses to any number for min and max, as in Prometheus.
        if s.v < g.min || g.min.is_nan() {
            g.min = s.v;
        }
        if s.v > g.max || g.max.is_nan() {
            g.max = s.v;
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .map(|g| {
            let v = match op {
                token::T_SUM => g.sum,
                token::T_AVG => {
                    // The running mean overflows less, but infinities need the plain sum.
                    if g.sum.is_infinite() || g.mean.is_nan() {
                        g.sum / g.count
                    } else {
                        g.mean
                    }
                }
                token::T_MIN => g.min,
                token::T_MAX => g.max,
                token::T_COUNT => g.count,
                token::T_GROUP => 1.0,
                token::T_STDVAR => g.m2 / g.count,
                _ => (g.m2 / g.count).sqrt(),
            };
            InstantSample { labels: g.labels, v }
        })
        .collect())
}
