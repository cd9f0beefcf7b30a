//! Starting and stopping the real server, and small remote-write/read clients.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lantern_prom_api::proto::{self, ReadRequest, ReadResponse, TimeSeries, WriteRequest};
use prost::Message;

/// A free loopback port (bound and released).
///
/// Ports come from below Linux's ephemeral range (32768 and up), so the outgoing
/// connections of other tests running at the same time never take one between its pick
/// and its use; each process starts at its own place in the range.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let _ = NEXT.compare_exchange(0, seed % SPAN + 1, Ordering::Relaxed, Ordering::Relaxed);
    loop {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running `lantern serve`.
pub struct Server {
    pub child: Option<Child>,
    pub addr: String,
    /// OTLP/gRPC and OTLP/HTTP addresses.
    pub otlp_grpc: String,
    pub otlp_http: String,
    pub data_dir: PathBuf,
    extra: Vec<String>,
    /// Where its log goes (stderr otherwise), and at which level.
    log: Option<(PathBuf, &'static str)>,
}

impl Server {
    /// Starts a server on `data_dir` and waits until `/-/ready` answers 200.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    /// Same, with extra `serve` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_at(data_dir, format!("127.0.0.1:{}", free_port()), extra)
    }

    /// Same, with the HTTP API on `addr` (a config written before may name it).
    pub fn start_at(data_dir: &Path, addr: String, extra: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            addr,
            otlp_grpc: format!("127.0.0.1:{}", free_port()),
            otlp_http: format!("127.0.0.1:{}", free_port()),
            data_dir: data_dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            log: None,
        };
        s.spawn();
        s
    }

    /// [`Server::start_with`], its log at `level` written to the file `log` (for tests
    /// that read what it says).
    pub fn start_logged(data_dir: &Path, extra: &[&str], log: &Path, level: &'static str) -> Server {
        let mut s = Server {
            child: None,
            addr: format!("127.0.0.1:{}", free_port()),
            otlp_grpc: format!("127.0.0.1:{}", free_port()),
            otlp_http: format!("127.0.0.1:{}", free_port()),
            data_dir: data_dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            log: Some((log.to_path_buf(), level)),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-addr")
            .arg(&self.addr)
            .arg("--otlp-grpc-addr")
            .arg(&self.otlp_grpc)
            .arg("--otlp-http-addr")
            .arg(&self.otlp_http)
            .args(&self.extra)
            .env("LANTERN_LOG", self.log.as_ref().map_or("warn", |l| l.1))
            .stdout(Stdio::null())
            .stderr(match &self.log {
                Some((path, _)) => Stdio::from(std::fs::File::create(path).expect("create the log file")),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("start lantern");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http().get(self.url("/-/ready")).send() {
                if r.status().as_u16() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "lantern did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        c.wait().ok()?.code()
    }

    /// Starts again on the same data directory and address.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking HTTP client with a timeout.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A series for a write request.
pub fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| proto::Label { name: n.to_string(), value: v.to_string() }).collect(),
        samples: samples.iter().map(|&(t, v)| proto::Sample { value: v, timestamp: t }).collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

/// Sends a remote-write request; returns the status and body.
pub fn remote_write(
    client: &reqwest::blocking::Client,
    url: &str,
    series: Vec<TimeSeries>,
) -> reqwest::Result<(u16, String)> {
    let body = snap::raw::Encoder::new()
        .compress_vec(&WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec())
        .unwrap();
    let r = client
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()?;
    let status = r.status().as_u16();
    Ok((status, r.text().unwrap_or_default()))
}

/// Reads every series matching one `=~` matcher on the name, over all time.
pub fn remote_read(url: &str, name_regex: &str) -> Vec<TimeSeries> {
    let q = ReadRequest {
        queries: vec![proto::Query {
            start_timestamp_ms: i64::MIN / 2,
            end_timestamp_ms: i64::MAX / 2,
            matchers: vec![proto::LabelMatcher { r#type: 2, name: "__name__".into(), value: name_regex.into() }],
        }],
        accepted_response_types: vec![0],
    };
    let body = snap::raw::Encoder::new().compress_vec(&q.encode_to_vec()).unwrap();
    let r = http().post(url).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b = r.bytes().unwrap();
    let resp = ReadResponse::decode(snap::raw::Decoder::new().decompress_vec(&b).unwrap().as_slice()).unwrap();
    resp.results.into_iter().next().map(|r| r.timeseries).unwrap_or_default()
}

/// GETs a JSON document.
pub fn get_json(url: &str) -> serde_json::Value {
    let text = http().get(url).send().unwrap().text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {text}"))
}

/// GETs a JSON document, or `None` if the server does not answer (yet).
pub fn try_get_json(url: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&http().get(url).send().ok()?.text().ok()?).ok()
}

/// A running Prometheus from Debian's package, killed on drop.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub url: String,
    log: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with `config` (YAML) in `dir`, plus `extra` flags, and waits
    /// until it is ready.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
        let port = free_port();
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config.replace("{port}", &port.to_string())).unwrap();
        let log = dir.join("prometheus.log");
        let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("Prometheus is not installed: run ./test.sh, which installs Debian's prometheus package");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("prom-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, url: format!("http://127.0.0.1:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http().get(format!("{}/-/ready", p.url)).send().is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "prometheus did not start: {}", p.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// What Prometheus logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python environment with the real client libraries of `tests/python/requirements.txt`
/// (installed from PyPI into `target/pyenv` on first use); returns its interpreter.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env = root.join("target/pyenv");
    let req = root.join("tests/python/requirements.txt");
    let wanted = std::fs::read_to_string(&req).expect("tests/python/requirements.txt");
    let marker = env.join("installed.txt");
    let lock = std::fs::File::create(root.join("target/pyenv.lock")).expect("lock file");
    lock.lock().expect("lock the python environment");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&env).status().is_ok_and(|s| s.success())
            && Command::new(env.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "-r"])
                .arg(&req)
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "could not install the Python clients from PyPI into {}", env.display());
        std::fs::write(&marker, &wanted).unwrap();
    }
    env.join("bin/python")
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The seed's instrumented service (tests/python/seed_app.py), started and warmed up
/// (one request to /api/warmup): the process, its metrics port and its app URL.
pub fn seed_app() -> (Proc, u16, String) {
    let (metrics_port, app_port) = (free_port(), free_port());
    let app = Proc(
        Command::new(python())
            .arg(py_script("seed_app.py"))
            .arg(metrics_port.to_string())
            .arg(app_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the seed app"),
    );
    let url = format!("http://127.0.0.1:{app_port}");
    eventually(30, "the seed app", || {
        http().get(format!("{url}/api/warmup")).send().ok().filter(|r| r.status().is_success())
    });
    (app, metrics_port, url)
}

/// The repository's `tests/python/<name>`.
pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python").join(name)
}

/// Waits until `f` returns `Some`, or panics with `what` after `secs` seconds.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs an instant PromQL query (POST form) against `srv`.
pub fn query(srv: &Server, q: &str) -> serde_json::Value {
    let r = http().post(srv.url("/api/v1/query")).form(&[("query", q)]).send().unwrap();
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

/// The value of the first result of a query answer.
pub fn first_value(v: &serde_json::Value) -> Option<f64> {
    v["data"]["result"].as_array()?.first()?["value"][1].as_str()?.parse().ok()
}
