//! Series in memory, as a PromQL [`Storage`]: what `lantern test rules` loads its
//! input series into and writes rule output to.

use std::cell::RefCell;
use std::collections::BTreeMap;

use lantern_core::{Labels, Matcher, Sample};
use lantern_promql::Storage;

use crate::alerts::LabelSet;

/// Series by labels, samples ascending by time. Appends take `&self` so rules can
/// write while a querier reads the same storage (one thread).
#[derive(Debug, Default)]
pub struct MemStorage {
    series: RefCell<BTreeMap<Labels, Vec<Sample>>>,
}

impl MemStorage {
    /// Adds a sample; one at the same time as an existing sample replaces it.
    pub fn append(&self, labels: &LabelSet, t: i64, v: f64) {
        let l = Labels::from_pairs(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut series = self.series.borrow_mut();
        let s = series.entry(l).or_default();
        match s.binary_search_by_key(&t, |x| x.t) {
            Ok(i) => s[i] = Sample::new(t, v),
            Err(i) => s.insert(i, Sample::new(t, v)),
        }
    }
}

impl Storage for MemStorage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> lantern_promql::Result<Vec<(Labels, Vec<Sample>)>> {
        Ok(self
            .series
            .borrow()
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
            .map(|(l, s)| (l.clone(), s.iter().copied().filter(|x| x.t >= mint && x.t <= maxt).collect::<Vec<_>>()))
            .filter(|(_, s)| !s.is_empty())
            .collect())
    }
}
