//! `lantern collect` as an agent in front of `lantern serve`: the OpenTelemetry Python
//! SDK sends all three signals to the agent, which batches them and exports them over
//! OTLP to the backend; every item arrives once, also when the backend is down for a
//! while (the agent queues and retries). The seed's own collector config starts as
//! written, its unreachable exporters retried and reported.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::harness::{eventually, first_value, free_port, get_json, http, py_script, python, query, Server};

/// A running `lantern collect`, stopped on drop.
struct Agent {
    child: Child,
}

impl Agent {
    fn start(config: &Path, log: &Path) -> Agent {
        Self::start_with(&[config.as_os_str()], &[], log)
    }

    /// With several `--config` sources, merged in order, and more environment.
    fn start_with(configs: &[&std::ffi::OsStr], env: &[(&str, &Path)], log: &Path) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lantern"));
        cmd.arg("collect");
        for c in configs {
            cmd.arg("--config").arg(c);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .env("LANTERN_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .expect("start lantern collect");
        Agent { child }
    }

    fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().ok()?.code()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(endpoint: &str, service: &str, n: usize, first: usize) {
    let out = Command::new(python())
        .arg(py_script("otlp_agent.py"))
        .args([endpoint, service, &n.to_string(), &first.to_string()])
        .output()
        .expect("run the OpenTelemetry SDK script");
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Spans, log records and the counter's value the backend holds for `service`.
fn held(srv: &Server, service: &str) -> (usize, usize, Option<f64>) {
    let traces = get_json(&srv.url(&format!("/api/traces?service={service}&limit=100000&lookback=1h")));
    let spans =
        traces["data"].as_array().map_or(0, |ts| ts.iter().map(|t| t["spans"].as_array().map_or(0, Vec::len)).sum());
    let logs = http()
        .post(srv.url("/api/v1/logs/search"))
        .json(&json!({"query": format!("service:{service}"), "limit": 0}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap()["total"]
        .as_u64()
        .unwrap_or(0) as usize;
    let counter = first_value(&query(srv, &format!("agent_items_total{{job=\"{service}\"}}")));
    (spans, logs, counter)
}

#[test]
fn an_agent_moves_all_three_signals_to_the_backend_and_loses_nothing_while_it_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Server::start(&dir.path().join("data"));
    let (grpc, telemetry) = (free_port(), free_port());
    let config = dir.path().join("agent.yaml");
    let mut f = std::fs::File::create(&config).unwrap();
    write!(
        f,
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}\n\
         processors:\n  batch:\n    timeout: 200ms\n  memory_limiter:\n    check_interval: 1s\n    limit_mib: 4000\n\
         exporters:\n  otlp:\n    endpoint: ${{env:BACKEND}}\n    tls:\n      insecure: true\n\
         \x20   retry_on_failure:\n      initial_interval: 200ms\n      max_interval: 1s\n      max_elapsed_time: 0\n\
         service:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:{telemetry}\n  pipelines:\n\
         \x20   traces: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n\
         \x20   metrics: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n\
         \x20   logs: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n"
    )
    .unwrap();
    drop(f);
    std::env::set_var("BACKEND", &backend.otlp_grpc);
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    let endpoint = format!("http://127.0.0.1:{grpc}");
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", grpc)).ok());

    send(&endpoint, "agent-test", 300, 0);
    let got = eventually(30, "every item at the backend", || {
        Some(held(&backend, "agent-test")).filter(|h| h.0 >= 300 && h.1 >= 300 && h.2.is_some())
    });
    assert_eq!(got, (300, 300, Some(300.0)), "each item exactly once");

    // The backend goes away; the agent takes the data, queues it and retries.
    backend.kill9();
    send(&endpoint, "agent-down", 200, 300);
    std::thread::sleep(Duration::from_secs(2));
    backend.restart();
    let got = eventually(60, "the queued items at the backend", || {
        Some(held(&backend, "agent-down")).filter(|h| h.0 >= 200 && h.1 >= 200 && h.2.is_some())
    });
    assert_eq!(got, (200, 200, Some(200.0)), "nothing lost while the backend was down, nothing doubled");

    let own = http().get(format!("http://127.0.0.1:{telemetry}/metrics")).send().unwrap().text().unwrap();
    let sent = own
        .lines()
        .find(|l| l.starts_with("lantern_pipeline_sent_items_total{") && l.contains("signal=\"traces\""))
        .unwrap_or_else(|| panic!("no sent count in {own}"));
    assert!(sent.ends_with(" 500"), "{sent}");
    assert!(own.contains("lantern_pipeline_send_failed_items_total{"), "the failed attempts are counted");
    assert_eq!(agent.terminate(), Some(0), "a clean stop");
}

#[test]
fn the_seeds_collector_config_runs_as_written_and_reports_its_unreachable_exporters() {
    let dir = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-pipeline/testdata/otel-collector-config.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["collect", "--dry-run", "--config"])
        .arg(&seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "logs: otlp → memory_limiter → batch → loki\nmetrics: otlp → memory_limiter → batch → prometheus\ntraces: otlp → memory_limiter → batch → jaeger\n"
    );
    // Run on free ports (the file's own 4317/4318/8889 may be taken on a test machine),
    // each overridden the Collector's way: a later `yaml:` source merged over the file.
    let (g, h, p, t) = (free_port(), free_port(), free_port(), free_port());
    let log = dir.path().join("seed.log");
    let overrides = [
        format!("yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:{g}"),
        format!("yaml:receivers::otlp::protocols::http::endpoint: 127.0.0.1:{h}"),
        format!("yaml:exporters::prometheus::endpoint: 127.0.0.1:{p}"),
        format!("yaml:service::telemetry::metrics::address: 127.0.0.1:{t}"),
    ];
    let configs: Vec<&std::ffi::OsStr> =
        std::iter::once(seed.as_os_str()).chain(overrides.iter().map(|o| o.as_ref())).collect();
    let mut agent = Agent::start_with(&configs, &[], &log);
    eventually(30, "the seed's receivers", || std::net::TcpStream::connect(("127.0.0.1", h)).ok());
    send(&format!("http://127.0.0.1:{g}"), "seed-svc", 5, 0);
    // Metrics go to the prometheus exporter, served for scraping (after the batch's 10s).
    let text = eventually(30, "the counter on the prometheus exporter", || {
        http()
            .get(format!("http://127.0.0.1:{p}/metrics"))
            .send()
            .ok()?
            .text()
            .ok()
            .filter(|t| t.contains("agent_items_total{job=\"seed-svc\",otel_scope_name=\"agent\"} 5"))
    });
    assert!(text.contains("# TYPE agent_items_total counter"), "{text}");
    // Spans to jaeger:14250 and logs to loki:3100 cannot resolve here: retried, reported.
    let said = eventually(30, "the retries reported", || {
        let l = std::fs::read_to_string(&log).ok()?;
        (l.contains("exporter=jaeger") && l.contains("exporter=loki")).then_some(l)
    });
    assert!(said.contains("will retry"), "{said}");
    assert!(agent.child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(agent.terminate(), Some(0));
}

#[test]
fn the_seeds_pipeline_exports_to_lantern_itself_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let (jaeger, metrics_port) = (free_port(), free_port());
    let serve_config = dir.path().join("lantern.yaml");
    std::fs::write(
        &serve_config,
        format!(
            "scrape_configs:\n  - job_name: otel-collector\n    scrape_interval: 1s\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
        ),
    )
    .unwrap();
    let jaeger_addr = format!("127.0.0.1:{jaeger}");
    let backend = Server::start_with(
        &dir.path().join("data"),
        &["--config", serve_config.to_str().unwrap(), "--jaeger-grpc-addr", &jaeger_addr],
    );
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lantern-pipeline/testdata/otel-collector-config.yaml");
    let (g, h, t) = (free_port(), free_port(), free_port());
    let overrides = [
        format!("yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:{g}"),
        format!("yaml:receivers::otlp::protocols::http::endpoint: 127.0.0.1:{h}"),
        format!("yaml:exporters::prometheus::endpoint: 127.0.0.1:{metrics_port}"),
        format!("yaml:exporters::jaeger::endpoint: {jaeger_addr}"),
        // Jaeger's collector port is plain gRPC; the Collector's client wants TLS unless told.
        "yaml:exporters::jaeger::tls::insecure: true".to_string(),
        format!("yaml:exporters::loki::endpoint: {}", backend.url("/loki/api/v1/push")),
        "yaml:processors::batch::timeout: 500ms".to_string(),
        format!("yaml:service::telemetry::metrics::address: 127.0.0.1:{t}"),
    ];
    let configs: Vec<&std::ffi::OsStr> =
        std::iter::once(seed.as_os_str()).chain(overrides.iter().map(|o| o.as_ref())).collect();
    let _agent = Agent::start_with(&configs, &[], &dir.path().join("agent.log"));
    eventually(30, "the agent's receivers", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    send(&format!("http://127.0.0.1:{g}"), "seed-svc", 40, 0);

    // Traces through the jaeger exporter into Lantern's PostSpans listener.
    let spans = eventually(30, "the spans in Lantern", || {
        let v = get_json(&backend.url("/api/traces?service=seed-svc&limit=1000&lookback=1h"));
        let n: usize = v["data"].as_array()?.iter().map(|t| t["spans"].as_array().map_or(0, Vec::len)).sum();
        (n >= 40).then_some(v)
    });
    let span = &spans["data"][0]["spans"][0];
    assert_eq!(span["operationName"], "job", "{span}");
    assert!(span["tags"].as_array().unwrap().iter().any(|t| t["key"] == "seq"), "{span}");
    // Logs through the loki exporter into Lantern's push API, labelled as the exporter does.
    let logs = eventually(30, "the log lines in Lantern", || {
        let v = get_json(&backend.url(
            "/loki/api/v1/query?query=sum(count_over_time(%7Bjob%3D%22seed-svc%22%2C%20exporter%3D%22OTLP%22%7D%5B1h%5D))",
        ));
        let n = first_value(&v)?;
        (n >= 40.0).then_some(n)
    });
    assert_eq!(logs, 40.0);
    // Metrics through the prometheus exporter, scraped by Lantern.
    let c = eventually(30, "the scraped counter", || {
        first_value(&query(&backend, "agent_items_total{job=\"otel-collector\"}"))
    });
    assert_eq!(c, 40.0);
}

/// Prometheus's instant query, the first value.
fn prom_value(prom: &crate::harness::Prometheus, q: &str) -> Option<f64> {
    let v = http()
        .get(format!("{}/api/v1/query", prom.url))
        .query(&[("query", q)])
        .send()
        .ok()?
        .json::<serde_json::Value>()
        .ok()?;
    first_value(&v)
}

#[test]
fn metrics_reach_a_real_prometheus_by_remote_write_and_by_scraping_the_prometheus_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let exporter_port = free_port();
    let prom = crate::harness::Prometheus::start(
        dir.path(),
        &format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: collector\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        ),
        &["--web.enable-remote-write-receiver"],
    );
    let (g, t) = (free_port(), free_port());
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{g}'}}}}}}}}\n\
             processors: {{batch: {{timeout: 200ms}}}}\n\
             exporters:\n  prometheusremotewrite:\n    endpoint: {}/api/v1/write\n    external_labels: {{agent: a1}}\n\
             \x20 prometheus:\n    endpoint: 127.0.0.1:{exporter_port}\n    const_labels: {{via: exporter}}\n\
             service:\n  telemetry: {{metrics: {{address: '127.0.0.1:{t}'}}}}\n  pipelines:\n\
             \x20   metrics: {{receivers: [otlp], processors: [batch], exporters: [prometheusremotewrite, prometheus]}}\n",
            prom.url
        ),
    )
    .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    send(&format!("http://127.0.0.1:{g}"), "rw-svc", 25, 0);
    let written = eventually(30, "the written counter in Prometheus", || {
        prom_value(&prom, "agent_items_total{job=\"rw-svc\", agent=\"a1\", otel_scope_name=\"agent\"}")
    });
    assert_eq!(written, 25.0, "{}", prom.log_text());
    let scraped = eventually(30, "the scraped counter in Prometheus", || {
        prom_value(&prom, "agent_items_total{job=\"collector\", exported_job=\"rw-svc\", via=\"exporter\"}")
    });
    assert_eq!(scraped, 25.0);
    assert!(prom_value(&prom, "up{job=\"collector\"}") == Some(1.0));
}

#[test]
fn the_memory_limiter_refuses_under_overload_and_the_sdks_retries_bring_the_data_through() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::start(&dir.path().join("data"));
    let (g, t) = (free_port(), free_port());
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{g}'}}}}}}}}\n\
             processors:\n  memory_limiter: {{check_interval: 100ms, limit_mib: 100, spike_limit_mib: 20}}\n  batch: {{timeout: 200ms}}\n\
             exporters: {{otlp: {{endpoint: '{}', tls: {{insecure: true}}}}}}\n\
             service:\n  telemetry: {{metrics: {{address: '127.0.0.1:{t}'}}}}\n  pipelines:\n\
             \x20   traces: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n\
             \x20   logs: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n\
             \x20   metrics: {{receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp]}}\n",
            backend.otlp_grpc
        ),
    )
    .unwrap();
    // The overload, injected: the limiter reads 200 MiB in use (over its soft limit of 80).
    let usage = dir.path().join("usage");
    std::fs::write(&usage, (200u64 << 20).to_string()).unwrap();
    let _agent = Agent::start_with(
        &[config.as_os_str()],
        &[("LANTERN_FAULT_MEMORY_FILE", &usage)],
        &dir.path().join("agent.log"),
    );
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    let endpoint = format!("http://127.0.0.1:{g}");
    let sdk = std::thread::spawn(move || send(&endpoint, "overload", 50, 0));
    let refused = eventually(30, "refusals counted", || {
        let own = http().get(format!("http://127.0.0.1:{t}/metrics")).send().ok()?.text().ok()?;
        own.lines()
            .find(|l| l.starts_with("lantern_pipeline_refused_items_total{") && l.contains("memory_limit"))
            .map(str::to_string)
    });
    assert!(refused.contains("component=\"memory_limiter\""), "{refused}");
    // Memory back to normal: the SDK's next retry is taken.
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&usage, (10u64 << 20).to_string()).unwrap();
    sdk.join().unwrap();
    let got = eventually(60, "every item at the backend", || {
        Some(held(&backend, "overload")).filter(|h| h.0 >= 50 && h.1 >= 50 && h.2.is_some())
    });
    assert_eq!(got, (50, 50, Some(50.0)), "the refused data came through on retry, once");
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    assert!(log.contains("refusing data") && log.contains("accepting data"), "{log}");
}

#[test]
fn processors_shape_the_data_on_its_way_to_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::start(&dir.path().join("data"));
    let g = free_port();
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{g}'}}}}}}}}
processors:
  attributes:
    actions: [{{key: env, action: insert, value: staging}}, {{key: seq, action: convert, converted_type: string}}]
  resource:
    attributes: [{{key: deployment.environment, action: upsert, value: test}}]
  filter:
    traces:
      span: ['IsMatch(attributes["seq"], "^[0-9]$")']
    logs:
      log_record: ['severity_number < SEVERITY_NUMBER_INFO']
  transform:
    trace_statements: ['set(span.attributes["tier"], "gold") where span.name == "job"']
  probabilistic_sampler: {{sampling_percentage: 100}}
  batch: {{timeout: 200ms}}
exporters: {{otlp: {{endpoint: '{}', tls: {{insecure: true}}}}}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [attributes, resource, filter, transform, probabilistic_sampler, batch], exporters: [otlp]}}
    logs: {{receivers: [otlp], processors: [resource, filter, batch], exporters: [otlp]}}
"#,
            backend.otlp_grpc
        ),
    )
    .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    send(&format!("http://127.0.0.1:{g}"), "shaped", 30, 0);
    // Spans with a one-digit seq (0–9) are filtered out; the rest carry what was added.
    let traces = eventually(30, "the shaped spans", || {
        let v = get_json(&backend.url("/api/traces?service=shaped&limit=1000&lookback=1h"));
        let n: usize = v["data"].as_array()?.iter().map(|t| t["spans"].as_array().map_or(0, Vec::len)).sum();
        (n >= 20).then_some(v)
    });
    std::thread::sleep(Duration::from_millis(500));
    let (spans, logs, _) = held(&backend, "shaped");
    assert_eq!((spans, logs), (20, 30), "ten spans filtered, every INFO record kept");
    let t = &traces["data"][0];
    let span = &t["spans"][0];
    let tag = |k: &str| span["tags"].as_array().unwrap().iter().find(|x| x["key"] == k).map(|x| x["value"].clone());
    assert_eq!(tag("env"), Some(json!("staging")), "{span}");
    assert_eq!(tag("tier"), Some(json!("gold")));
    assert!(tag("seq").unwrap().as_str().is_some(), "seq converted to a string: {span}");
    let pid = span["processID"].as_str().unwrap();
    let ptags = t["processes"][pid]["tags"].as_array().unwrap();
    assert!(ptags.iter().any(|x| x["key"] == "deployment.environment" && x["value"] == "test"), "{ptags:?}");
}

#[test]
fn the_spanmetrics_connector_turns_an_agents_spans_into_red_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (g, p) = (free_port(), free_port());
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{g}'}}}}}}}}
connectors:
  spanmetrics: {{metrics_flush_interval: 500ms}}
  servicegraph: {{metrics_flush_interval: 500ms}}
exporters:
  prometheus: {{endpoint: '127.0.0.1:{p}'}}
  debug: {{}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug, spanmetrics, servicegraph]}}
    metrics: {{receivers: [spanmetrics, servicegraph], exporters: [prometheus]}}
"#
        ),
    )
    .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    send(&format!("http://127.0.0.1:{g}"), "conn-svc", 20, 0);
    let text = eventually(30, "the span metrics on the prometheus exporter", || {
        let t = http().get(format!("http://127.0.0.1:{p}/metrics")).send().ok()?.text().ok()?;
        t.lines()
            .any(|l| {
                l.starts_with("traces_spanmetrics_calls_total{")
                    && l.contains("service=\"conn-svc\"")
                    && l.ends_with(" 20")
            })
            .then_some(t)
    });
    assert!(text.contains("# TYPE traces_spanmetrics_calls_total counter"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("traces_spanmetrics_latency_count{")
            && l.contains("span_name=\"job\"")
            && l.ends_with(" 20")),
        "{text}"
    );
    assert!(text.contains("traces_spanmetrics_latency_bucket{"), "{text}");
}

#[test]
fn a_loki_client_pushes_through_the_agent_and_the_loki_exporter_promotes_hinted_labels() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::start(&dir.path().join("data"));
    let l = free_port();
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers: {{loki: {{protocols: {{http: {{endpoint: '127.0.0.1:{l}'}}}}, use_incoming_timestamp: true}}}}
processors:
  attributes: {{actions: [{{key: loki.attribute.labels, action: insert, value: service}}]}}
  batch: {{timeout: 200ms}}
exporters: {{loki: {{endpoint: '{}'}}}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    logs: {{receivers: [loki], processors: [attributes, batch], exporters: [loki]}}
"#,
            backend.url("/loki/api/v1/push")
        ),
    )
    .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the agent's Loki receiver", || std::net::TcpStream::connect(("127.0.0.1", l)).ok());
    let push = Command::new(python())
        .arg(py_script("loki_client.py"))
        .args(["push", &format!("http://127.0.0.1:{l}")])
        .output()
        .unwrap();
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let q = "%7Bservice%3D%22payment%22%2C%20exporter%3D%22OTLP%22%7D";
    let v = eventually(30, "the pushed lines at the backend", || {
        let v = get_json(&backend.url(&format!("/loki/api/v1/query_range?query={q}&direction=forward&start=0")));
        let n: usize = v["data"]["result"].as_array()?.iter().map(|s| s["values"].as_array().map_or(0, Vec::len)).sum();
        (n >= 2).then_some(v)
    });
    let lines: Vec<serde_json::Value> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["values"].as_array().unwrap().iter().map(|x| serde_json::from_str(x[1].as_str().unwrap()).unwrap())
        })
        .collect();
    assert_eq!(lines.len(), 2, "{v}");
    let bodies: Vec<&str> = lines.iter().map(|l| l["body"].as_str().unwrap()).collect();
    assert!(
        bodies.contains(&"card declined for req-123") && bodies.contains(&"refund issued for req-124"),
        "{lines:?}"
    );
    let declined = lines.iter().find(|l| l["body"] == "card declined for req-123").unwrap();
    assert_eq!(declined["attributes"]["severity"], "error", "the stream's labels ride along as attributes: {declined}");
    assert!(declined["attributes"].get("loki.attribute.labels").is_none(), "the hint is not sent on");
}

#[test]
fn a_queue_on_disk_survives_an_agent_restart_while_the_backend_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Server::start(&dir.path().join("data"));
    backend.kill9();
    let g = free_port();
    let storage = dir.path().join("queue");
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers: {{otlp: {{protocols: {{grpc: {{endpoint: '127.0.0.1:{g}'}}}}}}}}
processors: {{batch: {{timeout: 200ms}}}}
extensions:
  file_storage: {{directory: '{}', create_directory: true}}
  health_check: {{endpoint: '127.0.0.1:{h}'}}
exporters:
  otlp:
    endpoint: '{}'
    tls: {{insecure: true}}
    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0}}
    sending_queue: {{storage: file_storage}}
service:
  extensions: [file_storage, health_check]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
    logs: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
    metrics: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
"#,
            storage.display(),
            backend.otlp_grpc,
            h = free_port(),
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the agent's receiver", || std::net::TcpStream::connect(("127.0.0.1", g)).ok());
    send(&format!("http://127.0.0.1:{g}"), "queued", 30, 0);
    let files = |p: &Path| -> usize {
        std::fs::read_dir(p)
            .map_or(0, |d| d.flatten().map(|e| std::fs::read_dir(e.path()).map_or(0, |f| f.flatten().count())).sum())
    };
    eventually(30, "the requests queued on disk", || (files(&storage) >= 3).then_some(()));
    assert_eq!(agent.terminate(), Some(0), "a clean stop with requests still queued");
    assert!(files(&storage) >= 3, "the queue stays on disk");

    backend.restart();
    let _agent = Agent::start(&config, &dir.path().join("agent2.log"));
    let got = eventually(60, "the queued items at the backend", || {
        Some(held(&backend, "queued")).filter(|h| h.0 >= 30 && h.1 >= 30 && h.2.is_some())
    });
    assert_eq!(got, (30, 30, Some(30.0)), "nothing lost across the agent's restart, nothing doubled");
    eventually(30, "the queue emptied", || (files(&storage) == 0).then_some(()));
}

#[test]
fn serve_runs_configured_processors_before_storing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lantern.yaml");
    std::fs::write(
        &config,
        r#"processors:
  filter/one-digit:
    traces: {span: ['IsMatch(attributes["seq"], "^[0-9]$")']}
  attributes/env:
    actions: [{key: env, action: insert, value: prod}]
pipelines:
  traces: {processors: [filter/one-digit]}
  logs: {processors: [attributes/env]}
"#,
    )
    .unwrap();
    let backend = Server::start_with(&dir.path().join("data"), &["--config", config.to_str().unwrap()]);
    send(&format!("http://{}", backend.otlp_grpc), "shaped-at-rest", 15, 0);
    let got = eventually(30, "the shaped data", || {
        Some(held(&backend, "shaped-at-rest")).filter(|h| h.0 >= 5 && h.1 >= 15 && h.2.is_some())
    });
    assert_eq!(got, (5, 15, Some(15.0)), "seq 0-9 filtered before storing; logs and metrics kept");
    let v = http()
        .post(backend.url("/api/v1/logs/search"))
        .json(&json!({"query": "service:shaped-at-rest AND env:prod", "limit": 0}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(v["total"], 15, "{v}");

    // A processor that would hold data is refused at start, naming its key.
    std::fs::write(&config, "processors: {batch: {}}\npipelines: {traces: {processors: [batch]}}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key processors::batch: the batch processor cannot run in front of a store"), "{err}");
}

#[test]
fn filelog_follows_files_with_checkpoints_across_agent_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::start(&dir.path().join("data"));
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let file = logs.join("app.log");
    let line = |i: u32| {
        format!(
            "{{\"event\": \"order_placed\", \"seq\": {i}, \"level\": \"error\", \"timestamp\": \"2026-12-07T08:00:0{i}Z\"}}\n"
        )
    };
    std::fs::write(&file, (0..3).map(line).collect::<String>()).unwrap();
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers:
  filelog:
    include: ['{}/*.log']
    start_at: beginning
    poll_interval: 100ms
    storage: file_storage
    resource: {{service.name: filelog-svc}}
    operators:
      - type: json_parser
        timestamp: {{parse_from: attributes.timestamp, layout_type: gotime}}
        severity: {{parse_from: attributes.level}}
extensions: {{file_storage: {{directory: '{}', create_directory: true}}}}
processors: {{batch: {{timeout: 100ms}}}}
exporters: {{otlp: {{endpoint: '{}', tls: {{insecure: true}}}}}}
service:
  extensions: [file_storage]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    logs: {{receivers: [filelog], processors: [batch], exporters: [otlp]}}
"#,
            logs.display(),
            dir.path().join("state").display(),
            backend.otlp_grpc
        ),
    )
    .unwrap();
    let count = || held(&backend, "filelog-svc").1;
    let mut agent = Agent::start(&config, &dir.path().join("agent.log"));
    eventually(30, "the file's lines at the backend", || (count() >= 3).then_some(()));
    assert_eq!(agent.terminate(), Some(0));
    // Lines written while the agent is down are read after it starts again, once.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all((3..5).map(line).collect::<String>().as_bytes())
        .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent2.log"));
    eventually(30, "the new lines at the backend", || (count() >= 5).then_some(()));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(count(), 5, "no line read twice");
    let v = http()
        .post(backend.url("/api/v1/logs/search"))
        .json(&json!({"query": "service:filelog-svc AND seq:4", "limit": 1}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    let hit = &v["hits"][0];
    assert_eq!(hit["log.file.name"], "app.log", "{hit}");
    assert_eq!(hit["severity_text"], "error", "{hit}");
    assert_eq!(hit["event"], "order_placed", "{hit}");
    assert!(hit["timestamp"].as_str().unwrap_or_default().starts_with("2026-12-07T08:00:04"), "{hit}");
}

#[test]
fn the_prometheus_receiver_scrapes_the_seed_app_and_its_series_reach_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Server::start(&dir.path().join("data"));
    let (_app, metrics_port, app_url) = crate::harness::seed_app();
    for _ in 0..3 {
        let _ = http().get(format!("{app_url}/api/orders")).send();
    }
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers:
  prometheus:
    config:
      global: {{scrape_interval: 1s}}
      scrape_configs:
        - job_name: flask-app
          static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]
processors: {{batch: {{timeout: 200ms}}}}
exporters: {{otlp: {{endpoint: '{}', tls: {{insecure: true}}}}}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    metrics: {{receivers: [prometheus], processors: [batch], exporters: [otlp]}}
"#,
            backend.otlp_grpc
        ),
    )
    .unwrap();
    let _agent = Agent::start(&config, &dir.path().join("agent.log"));
    let up = eventually(30, "up of the scraped target at the backend", || {
        first_value(&query(&backend, "up{job=\"flask-app\"}"))
    });
    assert_eq!(up, 1.0);
    let requests = eventually(30, "the app's counter at the backend", || {
        first_value(&query(&backend, "sum(http_requests_total{job=\"flask-app\", endpoint=\"orders\"})"))
            .filter(|v| *v >= 3.0)
    });
    assert!(requests >= 3.0);
    let buckets =
        query(&backend, "http_request_duration_seconds_bucket{job=\"flask-app\", endpoint=\"orders\", le=\"+Inf\"}");
    assert!(first_value(&buckets).is_some_and(|v| v >= 3.0), "the histogram arrives as one: {buckets}");
    let md = get_json(&backend.url("/api/v1/metadata?metric=http_requests_total"));
    assert_eq!(md["data"]["http_requests_total"][0]["type"], "counter", "{md}");
}
