//! The rule tools on the command line against Debian's promtool: `lantern test rules`
//! (promtool's unit-test format), `lantern check rules`, `lantern slo rules`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unittest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata/unittest")
}

/// A rule unit-test run: exit status, the failure headers (`alertname: X, time: T`,
/// `expr: "q", time: T`, `rule: R, time: T, err: …`), and the whole report.
fn verdict(cmd: &mut Command, file: &Path) -> (bool, Vec<String>, String) {
    let out = cmd.arg("test").arg("rules").arg(file.file_name().unwrap()).current_dir(file.parent().unwrap()).output();
    let out = out.expect("run the rule unit tests");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut headers: Vec<String> = text
        .lines()
        .filter(|l| ["    alertname: ", "    expr: ", "    rule: "].iter().any(|p| l.starts_with(p)))
        .map(|l| l.split(", err:").next().unwrap().trim_end_matches([',', ' ']).to_string())
        .collect();
    headers.sort();
    (out.status.success(), headers, text)
}

#[test]
fn lantern_test_rules_agrees_with_promtool() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(unittest_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_test.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let ours = verdict(&mut Command::new(env!("CARGO_BIN_EXE_lantern")), f);
        let theirs = verdict(&mut Command::new("promtool"), f);
        assert_eq!((ours.0, &ours.1), (theirs.0, &theirs.1), "{name}: lantern and promtool disagree");
        // The reports are the same text, but where a parser's error message is quoted
        // (ours and Go's differ).
        if !["fail_bad_rules_test.yml", "fail_expr_test.yml"].contains(&name.as_str()) {
            assert_eq!(ours.2, theirs.2, "{name}: the reports differ");
        }
        // The files say what they should do: pass_* pass, fail_* fail (with reasons).
        assert_eq!(ours.0, name.starts_with("pass_"), "{name}: {ours:?}");
        if !ours.0 && name != "fail_bad_rules_test.yml" {
            assert!(!ours.1.is_empty(), "{name}: failed without naming a failing test");
        }
    }
}

#[test]
fn lantern_slo_rules_prints_a_rule_file_promtool_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata");
    // The seed's format, OpenSLO v1 and Sloth: two SLOs, two, and one; seven recording
    // rules and three burn-rate alerts each.
    for (file, rules, expect) in [
        ("seed-slos.yml", 20, "slo:sli_error:ratio_rate1h{slo=\"api-availability\"} > (14.4 * (1 - 99.9 / 100))"),
        ("openslo.yml", 20, "slo:sli_error:ratio_rate1h{slo=\"checkout-availability\"} > (14.4 * (1 - 99.5 / 100))"),
        ("sloth.yml", 10, "alert: MyServiceHighErrorRate"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["slo", "rules"])
            .arg(testdata.join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let generated = dir.path().join(format!("rules-{file}"));
        std::fs::write(&generated, &out.stdout).unwrap();
        let check = Command::new("promtool").args(["check", "rules"]).arg(&generated).output().unwrap();
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{file}: {text}{}", String::from_utf8_lossy(&check.stderr));
        assert!(text.contains(&format!("SUCCESS: {rules} rules found")), "{file}: {text}");
        let yaml = String::from_utf8_lossy(&out.stdout);
        assert!(yaml.contains(expect), "{file}: {yaml}");
    }
    // A problem is named with file and line.
    let bad = dir.path().join("bad-slos.yml");
    std::fs::write(&bad, "slos:\n  - name: x\n    indicator:\n      events:\n        good: a\n        total: b\n    target: 100.5\n    window: 30d\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lantern")).args(["slo", "rules"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad-slos.yml:2: slo \"x\": target 100.5 is not a percentage"), "{err}");
}

#[test]
fn lantern_check_rules_agrees_with_promtool_check_rules() {
    let dir = tempfile::tempdir().unwrap();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata");
    let dup = dir.path().join("dup.yml");
    std::fs::write(
        &dup,
        "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n  - name: g\n    rules: []\n",
    )
    .unwrap();
    let files: Vec<PathBuf> = [
        "seed-alerts.yml",
        "unittest/rules.yml",
        "unittest/semantics.yml",
        "unittest/more.yml",
        "unittest/bad_rules.yml",
    ]
    .iter()
    .map(|f| testdata.join(f))
    .chain([dup])
    .collect();
    for f in &files {
        let run = |bin: &str| {
            let out = Command::new(bin).args(["check", "rules"]).arg(f).output().unwrap();
            let found: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("SUCCESS"))
                .map(str::to_string)
                .collect();
            (out.status.success(), found, String::from_utf8_lossy(&out.stderr).contains("  FAILED:"))
        };
        let ours = run(env!("CARGO_BIN_EXE_lantern"));
        assert_eq!(ours, run("promtool"), "{}", f.display());
        assert_eq!(ours.0, !f.ends_with("bad_rules.yml") && !f.ends_with("dup.yml"), "{}", f.display());
    }
}
