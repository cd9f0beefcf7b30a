//! The inverted index: for every label name and value, the ids of the series that carry
//! it, as compressed bitmaps (roaring: about two bytes an id, far less for dense lists).
//! Used by the head and by every loaded block; ids are positions in the owner's series
//! list.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::{Labels, MatchOp, Matcher};
use roaring::RoaringBitmap;

/// Counts of an index: what uses up its series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cardinality {
    /// Distinct label pairs.
    pub label_pairs: u64,
    /// Series per metric name.
    pub series_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub values_by_label_name: Vec<(String, u64)>,
    /// Bytes of the distinct values per label name.
    pub memory_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_by_label_pair: Vec<(String, u64)>,
}

/// Label name → value → series ids.
#[derive(Debug, Default)]
pub struct Postings {
    map: HashMap<Arc<str>, HashMap<Arc<str>, RoaringBitmap>>,
    count: u32,
}

impl Postings {
    /// Records series `id` with its label pairs. Ids must be added in increasing order.
    pub fn add(&mut self, id: u32, pairs: impl IntoIterator<Item = (Arc<str>, Arc<str>)>) {
        debug_assert!(id >= self.count || self.count == 0, "ids are added in increasing order");
        for (name, value) in pairs {
            let list = self.map.entry(name).or_default().entry(value).or_default();
            if list.try_push(id).is_err() {
                list.insert(id);
            }
        }
        self.count = self.count.max(id + 1);
    }

    /// Records series `id` with its labels.
    pub fn add_labels(&mut self, id: u32, labels: &Labels) {
        self.add(id, labels.iter().map(|l| (l.name.clone(), l.value.clone())));
    }

    /// All label names, unsorted.
    pub fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.map.keys()
    }

    /// All values of `name`, unsorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &Arc<str>> {
        self.map.get(name).into_iter().flat_map(|m| m.keys())
    }

    /// Ids of the series that satisfy every matcher, ascending. A matcher that accepts
    /// the empty string (so also series without its label) removes the series whose value
    /// it rejects, found through the postings of those values.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<u32> {
        let mut result: Option<RoaringBitmap> = None;
        let mut excluding: Vec<&Matcher> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                excluding.push(m);
                continue;
            }
            let ids = self.ids_for(m);
            result = Some(match result {
                None => ids,
                Some(prev) => prev & ids,
            });
            if result.as_ref().is_some_and(|r| r.is_empty()) {
                return Vec::new();
            }
        }
        let mut ids = result.unwrap_or_else(|| (0..self.count).collect());
        for m in excluding {
            let Some(values) = self.map.get(m.name.as_str()) else { continue };
            for (_, list) in values.iter().filter(|(v, _)| !m.matches(v)) {
                ids -= list;
            }
        }
        ids.iter().collect()
    }

    /// What the index holds, as Prometheus's `/api/v1/status/tsdb` reports it: the
    /// `limit` largest of each list, largest first (ties by name).
    pub fn cardinality(&self, limit: usize) -> Cardinality {
        fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        }
        let by_name = self
            .map
            .get(lantern_core::METRIC_NAME)
            .map_or_else(Vec::new, |values| values.iter().map(|(v, ids)| (v.to_string(), ids.len())).collect());
        let values = self.map.iter().map(|(n, vs)| (n.to_string(), vs.len() as u64)).collect();
        let memory = self.map.iter().map(|(n, vs)| (n.to_string(), vs.keys().map(|v| v.len() as u64).sum())).collect();
        let mut pairs = Vec::new();
        for (n, vs) in &self.map {
            pairs.extend(vs.iter().map(|(v, ids)| (format!("{n}={v}"), ids.len())));
        }
        Cardinality {
            label_pairs: pairs.len() as u64,
            series_by_metric_name: top(by_name, limit),
            values_by_label_name: top(values, limit),
            memory_by_label_name: top(memory, limit),
            series_by_label_pair: top(pairs, limit),
        }
    }

    /// Ids of series with a value of `m.name` that `m` accepts (the matcher must not
    /// accept the empty string).
    fn ids_for(&self, m: &Matcher) -> RoaringBitmap {
        let Some(values) = self.map.get(m.name.as_str()) else {
            return RoaringBitmap::new();
        };
        if m.op == MatchOp::Equal {
            return values.get(m.value.as_str()).cloned().unwrap_or_default();
        }
        let mut out = RoaringBitmap::new();
        if let Some(lits) = m.set_literals() {
            for list in lits.iter().filter_map(|v| values.get(v.as_str())) {
                out |= list;
            }
        } else {
            for (_, list) in values.iter().filter(|(v, _)| m.matches(v)) {
                out |= list;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Postings, Vec<Labels>) {
        let series = vec![
            Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", "a")]),
            Labels::from_pairs([("__name__", "up"), ("job", "db")]),
            Labels::from_pairs([("__name__", "requests"), ("job", "api"), ("instance", "b")]),
        ];
        let mut p = Postings::default();
        for (i, s) in series.iter().enumerate() {
            p.add_labels(i as u32, s);
        }
        (p, series)
    }

    fn sel(p: &Postings, _s: &[Labels], m: Vec<Matcher>) -> Vec<u32> {
        p.select(&m)
    }

    #[test]
    fn every_matcher_kind_including_on_the_name() {
        let (p, s) = setup();
        assert_eq!(sel(&p, &s, vec![Matcher::equal("__name__", "up")]), vec![0, 1]);
        assert_eq!(sel(&p, &s, vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "api")]), vec![0]);
        assert_eq!(sel(&p, &s, vec![Matcher::new(MatchOp::NotEqual, "job", "api").unwrap()]), vec![1]);
        assert_eq!(sel(&p, &s, vec![Matcher::new(MatchOp::Regex, "__name__", "u.|req.*").unwrap()]), vec![0, 1, 2]);
        assert_eq!(
            sel(&p, &s, vec![Matcher::new(MatchOp::NotRegex, "__name__", "up").unwrap(), Matcher::equal("job", "api")]),
            vec![2]
        );
        // A matcher accepting the empty string also selects series without the label.
        assert_eq!(sel(&p, &s, vec![Matcher::equal("instance", "")]), vec![1]);
        assert_eq!(sel(&p, &s, vec![Matcher::new(MatchOp::Regex, "instance", "a|").unwrap()]), vec![0, 1]);
        assert!(sel(&p, &s, vec![Matcher::equal("job", "nope")]).is_empty());
    }

    #[test]
    fn cardinality_counts_series_values_and_pairs_largest_first() {
        let (p, _) = setup();
        let c = p.cardinality(2);
        assert_eq!(c.label_pairs, 6);
        assert_eq!(c.series_by_metric_name, [("up".to_string(), 2), ("requests".to_string(), 1)]);
        assert_eq!(c.values_by_label_name, [("__name__".to_string(), 2), ("instance".to_string(), 2)]);
        assert_eq!(c.memory_by_label_name, [("__name__".to_string(), 10), ("job".to_string(), 5)]);
        assert_eq!(c.series_by_label_pair, [("__name__=up".to_string(), 2), ("job=api".to_string(), 2)]);
    }
}
