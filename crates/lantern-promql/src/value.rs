//! Query results.

use lantern_core::{Labels, Sample};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// The value.
    pub v: f64,
}

/// The value of an expression at one evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// A string.
    String(String),
    /// One value per series.
    Vector(Vec<InstantSample>),
    /// A range vector: the samples of each series in `(start_ms, end_ms]`.
    Matrix {
        /// The series and their samples, ascending.
        series: Vec<(Labels, Vec<Sample>)>,
        /// Exclusive start of the window, ms.
        start_ms: i64,
        /// Inclusive end of the window, ms.
        end_ms: i64,
    },
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
