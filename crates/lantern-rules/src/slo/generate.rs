//! The rules an SLO generates, as the SRE workbook's multi-window, multi-burn-rate
//! alerting describes them: one recording rule per window with the error ratio
//! (`slo:sli_error:ratio_rate<w>{slo="…"}`), and burn-rate alerts that need a long
//! and a short window both above the factor (page: 14.4× over 1h and 5m, 6× over 6h
//! and 30m; ticket: 1× over 3d and 6h, for a 30-day SLO; other windows scale the
//! factors so the same share of the budget triggers them). With no traffic the ratio
//! is NaN (0/0), which no comparison passes: no data, no page.

use std::collections::BTreeMap;

use super::{Sli, Slo};
use crate::{Group, Lang, Rule, RuleFile};

/// Windows an SLO's error ratio is recorded over, with their lengths (s).
pub const WINDOWS: [(&str, u64); 7] =
    [("5m", 300), ("30m", 1800), ("1h", 3600), ("2h", 7200), ("6h", 21600), ("1d", 86400), ("3d", 259200)];

/// Burn-rate alerts: severity, long window, short window, and the share of the budget
/// that burning at the factor spends over the long window.
pub const BURN_ALERTS: [(&str, &str, u64, &str, f64); 3] =
    [("page", "1h", 3600, "5m", 0.02), ("page", "6h", 21600, "30m", 0.05), ("ticket", "3d", 259200, "6h", 0.10)];

/// The alert name of the burn-rate alerts.
pub const ALERT_NAME: &str = "SLOErrorBudgetBurn";

/// The name of an SLO's rule group.
pub fn group_name(slo: &str) -> String {
    format!("slo:{slo}")
}

/// The recorded error-ratio series of a window.
pub fn ratio_metric(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// A query with Sloth's `{{.window}}` (spaces allowed) replaced by `window`.
pub fn with_window(q: &str, window: &str) -> String {
    let mut out = q.to_string();
    for pat in ["{{.window}}", "{{ .window }}", "{{ .window}}", "{{.window }}"] {
        out = out.replace(pat, window);
    }
    out
}

/// The error ratio over `window`: `1 - good/total` or `bad/total` from the counters'
/// rates, or `errors/total` from the SLI's rate queries.
pub fn error_ratio_expr(slo: &Slo, window: &str) -> String {
    match &slo.sli {
        Sli::Events { good, total } => {
            format!("1 - (sum(rate({good}[{window}])) / sum(rate({total}[{window}])))")
        }
        Sli::BadEvents { bad, total } => format!("sum(rate({bad}[{window}])) / sum(rate({total}[{window}]))"),
        Sli::Queries { errors, total } => {
            format!("({}) / ({})", with_window(errors, window).trim(), with_window(total, window).trim())
        }
    }
}

/// The burn-rate factor of an alert for this SLO's window (14.4 for 1h over 30 days).
pub fn factor(slo: &Slo, long_secs: u64, share: f64) -> f64 {
    let f = share * slo.window.0.as_secs_f64() / long_secs as f64;
    (f * 1e6).round() / 1e6
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The selector of an SLO's recorded error ratio over `window`.
pub fn ratio_selector(slo: &str, window: &str) -> String {
    format!("{}{{slo={}}}", ratio_metric(window), quote(slo))
}

/// The group of rules for one SLO.
pub fn group(slo: &Slo) -> Group {
    let labels = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
        let mut m = slo.labels.clone();
        m.insert("slo".to_string(), slo.name.clone());
        m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        m
    };
    let mut rules: Vec<Rule> = WINDOWS
        .iter()
        .map(|(w, _)| Rule {
            record: Some(ratio_metric(w)),
            alert: None,
            expr: error_ratio_expr(slo, w),
            lang: Lang::Promql,
            for_: None,
            keep_firing_for: None,
            labels: labels(&[]),
            annotations: BTreeMap::new(),
            line: 0,
        })
        .collect();
    for (severity, long, long_secs, short, share) in BURN_ALERTS {
        let f = factor(slo, long_secs, share);
        let threshold = format!("({f} * (1 - {} / 100))", slo.target);
        let expr = format!(
            "{} > {threshold}\nand\n{} > {threshold}",
            ratio_selector(&slo.name, long),
            ratio_selector(&slo.name, short)
        );
        rules.push(Rule {
            record: None,
            alert: Some(slo.alert_name.clone().unwrap_or_else(|| ALERT_NAME.into())),
            expr,
            lang: Lang::Promql,
            for_: None,
            keep_firing_for: None,
            labels: labels(&[("severity", severity), ("long_window", long), ("short_window", short)]),
            annotations: BTreeMap::from([
                ("summary".to_string(), format!("SLO {}: error budget burning {f}x faster than sustainable", slo.name)),
                (
                    "description".to_string(),
                    format!(
                        "The error ratio of {} over {long} and {short} is above {f}x the {}% target allows \
                         (at {long}: {{{{ $value | humanizePercentage }}}}).",
                        slo.name, slo.target
                    ),
                ),
            ]),
            line: 0,
        });
    }
    Group { name: group_name(&slo.name), interval: None, limit: 0, query_offset: None, labels: BTreeMap::new(), rules }
}

/// A rule file with every SLO's group, for users who evaluate in Prometheus.
pub fn rule_file(slos: &[Slo]) -> RuleFile {
    RuleFile { groups: slos.iter().map(group).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantern_core::PromDuration;
    use std::time::Duration;

    fn seed() -> Vec<Slo> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-slos.yml");
        super::super::load(&p).unwrap()
    }

    #[test]
    fn the_seeds_slos_generate_rules_that_load_again() {
        let slos = seed();
        let f = rule_file(&slos);
        assert_eq!(f.groups.len(), 2);
        let g = &f.groups[0];
        assert_eq!(g.rules.len(), WINDOWS.len() + 3);
        assert_eq!(
            g.rules[0].expr,
            "1 - (sum(rate(http_requests_total{status=~\"2..\"}[5m])) / sum(rate(http_requests_total[5m])))"
        );
        let page = &g.rules[WINDOWS.len()];
        assert!(page.expr.contains("slo:sli_error:ratio_rate1h{slo=\"api-availability\"} > (14.4 * (1 - 99.9 / 100))"));
        assert!(page.expr.contains("slo:sli_error:ratio_rate5m{slo=\"api-availability\"} > (14.4 * (1 - 99.9 / 100))"));
        assert_eq!(page.labels["severity"], "page");
        let yaml = serde_yaml::to_string(&f).unwrap();
        let back = crate::parse("generated.yml", &yaml).unwrap();
        assert_eq!(back.groups.len(), 2);
        assert_eq!(back.groups[1].rules[WINDOWS.len() + 2].labels["severity"], "ticket");
    }

    #[test]
    fn factors_scale_with_the_window() {
        let mut slo = seed().remove(0);
        assert_eq!(
            BURN_ALERTS.iter().map(|(_, _, l, _, s)| factor(&slo, *l, *s)).collect::<Vec<_>>(),
            [14.4, 6.0, 1.0]
        );
        slo.window = PromDuration(Duration::from_secs(7 * 86400));
        assert_eq!(factor(&slo, 3600, 0.02), 3.36);
    }
}
