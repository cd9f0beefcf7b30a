//! Rules, alerting and SLOs: `lantern test rules` against Debian's promtool, and the
//! rule engine in the running server.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unittest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata/unittest")
}

/// Exit status and the failure headers (`alertname: X, time: T` / `expr: "q", time: T`)
/// of a rule unit-test run.
fn verdict(cmd: &mut Command, file: &Path) -> (bool, Vec<String>) {
    let out = cmd.arg("test").arg("rules").arg(file.file_name().unwrap()).current_dir(file.parent().unwrap()).output();
    let out = out.expect("run the rule unit tests");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut headers: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("    alertname: ") || l.starts_with("    expr: "))
        .map(|l| l.split(", err:").next().unwrap().trim_end_matches([',', ' ']).to_string())
        .collect();
    headers.sort();
    (out.status.success(), headers)
}

#[test]
fn lantern_test_rules_agrees_with_promtool() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(unittest_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_test.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let ours = verdict(&mut Command::new(env!("CARGO_BIN_EXE_lantern")), f);
        let theirs = verdict(&mut Command::new("promtool"), f);
        assert_eq!(ours, theirs, "{name}: lantern and promtool disagree");
        // The files say what they should do: pass_* pass, fail_* fail (with reasons).
        assert_eq!(ours.0, name.starts_with("pass_"), "{name}: {ours:?}");
        if !ours.0 && name != "fail_bad_rules_test.yml" {
            assert!(!ours.1.is_empty(), "{name}: failed without naming a failing test");
        }
    }
}
