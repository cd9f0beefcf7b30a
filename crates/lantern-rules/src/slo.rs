//! SLOs: one model ([`Slo`]) read from three file formats — the seed's (`slos:` with
//! `name`, `description`, `indicator.events.good`/`total` as PromQL selectors, `target`
//! in percent, `window`), OpenSLO v1 ([`openslo`]: ratio SLIs, rolling and
//! calendar-aligned windows, Occurrences budgeting) and Sloth's `prometheus/v1`
//! ([`sloth`]) — each checked with file, line and reason; the error budget exactly as
//! the seed's `calculate_error_budget` defines it; and the rules SLOs generate
//! ([`generate`]).

use std::path::Path;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use lantern_core::PromDuration;
use serde::Deserialize;

use crate::RuleError;

pub mod generate;
pub mod openslo;
pub mod sloth;

/// A service level objective, whatever file format it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Unique name.
    pub name: String,
    /// What it promises.
    pub description: String,
    /// How good and bad events are counted.
    pub sli: Sli,
    /// The objective, in percent of good events.
    pub target: f64,
    /// The window's length (a calendar window's nominal length: a month is 30 days).
    pub window: PromDuration,
    /// Set for calendar-aligned windows (the budget restarts each period).
    pub calendar: Option<Calendar>,
    /// Labels added to the rules it generates (Sloth's `labels`).
    pub labels: std::collections::BTreeMap<String, String>,
    /// The name of its burn-rate alerts (default [`generate::ALERT_NAME`]).
    pub alert_name: Option<String>,
    /// The file format (`lantern`, `openslo`, `sloth`).
    pub format: &'static str,
    /// The line the SLO starts on.
    pub line: usize,
}

/// The service level indicator: a ratio of event counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Counters of good and of all events, as series selectors.
    Events {
        /// Good events.
        good: String,
        /// All events.
        total: String,
    },
    /// Counters of bad and of all events, as series selectors (OpenSLO's `bad`).
    BadEvents {
        /// Bad events.
        bad: String,
        /// All events.
        total: String,
    },
    /// Rates of bad and of all events, as PromQL with `{{.window}}` where the range goes
    /// (Sloth's `error_query`/`total_query`).
    Queries {
        /// Bad events per second.
        errors: String,
        /// All events per second.
        total: String,
    },
}

impl Sli {
    /// The counter selectors it counts events with, by role (none for queries).
    pub fn selectors(&self) -> Vec<(&'static str, &str)> {
        match self {
            Sli::Events { good, total } => vec![("good", good), ("total", total)],
            Sli::BadEvents { bad, total } => vec![("bad", bad), ("total", total)],
            Sli::Queries { .. } => Vec::new(),
        }
    }
}

/// A calendar-aligned window: periods of `count` `unit`s from `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calendar {
    /// Start of the first period (ms, UTC).
    pub start_ms: i64,
    /// The period's unit.
    pub unit: CalendarUnit,
    /// Units per period.
    pub count: u32,
}

/// Units of calendar periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    /// Days.
    Day,
    /// Weeks.
    Week,
    /// Months.
    Month,
    /// Quarters.
    Quarter,
    /// Years.
    Year,
}

impl Calendar {
    /// The start (ms) of the period `now_ms` falls in.
    pub fn period_start(&self, now_ms: i64) -> i64 {
        let fixed = |days: i64| {
            let len = days * self.count.max(1) as i64 * 86_400_000;
            self.start_ms + (now_ms - self.start_ms).div_euclid(len) * len
        };
        let months = match self.unit {
            CalendarUnit::Day => return fixed(1),
            CalendarUnit::Week => return fixed(7),
            CalendarUnit::Month => 1,
            CalendarUnit::Quarter => 3,
            CalendarUnit::Year => 12,
        } * self.count.max(1);
        let Some(start) = DateTime::<Utc>::from_timestamp_millis(self.start_ms) else { return self.start_ms };
        let Some(now) = DateTime::<Utc>::from_timestamp_millis(now_ms) else { return self.start_ms };
        let elapsed = (now.year() - start.year()) * 12 + now.month() as i32 - start.month() as i32;
        let mut k = (elapsed.max(0) as u32 / months) * months;
        loop {
            let at = start.checked_add_months(Months::new(k)).unwrap_or(start);
            if at.timestamp_millis() <= now_ms || k == 0 {
                return at.timestamp_millis();
            }
            k = k.saturating_sub(months);
        }
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC) to ms.
pub(crate) fn parse_start(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(Utc.from_utc_datetime(&t).timestamp_millis());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
}

/// An SLO file in the seed's format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    slos: Vec<SeedSlo>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedSlo {
    name: String,
    #[serde(default)]
    description: String,
    indicator: Indicator,
    target: f64,
    window: PromDuration,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Indicator {
    events: Events,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    good: String,
    total: String,
}

/// The error budget over a window, as the seed computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Failures allowed: `total × (1 − target/100)`.
    pub budget_total: f64,
    /// Failures seen.
    pub budget_used: f64,
    /// `budget_total − budget_used`.
    pub budget_remaining: f64,
    /// `budget_remaining / budget_total × 100`; `None` when no failure is allowed
    /// (no traffic, or a 100% target): no data, not a division by zero.
    pub budget_remaining_percent: Option<f64>,
}

/// The seed's `calculate_error_budget(slo_target, window_requests, failed_requests)`.
pub fn error_budget(target_percent: f64, total: f64, failed: f64) -> Budget {
    let allowed = total * (1.0 - target_percent / 100.0);
    let remaining = allowed - failed;
    Budget {
        budget_total: allowed,
        budget_used: failed,
        budget_remaining: remaining,
        budget_remaining_percent: (allowed > 0.0).then(|| remaining / allowed * 100.0),
    }
}

/// The line of each list item starting with `key:` (`- name:`), in order.
pub(crate) fn item_lines(text: &str, key: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().strip_prefix('-').is_some_and(|r| r.trim_start().starts_with(key)))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Checks what every format shares: names, targets, windows, selectors.
pub(crate) fn check(file: &str, slos: &[Slo]) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for s in slos {
        let at = |reason: String| RuleError {
            file: file.to_string(),
            line: s.line,
            reason: format!("slo {:?}: {reason}", s.name),
        };
        if s.name.is_empty() {
            errors.push(at("a name is needed".into()));
        } else if !names.insert(s.name.clone()) {
            errors.push(at("the name is used by another SLO".into()));
        }
        if !(s.target > 0.0 && s.target < 100.0) {
            errors.push(at(format!("target {} is not a percentage between 0 and 100 (exclusive)", s.target)));
        }
        if s.window.0.is_zero() {
            errors.push(at("window must be positive".into()));
        }
        let key = if s.format == "lantern" { "indicator.events" } else { "ratioMetric" };
        for (what, sel) in s.sli.selectors() {
            match lantern_promql::parse(sel) {
                Ok(promql_parser::parser::Expr::VectorSelector(_)) => {}
                Ok(_) => errors.push(at(format!("{key}.{what}: {sel:?} is not a series selector"))),
                Err(e) => errors.push(at(format!("{key}.{what}: {e}"))),
            }
        }
        match &s.sli {
            Sli::Events { .. } | Sli::BadEvents { .. } => {}
            Sli::Queries { errors: bad, total } => {
                for (what, q) in [("error_query", bad), ("total_query", total)] {
                    if q == sloth::RAW_TOTAL {
                        continue;
                    }
                    if !q.contains(".window") {
                        errors.push(at(format!("sli.events.{what}: {q:?} has no {{{{.window}}}} for the range")));
                    } else if let Err(e) = lantern_promql::parse(&generate::with_window(q, "5m")) {
                        errors.push(at(format!("sli.events.{what}: {e}")));
                    }
                }
            }
        }
    }
    errors
}

/// Reads and checks seed-format SLO text.
fn parse_seed(file: &str, text: &str) -> Result<Vec<Slo>, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let f: SeedFile = match serde_yaml::from_str::<Option<SeedFile>>(text) {
        Ok(f) => f.unwrap_or(SeedFile { slos: Vec::new() }),
        Err(e) => return Err(vec![err(e.location().map_or(0, |l| l.line()), e.to_string())]),
    };
    let lines = item_lines(text, "name:");
    Ok(f.slos
        .into_iter()
        .enumerate()
        .map(|(i, s)| Slo {
            name: s.name,
            description: s.description,
            sli: Sli::Events { good: s.indicator.events.good, total: s.indicator.events.total },
            target: s.target,
            window: s.window,
            calendar: None,
            labels: Default::default(),
            alert_name: None,
            format: "lantern",
            line: lines.get(i).copied().unwrap_or(0),
        })
        .collect())
}

/// Reads and checks SLO file text in any of the three formats: every problem, or the
/// SLOs.
pub fn parse(file: &str, text: &str) -> Result<Vec<Slo>, Vec<RuleError>> {
    let slos = if text.lines().any(|l| l.trim_start().starts_with("apiVersion:") && l.contains("openslo/")) {
        openslo::parse(file, text)?
    } else if text.lines().any(|l| l.starts_with("version:") && l.contains("prometheus/v1")) {
        sloth::parse(file, text)?
    } else {
        parse_seed(file, text)?
    };
    let errors = check(file, &slos);
    if errors.is_empty() {
        Ok(slos)
    } else {
        Err(errors)
    }
}

/// Reads and checks an SLO file.
pub fn load(path: &Path) -> Result<Vec<Slo>, Vec<RuleError>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(vec![RuleError { file, line: 0, reason: format!("cannot read the file: {e}") }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_example_budget() {
        // 99.9% over 1M requests with 300 failures: 1000 allowed, 700 left, 70%.
        let b = error_budget(99.9, 1_000_000.0, 300.0);
        assert!((b.budget_total - 1000.0).abs() < 1e-6, "{b:?}");
        assert_eq!(b.budget_used, 300.0);
        assert!((b.budget_remaining - 700.0).abs() < 1e-6);
        assert!((b.budget_remaining_percent.unwrap() - 70.0).abs() < 1e-6);
        // No traffic: no data, not a division by zero.
        assert_eq!(error_budget(99.9, 0.0, 0.0).budget_remaining_percent, None);
    }

    #[test]
    fn the_seeds_slo_file_loads_and_problems_are_named() {
        let f = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-slos.yml")).unwrap();
        assert_eq!(f.len(), 2);
        let a = &f[0];
        assert_eq!(
            (a.name.as_str(), a.target, a.window.0.as_secs(), a.line),
            ("api-availability", 99.9, 30 * 86400, 3)
        );
        assert_eq!(
            f[1].sli,
            Sli::Events {
                good: "http_request_duration_seconds_bucket{le=\"0.2\"}".into(),
                total: "http_request_duration_seconds_count".into()
            }
        );
        let text = "slos:\n  - name: x\n    indicator:\n      events:\n        good: sum(a)\n        total: b{\n    target: 120\n    window: 30d\n";
        let e = parse("slo.yml", text).unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 3, "{shown:#?}");
        assert!(shown.iter().all(|s| s.starts_with("slo.yml:2: slo \"x\": ")), "{shown:#?}");
        assert!(shown[0].contains("target 120"), "{shown:#?}");
        assert!(shown[1].contains("indicator.events.good") && shown[1].contains("not a series selector"), "{shown:#?}");
    }
}
