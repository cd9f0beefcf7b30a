//! Query results.

use lantern_core::Labels;

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
}
