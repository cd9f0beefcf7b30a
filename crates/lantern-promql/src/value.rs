//! Query results, and the range-form values the evaluator passes between nodes.
//!
//! The evaluator works on all steps of a query at once (as Prometheus's range
//! evaluation does): an instant-vector node yields [`Series`] whose points are indexed by
//! step, so per-series work (label handling, grouping, matching signatures) happens once
//! per query instead of once per step.

use lantern_core::{Labels, Sample};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// The value.
    pub v: f64,
}

/// The result of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// A string.
    String(String),
    /// One value per series.
    Vector(Vec<InstantSample>),
    /// A range vector: each series with its samples in the selected window, ascending.
    Matrix(Vec<(Labels, Vec<Sample>)>),
}

/// The evaluation times of a query or subquery: `start + i * step` for `i < n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl Grid {
    /// The time of step `i`, ms.
    pub fn t(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }
}

/// One value of a series at step `i` of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pt {
    pub i: u32,
    pub v: f64,
}

/// An instant-vector series over the grid: its points ascend by step, at most one per step.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub labels: Labels,
    /// The metric name is to be removed when the query ends (Prometheus 3's delayed name
    /// removal): functions and operators that drop the name set this instead, so that
    /// `label_replace` and `by (__name__)` can still see it.
    pub drop_name: bool,
    pub points: Vec<Pt>,
}

/// A range-vector series: samples covering every window the query asks about.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries {
    pub labels: Labels,
    pub drop_name: bool,
    pub samples: Vec<Sample>,
}

/// The input of a range function: series, the window length and each step's window end.
#[derive(Debug)]
pub(crate) struct RangeInput {
    pub series: Vec<RangeSeries>,
    pub range: i64,
    /// Inclusive end of each step's window; the window is `(end - range, end]`.
    pub ends: Vec<i64>,
}

impl RangeInput {
    /// Calls `f(step, window)` for every step whose window holds at least one sample.
    pub fn for_each_window(&self, samples: &[Sample], mut f: impl FnMut(usize, &[Sample])) {
        self.for_each_window_at(samples, |i, _, w| f(i, w));
    }

    /// Same, also passing the index of the window's first sample in `samples`.
    pub fn for_each_window_at(&self, samples: &[Sample], mut f: impl FnMut(usize, usize, &[Sample])) {
        let (mut lo, mut hi) = (0, 0);
        for (i, &end) in self.ends.iter().enumerate() {
            // Ends never decrease along the grid, so both cursors only move forward.
            while hi < samples.len() && samples[hi].t <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].t <= end - self.range {
                lo += 1;
            }
            if lo < hi {
                f(i, lo, &samples[lo..hi]);
            }
        }
    }

    /// Whether every step reads the same window (an `@` modifier).
    pub fn fixed(&self) -> bool {
        self.ends.first() == self.ends.last()
    }
}

/// An evaluated node.
#[derive(Debug)]
pub(crate) enum Val {
    /// One number per step.
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<Series>),
    /// Only at the top of an instant query (`foo[5m]`).
    Matrix(RangeInput),
}

/// Orders values ascending (or descending) with NaN last either way, as Prometheus's
/// `sort`, `topk` and `bottomk` do.
pub(crate) fn cmp_nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => b.total_cmp(&a),
        _ => a.total_cmp(&b),
    }
}

/// Neumaier's compensated addition, as Prometheus sums floats: returns the new sum and
/// compensation; the result is `sum + c`.
pub(crate) fn kahan_add(inc: f64, sum: f64, mut c: f64) -> (f64, f64) {
    let t = sum + inc;
    if t.is_infinite() {
        c = 0.0;
    } else if sum.abs() >= inc.abs() {
        c += (sum - t) + inc;
    } else {
        c += (inc - t) + sum;
    }
    (t, c)
}

/// The running mean Prometheus's `avg` and `avg_over_time` compute: a compensated sum,
/// switching to an incremental mean only when the sum would overflow.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    incremental: bool,
    mean: f64,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.sum = v;
            return;
        }
        if !self.incremental {
            let (s, c) = kahan_add(v, self.sum, self.c);
            if !s.is_infinite() {
                self.sum = s;
                self.c = c;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let q = (self.count - 1.0) / self.count;
        let (m, c) = kahan_add(v / self.count, q * self.mean, q * self.c);
        self.mean = m;
        self.c = c;
    }

    pub fn value(&self) -> f64 {
        if self.incremental {
            self.mean + self.c
        } else {
            (self.sum + self.c) / self.count
        }
    }
}

/// Population variance with compensated sums, as Prometheus's `stdvar` family computes it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Variance {
    count: f64,
    mean: f64,
    c_mean: f64,
    aux: f64,
    c_aux: f64,
}

impl Variance {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - (self.mean + self.c_mean);
        (self.mean, self.c_mean) = kahan_add(delta / self.count, self.mean, self.c_mean);
        (self.aux, self.c_aux) = kahan_add(delta * (v - (self.mean + self.c_mean)), self.aux, self.c_aux);
    }

    pub fn value(&self) -> f64 {
        (self.aux + self.c_aux) / self.count
    }
}
