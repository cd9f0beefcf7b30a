//! Every script of Prometheus's PromQL test suite (`../shared/promqltest/testdata`, from
//! Prometheus v3.9.1) parses, and the parser finds every command a plain line count finds.

use lantern_promqltest::{parse_script, suite_dir, Command};

#[test]
fn every_shared_script_parses() {
    let dir = suite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // A clone without ../shared: say so loudly rather than fail (CI always has it).
        eprintln!("\n*** PromQL test suite SKIPPED: {} not found (set LANTERN_PROMQLTEST_DIR) ***\n", dir.display());
        return;
    };
    let mut files = 0;
    let (mut evals, mut loads) = (0usize, 0usize);
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("test") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let commands = parse_script(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let count =
            |p: &str| text.lines().filter(|l| l.split_whitespace().next().is_some_and(|w| w.starts_with(p))).count();
        let (e, l, c) = commands.iter().fold((0, 0, 0), |(e, l, c), cmd| match cmd {
            Command::Eval(_) => (e + 1, l, c),
            Command::Load { .. } => (e, l + 1, c),
            Command::Clear { .. } => (e, l, c + 1),
        });
        assert_eq!(e, count("eval"), "{}: eval commands", path.display());
        assert_eq!(l, count("load"), "{}: load commands", path.display());
        assert_eq!(c, count("clear"), "{}: clear commands", path.display());
        evals += e;
        loads += l;
        files += 1;
    }
    assert_eq!(files, 19, "the v3.9.1 suite has 19 scripts");
    assert!(evals > 1700 && loads > 200, "{evals} evals, {loads} loads");
}
