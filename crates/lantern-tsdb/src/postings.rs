//! The inverted index: for every label name and value, the ids of the series that carry
//! it, as compressed bitmaps (roaring: about two bytes an id, far less for dense lists).
//! Used by the head and by every loaded block; ids are positions in the owner's series
//! list.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::{Labels, MatchOp, Matcher};
use roaring::RoaringBitmap;

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
}
