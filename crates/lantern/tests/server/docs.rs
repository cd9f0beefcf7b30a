//! Every example in `docs/` runs, as a reader would run it, against a running Lantern.
//!
//! The pages are read in the order of [`PAGES`] (every `docs/*.md` must be listed). In
//! each, fenced blocks are taken in order:
//! - ```` ```yaml file=PATH ```` (or `json`, `sh`…): the block is written to `PATH` in the
//!   working directory (the README's `lantern.yaml` is what the server starts with);
//! - ```` ```sh ````: run with bash (`set -euo pipefail`) in the working directory, with
//!   `$LANTERN` (the HTTP API), `$OTLP` (OTLP/HTTP) and `$OTLP_GRPC` (host:port) set and
//!   `lantern` on the `PATH`; it must exit 0 (a second Lantern or an agent that a page
//!   starts listens on fixed ports below 20000, under the range the other tests take);
//! - ```` ```output ```` right after a `sh` block: each of its non-empty lines must occur,
//!   in order, within the lines the commands printed (a `...` line is not checked).
//!
//! Any other block (```` ```console ````, ```` ```text ````) is for reading only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Server;

/// The pages, in the order their examples build on each other.
const PAGES: [&str; 13] = [
    "README.md",
    "metrics.md",
    "logs.md",
    "traces.md",
    "correlation.md",
    "alerting.md",
    "slos.md",
    "dashboards.md",
    "collector.md",
    "investigation.md",
    "operations.md",
    "configuration.md",
    "api.md",
];

#[derive(Debug)]
struct Block {
    /// The info string's first word (`sh`, `output`, `yaml`…).
    lang: String,
    /// `file=PATH`, if given.
    file: Option<String>,
    text: String,
    /// Line of the opening fence (1-based).
    line: usize,
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, l) in md.lines().enumerate() {
        match (&mut open, l.trim_start().strip_prefix("```")) {
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                let lang = words.next().unwrap_or("").to_string();
                let file = words.find_map(|w| w.strip_prefix("file=")).map(str::to_string);
                open = Some(Block { lang, file, text: String::new(), line: i + 1 });
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.text.push_str(l);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    out
}

/// Runs one `sh` block; its combined output.
fn run(work: &Path, env: &[(&str, String)], script: &str, what: &str) -> String {
    let out_path = work.join(".docs-out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(work)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after 120 s:\n{script}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}):\n{script}\n--- output:\n{text}");
    text
}

/// Each expected line, in order, within the output's lines.
fn check(expected: &str, actual: &str, what: &str) {
    let lines: Vec<&str> = actual.lines().collect();
    let mut at = 0;
    for want in expected.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "...") {
        match lines[at..].iter().position(|l| l.contains(want)) {
            Some(i) => at += i + 1,
            None => panic!("{what}: the output lacks {want:?} (after line {at}):\n{actual}"),
        }
    }
}

#[test]
fn every_docs_example_runs_and_prints_what_the_page_says() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut listed: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    listed.sort();
    let mut pages = PAGES.map(String::from).to_vec();
    pages.sort();
    assert_eq!(listed, pages, "every page of docs/ is in PAGES (and so is tested)");

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let write = |b: &Block| {
        let path = work.join(b.file.as_ref().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &b.text).unwrap();
    };
    // The README's files first: the server starts with its lantern.yaml.
    let readme = std::fs::read_to_string(docs.join("README.md")).unwrap();
    blocks(&readme).iter().filter(|b| b.file.is_some()).for_each(write);
    assert!(work.join("lantern.yaml").exists(), "docs/README.md gives the lantern.yaml the examples run with");
    let mut srv = Server::start_with(&work.join("data"), &["--config", work.join("lantern.yaml").to_str().unwrap()]);
    let bin: PathBuf = Path::new(env!("CARGO_BIN_EXE_lantern")).parent().unwrap().to_path_buf();
    let env = [
        ("LANTERN", srv.url("").trim_end_matches('/').to_string()),
        ("OTLP", format!("http://{}", srv.otlp_http)),
        ("OTLP_GRPC", srv.otlp_grpc.clone()),
        ("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())),
    ];
    for page in PAGES {
        let md = std::fs::read_to_string(docs.join(page)).unwrap();
        let bs = blocks(&md);
        let mut ran = 0;
        let mut last_output: Option<(String, String)> = None;
        for b in &bs {
            let what = format!("docs/{page}:{}", b.line);
            if b.file.is_some() {
                write(b);
            } else if b.lang == "sh" {
                last_output = Some((run(&work, &env, &b.text, &what), what));
                ran += 1;
            } else if b.lang == "output" {
                let (out, of) =
                    last_output.take().unwrap_or_else(|| panic!("{what}: an output block follows no sh block"));
                check(&b.text, &out, &of);
            }
        }
        assert!(ran > 0 || page == "README.md", "docs/{page} has no example that runs");
    }
    assert_eq!(srv.terminate(), Some(0));
}
