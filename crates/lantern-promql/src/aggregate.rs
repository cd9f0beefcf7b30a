//! Aggregation operators over a grid: `sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar`, `topk`, `bottomk`, `limitk`, `limit_ratio`, `quantile` and
//! `count_values`, with `by (…)` / `without (…)`. Each series' group is found once; the
//! values are then combined step by step.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use lantern_core::{Labels, METRIC_NAME};
use promql_parser::parser::{token, AggregateExpr, LabelModifier};

use crate::engine::Ctx;
use crate::value::{cmp_nan_last, kahan_add, Grid, Mean, Pt, Series, Val, Variance};
use crate::{Error, Result};

/// Evaluates an aggregation over the grid.
pub(crate) fn eval(ctx: &Ctx, a: &AggregateExpr, grid: Grid) -> Result<Val> {
    let op = a.op.id();
    let param = match &a.param {
        None => None,
        Some(p) => Some(ctx.eval(p, grid)?),
    };
    let Val::Vector(input) = ctx.eval(&a.expr, grid)? else {
        return Err(Error::Execution(format!("expected an instant vector in aggregation {}", a.expr)));
    };
    let modifier = a.modifier.as_ref();
    let out = match (op, param) {
        (token::T_SUM | token::T_AVG | token::T_MIN | token::T_MAX | token::T_COUNT | token::T_GROUP, None)
        | (token::T_STDDEV | token::T_STDVAR, None) => simple(op, modifier, input, grid.n),
        (token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK | token::T_LIMIT_RATIO, Some(Val::Scalar(k))) => {
            select(op, &k, modifier, input, grid.n)?
        }
        (token::T_QUANTILE, Some(Val::Scalar(phi))) => quantile_agg(&phi, modifier, input, grid.n),
        (token::T_COUNT_VALUES, Some(Val::String(name))) => count_values(&name, modifier, input, grid.n)?,
        (other, _) => {
            return Err(Error::Execution(format!("invalid parameter for aggregation {}", token::TokenType::new(other))))
        }
    };
    Ok(Val::Vector(out))
}

/// The labels of the group a series falls in.
fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(keep)) => Labels::from_sorted_unchecked(
            labels.iter().filter(|l| keep.labels.iter().any(|k| *k == *l.name)).cloned().collect(),
        ),
        Some(LabelModifier::Exclude(drop)) => Labels::from_sorted_unchecked(
            labels
                .iter()
                .filter(|l| &*l.name != METRIC_NAME && !drop.labels.iter().any(|k| *k == *l.name))
                .cloned()
                .collect(),
        ),
    }
}

/// Groups: each series' group index, and each group's labels (in order of first
/// appearance) with whether a member wants its name dropped.
fn grouping(input: &[Series], modifier: Option<&LabelModifier>) -> (Vec<u32>, Vec<(Labels, bool)>) {
    let mut index: HashMap<Labels, u32> = HashMap::new();
    let mut groups: Vec<(Labels, bool)> = Vec::new();
    let member = input
        .iter()
        .map(|s| {
            let key = group_labels(&s.labels, modifier);
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, false));
                groups.len() as u32 - 1
            });
            groups[g as usize].1 |= s.drop_name;
            g
        })
        .collect();
    (member, groups)
}

/// The points of all series, ordered by step: `offsets[i]..offsets[i + 1]` index the
/// entries `(series, value)` of step `i`.
struct ByStep {
    offsets: Vec<usize>,
    entries: Vec<(u32, f64)>,
}

impl ByStep {
    fn new(input: &[Series], n: usize) -> Self {
        let mut offsets = vec![0usize; n + 1];
        for s in input {
            for p in &s.points {
                offsets[p.i as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0.0); offsets[n]];
        for (k, s) in input.iter().enumerate() {
            for p in &s.points {
                let slot = &mut fill[p.i as usize];
                entries[*slot] = (k as u32, p.v);
                *slot += 1;
            }
        }
        Self { offsets, entries }
    }

    fn step(&self, i: usize) -> &[(u32, f64)] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }
}

#[derive(Clone, Copy, Default)]
struct Acc {
    count: f64,
    sum: f64,
    c: f64,
    mean: Mean,
    var: Variance,
    min: f64,
    max: f64,
}

fn simple(op: token::TokenId, modifier: Option<&LabelModifier>, input: Vec<Series>, n: usize) -> Vec<Series> {
    let (member, groups) = grouping(&input, modifier);
    let by_step = ByStep::new(&input, n);
    let mut out: Vec<Series> =
        groups.into_iter().map(|(labels, drop_name)| Series { labels, drop_name, points: Vec::new() }).collect();
    let mut acc: Vec<Acc> = vec![Acc::default(); out.len()];
    let mut touched: Vec<u32> = Vec::new();
    for i in 0..n {
        for &(k, v) in by_step.step(i) {
            let g = member[k as usize];
            let a = &mut acc[g as usize];
            if a.count == 0.0 {
                touched.push(g);
                *a = Acc { min: v, max: v, ..Acc::default() };
            }
            a.count += 1.0;
            match op {
                token::T_SUM => (a.sum, a.c) = kahan_add(v, a.sum, a.c),
                token::T_AVG => a.mean.add(v),
                token::T_STDDEV | token::T_STDVAR => a.var.add(v),
                // NaN loses to any number for min and max, as in Prometheus.
                token::T_MIN if v < a.min || a.min.is_nan() => a.min = v,
                token::T_MAX if v > a.max || a.max.is_nan() => a.max = v,
                _ => {}
            }
        }
        for &g in &touched {
            let a = &mut acc[g as usize];
            let v = match op {
                token::T_SUM => a.sum + a.c,
                token::T_AVG => a.mean.value(),
                token::T_MIN => a.min,
                token::T_MAX => a.max,
                token::T_COUNT => a.count,
                token::T_GROUP => 1.0,
                token::T_STDVAR => a.var.value(),
                _ => a.var.value().sqrt(),
            };
            out[g as usize].points.push(Pt { i: i as u32, v });
            a.count = 0.0;
        }
        touched.clear();
    }
    out.retain(|s| !s.points.is_empty());
    out
}

/// `topk`, `bottomk`, `limitk`, `limit_ratio`: members keep their own labels.
fn select(
    op: token::TokenId,
    k: &[f64],
    modifier: Option<&LabelModifier>,
    input: Vec<Series>,
    n: usize,
) -> Result<Vec<Series>> {
    for &x in k {
        if x.is_nan() {
            return Err(Error::Execution(
                if op == token::T_LIMIT_RATIO { "Ratio value is NaN" } else { "Parameter value is NaN" }.into(),
            ));
        }
    }
    let (member, groups) = grouping(&input, modifier);
    let by_step = ByStep::new(&input, n);
    let mut keep: Vec<Vec<Pt>> = vec![Vec::new(); input.len()];
    let ratio_offset: Vec<f64> =
        if op == token::T_LIMIT_RATIO { input.iter().map(|s| hash_ratio(&s.labels)).collect() } else { Vec::new() };
    let mut members: Vec<Vec<(u32, f64)>> = vec![Vec::new(); groups.len()];
    // For an instant query the order of the output is the order of selection.
    let mut order: Vec<u32> = Vec::new();
    for (i, &k_i) in k.iter().enumerate().take(n) {
        for &(s, v) in by_step.step(i) {
            members[member[s as usize] as usize].push((s, v));
        }
        for m in &mut members {
            if m.is_empty() {
                continue;
            }
            match op {
                token::T_LIMIT_RATIO => {
                    let r = k_i.clamp(-1.0, 1.0);
                    m.retain(|&(s, _)| {
                        let off = ratio_offset[s as usize];
                        (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r)
                    });
                }
                _ => {
                    let limit = if k_i < 1.0 { 0 } else { k_i.min(usize::MAX as f64) as usize };
                    match op {
                        token::T_TOPK => m.sort_by(|a, b| cmp_nan_last(a.1, b.1, true)),
                        token::T_BOTTOMK => m.sort_by(|a, b| cmp_nan_last(a.1, b.1, false)),
                        // limitk keeps the same series from step to step: the first by labels.
                        _ => m.sort_by(|a, b| input[a.0 as usize].labels.cmp(&input[b.0 as usize].labels)),
                    }
                    m.truncate(limit);
                }
            }
            for &(s, v) in m.iter() {
                if n == 1 {
                    order.push(s);
                }
                keep[s as usize].push(Pt { i: i as u32, v });
            }
            m.clear();
        }
    }
    let mut input: Vec<Option<Series>> = input.into_iter().map(Some).collect();
    let mut out = Vec::new();
    let mut take = |s: usize, keep: &mut Vec<Vec<Pt>>| {
        if let Some(mut series) = input[s].take() {
            series.points = std::mem::take(&mut keep[s]);
            if !series.points.is_empty() {
                out.push(series);
            }
        }
    };
    if n == 1 {
        for s in order {
            take(s as usize, &mut keep);
        }
    } else {
        for s in 0..keep.len() {
            take(s, &mut keep);
        }
    }
    Ok(out)
}

/// Where a series falls in [0, 1] for `limit_ratio`: its label hash (xxHash64 of
/// `name\xffvalue\xff…`, as Prometheus's `labels.Hash`) over the largest hash.
fn hash_ratio(labels: &Labels) -> f64 {
    let mut buf = Vec::with_capacity(256);
    for l in labels {
        buf.extend_from_slice(l.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(l.value.as_bytes());
        buf.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&buf, 0) as f64 / u64::MAX as f64
}

fn quantile_agg(phi: &[f64], modifier: Option<&LabelModifier>, input: Vec<Series>, n: usize) -> Vec<Series> {
    let (member, groups) = grouping(&input, modifier);
    let by_step = ByStep::new(&input, n);
    let mut out: Vec<Series> =
        groups.into_iter().map(|(labels, drop_name)| Series { labels, drop_name, points: Vec::new() }).collect();
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); out.len()];
    for (i, &phi_i) in phi.iter().enumerate().take(n) {
        for &(s, v) in by_step.step(i) {
            vals[member[s as usize] as usize].push(v);
        }
        for (g, v) in vals.iter_mut().enumerate() {
            if !v.is_empty() {
                out[g].points.push(Pt { i: i as u32, v: quantile(phi_i, v) });
                v.clear();
            }
        }
    }
    out.retain(|s| !s.points.is_empty());
    out
}

/// The φ-quantile with linear interpolation between closest ranks, NaN counting as the
/// smallest value, as Prometheus's `quantile` and `quantile_over_time` compute it.
pub(crate) fn quantile(phi: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = vals.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (rank.floor() + 1.0).min(n - 1.0) as usize;
    let weight = rank - rank.floor();
    vals[lower] * (1.0 - weight) + vals[upper] * weight
}

/// A value as Prometheus prints it in a label (`count_values`): Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`, never with an exponent.
pub(crate) fn format_value(v: f64) -> String {
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

fn count_values(name: &str, modifier: Option<&LabelModifier>, input: Vec<Series>, n: usize) -> Result<Vec<Series>> {
    if !lantern_core::labels::is_valid_label_name(name) {
        return Err(Error::Execution(format!("invalid label name {}", go_quote(name))));
    }
    let (member, groups) = grouping(&input, modifier);
    let by_step = ByStep::new(&input, n);
    let mut index: HashMap<(u32, String), usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    for i in 0..n {
        for &(s, v) in by_step.step(i) {
            let g = member[s as usize];
            let text = format_value(v);
            let idx = *index.entry((g, text.clone())).or_insert_with(|| {
                let mut pairs: Vec<(Arc<str>, Arc<str>)> = groups[g as usize]
                    .0
                    .iter()
                    .filter(|l| *l.name != *name)
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                pairs.push((name.into(), text.into()));
                out.push(Series { labels: Labels::from_pairs(pairs), drop_name: false, points: Vec::new() });
                out.len() - 1
            });
            match out[idx].points.last_mut() {
                Some(p) if p.i == i as u32 => p.v += 1.0,
                _ => out[idx].points.push(Pt { i: i as u32, v: 1.0 }),
            }
        }
    }
    Ok(out)
}

/// Quotes like Go's `%q`. The parser turns a `\xNN` escape into the character U+00NN,
/// where Prometheus keeps the raw byte; such characters are printed back as `\xNN`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{80}'..='\u{ff}' | '\0'..='\u{1f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
