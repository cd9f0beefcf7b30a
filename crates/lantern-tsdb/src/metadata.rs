//! Metric metadata (type, help, unit per metric family), as scrapes, remote write and
//! OTLP report it, for `/api/v1/metadata`. Kept in memory: every source repeats it
//! (each scrape, Prometheus's periodic metadata sends), so a restart refills it.

use std::collections::BTreeMap;

use parking_lot::RwLock;

/// What is known of one metric family from one source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricMeta {
    /// `counter`, `gauge`, `histogram`, `summary`, `info`, `stateset`, `gaugehistogram`
    /// or `unknown`.
    pub kind: String,
    /// The help text.
    pub help: String,
    /// The unit (OpenMetrics), or empty.
    pub unit: String,
}

/// Distinct metadata per metric family, bounded in families and entries per family.
#[derive(Debug, Default)]
pub struct MetadataStore {
    families: RwLock<BTreeMap<String, Vec<MetricMeta>>>,
}

/// Most distinct entries kept for one family (different targets may disagree).
const PER_FAMILY: usize = 16;
/// Most families kept.
const FAMILIES: usize = 1_000_000;

impl MetadataStore {
    /// Records metadata for `family`; the newest report of a distinct entry comes first.
    pub fn set(&self, family: &str, meta: MetricMeta) {
        {
            let f = self.families.read();
            if f.get(family).is_some_and(|v| v.first() == Some(&meta)) {
                return;
            }
        }
        let mut f = self.families.write();
        if !f.contains_key(family) && f.len() >= FAMILIES {
            return;
        }
        let v = f.entry(family.to_string()).or_default();
        v.retain(|m| *m != meta);
        v.insert(0, meta);
        v.truncate(PER_FAMILY);
    }

    /// Metadata by family (one family with `metric`), at most `limit` families and
    /// `limit_per_metric` entries each (0: no limit).
    pub fn get(
        &self,
        metric: Option<&str>,
        limit: usize,
        limit_per_metric: usize,
    ) -> BTreeMap<String, Vec<MetricMeta>> {
        let f = self.families.read();
        let per = if limit_per_metric == 0 { usize::MAX } else { limit_per_metric };
        let pick = |v: &Vec<MetricMeta>| v.iter().take(per).cloned().collect::<Vec<_>>();
        match metric {
            Some(m) => f.get(m).map(|v| BTreeMap::from([(m.to_string(), pick(v))])).unwrap_or_default(),
            None => {
                f.iter().take(if limit == 0 { usize::MAX } else { limit }).map(|(k, v)| (k.clone(), pick(v))).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: &str, help: &str) -> MetricMeta {
        MetricMeta { kind: kind.into(), help: help.into(), unit: String::new() }
    }

    #[test]
    fn distinct_entries_per_family_with_limits() {
        let s = MetadataStore::default();
        s.set("up", m("gauge", "1 if up"));
        s.set("up", m("gauge", "1 if up"));
        s.set("http_requests_total", m("counter", "requests"));
        s.set("http_requests_total", m("counter", "Requests"));
        assert_eq!(s.get(Some("up"), 0, 0)["up"], vec![m("gauge", "1 if up")]);
        assert_eq!(s.get(None, 0, 0)["http_requests_total"].len(), 2);
        assert_eq!(s.get(None, 0, 1)["http_requests_total"], vec![m("counter", "Requests")]);
        assert_eq!(s.get(None, 1, 0).len(), 1);
        assert!(s.get(Some("nope"), 0, 0).is_empty());
    }
}
