//! [`Batch`]: many series' labels and samples in flat vectors, so a protocol decoder can
//! fill it straight from a request buffer without allocating per series or per label.

use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::sync::OnceLock;

use lantern_core::{Exemplar, Labels, Sample};

/// A label name and value as sent, not yet checked to be UTF-8.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Series to append: label pairs borrowed from the request, samples, and the ranges that
/// say which belong to which series.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// Label names and values as bytes: UTF-8 is checked only for series the head does
    /// not know yet (bytes that are not UTF-8 cannot equal a stored label set).
    pairs: Vec<Pair<'a>>,
    samples: Vec<Sample>,
    /// Exemplars are rare: owned, validated values.
    exemplars: Vec<Exemplar>,
    series: Vec<(Range<usize>, Range<usize>, Range<usize>)>,
    open: Option<(usize, usize, usize)>,
}

impl<'a> Batch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a series; follow with [`Batch::label`] and [`Batch::sample`] calls, then
    /// [`Batch::end_series`].
    pub fn begin_series(&mut self) {
        debug_assert!(self.open.is_none(), "a series is already open");
        self.open = Some((self.pairs.len(), self.samples.len(), self.exemplars.len()));
    }

    /// Adds a label to the open series.
    pub fn label(&mut self, name: &'a [u8], value: &'a [u8]) {
        self.pairs.push((name, value));
    }

    /// Adds a sample to the open series.
    pub fn sample(&mut self, s: Sample) {
        self.samples.push(s);
    }

    /// Adds an exemplar to the open series.
    pub fn exemplar(&mut self, e: Exemplar) {
        self.exemplars.push(e);
    }

    /// Ends the open series: drops empty values and sorts its labels by name.
    pub fn end_series(&mut self) {
        let Some((p0, s0, e0)) = self.open.take() else { return };
        let mut w = p0;
        for r in p0..self.pairs.len() {
            if !self.pairs[r].1.is_empty() {
                self.pairs[w] = self.pairs[r];
                w += 1;
            }
        }
        self.pairs.truncate(w);
        let ls = &mut self.pairs[p0..];
        if !ls.windows(2).all(|w| w[0].0 <= w[1].0) {
            ls.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        self.series.push((p0..self.pairs.len(), s0..self.samples.len(), e0..self.exemplars.len()));
    }

    /// Adds one whole series.
    pub fn push(&mut self, labels: &'a Labels, samples: &[Sample]) {
        self.begin_series();
        for l in labels {
            self.label(l.name.as_bytes(), l.value.as_bytes());
        }
        self.samples.extend_from_slice(samples);
        self.end_series();
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there is no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Number of samples.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// The series: sorted label pairs and samples.
    pub fn iter(&self) -> impl Iterator<Item = (&[Pair<'a>], &[Sample])> {
        self.series.iter().map(|(p, s, _)| (&self.pairs[p.clone()], &self.samples[s.clone()]))
    }

    /// Each series' exemplars, in the order of [`Batch::iter`].
    pub fn exemplars(&self) -> impl Iterator<Item = &[Exemplar]> {
        self.series.iter().map(|(_, _, e)| &self.exemplars[e.clone()])
    }
}

/// The identity of a label set in memory: two independent 64-bit hashes with seeds
/// chosen at random per process. `h1` indexes the head's hash table and `h2` confirms a
/// hit, so a lookup never walks the stored label strings; two distinct label sets are
/// taken for one only if both hashes collide (probability about 2^-64 per pair of
/// series, with seeds an outsider cannot know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelsKey {
    /// Table hash.
    pub h1: u64,
    /// Confirmation hash.
    pub h2: u64,
}

fn seeds() -> (u64, u64) {
    static SEEDS: OnceLock<(u64, u64)> = OnceLock::new();
    *SEEDS.get_or_init(|| {
        let r = std::collections::hash_map::RandomState::new();
        (r.hash_one(0x6c61_6e74u64), r.hash_one(0x6572_6e00u64))
    })
}

/// The key of a label set given as sorted pairs (the same for a [`Labels`] with those
/// labels).
pub fn labels_key<'s>(pairs: impl Iterator<Item = (&'s [u8], &'s [u8])>) -> LabelsKey {
    let (s1, s2) = seeds();
    let mut a = foldhash::fast::FixedState::with_seed(s1).build_hasher();
    let mut b = foldhash::fast::FixedState::with_seed(s2).build_hasher();
    for (n, v) in pairs {
        for h in [&mut a, &mut b] {
            h.write(n);
            h.write_u8(0xff);
            h.write(v);
            h.write_u8(0xfe);
        }
    }
    LabelsKey { h1: a.finish(), h2: b.finish() }
}

/// The key of a stored label set.
pub fn key_of(labels: &Labels) -> LabelsKey {
    labels_key(labels.iter().map(|l| (l.name.as_bytes(), l.value.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_sorted_and_empty_values_dropped() {
        let mut b = Batch::new();
        b.begin_series();
        b.label(b"z", b"1");
        b.label(b"a", b"");
        b.label(b"__name__", b"up");
        b.sample(Sample::new(1, 1.0));
        b.end_series();
        let (pairs, samples) = b.iter().next().unwrap();
        assert_eq!(pairs, &[(&b"__name__"[..], &b"up"[..]), (&b"z"[..], &b"1"[..])]);
        assert_eq!(samples.len(), 1);
        let ls = Labels::from_pairs([("z", "1"), ("__name__", "up")]);
        assert_eq!(key_of(&ls), labels_key(pairs.iter().copied()));
        let k = |n: &'static str, v: &'static str| labels_key([(n.as_bytes(), v.as_bytes())].into_iter());
        assert_ne!(k("a", "bc"), k("ab", "c"));
        assert_ne!(k("a", "b").h1, k("a", "b").h2);
    }
}
