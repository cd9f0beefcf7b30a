//! `lantern check config` and `lantern check slos`: what `serve` validates at start,
//! without starting, reported as `promtool check` reports (`Checking FILE`, then
//! `SUCCESS: …` or `FAILED:` with every problem on standard error; exit 1 on a problem).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;

fn report(file: &Path, result: Result<String, Vec<String>>, warnings: &[String]) -> bool {
    println!("Checking {}", file.display());
    let ok = match result {
        Ok(summary) => {
            println!("  SUCCESS: {summary}");
            true
        }
        Err(problems) => {
            eprintln!("  FAILED:");
            for p in problems {
                eprintln!("{p}");
            }
            false
        }
    };
    for w in warnings {
        println!("  WARNING: {w}");
    }
    println!();
    ok
}

/// Checks a config file: the same messages as `serve` at start.
pub fn config(file: &Path) -> ExitCode {
    let mut warnings = Vec::new();
    let result = (|| {
        let c = Config::from_file(file).map_err(|e| vec![e])?;
        let mut problems = c.validate();
        let opts = crate::serve::rule_options(&c);
        let (groups, slos) = match lantern_alerting::manager::load_all(&opts) {
            Ok((g, s)) => (g.len(), s.slos.len()),
            Err(es) => {
                problems.extend(es.into_iter().map(|e| format!("key rule_files/slo_files: {e}")));
                (0, 0)
            }
        };
        // Provisioned dashboards that do not load are skipped by serve, with a warning.
        let mut boards = 0;
        if let Some(dir) = &c.dashboards_dir {
            match std::fs::read_dir(dir) {
                Ok(rd) => {
                    for p in rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    {
                        let checked = std::fs::read(&p)
                            .map_err(|e| e.to_string())
                            .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("not JSON: {e}")))
                            .and_then(|v| lantern_dashboards::store::prepare(v).map_err(|e| e.to_string()));
                        match checked {
                            Ok(_) => boards += 1,
                            Err(e) => warnings.push(format!("dashboards_dir: {}: {e} (not loaded)", p.display())),
                        }
                    }
                }
                Err(e) => problems.push(format!("key dashboards_dir: cannot read {dir}: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(format!(
                "{} scrape jobs, {groups} rule groups, {slos} SLOs, {boards} dashboards, {} log file inputs",
                c.scrape_configs.len(),
                c.log_files.len()
            ))
        } else {
            Err(problems)
        }
    })();
    if report(file, result, &warnings) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Checks SLO files: each file's SLOs, or its problems with their lines.
pub fn slos(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        let result = lantern_rules::slo::load(f)
            .map(|slos| {
                let formats: std::collections::BTreeSet<&str> = slos.iter().map(|s| s.format).collect();
                format!("{} SLOs found ({})", slos.len(), formats.into_iter().collect::<Vec<_>>().join(", "))
            })
            .map_err(|es| es.iter().map(ToString::to_string).collect());
        ok &= report(f, result, &[]);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
