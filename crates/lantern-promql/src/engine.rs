//! Instant evaluation of an expression tree.

use lantern_core::{is_stale_nan, Labels, MatchOp, Matcher, Sample, METRIC_NAME};
use promql_parser::label::MatchOp as PMatchOp;
use std::time::UNIX_EPOCH;

use promql_parser::parser::{token, AtModifier, BinaryExpr, Expr, Offset, VectorSelector};

use crate::aggregate::{aggregate, aggregate_with_param, Param};
use crate::binary::vector_vector;
use crate::functions::call;
use crate::value::{InstantSample, Value};
use crate::{Error, Result};

/// The time range of the query being evaluated (equal ends for an instant query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// First evaluation time, ms.
    pub start: i64,
    /// Last evaluation time, ms.
    pub end: i64,
}

/// Where the engine reads samples from.
pub trait Storage {
    /// Series matching every matcher, with their samples in `[mint, maxt]`, ascending.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Sample>)>;
}

/// The evaluator and its settings.
#[derive(Debug, Clone)]
pub struct Engine {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_ms: i64,
    /// Step of a subquery written without one (Prometheus: the global evaluation
    /// interval, 1m by default).
    pub default_step_ms: i64,
}

impl Default for Engine {
    fn default() -> Self {
        Self { lookback_ms: 5 * 60 * 1000, default_step_ms: 60 * 1000 }
    }
}

impl Engine {
    /// Parses and evaluates `query` at time `t` (ms).
    pub fn query_instant(&self, storage: &dyn Storage, query: &str, t: i64) -> Result<Value> {
        self.query_step(storage, query, t, Bounds { start: t, end: t })
    }

    /// Parses and evaluates `query` at time `t`, one step of a range query over `q`
    /// (which `@ start()` and `@ end()` refer to).
    pub fn query_step(&self, storage: &dyn Storage, query: &str, t: i64, q: Bounds) -> Result<Value> {
        let expr = promql_parser::parser::parse(query).map_err(Error::Parse)?;
        self.eval(storage, &expr, t, q)
    }

    /// Evaluates a parsed expression at time `t` (ms).
    pub fn eval(&self, storage: &dyn Storage, expr: &Expr, t: i64, q: Bounds) -> Result<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(storage, &p.expr, t, q),
            Expr::Unary(u) => match self.eval(storage, &u.expr, t, q)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(v) => Ok(Value::Vector(
                    v.into_iter().map(|s| InstantSample { labels: drop_name(&s.labels), v: -s.v }).collect(),
                )),
                _ => Err(Error::Execution("unary minus is only defined on scalars and instant vectors".into())),
            },
            Expr::Binary(b) => self.binary(storage, b, t, q),
            Expr::Aggregate(a) => {
                let Value::Vector(v) = self.eval(storage, &a.expr, t, q)? else {
                    return Err(Error::Execution(format!("expected an instant vector in aggregation {expr}")));
                };
                let out = match &a.param {
                    None => aggregate(a.op.id(), a.modifier.as_ref(), v)?,
                    Some(p) => {
                        let param = match self.eval(storage, p, t, q)? {
                            Value::Scalar(x) => Param::Number(x),
                            Value::String(s) => Param::Label(s),
                            _ => return Err(Error::Execution(format!("invalid parameter in aggregation {expr}"))),
                        };
                        aggregate_with_param(a.op.id(), param, a.modifier.as_ref(), v)?
                    }
                };
                Ok(Value::Vector(out))
            }
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.select_instant(storage, vs, t, q)?)),
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64;
                let end = selector_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t, q);
                let matchers = matchers_of(&ms.vs)?;
                let series = storage
                    .select(&matchers, end - range + 1, end)
                    .into_iter()
                    .map(|(l, s)| (l, s.into_iter().filter(|x| !is_stale_nan(x.v)).collect::<Vec<_>>()))
                    .filter(|(_, s)| !s.is_empty())
                    .collect();
                Ok(Value::Matrix { series, start_ms: end - range, end_ms: end })
            }
            Expr::Subquery(sq) => {
                let range = sq.range.as_millis() as i64;
                let step = sq.step.map_or(self.default_step_ms, |d| d.as_millis() as i64);
                if step <= 0 {
                    return Err(Error::Execution("subquery step must be positive".into()));
                }
                let end = selector_time(sq.at.as_ref(), sq.offset.as_ref(), t, q);
                let start = end - range;
                // Steps are aligned to multiples of the step, inside (start, end].
                let mut ts = start.div_euclid(step) * step;
                if ts <= start {
                    ts += step;
                }
                let mut series: std::collections::BTreeMap<Labels, Vec<Sample>> = std::collections::BTreeMap::new();
                while ts <= end {
                    match self.eval(storage, &sq.expr, ts, q)? {
                        Value::Vector(v) => {
                            for s in v {
                                series.entry(s.labels).or_default().push(Sample::new(ts, s.v));
                            }
                        }
                        Value::Scalar(x) => series.entry(Labels::default()).or_default().push(Sample::new(ts, x)),
                        _ => return Err(Error::Execution("subqueries need an instant vector".into())),
                    }
                    ts += step;
                }
                Ok(Value::Matrix { series: series.into_iter().collect(), start_ms: start, end_ms: end })
            }
            Expr::Call(c) => {
                let args = c.args.args.iter().map(|a| self.eval(storage, a, t, q)).collect::<Result<Vec<_>>>()?;
                call(c.func.name, args, t)
            }
            other => Err(Error::Unsupported(format!("{other}"))),
        }
    }

    fn select_instant(
        &self,
        storage: &dyn Storage,
        vs: &VectorSelector,
        t: i64,
        q: Bounds,
    ) -> Result<Vec<InstantSample>> {
        let t = selector_time(vs.at.as_ref(), vs.offset.as_ref(), t, q);
        let matchers = matchers_of(vs)?;
        // Left-open lookback window, as in Prometheus 3: (t - lookback, t].
        let mut out = Vec::new();
        for (labels, samples) in storage.select(&matchers, t - self.lookback_ms + 1, t) {
            if let Some(last) = samples.last() {
                if !is_stale_nan(last.v) {
                    out.push(InstantSample { labels, v: last.v });
                }
            }
        }
        Ok(out)
    }

    fn binary(&self, storage: &dyn Storage, b: &BinaryExpr, t: i64, q: Bounds) -> Result<Value> {
        let lhs = self.eval(storage, &b.lhs, t, q)?;
        let rhs = self.eval(storage, &b.rhs, t, q)?;
        let op = b.op.id();
        let comparison = b.op.is_comparison_operator();
        let keep_bool = b.return_bool();
        match (lhs, rhs) {
            (Value::Scalar(a), Value::Scalar(c)) => {
                if comparison && !keep_bool {
                    return Err(Error::Parse("comparisons between scalars must use BOOL modifier".into()));
                }
                Ok(Value::Scalar(apply(op, a, c)?.unwrap_or(0.0)))
            }
            (Value::Vector(v), Value::Scalar(c)) => self.vector_scalar(v, c, op, comparison, keep_bool, false),
            (Value::Scalar(c), Value::Vector(v)) => self.vector_scalar(v, c, op, comparison, keep_bool, true),
            (Value::Vector(l), Value::Vector(r)) => {
                Ok(Value::Vector(vector_vector(op, comparison, b.modifier.as_ref(), l, r)?))
            }
            _ => Err(Error::Execution(format!("binary operation {b} needs scalars or instant vectors"))),
        }
    }

    fn vector_scalar(
        &self,
        v: Vec<InstantSample>,
        c: f64,
        op: token::TokenId,
        comparison: bool,
        keep_bool: bool,
        scalar_left: bool,
    ) -> Result<Value> {
        let mut out = Vec::with_capacity(v.len());
        for s in v {
            let (l, r) = if scalar_left { (c, s.v) } else { (s.v, c) };
            let res = apply(op, l, r)?;
            let labels = if comparison && !keep_bool { s.labels } else { drop_name(&s.labels) };
            match (comparison, keep_bool, res) {
                (true, false, Some(1.0)) => out.push(InstantSample { labels, v: s.v }),
                (true, false, _) => {}
                (_, _, Some(x)) => out.push(InstantSample { labels, v: x }),
                (_, _, None) => {}
            }
        }
        Ok(Value::Vector(out))
    }
}

/// The time a selector or subquery reads at: its `@` time (or the evaluation time)
/// minus its `offset`.
fn selector_time(at: Option<&AtModifier>, offset: Option<&Offset>, t: i64, q: Bounds) -> i64 {
    let base = match at {
        None => t,
        Some(AtModifier::Start) => q.start,
        Some(AtModifier::End) => q.end,
        Some(AtModifier::At(when)) => match when.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        },
    };
    base - match offset {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// The selector's matchers, the metric name included.
fn matchers_of(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::Unsupported("'or' inside a selector".into()));
    }
    let mut matchers = Vec::new();
    if let Some(name) = &vs.name {
        matchers.push(Matcher::equal(METRIC_NAME, name.clone()));
    }
    for m in &vs.matchers.matchers {
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

pub(crate) fn drop_name(labels: &Labels) -> Labels {
    Labels::from_pairs(labels.iter().filter(|l| &*l.name != METRIC_NAME).map(|l| (l.name.clone(), l.value.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_core::STALE_NAN;

    struct Fixed(Vec<(Labels, Vec<Sample>)>);

    impl Storage for Fixed {
        fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Sample>)> {
            self.0
                .iter()
                .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
                .map(|(l, s)| (l.clone(), s.iter().copied().filter(|x| x.t >= mint && x.t <= maxt).collect()))
                .collect()
        }
    }

    fn data() -> Fixed {
        let up = |job: &str| Labels::from_pairs([("__name__", "up"), ("job", job)]);
        Fixed(vec![
            (up("a"), vec![Sample::new(0, 1.0), Sample::new(60_000, 2.0)]),
            (up("b"), vec![Sample::new(0, 5.0), Sample::new(60_000, STALE_NAN)]),
        ])
    }

    fn vector(v: Value) -> Vec<(String, f64)> {
        let Value::Vector(v) = v else { panic!("{v:?}") };
        v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect()
    }

    #[test]
    fn scalars_and_bool_comparisons() {
        let e = Engine::default();
        let d = Fixed(vec![]);
        assert_eq!(e.query_instant(&d, "1 + 2 * 3", 0).unwrap(), Value::Scalar(7.0));
        assert_eq!(e.query_instant(&d, "2 ^ 3 ^ 2", 0).unwrap(), Value::Scalar(512.0));
        assert_eq!(e.query_instant(&d, "1 < bool 2", 0).unwrap(), Value::Scalar(1.0));
        assert!(e.query_instant(&d, "1 < 2", 0).is_err());
        assert!(matches!(e.query_instant(&d, "limit_ratio(0.5, up)", 0), Err(Error::Unsupported(_))));
    }

    #[test]
    fn selectors_honour_lookback_staleness_and_offset() {
        let e = Engine::default();
        let d = data();
        assert_eq!(vector(e.query_instant(&d, "up", 90_000).unwrap()), vec![("up{job=\"a\"}".to_string(), 2.0)]);
        assert_eq!(vector(e.query_instant(&d, "up offset 1m", 90_000).unwrap()).len(), 2);
        assert!(vector(e.query_instant(&d, "up", 60_000 + 300_000).unwrap()).is_empty(), "lookback is left-open");
        assert_eq!(
            vector(e.query_instant(&d, "-up{job='a'} * 2", 60_000).unwrap()),
            vec![("{job=\"a\"}".to_string(), -4.0)]
        );
        assert_eq!(vector(e.query_instant(&d, "up > 1", 0).unwrap()), vec![("up{job=\"b\"}".to_string(), 5.0)]);
        assert_eq!(vector(e.query_instant(&d, "sum(up)", 0).unwrap()), vec![("{}".to_string(), 6.0)]);
        assert_eq!(vector(e.query_instant(&d, "topk(1, up)", 0).unwrap()), vec![("up{job=\"b\"}".to_string(), 5.0)]);
        assert_eq!(vector(e.query_instant(&d, "quantile(0.5, up)", 0).unwrap()), vec![("{}".to_string(), 3.0)]);
        assert_eq!(
            vector(e.query_instant(&d, "up{job='a'} + on() up{job='b'}", 0).unwrap()),
            vec![("{}".to_string(), 6.0)]
        );
        assert_eq!(vector(e.query_instant(&d, "up unless up{job='a'}", 0).unwrap()).len(), 1);
        assert!(e.query_instant(&d, "up + on() up", 0).is_err(), "many-to-many is refused");
        assert_eq!(vector(e.query_instant(&d, "increase(up{job='a'}[2m])", 60_000).unwrap()).len(), 1);
        assert_eq!(vector(e.query_instant(&d, "count_over_time(up[2m])", 60_000).unwrap()).len(), 2);
        // Subquery steps at 0s and 30s lie inside (-30s, 30s]; both series have a value at each.
        assert_eq!(
            vector(e.query_instant(&d, "count_over_time(up[1m:30s])", 30_000).unwrap()),
            vec![("{job=\"a\"}".to_string(), 2.0), ("{job=\"b\"}".to_string(), 2.0)]
        );
        assert_eq!(
            vector(e.query_instant(&d, "abs(-up{job='a'})", 60_000).unwrap()),
            vec![("{job=\"a\"}".to_string(), 2.0)]
        );
        assert_eq!(vector(e.query_instant(&d, "avg by (job) (up)", 0).unwrap()).len(), 2);
        assert_eq!(vector(e.query_instant(&d, "stddev without (job) (up)", 0).unwrap()), vec![("{}".to_string(), 2.0)]);
    }
}
