//! ARCHITECTURE.md checked against the code: its list of dependencies is the manifests'
//! exactly, its code map names every crate and every module, and the invariants it
//! states about dependencies hold. A forbidden edge or an undocumented module fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The metrics, log and span stores and the event engine under them.
const STORES: [&str; 4] = ["lantern-tsdb", "lantern-events", "lantern-traces", "lantern-logs"];
/// Crates that serve a protocol or an HTTP API.
const APIS: [&str; 10] = [
    "lantern-http",
    "lantern-prom-api",
    "lantern-scrape",
    "lantern-otlp",
    "lantern-jaeger",
    "lantern-logs-api",
    "lantern-alerting",
    "lantern-dashboards",
    "lantern-correlate",
    "lantern-ui",
];
/// Crates that do no I/O: parsers, codecs, formats, the PromQL engine.
const PURE: [&str; 10] = [
    "lantern-core",
    "lantern-chunk",
    "lantern-expfmt",
    "lantern-relabel",
    "lantern-otlp-wire",
    "lantern-lucene",
    "lantern-logql",
    "lantern-gotemplate",
    "lantern-promqltest",
    "lantern-promql",
];
/// What a pure crate may not depend on or name.
const IO_CRATES: [&str; 6] = ["tokio", "axum", "tonic", "hyper", "reqwest", "object_store"];
const IO_PATHS: [&str; 3] = ["std::fs", "std::net", "tokio::"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every crate under `crates/`, with the names in its manifest's `[dependencies]`.
fn manifests() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let text = read(&manifest);
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && !line.is_empty() && !line.starts_with('#') {
                let name = line.split(|c: char| c == '=' || c == '.' || c.is_whitespace()).next().unwrap_or("");
                deps.insert(name.to_string());
            }
        }
        out.insert(dir.file_name().unwrap().to_string_lossy().into_owned(), deps);
    }
    out
}

fn architecture() -> String {
    read(&root().join("ARCHITECTURE.md"))
}

/// The section of ARCHITECTURE.md under `## title`.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let start = doc.find(&format!("\n## {title}\n")).unwrap_or_else(|| panic!("ARCHITECTURE.md has no {title}"));
    let rest = &doc[start + title.len() + 5..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

fn lantern_deps(deps: &BTreeSet<String>) -> BTreeSet<String> {
    deps.iter().filter(|d| d.starts_with("lantern")).cloned().collect()
}

#[test]
fn the_dependency_list_is_the_manifests() {
    let doc = architecture();
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in section(&doc, "Dependencies").lines().filter(|l| l.starts_with("- `")) {
        let (from, to) = line[2..].split_once(" → ").unwrap_or_else(|| panic!("not an edge line: {line}"));
        let names = to.split(", ").map(|d| d.trim_matches('`').to_string()).filter(|d| d.starts_with("lantern"));
        listed.insert(from.trim_matches('`').to_string(), names.collect());
    }
    let actual: BTreeMap<String, BTreeSet<String>> =
        manifests().into_iter().map(|(k, v)| (k, lantern_deps(&v))).collect();
    for (name, deps) in &actual {
        match listed.get(name) {
            None => panic!("ARCHITECTURE.md's Dependencies does not list {name}"),
            Some(l) => assert_eq!(l, deps, "ARCHITECTURE.md lists other dependencies for {name} than its manifest"),
        }
    }
    for name in listed.keys() {
        assert!(actual.contains_key(name), "ARCHITECTURE.md lists {name}, which is not a crate");
    }
}

#[test]
fn the_code_map_names_every_crate_and_module() {
    let doc = architecture();
    let map = section(&doc, "Code map");
    let bullets: Vec<&str> = map.split("\n- ").collect();
    let mut missing = Vec::new();
    for name in manifests().keys() {
        let bullet: String =
            bullets.iter().filter(|b| b.contains(&format!("crates/{name}`"))).copied().collect::<Vec<_>>().join(" ");
        if bullet.is_empty() {
            missing.push(format!("crate {name}"));
            continue;
        }
        let src = root().join("crates").join(name).join("src");
        for file in rust_files(&src) {
            let rel = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            let stem = file_name.trim_end_matches(".rs");
            if ["lib", "main", "mod", "tests"].contains(&stem) || stem.ends_with("_tests") {
                continue;
            }
            let named = bullet.contains(&rel)
                || bullet.contains(&format!("`{file_name}`"))
                || bullet.contains(&format!("`{stem}`"))
                || bullet.contains(&format!("{stem}/"));
            if !named {
                missing.push(format!("{name}/src/{rel}"));
            }
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map does not name: {missing:#?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn dependencies_point_down() {
    let all = manifests();
    let deps = |c: &str| lantern_deps(&all[c]);
    for store in STORES {
        let bad: Vec<_> = deps(store).into_iter().filter(|d| APIS.contains(&d.as_str())).collect();
        assert!(bad.is_empty(), "the store {store} depends on the API crates {bad:?}");
    }
    for api in APIS {
        let bad: Vec<_> = deps(api).into_iter().filter(|d| APIS.contains(&d.as_str()) && d != "lantern-http").collect();
        assert!(bad.is_empty(), "the API crate {api} depends on the API crates {bad:?} (only lantern-http is shared)");
    }
    for (name, d) in &all {
        for top in ["lantern", "lantern-bench"] {
            assert!(!d.contains(top), "{name} depends on {top}, which nothing may depend on");
        }
    }
    assert_eq!(
        deps("lantern-promql"),
        BTreeSet::from(["lantern-core".to_string()]),
        "the PromQL engine reads through its Storage trait and knows no store"
    );
    let rule_stores: Vec<_> = deps("lantern-rules").into_iter().filter(|d| STORES.contains(&d.as_str())).collect();
    assert!(rule_stores.is_empty(), "rule evaluation sees data only through its Querier, not {rule_stores:?}");
}

#[test]
fn pure_crates_do_no_io() {
    let all = manifests();
    for name in PURE {
        let io: Vec<_> = all[name].iter().filter(|d| IO_CRATES.contains(&d.as_str())).collect();
        assert!(io.is_empty(), "{name} is pure but depends on {io:?}");
        for file in rust_files(&root().join("crates").join(name).join("src")) {
            let text = read(&file);
            // Unit tests at the end of a file may use the file system.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            if file.file_name().is_some_and(|f| f == "tests.rs") {
                continue;
            }
            for path in IO_PATHS {
                assert!(!code.contains(path), "{} (pure) uses {path}", file.display());
            }
        }
    }
}
