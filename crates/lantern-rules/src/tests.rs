use super::*;

#[test]
fn the_seeds_alert_rules_load_unmodified() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-alerts.yml");
    let f = load(&path).unwrap();
    let g = &f.groups[0];
    assert_eq!(g.name, "slo-alerts");
    let names: Vec<&str> = g.rules.iter().map(Rule::name).collect();
    assert_eq!(names, ["HighErrorRate", "ErrorBudgetBurn"]);
    let r = &g.rules[1];
    assert_eq!(r.for_.map(|d| d.0.as_secs()), Some(300));
    assert_eq!(r.labels["severity"], "critical");
    assert_eq!(r.annotations["summary"], "Burning error budget 14x faster than sustainable");
    assert_eq!((g.rules[0].line, r.line), (6, 19));
}

#[test]
fn problems_name_the_file_line_and_reason() {
    let text = "groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum(up) by (job)
      - alert: Broken
        expr: sum(rate(x[5m]) by
        for: 5m
      - record: 1bad
        expr: up
        annotations:
          a: b
      - alert: Logs
        lang: logql
        expr: sum(count_over_time({service=\"payment\"} |= \"payment_failed\" [5m])) > 10
      - alert: LogsBad
        lang: logql
        expr: '{service=\"payment\"}'
  - name: g
    rules: []
";
    let errs = parse("rules.yml", text).unwrap_err();
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].starts_with("rules.yml:6: group \"g\", rule \"Broken\": could not parse expression"),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|s| s.starts_with("rules.yml:9:") && s.contains("invalid recording rule name \"1bad\"")),
        "{shown:#?}"
    );
    assert!(shown.iter().any(|s| s.starts_with("rules.yml:9:") && s.contains("annotations are for alerting rules")));
    assert!(shown.iter().any(|s| s.starts_with("rules.yml:16:") && s.contains("needs a metric query")), "{shown:#?}");
    assert!(shown.iter().any(|s| s == "rules.yml:19: group \"g\": the name is used by another group"), "{shown:#?}");
    assert_eq!(errs.len(), 5, "{shown:#?}");
    // YAML that does not parse, and unknown keys.
    let e = parse("r.yml", "groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        fro: 5m\n")
        .unwrap_err();
    assert!(e[0].to_string().starts_with("r.yml:") && e[0].reason.contains("fro"), "{e:?}");
    let e = parse("r.yml", "groups: [").unwrap_err();
    assert!(e[0].line > 0, "{e:?}");
    assert!(load(Path::new("/nonexistent/rules.yml")).unwrap_err()[0].reason.contains("cannot read"));
    assert_eq!(parse("empty.yml", "").unwrap().groups.len(), 0);
}

#[test]
fn a_field_of_the_wrong_type_does_not_hide_the_files_other_problems() {
    let text = "groups:
  - name: g
    interval: often
    rules:
      - alert: A
        expr: up ==
        for: 5 minutes
      - record: b
        expr: sum(x
      - alert: C
        expr: up
        fro: 5m
        labels: {severity: [x]}
";
    let shown: Vec<String> = parse("r.yml", text).unwrap_err().iter().map(ToString::to_string).collect();
    let want = [
        "r.yml:2: groups[0].interval: duration \"often\" is invalid",
        "r.yml:5: groups[0].rules[0].for: duration \"5 minutes\" is invalid",
        "r.yml:5: group \"g\", rule \"A\": could not parse expression: parse error at char 6: unexpected end of input",
        "r.yml:8: group \"g\", rule \"b\": could not parse expression: parse error at char 4: unclosed '('",
        "r.yml:10: groups[0].rules[2].fro: unknown field `fro`",
        "r.yml:10: groups[0].rules[2].labels.severity: invalid type: sequence, expected a string",
    ];
    assert_eq!(shown.len(), want.len(), "{shown:#?}");
    for w in want {
        assert!(shown.iter().any(|s| s.starts_with(w)), "{w}\n{shown:#?}");
    }
}

#[test]
fn a_bad_template_is_refused_with_its_rule() {
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        annotations:\n          summary: \"{{ $labels.instance \"\n";
    let e = parse("t.yml", text).unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].to_string().starts_with("t.yml:4: group \"g\", rule \"A\": annotation \"summary\": bad template"),
        "{e:?}"
    );
}

/// Arbitrary text shaped like templates, rule files and SLO files never makes a parser
/// (or a template's expansion) panic: every problem is an error with a reason.
mod never_panics {
    use std::collections::BTreeMap;

    use crate::template::{Data, Template};

    fn expand_all(text: &str) {
        if let Ok(t) = Template::parse(text) {
            let labels = BTreeMap::from([("instance".to_string(), "a:1".to_string())]);
            let q = |_: &str| -> Result<crate::template::Samples, String> {
                Ok(vec![(BTreeMap::from([("job".to_string(), "x".to_string())]), 1.5)])
            };
            let d = Data { labels: &labels, value: 0.5, external: &BTreeMap::new(), external_url: "", query: Some(&q) };
            let _ = t.expand(&d);
        }
    }

    proptest::proptest! {
        #[test]
        fn templates(text in "[a-z$.|( )\"`{}=:0-9-]{0,80}") {
            expand_all(&text);
        }

        #[test]
        fn templates_with_keywords(parts in proptest::collection::vec(proptest::sample::select(vec![
            "{{", "}}", "{{- ", " -}}", "if ", "else ", "end", "with ", "range ", "$labels.instance", "$value", ".",
            ".Labels", "$x := ", "$x", "query \"up\"", "first", "value", "| ", "humanize ", "printf \"%d\" ",
            "eq 1 ", "gt $value 0.2 ", "(", ")", "\"s\"", "len ", "index $labels \"instance\" ", "text ", "reReplaceAll \"(\" \"\" ",
        ]), 0..24)) {
            expand_all(&parts.concat());
        }

        #[test]
        fn rule_files(parts in proptest::collection::vec(proptest::sample::select(vec![
            "groups:\n", "  - name: g\n", "    interval: 1m\n", "    limit: x\n", "    rules:\n", "      - alert: A\n",
            "      - record: r\n", "        expr: up == 0\n", "        expr: sum(\n", "        lang: logql\n",
            "        expr: '{a=\"b\"}'\n", "        for: 5m\n", "        labels: {a: \"{{ $value }}\"}\n", "        annotations: {s: \"{{\"}\n",
            "  -\n", ":\n", "- - -\n", "\t",
        ]), 0..16)) {
            let _ = crate::parse("f.yml", &parts.concat());
        }

        #[test]
        fn slo_files(parts in proptest::collection::vec(proptest::sample::select(vec![
            "slos:\n", "  - name: s\n", "    target: 99.9\n", "    window: 30d\n", "    indicator:\n", "      events:\n",
            "        good: a\n", "        total: b{\n", "apiVersion: openslo/v1\n", "kind: SLO\n", "kind: SLI\n", "---\n",
            "metadata:\n  name: n\n", "spec:\n", "  timeWindow:\n    - duration: 1M\n      isRolling: false\n",
            "  budgetingMethod: Occurrences\n", "  objectives:\n    - target: 0.9\n", "  indicatorRef: n\n",
            "version: \"prometheus/v1\"\n", "service: s\n", "    objective: 99\n", "    sli:\n      events:\n        error_query: x[{{.window}}]\n        total_query: y\n",
        ]), 0..16)) {
            let _ = crate::slo::parse("s.yml", &parts.concat());
        }
    }
}
