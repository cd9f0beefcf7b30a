//! SLO files in the seed's format (`slos:` with `name`, `description`,
//! `indicator.events.good`/`total` as PromQL selectors, `target` in percent, `window`),
//! checked with file, line and reason, and the error budget exactly as the seed's
//! `calculate_error_budget` defines it.

use std::path::Path;

use lantern_core::PromDuration;
use serde::Deserialize;

use crate::RuleError;

pub mod generate;

/// An SLO file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloFile {
    /// The SLOs.
    #[serde(default)]
    pub slos: Vec<Slo>,
}

/// A service level objective.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Unique name.
    pub name: String,
    /// What it promises.
    #[serde(default)]
    pub description: String,
    /// How good and total events are counted.
    pub indicator: Indicator,
    /// The objective, in percent of good events.
    pub target: f64,
    /// The rolling window.
    pub window: PromDuration,
    /// The line the SLO starts on (filled in by [`parse`]).
    #[serde(skip)]
    pub line: usize,
}

/// The indicator of an SLO.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Counters of good and total events.
    pub events: Events,
}

/// Good and total events as PromQL series selectors of counters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Good events.
    pub good: String,
    /// All events.
    pub total: String,
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

/// The line of each SLO (`- name:` list items, in order).
fn slo_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().strip_prefix('-').is_some_and(|r| r.trim_start().starts_with("name:")))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Reads and checks SLO file text: every problem, or the SLOs.
pub fn parse(file: &str, text: &str) -> Result<SloFile, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let mut f: SloFile = match serde_yaml::from_str::<Option<SloFile>>(text) {
        Ok(f) => f.unwrap_or(SloFile { slos: Vec::new() }),
        Err(e) => return Err(vec![err(e.location().map_or(0, |l| l.line()), e.to_string())]),
    };
    for (s, line) in f.slos.iter_mut().zip(slo_lines(text)) {
        s.line = line;
    }
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for s in &f.slos {
        let at = |reason: String| err(s.line, format!("slo {:?}: {reason}", s.name));
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
        for (what, sel) in [("good", &s.indicator.events.good), ("total", &s.indicator.events.total)] {
            match lantern_promql::parse(sel) {
                Ok(promql_parser::parser::Expr::VectorSelector(_)) => {}
                Ok(_) => errors.push(at(format!("indicator.events.{what}: {sel:?} is not a series selector"))),
                Err(e) => errors.push(at(format!("indicator.events.{what}: {e}"))),
            }
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(errors)
    }
}

/// Reads and checks an SLO file.
pub fn load(path: &Path) -> Result<SloFile, Vec<RuleError>> {
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
        assert_eq!(f.slos.len(), 2);
        let a = &f.slos[0];
        assert_eq!(
            (a.name.as_str(), a.target, a.window.0.as_secs(), a.line),
            ("api-availability", 99.9, 30 * 86400, 3)
        );
        assert_eq!(f.slos[1].indicator.events.good, "http_request_duration_seconds_bucket{le=\"0.2\"}");
        let text = "slos:\n  - name: x\n    indicator:\n      events:\n        good: sum(a)\n        total: b{\n    target: 120\n    window: 30d\n";
        let e = parse("slo.yml", text).unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 3, "{shown:#?}");
        assert!(shown.iter().all(|s| s.starts_with("slo.yml:2: slo \"x\": ")), "{shown:#?}");
        assert!(shown[0].contains("target 120"), "{shown:#?}");
        assert!(shown[1].contains("indicator.events.good") && shown[1].contains("not a series selector"), "{shown:#?}");
    }
}
