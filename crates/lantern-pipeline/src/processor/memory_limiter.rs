//! The `memory_limiter` processor: every `check_interval` the process's resident memory
//! is read; above the soft limit (`limit_mib` − `spike_limit_mib`, or the percentages
//! of the machine's or cgroup's memory) data is refused with a retryable error
//! (`data refused due to high memory usage`: gRPC UNAVAILABLE, HTTP 503 with
//! `Retry-After` at the receivers), until memory falls below it again. Lantern has no
//! garbage collector to force; resident memory stands in for the Collector's heap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::consumer::{BoxFuture, ConsumeError, Consumer, Next};
use crate::data::Payload;
use crate::settings::GoDuration;

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How often memory is read (must be set).
    pub check_interval: GoDuration,
    /// The hard limit, MiB.
    pub limit_mib: u64,
    /// Headroom under the hard limit for spikes, MiB (default a fifth of the limit).
    pub spike_limit_mib: u64,
    /// The hard limit as a share of total memory, percent.
    pub limit_percentage: u64,
    /// The headroom as a share of total memory, percent.
    pub spike_limit_percentage: u64,
    /// Accepted for compatibility (no garbage collector).
    pub min_gc_interval_when_soft_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub min_gc_interval_when_hard_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub max_gc_interval_when_soft_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub max_gc_interval_when_hard_limited: Option<GoDuration>,
}

impl Config {
    /// Every problem, as the Collector words them.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.check_interval.0.is_zero() {
            p.push("'check_interval' must be greater than zero".into());
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            p.push("'limit_mib' or 'limit_percentage' must be greater than zero".into());
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            p.push("'spike_limit_mib' must be smaller than 'limit_mib'".into());
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            p.push("'limit_percentage' and 'spike_limit_percentage' must be between 0 and 100".into());
        }
        if self.limit_mib == 0 && self.limit_percentage > 0 && self.spike_limit_percentage >= self.limit_percentage {
            p.push("'spike_limit_percentage' must be smaller than 'limit_percentage'".into());
        }
        p
    }

    /// The soft limit in bytes (`total`: the machine's memory in bytes).
    pub fn soft_limit(&self, total: u64) -> u64 {
        let (limit, spike) = if self.limit_mib > 0 {
            let spike = if self.spike_limit_mib > 0 { self.spike_limit_mib } else { self.limit_mib / 5 };
            (self.limit_mib << 20, spike << 20)
        } else {
            let spike =
                if self.spike_limit_percentage > 0 { self.spike_limit_percentage } else { self.limit_percentage / 5 };
            (total / 100 * self.limit_percentage, total / 100 * spike)
        };
        limit.saturating_sub(spike)
    }
}

/// The shared state of one `memory_limiter` (every pipeline listing it reads the same).
pub struct Limiter {
    id: String,
    refusing: AtomicBool,
}

impl Limiter {
    /// Starts checking memory every `check_interval` until `shutdown`.
    pub fn start(
        id: &str,
        config: &Config,
        mut shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Arc<Self> {
        let me = Arc::new(Self { id: id.to_string(), refusing: AtomicBool::new(false) });
        let soft = config.soft_limit(total_memory());
        let interval = config.check_interval.0.max(Duration::from_millis(10));
        let state = me.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => break,
                }
                state.check(used_bytes(), soft);
            }
        }));
        me
    }

    fn check(&self, used: u64, soft: u64) {
        let over = used > soft;
        let was = self.refusing.swap(over, Ordering::Relaxed);
        if over && !was {
            tracing::warn!(processor = %self.id, used_mib = used >> 20, soft_limit_mib = soft >> 20, "memory usage is above the soft limit: refusing data");
        } else if !over && was {
            tracing::info!(processor = %self.id, used_mib = used >> 20, "memory usage back within limits: accepting data");
        }
    }

    /// This limiter in front of `next`.
    pub fn guard(self: &Arc<Self>, next: Next) -> Next {
        Arc::new(Guard { limiter: self.clone(), next })
    }
}

struct Guard {
    limiter: Arc<Limiter>,
    next: Next,
}

impl Consumer for Guard {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        if self.limiter.refusing.load(Ordering::Relaxed) {
            lantern_core::selfmon::pipeline::refused(
                &self.limiter.id,
                data.signal.as_str(),
                "memory_limit",
                data.items as u64,
            );
            return Box::pin(async { Err(ConsumeError::retryable("data refused due to high memory usage")) });
        }
        self.next.consume(data)
    }
}

/// Memory in use as the limiter sees it: the process's resident memory, or, for fault
/// injection in tests, the number in the file `LANTERN_FAULT_MEMORY_FILE` names.
fn used_bytes() -> u64 {
    if let Some(f) = std::env::var_os("LANTERN_FAULT_MEMORY_FILE") {
        if let Some(v) = std::fs::read_to_string(f).ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            return v;
        }
    }
    resident_bytes()
}

/// The process's resident memory, bytes (0 if it cannot be read).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// The memory this process may use: the cgroup's limit if set, else the machine's.
fn total_memory() -> u64 {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| s.trim().parse::<u64>().ok());
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
            .map(|kb| kb * 1024)
    });
    match (cgroup, machine) {
        (Some(c), Some(m)) => c.min(m),
        (c, m) => c.or(m).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_refusal_follow_the_collector() {
        let c = Config { check_interval: GoDuration(Duration::from_secs(1)), limit_mib: 1000, ..Default::default() };
        assert!(c.problems().is_empty());
        assert_eq!(c.soft_limit(0), 800 << 20, "spike defaults to a fifth of the limit");
        let p = Config::default().problems();
        assert!(p.contains(&"'check_interval' must be greater than zero".to_string()), "{p:?}");
        assert!(p.contains(&"'limit_mib' or 'limit_percentage' must be greater than zero".to_string()));
        let bad = Config { spike_limit_mib: 1000, ..c.clone() };
        assert_eq!(bad.problems(), vec!["'spike_limit_mib' must be smaller than 'limit_mib'".to_string()]);
        let pct = Config { check_interval: c.check_interval, limit_percentage: 50, ..Default::default() };
        assert_eq!(pct.soft_limit(1000 << 20), (500 << 20) - (100 << 20));
        assert!(resident_bytes() > 0);
        let l = Limiter { id: "memory_limiter".into(), refusing: AtomicBool::new(false) };
        l.check(900 << 20, 800 << 20);
        assert!(l.refusing.load(Ordering::Relaxed));
        l.check(700 << 20, 800 << 20);
        assert!(!l.refusing.load(Ordering::Relaxed));
    }
}
