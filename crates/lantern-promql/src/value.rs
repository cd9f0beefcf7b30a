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
