//! The ingest rate limit: a token bucket of bytes per second shared by every log
//! ingest endpoint; a request that finds it empty is answered 429 (retry later).

use std::time::Instant;

use parking_lot::Mutex;

/// Bytes per second with a burst allowance; `None` is no limit.
pub struct RateLimit {
    rate: Option<(f64, f64)>,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A limit of `bytes_per_second` (bursts up to `burst` bytes); `None` for none.
    pub fn new(bytes_per_second: Option<u64>, burst: u64) -> Self {
        let rate = bytes_per_second.map(|r| (r as f64, (burst.max(r)) as f64));
        Self { state: Mutex::new((rate.map_or(0.0, |r| r.1), Instant::now())), rate }
    }

    /// Takes `n` bytes; false when the bucket does not hold them.
    pub fn take(&self, n: usize) -> bool {
        let Some((rate, burst)) = self.rate else { return true };
        let mut s = self.state.lock();
        let now = Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * rate).min(burst);
        s.1 = now;
        if s.0 >= n as f64 {
            s.0 -= n as f64;
            true
        } else {
            false
        }
    }
}
