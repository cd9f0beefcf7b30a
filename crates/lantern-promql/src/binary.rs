//! Binary operators over a grid: between scalars, a vector and a scalar, and two
//! vectors with label matching (`on`, `ignoring`), cardinality (`group_left`,
//! `group_right`), arithmetic, comparisons (filtering or `bool`) and the set operators
//! `and`, `or`, `unless`. Matching signatures are computed once per series.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{token, BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::engine::{merge_same_labels, Ctx};
use crate::value::{Grid, Pt, Series, Val};
use crate::{Error, Result};

/// Evaluates `b` over the grid.
pub(crate) fn eval(ctx: &Ctx, b: &BinaryExpr, grid: Grid) -> Result<Val> {
    let lhs = ctx.eval(&b.lhs, grid)?;
    let rhs = ctx.eval(&b.rhs, grid)?;
    let op = b.op.id();
    let comparison = b.op.is_comparison_operator();
    let keep_bool = b.return_bool();
    match (lhs, rhs) {
        (Val::Scalar(a), Val::Scalar(c)) => {
            if comparison && !keep_bool {
                return Err(Error::Parse("comparisons between scalars must use BOOL modifier".into()));
            }
            let v =
                a.iter().zip(&c).map(|(&x, &y)| apply(op, x, y).map(|r| r.unwrap_or(0.0))).collect::<Result<_>>()?;
            Ok(Val::Scalar(v))
        }
        (Val::Vector(v), Val::Scalar(c)) => Ok(Val::Vector(vector_scalar(v, &c, op, comparison, keep_bool, false)?)),
        (Val::Scalar(c), Val::Vector(v)) => Ok(Val::Vector(vector_scalar(v, &c, op, comparison, keep_bool, true)?)),
        (Val::Vector(l), Val::Vector(r)) => Ok(Val::Vector(vector_vector(b, op, comparison, l, r)?)),
        _ => Err(Error::Execution(format!("binary operation {b} needs scalars or instant vectors"))),
    }
}

/// Applies an arithmetic or comparison operator; comparisons give 1 or 0.
pub(crate) fn apply(op: token::TokenId, a: f64, b: f64) -> Result<Option<f64>> {
    let bool_of = |x: bool| Some(if x { 1.0 } else { 0.0 });
    Ok(match op {
        token::T_ADD => Some(a + b),
        token::T_SUB => Some(a - b),
        token::T_MUL => Some(a * b),
        token::T_DIV => Some(a / b),
        token::T_MOD => Some(a % b),
        token::T_POW => Some(a.powf(b)),
        token::T_ATAN2 => Some(a.atan2(b)),
        token::T_EQLC => bool_of(a == b),
        token::T_NEQ => bool_of(a != b),
        token::T_GTR => bool_of(a > b),
        token::T_LSS => bool_of(a < b),
        token::T_GTE => bool_of(a >= b),
        token::T_LTE => bool_of(a <= b),
        other => return Err(Error::Unsupported(format!("operator {}", token::TokenType::new(other)))),
    })
}

fn vector_scalar(
    mut v: Vec<Series>,
    c: &[f64],
    op: token::TokenId,
    comparison: bool,
    keep_bool: bool,
    scalar_left: bool,
) -> Result<Vec<Series>> {
    let filter = comparison && !keep_bool;
    for s in &mut v {
        let mut points = Vec::with_capacity(s.points.len());
        for p in &s.points {
            let k = c[p.i as usize];
            let (l, r) = if scalar_left { (k, p.v) } else { (p.v, k) };
            match (filter, apply(op, l, r)?) {
                // A filtering comparison keeps the vector's own value, whichever side it is on.
                (true, Some(1.0)) => points.push(*p),
                (true, _) | (false, None) => {}
                (false, Some(x)) => points.push(Pt { i: p.i, v: x }),
            }
        }
        s.points = points;
        if !filter {
            s.drop_name = true;
        }
    }
    v.retain(|s| !s.points.is_empty());
    Ok(v)
}

type Signature = Vec<(Arc<str>, Arc<str>)>;

/// Interns the matching signature of each series: the labels two sides are matched on.
struct Signatures {
    ids: HashMap<Signature, u32>,
}

impl Signatures {
    fn of(&mut self, labels: &Labels, matching: Option<&LabelModifier>) -> u32 {
        let keep = |name: &str| match matching {
            Some(LabelModifier::Include(on)) => on.labels.iter().any(|l| l == name),
            Some(LabelModifier::Exclude(ignoring)) => name != METRIC_NAME && !ignoring.labels.iter().any(|l| l == name),
            None => name != METRIC_NAME,
        };
        let sig: Signature =
            labels.iter().filter(|l| keep(&l.name)).map(|l| (l.name.clone(), l.value.clone())).collect();
        let next = self.ids.len() as u32;
        *self.ids.entry(sig).or_insert(next)
    }

    fn describe(&self, id: u32) -> String {
        let sig = self.ids.iter().find(|(_, &v)| v == id).map(|(k, _)| k.clone()).unwrap_or_default();
        let labels = Labels::from_pairs(sig);
        format!("{labels}")
    }
}

fn vector_vector(
    b: &BinaryExpr,
    op: token::TokenId,
    comparison: bool,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
) -> Result<Vec<Series>> {
    let modifier = b.modifier.as_ref();
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let mut sigs = Signatures { ids: HashMap::new() };
    if matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS) {
        return Ok(set_op(op, &mut sigs, matching, lhs, rhs));
    }
    let return_bool = modifier.is_some_and(|m| m.return_bool);
    let card = modifier.map(|m| m.card.clone()).unwrap_or(VectorMatchCardinality::OneToOne);
    if matches!(card, VectorMatchCardinality::ManyToMany) {
        return Err(Error::Execution("many-to-many only allowed for set operators".into()));
    }
    // group_right is group_left with the sides swapped.
    let (swapped, include, many, one) = match &card {
        VectorMatchCardinality::OneToMany(l) => (true, l.labels.clone(), rhs, lhs),
        VectorMatchCardinality::ManyToOne(l) => (false, l.labels.clone(), lhs, rhs),
        _ => (false, Vec::new(), lhs, rhs),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let one_sigs: Vec<u32> = one.iter().map(|s| sigs.of(&s.labels, matching)).collect();
    let many_sigs: Vec<u32> = many.iter().map(|s| sigs.of(&s.labels, matching)).collect();
    // (signature, step) → (series, value) of the "one" side; two there is many-to-many.
    let mut one_at: HashMap<(u32, u32), (u32, f64)> = HashMap::new();
    for (k, s) in one.iter().enumerate() {
        for p in &s.points {
            if let Some((other, _)) = one_at.insert((one_sigs[k], p.i), (k as u32, p.v)) {
                let side = if swapped { "left" } else { "right" };
                return Err(Error::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    sigs.describe(one_sigs[k]),
                    one[other as usize].labels,
                    s.labels
                )));
            }
        }
    }
    let mut many_seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out: Vec<Series> = Vec::new();
    let mut pairs: HashMap<(u32, u32), usize> = HashMap::new();
    let filter = comparison && !return_bool;
    for (k, s) in many.iter().enumerate() {
        let sig = many_sigs[k];
        for p in &s.points {
            let Some(&(o, ov)) = one_at.get(&(sig, p.i)) else { continue };
            if one_to_one && !many_seen.insert((sig, p.i)) {
                let side = if swapped { "right" } else { "left" };
                return Err(Error::Execution(format!(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right) on the {side} hand-side of the operation: {}",
                    sigs.describe(sig)
                )));
            }
            let (l, r) = if swapped { (ov, p.v) } else { (p.v, ov) };
            let Some(res) = apply(op, l, r)? else { continue };
            let value = if filter {
                if res != 1.0 {
                    continue;
                }
                l
            } else {
                res
            };
            let idx = *pairs.entry((k as u32, o)).or_insert_with(|| {
                let labels = result_labels(&s.labels, &one[o as usize].labels, matching, one_to_one, &include);
                out.push(Series { labels, drop_name: if filter { s.drop_name } else { true }, points: Vec::new() });
                out.len() - 1
            });
            out[idx].points.push(Pt { i: p.i, v: value });
        }
    }
    let collision = if one_to_one {
        "vector cannot contain metrics with the same labelset"
    } else {
        "multiple matches for labels: grouping labels must ensure unique matches"
    };
    merge_same_labels(out, collision)
}

/// The labels of a result sample, as Prometheus builds them.
fn result_labels(
    many: &Labels,
    one: &Labels,
    matching: Option<&LabelModifier>,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    let mut pairs: Vec<(Arc<str>, Arc<str>)> = many
        .iter()
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
    sigs: &mut Signatures,
    matching: Option<&LabelModifier>,
    mut lhs: Vec<Series>,
    rhs: Vec<Series>,
) -> Vec<Series> {
    let present = |sigs: &mut Signatures, v: &[Series]| -> (Vec<u32>, HashSet<(u32, u32)>) {
        let ids: Vec<u32> = v.iter().map(|s| sigs.of(&s.labels, matching)).collect();
        let at = v.iter().zip(&ids).flat_map(|(s, &id)| s.points.iter().map(move |p| (id, p.i))).collect();
        (ids, at)
    };
    match op {
        token::T_LAND | token::T_LUNLESS => {
            let (_, rhs_at) = present(sigs, &rhs);
            let keep_matching = op == token::T_LAND;
            for s in &mut lhs {
                let id = sigs.of(&s.labels, matching);
                s.points.retain(|p| rhs_at.contains(&(id, p.i)) == keep_matching);
            }
            lhs.retain(|s| !s.points.is_empty());
            lhs
        }
        _ => {
            let (_, lhs_at) = present(sigs, &lhs);
            for mut s in rhs {
                let id = sigs.of(&s.labels, matching);
                s.points.retain(|p| !lhs_at.contains(&(id, p.i)));
                if !s.points.is_empty() {
                    lhs.push(s);
                }
            }
            lhs
        }
    }
}
