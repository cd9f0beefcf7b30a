//! Wall-clock time behind one trait: the stores, the rule engine and the APIs read "now"
//! from the [`Clock`] they were built with, so a test can move time instead of waiting.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64 {
        self.now_ns().div_euclid(1_000_000)
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// The system's wall clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    ns: AtomicI64,
}

impl ManualClock {
    /// A clock showing `ns` nanoseconds since the epoch.
    pub fn new(ns: i64) -> Arc<Self> {
        Arc::new(Self { ns: AtomicI64::new(ns) })
    }

    /// Sets the time.
    pub fn set(&self, ns: i64) {
        self.ns.store(ns, Ordering::SeqCst);
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.ns.fetch_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        self.ns.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000_000_000);
        assert_eq!((c.now_ns(), c.now_ms()), (1_000_000_000, 1_000));
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now_ms(), 6_000);
        c.set(0);
        assert_eq!(c.now_ns(), 0);
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
    }
}
