//! The inverted index: for every label name and value, the sorted ids of the series that
//! carry it. Used by the head and by every loaded block; ids are positions in the owner's
//! series list.

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::{Labels, MatchOp, Matcher};

/// Label name → value → sorted series ids.
#[derive(Debug, Default)]
pub struct Postings {
    map: HashMap<Arc<str>, HashMap<Arc<str>, Vec<u32>>>,
    count: u32,
}

impl Postings {
    /// Records series `id`. Ids must be added in increasing order.
    pub fn add(&mut self, id: u32, labels: &Labels) {
        debug_assert!(id >= self.count || self.count == 0, "ids are added in increasing order");
        for l in labels {
            self.map.entry(l.name.clone()).or_default().entry(l.value.clone()).or_default().push(id);
        }
        self.count = self.count.max(id + 1);
    }

    /// All label names, unsorted.
    pub fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.map.keys()
    }

    /// All values of `name`, unsorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &Arc<str>> {
        self.map.get(name).into_iter().flat_map(|m| m.keys())
    }

    /// Ids of the series that satisfy every matcher, ascending. Matchers that accept the
    /// empty string are checked against each candidate's labels via `labels_of`.
    pub fn select<'a>(&self, matchers: &[Matcher], labels_of: impl Fn(u32) -> Option<&'a Labels>) -> Vec<u32> {
        let mut result: Option<Vec<u32>> = None;
        let mut post_filter: Vec<&Matcher> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                post_filter.push(m);
                continue;
            }
            let ids = self.ids_for(m);
            result = Some(match result {
                None => ids,
                Some(prev) => intersect(&prev, &ids),
            });
            if result.as_ref().is_some_and(|r| r.is_empty()) {
                return Vec::new();
            }
        }
        let candidates = result.unwrap_or_else(|| (0..self.count).collect());
        if post_filter.is_empty() {
            return candidates;
        }
        candidates
            .into_iter()
            .filter(|&id| {
                labels_of(id).is_some_and(|ls| post_filter.iter().all(|m| m.matches(ls.get(&m.name).unwrap_or(""))))
            })
            .collect()
    }

    /// Ids of series with a value of `m.name` that `m` accepts (the matcher must not
    /// accept the empty string).
    fn ids_for(&self, m: &Matcher) -> Vec<u32> {
        let Some(values) = self.map.get(m.name.as_str()) else {
            return Vec::new();
        };
        if m.op == MatchOp::Equal {
            return values.get(m.value.as_str()).cloned().unwrap_or_default();
        }
        let lists: Vec<&Vec<u32>> = if let Some(lits) = m.set_literals() {
            lits.iter().filter_map(|v| values.get(v.as_str())).collect()
        } else {
            values.iter().filter(|(v, _)| m.matches(v)).map(|(_, ids)| ids).collect()
        };
        union(&lists)
    }
}

/// Intersection of two ascending lists.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Union of ascending lists, ascending and without duplicates.
pub fn union(lists: &[&Vec<u32>]) -> Vec<u32> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].clone(),
        _ => {
            let mut out: Vec<u32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
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
            p.add(i as u32, s);
        }
        (p, series)
    }

    fn sel(p: &Postings, s: &[Labels], m: Vec<Matcher>) -> Vec<u32> {
        p.select(&m, |id| s.get(id as usize))
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
