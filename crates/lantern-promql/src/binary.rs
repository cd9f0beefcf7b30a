//! Binary operators between two instant vectors: label matching (`on`, `ignoring`),
//! cardinality (`group_left`, `group_right`), arithmetic, comparisons (filtering or
//! `bool`) and the set operators `and`, `or`, `unless`.

use std::collections::{HashMap, HashSet};

use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{token, BinModifier, LabelModifier, VectorMatchCardinality};

use crate::engine::apply;
use crate::value::InstantSample;
use crate::{Error, Result};

/// The part of a label set two sides are matched on.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Vec<(String, String)> {
    let keep = |name: &str| match matching {
        Some(LabelModifier::Include(on)) => on.labels.iter().any(|l| l == name),
        Some(LabelModifier::Exclude(ignoring)) => name != METRIC_NAME && !ignoring.labels.iter().any(|l| l == name),
        None => name != METRIC_NAME,
    };
    labels.iter().filter(|l| keep(&l.name)).map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

/// Evaluates `lhs op rhs` for two vectors.
pub fn vector_vector(
    op: token::TokenId,
    is_comparison: bool,
    modifier: Option<&BinModifier>,
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
) -> Result<Vec<InstantSample>> {
    let matching = modifier.and_then(|m| m.matching.as_ref());
    match op {
        token::T_LAND | token::T_LOR | token::T_LUNLESS => return Ok(set_op(op, matching, lhs, rhs)),
        _ => {}
    }
    let return_bool = modifier.is_some_and(|m| m.return_bool);
    let card = modifier.map(|m| m.card.clone()).unwrap_or(VectorMatchCardinality::OneToOne);
    // group_right is group_left with the sides swapped.
    let (swapped, include, (many, one)) = match &card {
        VectorMatchCardinality::OneToMany(l) => (true, l.labels.clone(), (rhs, lhs)),
        VectorMatchCardinality::ManyToOne(l) => (false, l.labels.clone(), (lhs, rhs)),
        _ => (false, Vec::new(), (lhs, rhs)),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let mut one_side: HashMap<Vec<(String, String)>, &InstantSample> = HashMap::new();
    for s in &one {
        if one_side.insert(signature(&s.labels, matching), s).is_some() {
            let side = if swapped { "left" } else { "right" };
            return Err(Error::Execution(format!(
                "found duplicate series for the match group {:?} on the {side} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side",
                signature(&s.labels, matching)
            )));
        }
    }
    let mut matched_many: HashSet<Vec<(String, String)>> = HashSet::new();
    let mut out: Vec<InstantSample> = Vec::new();
    let mut seen: HashSet<Labels> = HashSet::new();
    for s in &many {
        let sig = signature(&s.labels, matching);
        let Some(o) = one_side.get(&sig) else { continue };
        if one_to_one && !matched_many.insert(sig.clone()) {
            return Err(Error::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        let (l, r) = if swapped { (o.v, s.v) } else { (s.v, o.v) };
        let Some(res) = apply(op, l, r)? else { continue };
        let value = if is_comparison && !return_bool {
            if res != 1.0 {
                continue;
            }
            l
        } else {
            res
        };
        let labels = result_labels(&s.labels, &o.labels, matching, one_to_one, &include, !is_comparison || return_bool);
        if !seen.insert(labels.clone()) {
            return Err(Error::Execution(if one_to_one {
                "vector cannot contain metrics with the same labelset".into()
            } else {
                "multiple matches for labels: grouping labels must ensure unique matches".into()
            }));
        }
        out.push(InstantSample { labels, v: value });
    }
    Ok(out)
}

/// The labels of a result sample, as Prometheus builds them.
fn result_labels(
    many: &Labels,
    one: &Labels,
    matching: Option<&LabelModifier>,
    one_to_one: bool,
    include: &[String],
    drop_name: bool,
) -> Labels {
    let mut pairs: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> = many
        .iter()
        .filter(|l| !(drop_name && &*l.name == METRIC_NAME))
        .filter(|l| {
            !one_to_one
                || match matching {
                    Some(LabelModifier::Include(on)) => on.labels.iter().any(|k| *k == *l.name),
                    Some(LabelModifier::Exclude(ignoring)) => !ignoring.labels.iter().any(|k| *k == *l.name),
                    None => true,
                }
        })
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    for name in include {
        pairs.retain(|(n, _)| **n != **name);
        if let Some(v) = one.get(name) {
            pairs.push((name.as_str().into(), v.into()));
        }
    }
    Labels::from_pairs(pairs)
}

fn set_op(
    op: token::TokenId,
    matching: Option<&LabelModifier>,
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
) -> Vec<InstantSample> {
    let rhs_sigs: HashSet<Vec<(String, String)>> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    match op {
        token::T_LAND => lhs.into_iter().filter(|s| rhs_sigs.contains(&signature(&s.labels, matching))).collect(),
        token::T_LUNLESS => lhs.into_iter().filter(|s| !rhs_sigs.contains(&signature(&s.labels, matching))).collect(),
        _ => {
            let lhs_sigs: HashSet<Vec<(String, String)>> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|s| !lhs_sigs.contains(&signature(&s.labels, matching))));
            out
        }
    }
}
