//! Helpers a runner needs beside the parser: turning `load` points into samples, and
//! comparing floats the way Prometheus's test framework does.

use lantern_core::{Sample, STALE_NAN};

use crate::points::Point;
use crate::script::SeriesSpec;

/// The float samples of a loaded series (point `i` at `i × interval_ms`), with the
/// number of native-histogram points left out (the float engine does not store them yet).
pub fn load_samples(spec: &SeriesSpec, interval_ms: i64) -> (Vec<Sample>, usize) {
    let mut samples = Vec::with_capacity(spec.points.len());
    let mut histograms = 0;
    for (i, p) in spec.points.iter().enumerate() {
        let t = i as i64 * interval_ms;
        match p {
            Point::Float(v) => samples.push(Sample::new(t, *v)),
            Point::Stale => samples.push(Sample::new(t, STALE_NAN)),
            Point::Missing => {}
            Point::Histogram(_) => histograms += 1,
        }
    }
    (samples, histograms)
}

/// Whether an expectation or its series holds native histograms (such evals are counted
/// apart while native histograms are not implemented).
pub fn has_histograms(series: &[SeriesSpec]) -> bool {
    series.iter().any(|s| s.points.iter().any(|p| matches!(p, Point::Histogram(_))))
}

/// Relative tolerance of result comparisons, as in Prometheus's tests.
pub const EPSILON: f64 = 1e-6;

/// Float equality for test results: two NaNs are equal; otherwise equal values, or a
/// relative difference below [`EPSILON`] (an absolute one near zero).
pub fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse_script, Command};
    use lantern_core::is_stale_nan;

    #[test]
    fn load_points_become_timestamped_samples() {
        let c = parse_script("load 1m\n  m 1 _ stale 4 {{count:1}}\n").unwrap();
        let Command::Load { series, interval_ms, .. } = &c[0] else { panic!() };
        let (s, h) = load_samples(&series[0], *interval_ms);
        assert_eq!(h, 1);
        assert_eq!(s.iter().map(|s| s.t).collect::<Vec<_>>(), vec![0, 120_000, 180_000]);
        assert!(is_stale_nan(s[1].v));
        assert!(has_histograms(series));
    }

    #[test]
    fn comparison_tolerates_rounding_only() {
        assert!(almost_equal(f64::NAN, f64::NAN));
        assert!(almost_equal(0.1 + 0.2, 0.3));
        assert!(almost_equal(1e12, 1e12 * (1.0 + 1e-9)));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(!almost_equal(0.0, 1e-300));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!almost_equal(f64::NAN, 1.0));
    }
}
