//! A deterministic fleet of hosts whose series behave like real exporters': counters that
//! grow by integer or 2-decimal steps (often not at all), slowly drifting gauges, constant
//! gauges, histogram buckets, and scrape timestamps that are on the interval except for an
//! occasional millisecond jitter.

use lantern_prom_api::proto::{Label, Sample, TimeSeries};

/// A small, fast, deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// Counter growing by `rate`×interval with two decimals (CPU seconds).
    CpuCounter(f64),
    /// Counter growing by random integers up to the given size, idle with probability `p`.
    IntCounter(u64, f64),
    /// Gauge doing a random walk in steps of `step`, changing with probability `p`.
    Walk(f64, f64),
    /// Gauge with `decimals` decimals around a level.
    Noisy(f64, f64, i32),
    /// A gauge that never changes.
    Constant,
}

struct Series {
    labels: Vec<Label>,
    kind: Kind,
    value: f64,
    host: usize,
}

/// The fleet.
pub struct Fleet {
    series: Vec<Series>,
    hosts: usize,
    rng: Rng,
}

fn l(n: &str, v: &str) -> Label {
    Label { name: n.into(), value: v.into() }
}

impl Fleet {
    /// `hosts` hosts of about 200 series each; `multiplier` copies of each series with an
    /// extra `replica` label (for tests that need many series).
    pub fn new(hosts: usize, multiplier: usize) -> Fleet {
        let mut rng = Rng(42);
        let mut series = Vec::new();
        for h in 0..hosts {
            let instance = format!("host-{h:05}.dc{}.example.com:9100", h % 3);
            let dc = format!("dc{}", h % 3);
            for r in 0..multiplier {
                let replica = r.to_string();
                let mut add = |name: &str, extra: &[(&str, &str)], kind: Kind, value: f64| {
                    let mut labels =
                        vec![l("__name__", name), l("instance", &instance), l("job", "node"), l("datacenter", &dc)];
                    if multiplier > 1 {
                        labels.push(l("replica", &replica));
                    }
                    labels.extend(extra.iter().map(|(n, v)| l(n, v)));
                    labels.sort_by(|a, b| a.name.cmp(&b.name));
                    series.push(Series { labels, kind, value, host: h });
                };
                for cpu in 0..8 {
                    let c = cpu.to_string();
                    for (mode, rate) in [
                        ("idle", 0.7),
                        ("user", 0.15),
                        ("system", 0.06),
                        ("iowait", 0.02),
                        ("irq", 0.001),
                        ("softirq", 0.004),
                        ("steal", 0.0),
                        ("nice", 0.0005),
                    ] {
                        let r = rate * (0.5 + rng.unit());
                        add(
                            "node_cpu_seconds_total",
                            &[("cpu", &c), ("mode", mode)],
                            Kind::CpuCounter(r),
                            (rng.below(1_000_000) as f64) / 100.0,
                        );
                    }
                }
                for dev in ["eth0", "eth1", "lo", "docker0"] {
                    for dir in ["receive", "transmit"] {
                        for what in ["bytes", "packets", "errs", "drop"] {
                            let (size, idle) = match what {
                                "bytes" => (2_000_000, 0.05),
                                "packets" => (3000, 0.05),
                                _ => (2, 0.97),
                            };
                            add(
                                &format!("node_network_{dir}_{what}_total"),
                                &[("device", dev)],
                                Kind::IntCounter(size, idle),
                                rng.below(1 << 40) as f64,
                            );
                        }
                    }
                }
                for m in [
                    "MemTotal",
                    "MemFree",
                    "MemAvailable",
                    "Buffers",
                    "Cached",
                    "SwapTotal",
                    "SwapFree",
                    "Active",
                    "Inactive",
                    "Dirty",
                    "Slab",
                    "Shmem",
                    "Mapped",
                    "PageTables",
                    "Committed_AS",
                    "HugePages_Total",
                ] {
                    let kind = match m {
                        "MemTotal" | "SwapTotal" | "HugePages_Total" => Kind::Constant,
                        "Dirty" => Kind::Walk(4096.0, 0.9),
                        _ => Kind::Walk(4096.0, 0.5),
                    };
                    add(&format!("node_memory_{m}_bytes"), &[], kind, (rng.below(1 << 22) * 4096) as f64);
                }
                for (mp, dev) in
                    [("/", "sda1"), ("/var", "sda2"), ("/home", "sdb1"), ("/boot", "sda3"), ("/data", "nvme0n1")]
                {
                    add(
                        "node_filesystem_size_bytes",
                        &[("device", dev), ("fstype", "ext4"), ("mountpoint", mp)],
                        Kind::Constant,
                        (rng.below(1 << 16) << 24) as f64,
                    );
                    add(
                        "node_filesystem_avail_bytes",
                        &[("device", dev), ("fstype", "ext4"), ("mountpoint", mp)],
                        Kind::Walk(4096.0, 0.3),
                        (rng.below(1 << 14) << 24) as f64,
                    );
                    add(
                        "node_filesystem_files_free",
                        &[("device", dev), ("fstype", "ext4"), ("mountpoint", mp)],
                        Kind::Walk(1.0, 0.2),
                        rng.below(1 << 24) as f64,
                    );
                }
                for (n, lvl) in [("node_load1", 1.5), ("node_load5", 1.4), ("node_load15", 1.3)] {
                    add(n, &[], Kind::Noisy(lvl, 0.3, 2), lvl);
                }
                for chip in 0..4 {
                    add(
                        "node_hwmon_temp_celsius",
                        &[("chip", &format!("platform_coretemp_{chip}")), ("sensor", "temp1")],
                        Kind::Noisy(45.0, 2.0, 1),
                        45.0,
                    );
                }
                for handler in ["/api/users", "/api/orders", "/api/payments"] {
                    for method in ["GET", "POST"] {
                        for status in ["200", "404", "500"] {
                            let (size, idle) = match status {
                                "200" => (40, 0.02),
                                "404" => (2, 0.8),
                                _ => (1, 0.95),
                            };
                            add(
                                "http_requests_total",
                                &[("handler", handler), ("method", method), ("status", status)],
                                Kind::IntCounter(size, idle),
                                0.0,
                            );
                        }
                    }
                    for le in ["0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"] {
                        add(
                            "http_request_duration_seconds_bucket",
                            &[("handler", handler), ("le", le)],
                            Kind::IntCounter(30, 0.05),
                            0.0,
                        );
                    }
                    add("http_request_duration_seconds_sum", &[("handler", handler)], Kind::CpuCounter(0.8), 0.0);
                    add(
                        "http_request_duration_seconds_count",
                        &[("handler", handler)],
                        Kind::IntCounter(60, 0.02),
                        0.0,
                    );
                }
                for (n, kind) in [
                    ("go_goroutines", Kind::Walk(1.0, 0.4)),
                    ("go_threads", Kind::Walk(1.0, 0.02)),
                    ("go_memstats_alloc_bytes", Kind::Walk(8192.0, 1.0)),
                    ("go_memstats_heap_inuse_bytes", Kind::Walk(8192.0, 0.9)),
                    ("go_memstats_sys_bytes", Kind::Walk(65536.0, 0.1)),
                    ("process_resident_memory_bytes", Kind::Walk(4096.0, 0.8)),
                    ("process_open_fds", Kind::Walk(1.0, 0.3)),
                    ("process_max_fds", Kind::Constant),
                    ("process_start_time_seconds", Kind::Constant),
                    ("node_boot_time_seconds", Kind::Constant),
                    ("node_procs_running", Kind::Walk(1.0, 0.6)),
                    ("node_context_switches_total", Kind::IntCounter(200_000, 0.0)),
                    ("node_intr_total", Kind::IntCounter(100_000, 0.0)),
                    ("node_forks_total", Kind::IntCounter(300, 0.1)),
                    ("node_entropy_available_bits", Kind::Walk(1.0, 0.5)),
                    ("up", Kind::Constant),
                ] {
                    let v = if n == "up" { 1.0 } else { rng.below(1 << 20) as f64 };
                    add(n, &[], kind, v);
                }
                add("go_gc_duration_seconds_sum", &[], Kind::CpuCounter(0.0004), 0.0);
                add("go_gc_duration_seconds_count", &[], Kind::IntCounter(3, 0.3), 0.0);
            }
        }
        Fleet { series, hosts, rng }
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// One scrape of every host: advances every series and returns it with one sample.
    pub fn scrape(&mut self, start: i64, i: usize, interval_ms: i64) -> impl Iterator<Item = TimeSeries> + '_ {
        let base = start + i as i64 * interval_ms;
        // About one scrape in a hundred is a few milliseconds late, as real scrapes are.
        let stamps: Vec<i64> = (0..self.hosts)
            .map(|_| base + if self.rng.below(100) == 0 { 1 + self.rng.below(5) as i64 } else { 0 })
            .collect();
        let secs = interval_ms as f64 / 1000.0;
        let rng = &mut self.rng;
        self.series.iter_mut().map(move |s| {
            if i > 0 {
                s.value = match s.kind {
                    Kind::CpuCounter(rate) => {
                        ((s.value + rate * secs * (0.8 + 0.4 * rng.unit())) * 100.0).round() / 100.0
                    }
                    Kind::IntCounter(size, idle) => {
                        if rng.unit() < idle {
                            s.value
                        } else {
                            s.value + (1 + rng.below(size)) as f64
                        }
                    }
                    Kind::Walk(step, p) => {
                        if rng.unit() < p {
                            let d = (rng.below(21) as f64 - 10.0) * step;
                            (s.value + d).max(0.0)
                        } else {
                            s.value
                        }
                    }
                    Kind::Noisy(level, spread, decimals) => {
                        let m = 10f64.powi(decimals);
                        ((level + (rng.unit() - 0.5) * 2.0 * spread) * m).round() / m
                    }
                    Kind::Constant => s.value,
                };
            }
            TimeSeries {
                labels: s.labels.clone(),
                samples: vec![Sample { value: s.value, timestamp: stamps[s.host] }],
                exemplars: vec![],
                histograms: vec![],
            }
        })
    }
}
