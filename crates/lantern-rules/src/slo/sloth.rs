//! Sloth's `prometheus/v1` spec: `service`, `slos` with `name`, `objective` (percent),
//! `description`, and `sli.events.error_query`/`total_query` (rates with
//! `{{.window}}`) or `sli.raw.error_ratio_query`. SLOs are named
//! `<service>-<name>`, as Sloth names them, over a 30-day window (Sloth's default).

use std::collections::BTreeMap;
use std::time::Duration;

use lantern_core::PromDuration;
use serde::Deserialize;

use super::{item_lines, Sli, Slo};
use crate::RuleError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    version: String,
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    slos: Vec<SlothSlo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothSlo {
    name: String,
    objective: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SlothSli,
    #[serde(default)]
    alerting: Option<SlothAlerting>,
}

/// What Lantern takes of Sloth's `alerting`: the alert name (the page and ticket
/// alerts' own settings are read past).
#[derive(Debug, Deserialize)]
struct SlothAlerting {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothSli {
    #[serde(default)]
    events: Option<SlothEvents>,
    #[serde(default)]
    raw: Option<SlothRaw>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothEvents {
    error_query: String,
    total_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlothRaw {
    error_ratio_query: String,
}

/// The "total" of a raw error-ratio SLI: the ratio is the query itself.
pub const RAW_TOTAL: &str = "1";

/// Reads a Sloth spec.
pub fn parse(file: &str, text: &str) -> Result<Vec<Slo>, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let spec: Spec =
        serde_yaml::from_str(text).map_err(|e| vec![err(e.location().map_or(0, |l| l.line()), e.to_string())])?;
    if spec.version != "prometheus/v1" {
        return Err(vec![err(1, format!("version {:?} is not supported (only prometheus/v1)", spec.version))]);
    }
    let lines = item_lines(text, "name:");
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in spec.slos.into_iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(0);
        let name = format!("{}-{}", spec.service, s.name);
        let mut labels = spec.labels.clone();
        labels.extend(s.labels);
        let sli = match (s.sli.events, s.sli.raw) {
            (Some(e), None) => Sli::Queries { errors: e.error_query, total: e.total_query },
            (None, Some(r)) => Sli::Queries { errors: r.error_ratio_query, total: RAW_TOTAL.into() },
            _ => {
                errors.push(err(line, format!("slo {name:?}: sli needs exactly one of events and raw")));
                continue;
            }
        };
        out.push(Slo {
            name,
            description: s.description,
            sli,
            target: s.objective,
            window: PromDuration(Duration::from_secs(30 * 86400)),
            calendar: None,
            labels,
            alert_name: s.alerting.and_then(|a| a.name),
            format: "sloth",
            line,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sloth_spec_reads_as_query_slos() {
        let text = r#"version: "prometheus/v1"
service: "myservice"
labels:
  owner: "myteam"
slos:
  - name: "requests-availability"
    objective: 99.9
    description: "Common SLO based on availability for HTTP request responses."
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      page_alert:
        labels:
          severity: pageteam
"#;
        let slos = super::super::parse("sloth.yml", text).unwrap();
        assert_eq!(slos.len(), 1);
        let s = &slos[0];
        assert_eq!(
            (s.name.as_str(), s.target, s.line, s.window.0.as_secs()),
            ("myservice-requests-availability", 99.9, 6, 30 * 86400)
        );
        assert_eq!(s.alert_name.as_deref(), Some("MyServiceHighErrorRate"));
        assert_eq!(s.labels["owner"], "myteam");
        let g = super::super::generate::group(s);
        assert!(g
            .rules
            .iter()
            .any(|r| r.alert.as_deref() == Some("MyServiceHighErrorRate") && r.labels["owner"] == "myteam"));
        let q = super::super::generate::error_ratio_expr(s, "5m");
        assert!(
            q.starts_with(
                "(sum(rate(http_request_duration_seconds_count{job=\"myservice\",code=~\"(5..|429)\"}[5m])))"
            ),
            "{q}"
        );
        lantern_promql::parse(&q).unwrap();
        // A query without the window is refused with its line.
        let e =
            super::super::parse("sloth.yml", &text.replace("[{{.window}}]))\n        total", "[5m]))\n        total"))
                .unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with("sloth.yml:6: slo \"myservice-requests-availability\": sli.events.error_query"),
            "{e:?}"
        );
    }
}
