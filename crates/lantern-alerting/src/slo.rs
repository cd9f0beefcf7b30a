//! SLOs in the server: the loaded SLO files, the rules they generate, and each SLO's
//! state computed from the stored counters: the SLI and the error budget over the
//! window (the seed's `calculate_error_budget`), burn rates over 5m…3d, the time
//! until the budget is spent at the last hour's burn rate, and warnings for
//! selectors that match no stored series (for an `le` bucket, the nearest buckets
//! that do exist).

use std::collections::BTreeSet;

use lantern_core::{Matcher, PromDuration};
use lantern_promql::{Engine, Storage, Value};
use lantern_rules::slo::generate::{self, WINDOWS};
use lantern_rules::slo::{error_budget, Sli, Slo};
use lantern_rules::Group;
use serde::Serialize;

/// The SLOs in force, with the file each came from.
#[derive(Debug, Clone, Default)]
pub struct SloSet {
    /// (file, SLO).
    pub slos: Vec<(String, Slo)>,
}

impl SloSet {
    /// Reads SLO files: every problem (file, line, reason), or the set.
    pub fn load(files: &[String]) -> Result<SloSet, Vec<String>> {
        let mut slos = Vec::new();
        let mut errors = Vec::new();
        let mut names = BTreeSet::new();
        for f in files {
            match lantern_rules::slo::load(std::path::Path::new(f)) {
                Ok(file) => {
                    for s in file {
                        if !names.insert(s.name.clone()) {
                            errors.push(format!("{f}:{}: slo {:?}: the name is used by another SLO", s.line, s.name));
                        }
                        slos.push((f.clone(), s));
                    }
                }
                Err(es) => errors.extend(es.iter().map(ToString::to_string)),
            }
        }
        if errors.is_empty() {
            Ok(SloSet { slos })
        } else {
            Err(errors)
        }
    }

    /// The generated rule groups, with the SLO file they belong to.
    pub fn rule_groups(&self) -> Vec<(String, Group)> {
        self.slos.iter().map(|(f, s)| (f.clone(), generate::group(s))).collect()
    }
}

/// One SLO's state now.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloStatus {
    /// Name.
    pub name: String,
    /// What it promises.
    pub description: String,
    /// File it came from.
    pub file: String,
    /// Target, percent.
    pub target: f64,
    /// Window, as written (`30d`).
    pub window: String,
    /// How the objective stands: `ok` (met, the budget spent no faster than the
    /// window allows), `burning` (budget left, but the last hour spends it faster than
    /// that: burn rate over 1h above 1), `exhausted` (no budget left: the objective is
    /// missed over the window), `no data` (no events in the window), or `flagged` (a
    /// selector matches no stored series: the SLO cannot be measured as written).
    pub status: &'static str,
    /// Good events over total, percent (no data: null).
    pub sli: Option<f64>,
    /// Events in the window.
    pub total: Option<f64>,
    /// Good events in the window.
    pub good: Option<f64>,
    /// Failed events in the window.
    pub failed: Option<f64>,
    /// `total × (1 − target/100)`.
    pub budget_total: Option<f64>,
    /// Failed events.
    pub budget_used: Option<f64>,
    /// `budget_total − budget_used`.
    pub budget_remaining: Option<f64>,
    /// `budget_remaining / budget_total × 100`.
    pub budget_remaining_percent: Option<f64>,
    /// Error ratio over each window divided by the ratio the target allows.
    pub burn_rates: Vec<(String, Option<f64>)>,
    /// Seconds until the budget is spent at the last hour's burn rate (0: spent;
    /// null: not burning, or no data).
    pub time_to_exhaustion_seconds: Option<f64>,
    /// Problems with the SLO's selectors.
    pub warnings: Vec<String>,
}

fn scalar(engine: &Engine, storage: &dyn Storage, q: &str, t: i64) -> Option<f64> {
    match engine.query_instant(storage, q, t).ok()? {
        Value::Vector(v) => v.first().map(|s| s.v).filter(|v| !v.is_nan()),
        Value::Scalar(v) => Some(v).filter(|v| !v.is_nan()),
        _ => None,
    }
}

fn matchers(selector: &str) -> Option<Vec<Matcher>> {
    lantern_http::selector::parse_selector(selector).ok()?.into_iter().next()
}

/// Why a selector is suspect: it matches no series stored in `[mint, maxt]`. For a
/// histogram bucket (`le="x"`), the warning names the nearest buckets that exist.
pub fn selector_warning(storage: &dyn Storage, what: &str, selector: &str, mint: i64, maxt: i64) -> Option<String> {
    let ms = matchers(selector)?;
    if !storage.select(&ms, mint, maxt).ok()?.is_empty() {
        return None;
    }
    let mut msg = format!("{what}: {selector} matches no stored series");
    let le = ms.iter().find(|m| m.name == "le" && m.op == lantern_core::MatchOp::Equal);
    if let Some(le) = le {
        let others: Vec<Matcher> = ms.iter().filter(|m| m.name != "le").cloned().collect();
        let wanted: f64 = le.value.parse().unwrap_or(f64::NAN);
        let mut buckets: Vec<(f64, String)> = storage
            .select(&others, mint, maxt)
            .ok()?
            .iter()
            .filter_map(|(l, _)| l.get("le").map(str::to_string))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|s| s.parse::<f64>().ok().map(|v| (v, s)))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let below = buckets.iter().rev().find(|b| b.0 < wanted);
        let above = buckets.iter().find(|b| b.0 > wanted);
        let near: Vec<String> = below.into_iter().chain(above).map(|b| format!("le=\"{}\"", b.1)).collect();
        if !near.is_empty() {
            msg.push_str(&format!(
                "; the histogram has no bucket le=\"{}\", the nearest existing buckets are {}",
                le.value,
                near.join(" and ")
            ));
        }
    }
    Some(msg)
}

/// How long after the window's start a series' first sample must come for the series
/// to count as created inside the window (its first value then counts from zero).
const BORN_AFTER_MS: i64 = 5 * 60 * 1000;

/// Events counted by the counters `selector` matches over `[mint, maxt]`: every
/// increase between samples, a drop counted as a reset (the new value is the
/// increase), and the first value of a counter created inside the window. Unlike
/// `increase()`, nothing is extrapolated, so the numbers are the client's own counts.
pub fn counted(storage: &dyn Storage, selector: &str, mint: i64, maxt: i64) -> Option<f64> {
    counted_until(storage, selector, mint, &[maxt]).and_then(|v| v.first().copied())
}

/// [`counted`] from `mint` up to each of `times` (ascending), read in one pass.
pub fn counted_until(storage: &dyn Storage, selector: &str, mint: i64, times: &[i64]) -> Option<Vec<f64>> {
    let ms = matchers(selector)?;
    let maxt = *times.last()?;
    let series = storage.select(&ms, mint, maxt).ok()?;
    if series.is_empty() {
        return None;
    }
    let mut out = vec![0.0; times.len()];
    for (_, samples) in series {
        let mut prev: Option<f64> = None;
        let mut total = 0.0;
        let mut next = 0;
        for s in samples.iter().filter(|s| !s.v.is_nan()) {
            while next < times.len() && times[next] < s.t {
                out[next] += total;
                next += 1;
            }
            total += match prev {
                None if s.t - mint > BORN_AFTER_MS => s.v,
                None => 0.0,
                Some(p) if s.v < p => s.v,
                Some(p) => s.v - p,
            };
            prev = Some(s.v);
        }
        for o in &mut out[next..] {
            *o += total;
        }
    }
    Some(out)
}

/// Events counted by an SLI over `[mint, t]`: (total, good). Counters are counted
/// exactly ([`counted`]); rate queries give rate × seconds.
fn events(engine: &Engine, storage: &dyn Storage, sli: &Sli, mint: i64, t: i64) -> (Option<f64>, Option<f64>) {
    match sli {
        Sli::Events { good, total } => {
            let total = counted(storage, total, mint, t);
            (total, counted(storage, good, mint, t).or(total.map(|_| 0.0)))
        }
        Sli::BadEvents { bad, total } => {
            let total = counted(storage, total, mint, t);
            let bad = counted(storage, bad, mint, t).unwrap_or(0.0);
            (total, total.map(|t| (t - bad).max(0.0)))
        }
        Sli::Queries { errors, total } => {
            let secs = ((t - mint) / 1000).max(1);
            let range = format!("{secs}s");
            let total = scalar(engine, storage, &generate::with_window(total, &range), t).map(|r| r * secs as f64);
            let bad = scalar(engine, storage, &generate::with_window(errors, &range), t).map(|r| r * secs as f64);
            (total, total.map(|t| t - bad.unwrap_or(0.0)))
        }
    }
}

/// The problems with an SLO's selectors over `[mint, t]`.
pub fn warnings(storage: &dyn Storage, slo: &Slo, mint: i64, t: i64) -> Vec<String> {
    let key = if slo.format == "lantern" { "indicator.events" } else { "ratioMetric" };
    slo.sli
        .selectors()
        .into_iter()
        .filter_map(|(what, sel)| selector_warning(storage, &format!("{key}.{what}"), sel, mint, t))
        .collect()
}

/// The start (ms) of the SLO's window ending at `t`.
pub fn window_start(slo: &Slo, t: i64) -> i64 {
    match &slo.calendar {
        Some(c) => c.period_start(t),
        None => t - slo.window.0.as_millis() as i64,
    }
}

/// The error budget left (percent) over the window that ends at `t`, as it stood at each
/// of `points` times from the window's start to `t`: the burn-down chart. A time before
/// any event has `None`. Counter SLIs are read in one pass; query SLIs are evaluated at
/// each time.
pub fn burn_down(engine: &Engine, storage: &dyn Storage, slo: &Slo, t: i64, points: usize) -> Vec<(i64, Option<f64>)> {
    let mint = window_start(slo, t);
    let n = points.clamp(2, 1000);
    let flagged = !warnings(storage, slo, mint, t).is_empty();
    let times: Vec<i64> = (1..=n).map(|i| mint + (t - mint) * i as i64 / n as i64).collect();
    let counts: Vec<(Option<f64>, Option<f64>)> = match &slo.sli {
        Sli::Events { good, total } => {
            let total = counted_until(storage, total, mint, &times);
            let good = counted_until(storage, good, mint, &times);
            (0..n)
                .map(|i| {
                    let t = total.as_ref().map(|v| v[i]);
                    (t, good.as_ref().map(|g| g[i]).or(t.map(|_| 0.0)))
                })
                .collect()
        }
        Sli::BadEvents { bad, total } => {
            let total = counted_until(storage, total, mint, &times);
            let bad = counted_until(storage, bad, mint, &times);
            (0..n)
                .map(|i| {
                    let t = total.as_ref().map(|v| v[i]);
                    let b = bad.as_ref().map_or(0.0, |b| b[i]);
                    (t, t.map(|t| (t - b).max(0.0)))
                })
                .collect()
        }
        Sli::Queries { .. } => times.iter().map(|&at| events(engine, storage, &slo.sli, mint, at)).collect(),
    };
    times
        .iter()
        .zip(counts)
        .map(|(&at, (total, good))| {
            let left = match (total, good) {
                // An SLO that cannot be measured as written has no budget to draw.
                _ if flagged => None,
                (Some(total), Some(good)) if total > 0.0 => {
                    error_budget(slo.target, total, (total - good).max(0.0)).budget_remaining_percent
                }
                _ => None,
            };
            (at, left)
        })
        .collect()
}

/// Computes an SLO's state at `t` (ms).
pub fn status(engine: &Engine, storage: &dyn Storage, file: &str, slo: &Slo, t: i64) -> SloStatus {
    let window = match &slo.calendar {
        Some(_) => format!("{} (calendar)", PromDuration(slo.window.0)),
        None => PromDuration(slo.window.0).to_string(),
    };
    let mint = window_start(slo, t);
    let warnings = warnings(storage, slo, mint, t);
    let (total, good) = events(engine, storage, &slo.sli, mint, t);
    let allowed_ratio = 1.0 - slo.target / 100.0;
    let burn_rates: Vec<(String, Option<f64>)> = WINDOWS
        .iter()
        .map(|(w, _)| {
            // The SLO's recording rules keep these ratios; they are read, not recomputed.
            let r = scalar(engine, storage, &generate::ratio_selector(&slo.name, w), t);
            (w.to_string(), r.map(|r| r / allowed_ratio))
        })
        .collect();
    let mut st = SloStatus {
        name: slo.name.clone(),
        description: slo.description.clone(),
        file: file.to_string(),
        target: slo.target,
        window,
        status: "ok",
        sli: None,
        total,
        good,
        failed: None,
        budget_total: None,
        budget_used: None,
        budget_remaining: None,
        budget_remaining_percent: None,
        burn_rates,
        time_to_exhaustion_seconds: None,
        warnings,
    };
    match (total, good) {
        (Some(total), Some(good)) if total > 0.0 => {
            let failed = (total - good).max(0.0);
            let b = error_budget(slo.target, total, failed);
            st.sli = Some(good / total * 100.0);
            st.failed = Some(failed);
            st.budget_total = Some(b.budget_total);
            st.budget_used = Some(b.budget_used);
            st.budget_remaining = Some(b.budget_remaining);
            st.budget_remaining_percent = b.budget_remaining_percent;
            let burn_1h = st.burn_rates.iter().find(|(w, _)| w == "1h").and_then(|(_, b)| *b);
            st.time_to_exhaustion_seconds = match (b.budget_remaining_percent, burn_1h) {
                (Some(p), _) if p <= 0.0 => Some(0.0),
                (Some(p), Some(burn)) if burn > 0.0 => Some(p / 100.0 * slo.window.0.as_secs_f64() / burn),
                _ => None,
            };
            st.status = match (b.budget_remaining_percent, burn_1h) {
                (Some(p), _) if p <= 0.0 => "exhausted",
                (_, Some(burn)) if burn > 1.0 => "burning",
                _ => "ok",
            };
        }
        _ => st.status = "no data",
    }
    if !st.warnings.is_empty() {
        st.status = "flagged";
        // A selector that matches nothing never shows as 100%, and an SLI that cannot be
        // measured spends no budget either.
        st.sli = None;
        st.failed = None;
        st.budget_total = None;
        st.budget_used = None;
        st.budget_remaining = None;
        st.budget_remaining_percent = None;
        st.time_to_exhaustion_seconds = None;
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_rules::alerts::LabelSet;
    use lantern_rules::mem::MemStorage;

    const M: i64 = 60_000;

    fn ls(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn seed() -> Vec<Slo> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata/seed-slos.yml");
        lantern_rules::slo::load(&p).unwrap()
    }

    #[test]
    fn counts_follow_resets_and_the_budget_is_the_seeds() {
        let db = MemStorage::default();
        let ok = ls(&[("__name__", "http_requests_total"), ("status", "200")]);
        let bad = ls(&[("__name__", "http_requests_total"), ("status", "500")]);
        // Created an hour into the window at 40 and 2; the process restarts at 30m
        // (counters back to 0), then 600 more good and 8 more bad requests.
        let start = 40 * 86_400_000;
        for (i, (g, b)) in [(40.0, 2.0), (100.0, 3.0), (5.0, 0.0), (605.0, 8.0)].iter().enumerate() {
            db.append(&ok, start + i as i64 * 15 * M, *g);
            db.append(&bad, start + i as i64 * 15 * M, *b);
        }
        let now = start + 60 * M;
        let st = status(&Engine::default(), &db, "slos.yml", &seed()[0], now);
        // good: 40 + 60 + 5 + 600 = 705; bad: 2 + 1 + 0 + 8 = 11.
        assert_eq!((st.total, st.good, st.failed), (Some(716.0), Some(705.0), Some(11.0)));
        let b = error_budget(99.9, 716.0, 11.0);
        assert_eq!(
            (st.budget_total, st.budget_used, st.budget_remaining, st.budget_remaining_percent),
            (Some(b.budget_total), Some(11.0), Some(b.budget_remaining), b.budget_remaining_percent)
        );
        assert_eq!(st.status, "exhausted", "11 failures spend a 0.716 budget");
        assert_eq!(st.time_to_exhaustion_seconds, Some(0.0));
    }

    #[test]
    fn no_traffic_is_no_data_and_a_missing_bucket_is_flagged_with_its_neighbours() {
        let db = MemStorage::default();
        let now = 40 * 86_400_000;
        let slos = seed();
        let st = status(&Engine::default(), &db, "slos.yml", &slos[0], now);
        assert_eq!(st.status, "flagged", "selectors that match nothing: {st:?}");
        assert_eq!((st.sli, st.budget_remaining_percent, st.time_to_exhaustion_seconds), (None, None, None));
        assert!(st.burn_rates.iter().all(|(_, b)| b.is_none()));
        // Counters there since the window began that did not move: no data, not 100%
        // and not a division by zero.
        for s in ["200", "500"] {
            for t in [now - 30 * 1440 * M + M, now - 10 * M, now] {
                db.append(&ls(&[("__name__", "http_requests_total"), ("status", s)]), t, 7.0);
            }
        }
        let st = status(&Engine::default(), &db, "slos.yml", &slos[0], now);
        assert_eq!(st.warnings, Vec::<String>::new());
        assert_eq!((st.status, st.sli, st.budget_remaining_percent), ("no data", None, None), "{st:?}");
        // The seed's latency SLO names a bucket the histogram does not have.
        for le in ["0.05", "0.1", "0.25", "+Inf"] {
            db.append(&ls(&[("__name__", "http_request_duration_seconds_bucket"), ("le", le)]), now, 1.0);
        }
        db.append(&ls(&[("__name__", "http_request_duration_seconds_count")]), now, 1.0);
        let st = status(&Engine::default(), &db, "slos.yml", &slos[1], now);
        assert_eq!(st.status, "flagged");
        // Not every event counted as failed: no budget at all while the SLI is unknown.
        assert_eq!(
            (st.budget_used, st.budget_total, st.budget_remaining_percent, st.failed),
            (None, None, None, None),
            "{st:?}"
        );
        assert!(burn_down(&Engine::default(), &db, &slos[1], now, 4).iter().all(|p| p.1.is_none()));
        assert_eq!(
            st.warnings,
            ["indicator.events.good: http_request_duration_seconds_bucket{le=\"0.2\"} matches no stored series; the histogram has no bucket le=\"0.2\", the nearest existing buckets are le=\"0.1\" and le=\"0.25\""]
        );
    }

    #[test]
    fn the_burn_down_follows_the_budget_from_the_window_start_to_now() {
        let db = MemStorage::default();
        let ok = ls(&[("__name__", "http_requests_total"), ("status", "200")]);
        let bad = ls(&[("__name__", "http_requests_total"), ("status", "500")]);
        let slo = &seed()[0];
        let now = 40 * 86_400_000;
        let start = window_start(slo, now);
        // Counters there from the window's start: 1000 good requests in the first half,
        // then 1000 more good and 2 bad in the second (a 99.9% target allows 2.002).
        for (t, g, b) in [(start, 0.0, 0.0), (start + 15 * 1440 * M, 1000.0, 0.0), (now, 2000.0, 2.0)] {
            db.append(&ok, t, g);
            db.append(&bad, t, b);
        }
        let pts = burn_down(&Engine::default(), &db, slo, now, 4);
        assert_eq!(
            pts.iter().map(|p| p.0).collect::<Vec<_>>(),
            (1..=4).map(|i| start + (now - start) * i / 4).collect::<Vec<_>>()
        );
        // Before any event there is no budget to speak of; with no failures it is all left.
        assert_eq!(pts[0].1, None);
        assert_eq!(pts[1].1, Some(100.0));
        assert_eq!(pts[2].1, Some(100.0));
        let last = pts[3].1.unwrap();
        let expect = error_budget(99.9, 2002.0, 2.0).budget_remaining_percent.unwrap();
        assert!((last - expect).abs() < 1e-9, "{last} vs {expect}");
        // The last point is the SLO's status now.
        let st = status(&Engine::default(), &db, "slos.yml", slo, now);
        assert!((st.budget_remaining_percent.unwrap() - last).abs() < 1e-9);
        assert_eq!(
            counted_until(&db, "http_requests_total", start, &[start + 15 * 1440 * M, now]),
            Some(vec![1000.0, 2002.0])
        );
    }

    #[test]
    fn the_status_says_whether_the_objective_is_met_and_how_the_budget_stands() {
        let slo = &seed()[0];
        let now = 40 * 86_400_000;
        let start = window_start(slo, now);
        let at = |good: f64, bad: f64, burn_1h: Option<f64>| {
            let db = MemStorage::default();
            for (s, v) in [("200", good), ("500", bad)] {
                let l = ls(&[("__name__", "http_requests_total"), ("status", s)]);
                db.append(&l, start, 0.0);
                db.append(&l, now, v);
            }
            if let Some(r) = burn_1h {
                let l = ls(&[("__name__", "slo:sli_error:ratio_rate1h"), ("slo", "api-availability")]);
                db.append(&l, now, r * 0.001);
            }
            status(&Engine::default(), &db, "slos.yml", slo, now)
        };
        // 88.9% against 99.9%: missed, the budget spent many times over.
        let st = at(889.0, 111.0, Some(111.0));
        assert_eq!(st.status, "exhausted", "{st:?}");
        assert!(st.budget_remaining_percent.unwrap() < -10_000.0);
        // Within budget, but the last hour burns it five times too fast.
        assert_eq!(at(100_000.0, 10.0, Some(5.0)).status, "burning");
        // Within budget, spending it slower than the window allows.
        assert_eq!(at(100_000.0, 10.0, Some(0.5)).status, "ok");
        assert_eq!(at(0.0, 0.0, None).status, "no data");
    }
}
