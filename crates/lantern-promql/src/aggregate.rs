//! Aggregation operators over an instant vector: `sum`, `avg`, `min`, `max`, `count`,
//! `group`, `stddev`, `stdvar`, with `by (…)` / `without (…)` grouping.

use std::collections::HashMap;

use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{token, LabelModifier};

use crate::value::InstantSample;
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
