//! The `lantern` binary: command-line parsing and start-up. All wiring is in [`serve`].

mod check;
mod collect;
mod config;
mod demo;
mod investigate;
mod selfmon;
mod serve;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// mimalloc: less fragmentation than glibc's allocator under many threads allocating
/// and freeing request-sized buffers (lower resident memory, fewer page faults). Built
/// without transparent huge pages: memory it takes back from the system after handing
/// it back would otherwise be zeroed 2 MiB at a time (a fifth of log ingest's CPU).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lantern: metrics, logs and traces in one binary.
#[derive(Parser, Debug)]
#[command(name = "lantern", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level (error, warn, info, debug, trace), or levels per target
    /// (lantern_tsdb=debug,info) [default: $LANTERN_LOG, else $RUST_LOG, else info]
    #[arg(long, global = true)]
    log_level: Option<String>,
    /// Log format: text for people, json (one object per line) for machines
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Text, coloured only when standard error is a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sets up logging: `--log-level`, else `LANTERN_LOG`, else `RUST_LOG`, else info.
fn init_logging(level: Option<&str>, format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (text, source) = match (level, std::env::var("LANTERN_LOG").ok(), std::env::var("RUST_LOG").ok()) {
        (Some(l), _, _) => (Some(l.to_string()), "--log-level"),
        (None, Some(l), _) if !l.is_empty() => (Some(l), "LANTERN_LOG"),
        (None, _, Some(l)) if !l.is_empty() => (Some(l), "RUST_LOG"),
        _ => (None, ""),
    };
    // (A `Targets` filter rather than `EnvFilter`, whose regex support would switch the
    // whole binary's `regex` crate to building full DFAs, which makes every PromQL
    // regex matcher slow to compile.)
    let filter: tracing_subscriber::filter::Targets = match text {
        Some(t) => {
            // A bare word must be a level: `loud` would otherwise be a target's name.
            let bad = t
                .split(',')
                .map(str::trim)
                .find(|d| !d.contains('=') && d.parse::<tracing::level_filters::LevelFilter>().is_err());
            if let Some(d) = bad {
                return Err(format!(
                    "{source} {t:?} is not a log level: {d:?} is none of off, error, warn, info, debug, trace"
                ));
            }
            t.parse().map_err(|e| format!("{source} {t:?} is not a log level: {e}"))?
        }
        None => tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO),
    };
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .init(),
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).init(),
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: ingest, storage and every API.
    Serve(ServeArgs),
    /// Run OpenTelemetry Collector pipelines (receivers, processors, exporters) from the
    /// Collector's configuration format: an agent in front of Lantern or any backend.
    Collect(collect::CollectArgs),
    /// Run the server with a simulated shop (api-gateway, order-service, payment-service,
    /// fulfillment-service) that sends all three signals, with the seed's rules, SLOs and
    /// dashboard, and play an incident: payment-service saturates and its calls time out.
    #[command(after_help = "The demo says what happens on standard output, with the URLs to open; the \
        server's own log shows only warnings and errors unless --log-level says otherwise.\n\n\
        Examples:\n  lantern demo\n  lantern demo --incident-after 30s --duration 15m --data-dir /tmp/lantern-demo")]
    Demo(demo::DemoArgs),
    /// Run tests.
    #[command(subcommand)]
    Test(TestCommand),
    /// Work with SLO files.
    #[command(subcommand)]
    Slo(SloCommand),
    /// Check files as `promtool check` does.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Investigate an incident on a running Lantern: the symptom, the error logs'
    /// patterns, the failing requests and their traces, the service and operation where
    /// the failures start, its saturation, and a verdict with links to the evidence.
    Investigate(investigate::InvestigateArgs),
}

/// What `lantern check` checks.
#[derive(Subcommand, Debug)]
enum CheckCommand {
    /// Check a config file as `lantern serve` would at start, without starting: the
    /// keys and values, addresses, scrape configs, rule and SLO files, dashboards.
    Config {
        /// The config file.
        file: PathBuf,
    },
    /// Check SLO files (the seed's format, OpenSLO v1, Sloth prometheus/v1): each
    /// file's SLO count, or every problem with its line.
    Slos {
        /// SLO files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check rule files (Prometheus's format, plus `lang: logql`): each file's rule
    /// count, or every problem with its line.
    Rules {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// What `lantern slo` does.
#[derive(Subcommand, Debug)]
enum SloCommand {
    /// Print the Prometheus rule file the SLOs generate (recording rules per window,
    /// multi-window burn-rate alerts), for evaluating them in Prometheus.
    Rules {
        /// SLO files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// What `lantern test` runs.
#[derive(Subcommand, Debug)]
enum TestCommand {
    /// Run rule unit tests in promtool's format (`rule_files`, `input_series`,
    /// `alert_rule_test`, `promql_expr_test`).
    Rules {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Flags of `lantern serve`; each overrides the config file, and each can be set with
/// its `LANTERN_*` environment variable.
#[derive(Args, Debug)]
struct ServeArgs {
    /// YAML configuration file (see lantern.example.yaml).
    #[arg(long, env = "LANTERN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ./lantern-data]
    #[arg(long, env = "LANTERN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP listen address for every HTTP API [default: 127.0.0.1:9700]
    #[arg(long, env = "LANTERN_HTTP_ADDR")]
    http_addr: Option<String>,
    /// OTLP gRPC listen address [default: 127.0.0.1:4317]
    #[arg(long, env = "LANTERN_OTLP_GRPC_ADDR")]
    otlp_grpc_addr: Option<String>,
    /// OTLP HTTP listen address [default: 127.0.0.1:4318]
    #[arg(long, env = "LANTERN_OTLP_HTTP_ADDR")]
    otlp_http_addr: Option<String>,
    /// Jaeger gRPC collector API (PostSpans) listen address, conventionally :14250 [default: off]
    #[arg(long, env = "LANTERN_JAEGER_GRPC_ADDR")]
    jaeger_grpc_addr: Option<String>,
}

impl ServeArgs {
    /// Every flag of `lantern serve` with the value in force (the configuration's
    /// where no flag was given), as `/api/v1/status/flags` reports them.
    fn flags(&self, c: &Config, log_level: &Option<String>, log_format: LogFormat) -> BTreeMap<String, String> {
        let level = log_level
            .clone()
            .or_else(|| std::env::var("LANTERN_LOG").ok().filter(|l| !l.is_empty()))
            .or_else(|| std::env::var("RUST_LOG").ok().filter(|l| !l.is_empty()))
            .unwrap_or_else(|| "info".into());
        [
            ("config", self.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
            ("data-dir", c.data_dir.display().to_string()),
            ("http-addr", c.http_addr.clone()),
            ("otlp-grpc-addr", c.otlp_grpc_addr.clone()),
            ("otlp-http-addr", c.otlp_http_addr.clone()),
            ("jaeger-grpc-addr", c.jaeger_grpc_addr.clone()),
            ("log-level", level),
            ("log-format", if log_format == LogFormat::Json { "json" } else { "text" }.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The effective configuration: file, then flags/environment on top, validated.
    fn config(&self) -> Result<Config, String> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(v) = &self.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = &self.http_addr {
            c.http_addr = v.clone();
        }
        if let Some(v) = &self.otlp_grpc_addr {
            c.otlp_grpc_addr = v.clone();
        }
        if let Some(v) = &self.otlp_http_addr {
            c.otlp_http_addr = v.clone();
        }
        if let Some(v) = &self.jaeger_grpc_addr {
            c.jaeger_grpc_addr = v.clone();
        }
        let problems = c.validate();
        if !problems.is_empty() {
            let origin =
                self.config.as_ref().map_or("configuration".to_string(), |p| format!("config file {}", p.display()));
            return Err(format!("{origin} is invalid: {}", problems.join("; ")));
        }
        Ok(c)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo narrates on standard output; its server only says what goes wrong.
    let quiet = matches!(cli.command, Command::Demo(_))
        && ["LANTERN_LOG", "RUST_LOG"].iter().all(|v| std::env::var(v).map_or(true, |s| s.is_empty()));
    let level = cli.log_level.as_deref().or(if quiet { Some("warn") } else { None });
    if let Err(e) = init_logging(level, cli.log_format) {
        eprintln!("lantern: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Test(TestCommand::Rules { files }) => test_rules(&files),
        Command::Slo(SloCommand::Rules { files }) => slo_rules(&files),
        Command::Check(CheckCommand::Rules { files }) => check_rules(&files),
        Command::Check(CheckCommand::Config { file }) => check::config(&file),
        Command::Check(CheckCommand::Slos { files }) => check::slos(&files),
        Command::Investigate(args) => investigate::run(&args),
        Command::Collect(args) => collect::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Serve(args) => {
            let cfg = match args.config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("lantern: {e}");
                    return ExitCode::from(2);
                }
            };
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let flags = args.flags(&cfg, &cli.log_level, cli.log_format);
            match rt.block_on(serve::run(cfg, flags, serve::wait_for_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lantern: {e:#}");
                    serve_failure(&e)
                }
            }
        }
    }
}

/// The multi-threaded runtime the server, the demo and the agent run on; its failure
/// said and turned into the exit status.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("lantern: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// The exit status of a server that failed: a problem with the configuration (errors
/// that name their key: a bad file, an address in use, an unusable data directory)
/// exits 2, as a bad flag or config file does; anything else 1.
fn serve_failure(e: &anyhow::Error) -> ExitCode {
    if e.to_string().starts_with("key ") {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// `lantern test rules`: each file's report as promtool prints it (the verdict on
/// stdout, failures on stderr); exit 1 if any test failed.
fn test_rules(files: &[PathBuf]) -> ExitCode {
    use std::io::Write;
    let mut failed = false;
    for f in files {
        let outcome = lantern_rules::unittest::run_file(f);
        failed |= !outcome.passed;
        let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
        let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `lantern check rules`: as `promtool check rules` reports (`Checking f`, then
/// `SUCCESS: N rules found`, or `FAILED:` and the problems on stderr); exit 1 if any
/// file has a problem.
fn check_rules(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        println!("Checking {}", f.display());
        match lantern_rules::load(f) {
            Ok(rf) => println!("  SUCCESS: {} rules found", rf.groups.iter().map(|g| g.rules.len()).sum::<usize>()),
            Err(errs) => {
                failed = true;
                eprintln!("  FAILED:");
                for e in errs {
                    eprintln!("{e}");
                }
            }
        }
        println!();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `lantern slo rules`: the generated rule file on stdout; problems with file, line
/// and reason on stderr (exit 1).
fn slo_rules(files: &[PathBuf]) -> ExitCode {
    let mut slos = Vec::new();
    let mut failed = false;
    for f in files {
        match lantern_rules::slo::load(f) {
            Ok(file) => slos.extend(file),
            Err(errs) => {
                failed = true;
                for e in errs {
                    eprintln!("lantern: {e}");
                }
            }
        }
    }
    if failed {
        return ExitCode::FAILURE;
    }
    match serde_yaml::to_string(&lantern_rules::slo::generate::rule_file(&slos)) {
        Ok(yaml) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            print!("# Generated by `lantern slo rules` from {}.\n{yaml}", names.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lantern: cannot write the rules: {e}");
            ExitCode::FAILURE
        }
    }
}
