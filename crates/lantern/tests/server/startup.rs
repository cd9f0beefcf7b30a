//! Start-up errors name the key or path; SIGTERM stops cleanly with exit 0.

use std::process::Command;

use crate::harness::{free_port, remote_read, remote_write, ts, Server};

fn serve(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lantern")).arg("serve").args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_config_fails_at_start_naming_the_key_or_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yaml");
    let addr = format!("127.0.0.1:{}", free_port());

    std::fs::write(&cfg, "metrics:\n  retention_tme: 5d\n").unwrap();
    let (code, err) = serve(&["--config", cfg.to_str().unwrap(), "--http-addr", &addr]);
    assert_eq!(code, Some(2));
    assert!(err.contains("retention_tme") && err.contains("lantern.yaml"), "{err}");

    std::fs::write(&cfg, "metrics:\n  block_duration: two hours\n").unwrap();
    let (code, err) = serve(&["--config", cfg.to_str().unwrap(), "--http-addr", &addr]);
    assert_eq!(code, Some(2));
    assert!(err.contains("metrics.block_duration") && err.contains("two hours"), "{err}");

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (code, err) = serve(&["--data-dir", file.to_str().unwrap(), "--http-addr", &addr]);
    assert_eq!(code, Some(2), "every configuration problem exits 2: {err}");
    assert!(err.contains("key data_dir: ") && err.contains("not-a-dir is a file, not a directory"), "{err}");

    // A value of the wrong type names its key and what was expected.
    std::fs::write(&cfg, "logs:\n  max_line_size: -5\n").unwrap();
    let (code, err) = serve(&["--config", cfg.to_str().unwrap(), "--http-addr", &addr]);
    assert_eq!(code, Some(2));
    assert!(err.contains("key logs.max_line_size: a size cannot be negative: -5"), "{err}");
    std::fs::write(&cfg, "logs:\n  max_line_size: [1]\n").unwrap();
    let (_, err) = serve(&["--config", cfg.to_str().unwrap(), "--http-addr", &addr]);
    assert!(err.contains("key logs.max_line_size: invalid type: sequence, expected a size such as 256KB"), "{err}");

    let (code, err) = serve(&["--http-addr", "nowhere"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("http_addr"), "{err}");
}

#[test]
fn sigterm_exits_zero_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path());
    let client = crate::harness::http();
    let (s, _) =
        remote_write(&client, &srv.url("/api/v1/write"), vec![ts(&[("__name__", "x"), ("a", "b")], &[(1000, 1.0)])])
            .unwrap();
    assert_eq!(s, 204);
    let line = r#"{"event": "kept_across_shutdown", "level": "info", "request_id": "req-sigterm"}"#;
    let r = client.post(srv.url("/api/v1/logs/jsonl?service=shutdown")).body(line).send().unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    assert_eq!(srv.terminate(), Some(0));
    // A second server on the same directory is refused while one holds it.
    let holder = Server::start(dir.path());
    let (code, err) =
        serve(&["--data-dir", dir.path().to_str().unwrap(), "--http-addr", &format!("127.0.0.1:{}", free_port())]);
    assert_eq!(code, Some(2), "a data directory in use is a configuration problem: {err}");
    assert!(err.contains("key data_dir") && err.contains("in use"), "{err}");
    assert_eq!(remote_read(&holder.url("/api/v1/read"), "x").len(), 1);
    let found = client
        .post(holder.url("/api/v1/logs/search"))
        .header("content-type", "application/json")
        .body(r#"{"query": "request_id:req-sigterm"}"#)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let found: serde_json::Value = serde_json::from_str(&found).unwrap();
    assert_eq!(found["total"], 1, "the log line acknowledged before SIGTERM is there after: {found}");
}

#[test]
fn a_failed_reload_is_logged_whoever_asked_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n").unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(&cfg, "rule_files: [rules.yml]\n").unwrap();
    let log = dir.path().join("stderr.log");
    let mut server = Server::start_logged(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()], &log, "info");
    let url = format!("http://{}", server.addr);
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n        for: soon\n",
    )
    .unwrap();
    let r = crate::harness::http().post(format!("{url}/-/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let body = r.text().unwrap();
    assert!(
        body.contains("for: duration \"soon\"") && body.contains("parse error at char"),
        "every problem, with its position: {body}"
    );
    server.kill9();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("reloading rules failed; the rules in force are kept"), "{text}");
    assert!(text.contains("duration \"soon\" is invalid"), "{text}");
}

#[test]
fn check_config_and_check_slos_say_what_serve_would() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lantern")).arg("check").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = root.join("examples/python-flask/lantern.yaml");
    let (code, out, _) = run(&["config", example.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SUCCESS: 2 scrape jobs, 3 rule groups, 2 SLOs, 1 dashboards, 2 log file inputs"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up +\n",
    )
    .unwrap();
    std::fs::write(&cfg, "http_addr: nowhere\nrule_files: [r.yml]\n").unwrap();
    let (code, _, err) = run(&["config", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("key http_addr:"), "{err}");
    assert!(
        err.contains("r.yml:4: group \"g\", rule \"A\": could not parse expression: parse error at char 5"),
        "{err}"
    );
    // The same message serve stops with.
    let (code, serve_err) = serve(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(serve_err.contains("key http_addr:"), "{serve_err}");

    let slos = root.join("crates/lantern-rules/testdata");
    let (code, out, _) = run(&[
        "slos",
        slos.join("seed-slos.yml").to_str().unwrap(),
        slos.join("openslo.yml").to_str().unwrap(),
        slos.join("sloth.yml").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("SUCCESS: 2 SLOs found (lantern)")
            && out.contains("(openslo)")
            && out.contains("1 SLOs found (sloth)"),
        "{out}"
    );
    let (code, _, err) = run(&["slos", slos.join("seed-alerts.yml").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("seed-alerts.yml:2:"), "{err}");
}

#[test]
fn logs_follow_the_flags_and_the_start_up_lines_say_what_runs_where() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(&cfg, "logs:\n  retention_time: 3d\n").unwrap();
    // Starts the server with these flags, stops it once ready, and returns its stderr.
    let run = |flags: &[&str], env: &[(&str, &str)]| {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lantern"));
        cmd.args(flags)
            .args(["serve", "--config", cfg.to_str().unwrap(), "--data-dir", "data", "--http-addr", &addr])
            .args([
                "--otlp-grpc-addr",
                &format!("127.0.0.1:{}", free_port()),
                "--otlp-http-addr",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .current_dir(dir.path())
            .env_remove("LANTERN_LOG")
            .env_remove("RUST_LOG")
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        crate::harness::eventually(30, "ready", || {
            crate::harness::http().get(format!("http://{addr}/-/ready")).send().ok().filter(|r| r.status().is_success())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
        std::fs::read_to_string(&log).unwrap()
    };
    let data = std::fs::canonicalize(dir.path()).unwrap().join("data");
    let text = run(&[], &[]);
    assert!(!text.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {text}");
    assert!(text.contains(&format!("lantern starting version=\"{}\"", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains(&format!("data_dir={}", data.display())), "the absolute data directory: {text}");
    assert!(text.contains("lantern.yaml") && text.contains("logs=3d"), "{text}");
    assert!(
        text.contains("http listening") && text.contains("otlp listening") && text.contains("scrape_jobs=0"),
        "{text}"
    );

    let json = run(&["--log-format", "json"], &[]);
    let lines: Vec<serde_json::Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let start = lines.iter().find(|l| l["fields"]["message"] == "lantern starting").expect("the start line");
    assert_eq!(start["fields"]["data_dir"], data.display().to_string());

    let quiet = run(&["--log-level", "warn"], &[]);
    assert!(!quiet.contains("lantern starting"), "{quiet}");
    let quiet = run(&[], &[("RUST_LOG", "warn")]);
    assert!(!quiet.contains("lantern starting"), "RUST_LOG is read too: {quiet}");
    let (code, err) = serve(&["--log-level", "loud"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--log-level \"loud\" is not a log level"), "{err}");
}

#[test]
fn slo_warnings_wait_for_the_first_scrapes_and_keep_the_bucket_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, metrics_port, url) = crate::harness::seed_app();
    crate::harness::http().get(format!("{url}/api/orders")).send().unwrap();
    let slos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-rules/testdata/seed-slos.yml");
    let cfg = dir.path().join("lantern.yaml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nslo_files: ['{}']\nscrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n",
            slos.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let mut server = Server::start_logged(&dir.path().join("data"), &["--config", cfg.to_str().unwrap()], &log, "warn");
    // The check runs once the first evaluations are done (here: after 5 s).
    let text = crate::harness::eventually(30, "the SLO check", || {
        let t = std::fs::read_to_string(&log).unwrap();
        t.contains("le=\"0.2\"").then_some(t)
    });
    server.kill9();
    assert!(
        !text.contains("indicator.events.total: http_requests_total matches no stored series"),
        "no premature warning: {text}"
    );
    assert!(text.contains("the nearest existing buckets are le=\"0.1\" and le=\"0.25\""), "the bucket hint: {text}");
}
