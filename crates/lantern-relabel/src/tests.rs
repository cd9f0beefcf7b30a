use super::*;

fn rules(yaml: &str) -> Vec<Rule> {
    let cfgs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
    compile(&cfgs).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[test]
fn every_action_as_prometheus_applies_it() {
    let r = rules(
        r#"
- source_labels: [__address__]
  regex: "([^:]+):(\\d+)"
  target_label: host
  replacement: "$1"
- source_labels: [__meta_env, host]
  separator: "/"
  target_label: where
- action: labelmap
  regex: "__meta_(.+)"
  replacement: "meta_$1"
- source_labels: [job]
  action: uppercase
  target_label: JOB
- source_labels: [JOB]
  action: lowercase
  target_label: job_lower
- source_labels: [host]
  action: hashmod
  modulus: 8
  target_label: shard
- action: labeldrop
  regex: "__meta_.*"
"#,
    );
    let mut l = labels(&[("__address__", "web-1:9100"), ("__meta_env", "prod"), ("job", "Node")]);
    assert!(process(&r, &mut l));
    assert_eq!(l["host"], "web-1");
    assert_eq!(l["where"], "prod/web-1");
    assert_eq!(l["meta_env"], "prod");
    assert_eq!(l["JOB"], "NODE");
    assert_eq!(l["job_lower"], "node");
    // Prometheus: md5("web-1")[8..16] as a big-endian u64, modulo 8.
    let sum = Md5::digest(b"web-1");
    let want = u64::from_be_bytes(sum[8..16].try_into().unwrap()) % 8;
    assert_eq!(l["shard"], want.to_string());
    assert!(!l.contains_key("__meta_env"));
}

#[test]
fn keep_drop_and_equality_filters() {
    let keep = rules("- source_labels: [job]\n  regex: api|web\n  action: keep\n");
    assert!(process(&keep, &mut labels(&[("job", "api")])));
    assert!(!process(&keep, &mut labels(&[("job", "apix")])), "the regex is anchored");
    assert!(!process(&keep, &mut labels(&[])), "an absent label is the empty string");
    let drop = rules("- source_labels: [__name__]\n  regex: go_.*\n  action: drop\n");
    assert!(!process(&drop, &mut labels(&[("__name__", "go_goroutines")])));
    assert!(process(&drop, &mut labels(&[("__name__", "up")])));
    let eq = rules("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
    assert!(process(&eq, &mut labels(&[("a", "1"), ("b", "1")])));
    assert!(!process(&eq, &mut labels(&[("a", "1"), ("b", "2")])));
    let ne = rules("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
    assert!(!process(&ne, &mut labels(&[("a", "1"), ("b", "1")])));
    let lk = rules("- action: labelkeep\n  regex: __name__|job\n");
    let mut l = labels(&[("__name__", "x"), ("job", "j"), ("instance", "i")]);
    assert!(process(&lk, &mut l));
    assert_eq!(l.keys().collect::<Vec<_>>(), vec!["__name__", "job"]);
}

#[test]
fn replace_details() {
    // No match: nothing changes. Empty result: the label goes. Target from captures.
    let r = rules(
        "- source_labels: [a]\n  regex: 'x(.*)'\n  target_label: b\n- source_labels: [c]\n  regex: '(.*)'\n  target_label: c\n  replacement: ''\n- source_labels: [d]\n  regex: '(.+)=(.+)'\n  target_label: '$1'\n  replacement: '$2'\n",
    );
    let mut l = labels(&[("a", "y"), ("c", "gone"), ("d", "team=payments")]);
    assert!(process(&r, &mut l));
    assert!(!l.contains_key("b"));
    assert!(!l.contains_key("c"));
    assert_eq!(l["team"], "payments");
}

#[test]
fn invalid_configs_are_refused_with_the_step() {
    let bad = [
        ("- source_labels: [a]\n  regex: '('\n  target_label: b\n", "invalid regex"),
        ("- source_labels: [a]\n  action: replace\n", "requires 'target_label'"),
        ("- source_labels: [a]\n  action: hashmod\n  target_label: x\n", "non-zero modulus"),
        ("- action: labeldrop\n  regex: x\n  source_labels: [a]\n", "requires only 'regex'"),
        ("- source_labels: [a]\n  action: lowercase\n  target_label: '1x'\n", "invalid 'target_label'"),
    ];
    for (yaml, msg) in bad {
        let cfgs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
        let e = compile(&cfgs).unwrap_err();
        assert!(e.to_string().contains(msg), "{yaml}: {e}");
        assert_eq!(e.index, 0);
    }
    assert!(serde_yaml::from_str::<Vec<RelabelConfig>>("- action: frobnicate\n").is_err());
    assert!(serde_yaml::from_str::<Vec<RelabelConfig>>("- unknown_key: 1\n").is_err());
}
