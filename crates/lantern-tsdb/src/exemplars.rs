//! Exemplars: the newest few per series, kept in memory by label set, logged in the
//! write-ahead log with the samples and carried through checkpoints, so they survive
//! restarts and outlive the series' stay in the head (until retention). Space is
//! bounded per series and in the number of series.

use std::collections::{HashMap, VecDeque};

use lantern_core::{Exemplar, Labels, Matcher};
use parking_lot::Mutex;

/// Why an exemplar was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExemplarVerdict {
    /// Stored.
    Added,
    /// The same exemplar is stored already.
    Duplicate,
    /// Older than the series' newest exemplar.
    OutOfOrder,
}

/// The exemplars of every series that has some.
#[derive(Debug)]
pub struct ExemplarRings {
    rings: Mutex<HashMap<Labels, VecDeque<Exemplar>>>,
    per_series: usize,
    max_series: usize,
}

impl ExemplarRings {
    /// Rings holding at most `per_series` exemplars each (0 keeps none), for at most
    /// `max_series` series.
    pub fn new(per_series: usize, max_series: usize) -> Self {
        Self { rings: Mutex::new(HashMap::new()), per_series, max_series }
    }

    /// Adds an exemplar to a series, dropping its oldest one beyond the bound.
    pub fn add(&self, series: &Labels, e: Exemplar) -> ExemplarVerdict {
        if self.per_series == 0 {
            return ExemplarVerdict::OutOfOrder;
        }
        let mut rings = self.rings.lock();
        if !rings.contains_key(series) && rings.len() >= self.max_series {
            // Make room: forget the series whose newest exemplar is the oldest.
            let oldest = rings.iter().min_by_key(|(_, r)| r.back().map_or(i64::MIN, |e| e.t)).map(|(l, _)| l.clone());
            if let Some(l) = oldest {
                rings.remove(&l);
            }
        }
        let ring = rings.entry(series.clone()).or_default();
        if let Some(last) = ring.back() {
            if last.t == e.t && last.labels == e.labels && last.value.to_bits() == e.value.to_bits() {
                return ExemplarVerdict::Duplicate;
            }
            if e.t < last.t {
                return ExemplarVerdict::OutOfOrder;
            }
        }
        ring.push_back(e);
        while ring.len() > self.per_series {
            ring.pop_front();
        }
        ExemplarVerdict::Added
    }

    /// Series matching every matcher with their exemplars in `[mint, maxt]`, oldest
    /// first, series sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Exemplar>)> {
        let rings = self.rings.lock();
        let mut out: Vec<(Labels, Vec<Exemplar>)> = rings
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
            .map(|(l, r)| (l.clone(), r.iter().filter(|e| e.t >= mint && e.t <= maxt).cloned().collect::<Vec<_>>()))
            .filter(|(_, e)| !e.is_empty())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Forgets series whose newest exemplar is older than `before`.
    pub fn expire(&self, before: i64) {
        self.rings.lock().retain(|_, r| r.back().is_some_and(|e| e.t >= before));
    }

    /// Every exemplar kept, for a checkpoint.
    pub fn dump(&self) -> Vec<(Labels, Exemplar)> {
        let rings = self.rings.lock();
        let mut out: Vec<(Labels, Exemplar)> =
            rings.iter().flat_map(|(l, r)| r.iter().map(move |e| (l.clone(), e.clone()))).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.t.cmp(&b.1.t)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_core::MatchOp;

    fn ex(t: i64, trace: &str) -> Exemplar {
        Exemplar { labels: Labels::from_pairs([("trace_id", trace)]), value: 1.0, t }
    }

    fn series(le: &str) -> Labels {
        Labels::from_pairs([("__name__", "h_bucket"), ("le", le)])
    }

    #[test]
    fn bounded_per_series_ordered_and_deduplicated() {
        let r = ExemplarRings::new(2, 10);
        let a = series("1");
        assert_eq!(r.add(&a, ex(10, "a")), ExemplarVerdict::Added);
        assert_eq!(r.add(&a, ex(10, "a")), ExemplarVerdict::Duplicate);
        assert_eq!(r.add(&a, ex(5, "b")), ExemplarVerdict::OutOfOrder);
        assert_eq!(r.add(&a, ex(20, "c")), ExemplarVerdict::Added);
        assert_eq!(r.add(&a, ex(30, "d")), ExemplarVerdict::Added);
        let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
        let got: Vec<i64> = r.select(std::slice::from_ref(&all), 0, 100)[0].1.iter().map(|e| e.t).collect();
        assert_eq!(got, vec![20, 30], "the oldest went");
        assert_eq!(r.select(std::slice::from_ref(&all), 25, 100)[0].1.len(), 1);
        r.add(&series("2"), ex(1, "x"));
        assert_eq!(r.select(&[Matcher::equal("le", "2")], 0, 100).len(), 1);
        r.expire(10);
        assert_eq!(r.dump().len(), 2, "the series whose newest exemplar is older than 10 went");
    }

    #[test]
    fn the_number_of_series_is_bounded() {
        let r = ExemplarRings::new(2, 2);
        r.add(&series("1"), ex(1, "a"));
        r.add(&series("2"), ex(2, "b"));
        r.add(&series("3"), ex(3, "c"));
        let kept: Vec<String> = r.dump().into_iter().map(|(l, _)| l.get("le").unwrap().to_string()).collect();
        assert_eq!(kept, vec!["2", "3"]);
    }
}
