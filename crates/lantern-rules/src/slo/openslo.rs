//! OpenSLO v1 (`apiVersion: openslo/v1`): `kind: SLO` documents with a ratio SLI
//! (`spec.indicator` inline, or `spec.indicatorRef` naming a `kind: SLI` document of
//! the same file), `ratioMetric` with `good` or `bad` and `total` whose
//! `metricSource.spec.query` is a counter's series selector, rolling or
//! calendar-aligned `timeWindow`, `budgetingMethod: Occurrences`, and `objectives`
//! with `target` (0–1) or `targetPercent`. One [`Slo`] per objective. Other kinds
//! (Service, AlertPolicy, DataSource…) are read past.

use std::collections::HashMap;
use std::time::Duration;

use lantern_core::PromDuration;
use serde_yaml::Value;

use super::{parse_start, Calendar, CalendarUnit, Sli, Slo};
use crate::RuleError;

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// `28d`, `1w`, `1M`, `1Q`, `1Y`…: the unit, the count, and the nominal length.
fn duration(s: &str) -> Option<(CalendarUnit, u32, Duration)> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u32 = s[..split].parse().ok()?;
    let day = 86_400u64;
    let (unit, secs) = match &s[split..] {
        "m" => return Some((CalendarUnit::Day, n, Duration::from_secs(60 * n as u64))),
        "h" => return Some((CalendarUnit::Day, n, Duration::from_secs(3600 * n as u64))),
        "d" => (CalendarUnit::Day, day),
        "w" => (CalendarUnit::Week, 7 * day),
        "M" => (CalendarUnit::Month, 30 * day),
        "Q" => (CalendarUnit::Quarter, 90 * day),
        "Y" => (CalendarUnit::Year, 365 * day),
        _ => return None,
    };
    Some((unit, n, Duration::from_secs(secs * n as u64)))
}

/// The counter selector of one side of a ratio metric.
fn query(side: &Value) -> Option<String> {
    let source = side.get("metricSource")?;
    let kind = text(source, &["type"]).unwrap_or("Prometheus");
    if !kind.eq_ignore_ascii_case("prometheus") {
        return None;
    }
    text(source, &["spec", "query"]).map(|q| q.trim().to_string())
}

/// Reads the OpenSLO documents of a file.
pub fn parse(file: &str, text_: &str) -> Result<Vec<Slo>, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_str(text_) {
        match <Value as serde::Deserialize>::deserialize(d) {
            Ok(Value::Null) => {}
            Ok(v) => docs.push(v),
            Err(e) => return Err(vec![err(e.location().map_or(0, |l| l.line()), e.to_string())]),
        }
    }
    let slo_lines: Vec<usize> =
        text_.lines().enumerate().filter(|(_, l)| l.trim() == "kind: SLO").map(|(i, _)| i + 1).collect();
    let slis: HashMap<&str, &Value> = docs
        .iter()
        .filter(|d| text(d, &["kind"]) == Some("SLI"))
        .filter_map(|d| Some((text(d, &["metadata", "name"])?, d.get("spec")?)))
        .collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, d) in docs.iter().filter(|d| text(d, &["kind"]) == Some("SLO")).enumerate() {
        let line = slo_lines.get(i).copied().unwrap_or(0);
        let name = text(d, &["metadata", "name"]).unwrap_or_default().to_string();
        let at = |reason: String| err(line, format!("slo {name:?}: {reason}"));
        if text(d, &["apiVersion"]) != Some("openslo/v1") {
            errors.push(at(format!("apiVersion {:?} is not supported (only openslo/v1)", text(d, &["apiVersion"]))));
            continue;
        }
        let Some(spec) = d.get("spec") else {
            errors.push(at("spec is missing".into()));
            continue;
        };
        let method = text(spec, &["budgetingMethod"]).unwrap_or("Occurrences");
        if method != "Occurrences" {
            errors.push(at(format!("spec.budgetingMethod {method} is not supported (only Occurrences)")));
            continue;
        }
        let sli = match (spec.get("indicator"), text(spec, &["indicatorRef"])) {
            (Some(ind), _) => ind.get("spec"),
            (None, Some(r)) => slis.get(r).copied(),
            (None, None) => None,
        };
        let Some(ratio) = sli.and_then(|s| s.get("ratioMetric")) else {
            errors.push(at("spec.indicator (or indicatorRef) needs a ratioMetric SLI".into()));
            continue;
        };
        let total = ratio.get("total").and_then(query);
        let sli = match (ratio.get("good").and_then(query), ratio.get("bad").and_then(query), total) {
            (Some(good), _, Some(total)) => Sli::Events { good, total },
            (None, Some(bad), Some(total)) => Sli::BadEvents { bad, total },
            _ => {
                errors.push(at(
                    "ratioMetric needs good (or bad) and total, each a Prometheus metricSource with a query".into(),
                ));
                continue;
            }
        };
        let Some(tw) = get(spec, &["timeWindow"]).and_then(Value::as_sequence).and_then(|s| s.first()) else {
            errors.push(at("spec.timeWindow is missing".into()));
            continue;
        };
        let dur = text(tw, &["duration"]).unwrap_or_default();
        let Some((unit, count, length)) = duration(dur) else {
            errors.push(at(format!("spec.timeWindow.duration {dur:?} is not a duration (28d, 1w, 1M, 1Q, 1Y)")));
            continue;
        };
        let rolling = get(tw, &["isRolling"]).and_then(Value::as_bool).unwrap_or(true);
        let calendar = if rolling {
            None
        } else {
            let tz = text(tw, &["calendar", "timeZone"]).unwrap_or("UTC");
            if tz != "UTC" && tz != "Etc/UTC" {
                errors.push(at(format!("spec.timeWindow.calendar.timeZone {tz:?} is not supported (only UTC)")));
                continue;
            }
            let start = text(tw, &["calendar", "startTime"]).unwrap_or("1970-01-01 00:00:00");
            let Some(start_ms) = parse_start(start) else {
                errors.push(at(format!("spec.timeWindow.calendar.startTime {start:?} is not a time")));
                continue;
            };
            Some(Calendar { start_ms, unit, count })
        };
        let objectives = get(spec, &["objectives"]).and_then(Value::as_sequence).cloned().unwrap_or_default();
        if objectives.is_empty() {
            errors.push(at("spec.objectives is empty".into()));
        }
        let description = text(spec, &["description"]).unwrap_or_default().to_string();
        for (j, o) in objectives.iter().enumerate() {
            let target =
                match (get(o, &["target"]).and_then(Value::as_f64), get(o, &["targetPercent"]).and_then(Value::as_f64))
                {
                    (Some(t), _) => t * 100.0,
                    (None, Some(p)) => p,
                    _ => {
                        errors.push(at(format!("spec.objectives[{j}] needs target or targetPercent")));
                        continue;
                    }
                };
            let slo_name = if objectives.len() == 1 {
                name.clone()
            } else {
                let label = text(o, &["displayName"]).map(str::to_string).unwrap_or_else(|| j.to_string());
                format!("{name}-{}", label.to_lowercase().replace(' ', "-"))
            };
            out.push(Slo {
                name: slo_name,
                description: description.clone(),
                sli: sli.clone(),
                target,
                window: PromDuration(length),
                calendar,
                labels: Default::default(),
                alert_name: None,
                format: "openslo",
                line,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_slos_with_rolling_and_calendar_windows() {
        let text = r#"apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec:
          query: http_requests_total{service="checkout",status=~"5.."}
    total:
      metricSource:
        type: Prometheus
        spec:
          query: http_requests_total{service="checkout"}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: checkout
  indicatorRef: checkout-errors
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: "2026-01-01 00:00:00"
        timeZone: UTC
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good
      target: 0.995
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
spec:
  indicator:
    metadata:
      name: api-good
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{status=~"2.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.9
"#;
        let slos = super::super::parse("o.yml", text).unwrap();
        assert_eq!(slos.len(), 2);
        let c = &slos[0];
        assert_eq!((c.name.as_str(), c.target, c.line, c.format), ("checkout-availability", 99.5, 20, "openslo"));
        assert!(matches!(&c.sli, Sli::BadEvents { bad, .. } if bad.ends_with("status=~\"5..\"}")));
        let cal = c.calendar.unwrap();
        // 2026-11-29 12:00 UTC falls in the period that began 2026-11-01.
        assert_eq!(cal.period_start(1_795_953_600_000), super::super::parse_start("2026-11-01").unwrap());
        let a = &slos[1];
        assert_eq!((a.window.0.as_secs(), a.target, a.calendar), (28 * 86400, 99.9, None));
        assert_eq!(
            a.sli,
            Sli::Events { good: "http_requests_total{status=~\"2..\"}".into(), total: "http_requests_total".into() }
        );
        // Unsupported budgeting is refused with the SLO's line.
        let bad = text.replace(
            "budgetingMethod: Occurrences\n  objectives:\n    - displayName",
            "budgetingMethod: Timeslices\n  objectives:\n    - displayName",
        );
        let e = super::super::parse("o.yml", &bad).unwrap_err();
        assert_eq!(e[0].to_string(), "o.yml:20: slo \"checkout-availability\": spec.budgetingMethod Timeslices is not supported (only Occurrences)");
    }
}
