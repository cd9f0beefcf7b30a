//! Label sets: the identity of a series.
//!
//! A [`Labels`] is sorted by name, holds each name once and never holds an empty value
//! (Prometheus treats an empty value as an absent label). Strings are `Arc<str>` so a store
//! can intern them and share one copy between many series.

use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One name/value pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: Arc<str>,
    /// The label value (never empty inside a [`Labels`]).
    pub value: Arc<str>,
}

impl Label {
    /// A label from anything string-like.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// A sorted set of labels identifying one series; cloning is one reference-count increment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Builds a label set from pairs without validating names: sorts, drops empty values.
    /// Duplicate names keep the last occurrence. Use [`Labels::validated`] for input
    /// from outside.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        let mut v: Vec<Label> =
            pairs.into_iter().map(|(n, v)| Label::new(n, v)).filter(|l| !l.value.is_empty()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|later, earlier| {
            if later.name == earlier.name {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Self(v.into())
    }

    /// Builds a label set from input that came from outside, checking Prometheus's rules:
    /// names match `[a-zA-Z_][a-zA-Z0-9_]*`, no name twice, a valid metric name present.
    pub fn validated(labels: Vec<Label>) -> Result<Self> {
        let mut v: Vec<Label> = labels.into_iter().filter(|l| !l.value.is_empty()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        for w in v.windows(2) {
            if w[0].name == w[1].name {
                return Err(Error::DuplicateLabel(w[0].name.to_string()));
            }
        }
        let mut has_name = false;
        for l in &v {
            if !is_valid_label_name(&l.name) {
                return Err(Error::InvalidLabelName(l.name.to_string()));
            }
            if &*l.name == METRIC_NAME {
                if !is_valid_metric_name(&l.value) {
                    return Err(Error::InvalidMetricName(l.value.to_string()));
                }
                has_name = true;
            }
        }
        if !has_name {
            return Err(Error::MissingMetricName);
        }
        Ok(Self(v.into()))
    }

    /// Wraps labels that are already sorted, unique and non-empty (e.g. decoded from our
    /// own files, which only ever hold label sets built by this type).
    pub fn from_sorted_unchecked(v: Vec<Label>) -> Self {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name), "labels must be sorted and unique");
        Self(v.into())
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| (*l.name).cmp(name)).ok().map(|i| &*self.0[i].value)
    }

    /// The metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// Formats as `name{a="b", c="d"}` like Prometheus.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.metric_name() {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, &*l.value)?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Whether `s` is a valid label name in Prometheus's classic character set.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return false,
    }
    b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Whether `s` is a valid metric name in Prometheus's classic character set.
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    match b.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {}
        _ => return false,
    }
    b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(n: &str, v: &str) -> Label {
        Label::new(n, v)
    }

    #[test]
    fn validated_sorts_and_drops_empty_values() {
        let ls = Labels::validated(vec![l("job", "api"), l("__name__", "up"), l("zone", "")]).unwrap();
        assert_eq!(ls.to_string(), "up{job=\"api\"}");
        assert_eq!(ls.len(), 2);
        assert_eq!(ls.get("job"), Some("api"));
        assert_eq!(ls.get("zone"), None);
    }

    #[test]
    fn validated_names_the_bad_label() {
        let e = Labels::validated(vec![l("__name__", "up"), l("1abc", "x")]).unwrap_err();
        assert_eq!(e.to_string(), "label name \"1abc\" is invalid");
        let e = Labels::validated(vec![l("__name__", "up"), l("a", "x"), l("a", "y")]).unwrap_err();
        assert_eq!(e, Error::DuplicateLabel("a".into()));
        let e = Labels::validated(vec![l("a", "x")]).unwrap_err();
        assert_eq!(e, Error::MissingMetricName);
        let e = Labels::validated(vec![l("__name__", "http-requests")]).unwrap_err();
        assert_eq!(e, Error::InvalidMetricName("http-requests".into()));
    }

    #[test]
    fn from_pairs_keeps_last_duplicate() {
        let ls = Labels::from_pairs([("b", "1"), ("a", "2"), ("b", "3")]);
        assert_eq!(ls.get("b"), Some("3"));
        assert_eq!(ls.len(), 2);
    }
}
