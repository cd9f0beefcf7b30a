//! The [`Querier`] over the PromQL engine and any [`Storage`] (the metrics store in
//! the server, series in memory in `lantern test rules`), with LogQL handed to a
//! function the caller gives (the log store in the server).

use lantern_core::{is_stale_nan, Labels, Matcher};
use lantern_promql::{Engine, Storage, Value};

use crate::alerts::LabelSet;
use crate::error::EvalError;
use crate::eval::Querier;

/// Evaluates LogQL metric queries at a time (ms).
pub type LogqlFn<'a> = dyn Fn(&lantern_logql::Expr, i64) -> Result<Vec<(LabelSet, f64)>, EvalError> + 'a;

/// PromQL over a storage; LogQL through `logql`, if given.
pub struct EngineQuerier<'a> {
    /// The PromQL engine and its settings.
    pub engine: &'a Engine,
    /// Where series are read.
    pub storage: &'a dyn Storage,
    /// LogQL, when logs are there to query.
    pub logql: Option<&'a LogqlFn<'a>>,
}

/// Labels as a sorted map.
pub fn label_set(l: &Labels) -> LabelSet {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

impl Querier for EngineQuerier<'_> {
    fn promql(&self, expr: &promql_parser::parser::Expr, t: i64) -> Result<Vec<(LabelSet, f64)>, EvalError> {
        match self.engine.instant(self.storage, expr, t).map_err(|e| EvalError::Query(e.to_string()))? {
            Value::Vector(v) => Ok(v.into_iter().map(|s| (label_set(&s.labels), s.v)).collect()),
            Value::Scalar(v) => Ok(vec![(LabelSet::new(), v)]),
            Value::String(_) => Err(EvalError::Query("rule result is a string, not a vector or scalar".into())),
            Value::Matrix(_) => Err(EvalError::Query("rule result is a range vector, not a vector or scalar".into())),
        }
    }

    fn logql(&self, expr: &lantern_logql::Expr, t: i64) -> Result<Vec<(LabelSet, f64)>, EvalError> {
        match self.logql {
            Some(f) => f(expr, t),
            None => Err(EvalError::Query("LogQL rules need the log store, which is not available here".into())),
        }
    }

    fn last_sample(&self, labels: &LabelSet, mint: i64, maxt: i64) -> Result<Option<(i64, f64)>, EvalError> {
        let matchers: Vec<Matcher> = labels.iter().map(|(k, v)| Matcher::equal(k.as_str(), v.as_str())).collect();
        let found = self.storage.select(&matchers, mint, maxt).map_err(|e| EvalError::Query(e.to_string()))?;
        Ok(found
            .into_iter()
            .filter(|(l, _)| l.len() == labels.len())
            .filter_map(|(_, s)| s.into_iter().rev().find(|x| !is_stale_nan(x.v)).map(|x| (x.t, x.v)))
            .max_by_key(|x| x.0))
    }
}
