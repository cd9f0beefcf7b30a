//! Where a series changed: the split of its points into a before and an after whose
//! means differ the most for their spread (a two-sample t statistic), then walked back
//! to where the rise began. Pure.

/// A rise found in a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Index (into the series) of the first point of the rise.
    pub onset: usize,
    /// Mean before the onset.
    pub before: f64,
    /// Mean from the onset on.
    pub after: f64,
    /// How far apart the two sides are for their spread (t statistic).
    pub score: f64,
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n.max(2.0);
    (m, var)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The strongest rise in `values` (NaN points are gaps), with at least `min_before`
/// points before and `min_after` points from the onset on; `None` when nothing rose.
pub fn rise(values: &[f64], min_before: usize, min_after: usize) -> Option<Change> {
    let pts: Vec<(usize, f64)> = values.iter().copied().enumerate().filter(|(_, v)| v.is_finite()).collect();
    if pts.len() < min_before + min_after {
        return None;
    }
    let v: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let scale = v.iter().fold(0f64, |a, x| a.max(x.abs())).max(1e-12);
    let mut best: Option<(usize, f64)> = None;
    for k in min_before.max(1)..=(v.len() - min_after.max(1)) {
        let (mb, vb) = mean_var(&v[..k]);
        let (ma, va) = mean_var(&v[k..]);
        if ma <= mb {
            continue;
        }
        // A floor on the spread: a flat series that steps up is a clear rise, not an
        // infinite one.
        let floor = (scale * 1e-3).powi(2);
        let t = (ma - mb) / ((vb / k as f64) + (va / (v.len() - k) as f64) + floor).sqrt();
        if best.is_none_or(|(_, s)| t > s) {
            best = Some((k, t));
        }
    }
    let (k, score) = best?;
    // The rise began where the points first left the calm level, at or before the split.
    // The calm level is the median of the points before and their spread the median
    // absolute deviation; a ramp's first steps, counted on the before side, would raise
    // both, so the level is taken again from the points before the onset found, until
    // the onset stays put.
    let after_mean = mean_var(&v[k..]).0;
    let mut onset = k;
    for _ in 0..8 {
        let before_side = &v[..onset];
        let calm = median(before_side);
        let mad = median(&before_side.iter().map(|x| (x - calm).abs()).collect::<Vec<_>>());
        let threshold = calm + (3.0 * 1.4826 * mad).max(0.05 * (after_mean - calm)) + scale * 1e-6;
        let mut o = onset;
        while o > min_before.max(1) && v[o - 1] > threshold {
            o -= 1;
        }
        if o == onset {
            break;
        }
        onset = o;
    }
    let (before, _) = mean_var(&v[..onset]);
    let (after, _) = mean_var(&v[onset..]);
    Some(Change { onset: pts[onset].0, before, after, score })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_found_where_it_starts() {
        let mut v = vec![0.01; 30];
        v.extend(vec![0.3; 10]);
        let c = rise(&v, 3, 2).unwrap();
        assert_eq!(c.onset, 30);
        assert!((c.before - 0.01).abs() < 1e-9 && (c.after - 0.3).abs() < 1e-9);
        assert!(c.score > 100.0);
    }

    #[test]
    fn a_ramp_is_dated_from_its_first_step_and_gaps_are_skipped() {
        let mut v: Vec<f64> = (0..20).map(|i| 0.01 + 0.001 * (i % 3) as f64).collect();
        v.push(f64::NAN);
        v.extend((1..=10).map(|i| 0.03 * i as f64));
        let c = rise(&v, 3, 2).unwrap();
        assert_eq!(c.onset, 21, "{c:?}");
        assert!(c.after > 0.1);
    }

    #[test]
    fn a_ramp_as_long_as_the_calm_before_it_is_dated_from_its_start() {
        let mut v = vec![0.01; 30];
        v.extend((1..=30).map(|i| 0.01 + 0.3 * i as f64 / 30.0));
        v.extend(vec![0.31; 5]);
        let c = rise(&v, 3, 2).unwrap();
        assert!(c.onset <= 31, "{c:?}");
        assert!(c.before < 0.015, "{c:?}");
    }

    #[test]
    fn a_slow_ramp_is_dated_from_where_it_leaves_the_calm_level() {
        // Calm at 1%, then a rate window smoothing a step into a 12-point ramp to 30%.
        let mut v = vec![0.01; 40];
        v.extend((1..=12).map(|i| 0.01 + 0.29 * i as f64 / 12.0));
        v.extend(vec![0.3; 6]);
        let c = rise(&v, 3, 2).unwrap();
        assert!(c.onset <= 41, "{c:?}");
        assert!(c.before < 0.02, "{c:?}");
    }

    #[test]
    fn noise_and_falls_are_not_rises_worth_a_score() {
        let noise: Vec<f64> = (0..40).map(|i| 0.05 + if i % 2 == 0 { 0.01 } else { -0.01 }).collect();
        assert!(rise(&noise, 3, 2).is_none_or(|c| c.score < 3.0), "{:?}", rise(&noise, 3, 2));
        let mut fall = vec![0.3; 20];
        fall.extend(vec![0.01; 20]);
        assert!(rise(&fall, 3, 2).is_none_or(|c| c.after - c.before < 0.01));
        assert!(rise(&[1.0, 2.0], 3, 2).is_none());
    }
}
