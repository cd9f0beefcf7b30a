//! Durations: written the Prometheus way (`1h30m`, `5m`, `15d`, `250ms`: whole numbers,
//! units in decreasing order, what configuration files and PromQL take), and Go's way
//! (`1.5s`, `2m30s`, `500us`: fractions and any order, what Jaeger's API, LogQL and the
//! OpenTelemetry Collector's configuration take).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// A duration parsed from and printed in Prometheus's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    /// Parses e.g. `1h30m`. Units must appear in decreasing order, each at most once;
    /// `0` alone is accepted.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidDuration(s.to_string());
        if s == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(bad());
        }
        let mut i = 0;
        let mut total: u64 = 0;
        let mut last_unit = usize::MAX;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            let n: u64 = s[start..i].parse().map_err(|_| bad())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[ustart..i];
            let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
            if last_unit != usize::MAX && idx <= last_unit {
                return Err(bad());
            }
            last_unit = idx;
            total = n.checked_mul(UNITS[idx].1).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        }
        Ok(Self(Duration::from_millis(total)))
    }

    /// Milliseconds, saturating at `i64::MAX`.
    pub fn as_millis_i64(&self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    /// A duration of `ms` milliseconds.
    pub fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis() as u64;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (u, size) in UNITS {
            // Prometheus prints weeks and years only when they divide evenly.
            if (u == "y" || u == "w") && !ms.is_multiple_of(size) {
                continue;
            }
            if ms >= size {
                write!(f, "{}{}", ms / size, u)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for PromDuration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which units a Go-style duration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoUnits {
    /// Go's `time.ParseDuration`: `ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`.
    Go,
    /// Go's units and Prometheus's longer ones (`d`, `w`, `y`), as LogQL takes them.
    WithDays,
}

/// Parses a Go-style duration (`1.5s`, `100ms`, `2m30s`, `500us`, `1h`; `0` alone for
/// Go's units) into nanoseconds; `None` if it is not one or does not fit.
pub fn parse_go_nanos(s: &str, units: GoUnits) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" && units == GoUnits::Go {
        return Some(0);
    }
    let is_num = |c: char| c.is_ascii_digit() || c == '.';
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !is_num(c)).unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(is_num).unwrap_or(rest.len());
        let scale = match (&rest[..unit_end], units) {
            ("ns", _) => 1.0,
            ("us" | "µs" | "μs", _) => 1e3,
            ("ms", _) => 1e6,
            ("s", _) => 1e9,
            ("m", _) => 60e9,
            ("h", _) => 3600e9,
            ("d", GoUnits::WithDays) => 86400e9,
            ("w", GoUnits::WithDays) => 604800e9,
            ("y", GoUnits::WithDays) => 365.0 * 86400e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    (total.is_finite() && total <= i64::MAX as f64).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let go = |s| parse_go_nanos(s, GoUnits::Go);
        assert_eq!(go("1.5s"), Some(1_500_000_000));
        assert_eq!(go("100ms"), Some(100_000_000));
        assert_eq!(go("2m30s"), Some(150_000_000_000));
        assert_eq!(go("500us"), Some(500_000));
        assert_eq!(go("0"), Some(0));
        for bad in ["", "10", "1x", "1d", "s", "1..5s"] {
            assert_eq!(go(bad), None, "{bad}");
        }
        let days = |s| parse_go_nanos(s, GoUnits::WithDays);
        assert_eq!(days("1h30m"), Some(5_400_000_000_000));
        assert_eq!(days("2d"), Some(172_800_000_000_000));
        assert_eq!(days("1e400h"), None);
    }

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(PromDuration::parse("5m").unwrap().0, Duration::from_secs(300));
        assert_eq!(PromDuration::parse("1h30m").unwrap().0, Duration::from_secs(5400));
        assert_eq!(PromDuration::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(PromDuration::parse("15d").unwrap().0, Duration::from_secs(15 * 86400));
        assert_eq!(PromDuration::parse("0").unwrap().0, Duration::ZERO);
        for bad in ["", "5", "m", "5x", "1m1h", "1h1h", "-5m", "1.5h"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(PromDuration::parse("90m").unwrap().to_string(), "1h30m");
        assert_eq!(PromDuration::parse("14d").unwrap().to_string(), "2w");
        assert_eq!(PromDuration::parse("15d").unwrap().to_string(), "15d");
        assert_eq!(PromDuration::parse("1500ms").unwrap().to_string(), "1s500ms");
    }

    proptest::proptest! {
        #[test]
        fn go_durations_never_panic(s in "\\PC{0,12}") {
            let _ = parse_go_nanos(&s, GoUnits::WithDays);
        }

        #[test]
        fn display_round_trips(ms in 0u64..10_000_000_000_000) {
            let d = PromDuration::from_millis(ms);
            proptest::prop_assert_eq!(PromDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
