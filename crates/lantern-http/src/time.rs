//! Timestamps and durations as the Prometheus HTTP API accepts them.

use chrono::DateTime;

/// The earliest time a Prometheus API accepts (what an absent `start` means).
pub const MIN_TIME_MS: i64 = i64::MIN / 2;
/// The latest time (what an absent `end` means).
pub const MAX_TIME_MS: i64 = i64::MAX / 2;

/// Parses a Unix timestamp in (fractional) seconds or an RFC 3339 time into milliseconds.
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        let ms = (f * 1000.0).round();
        if ms < MIN_TIME_MS as f64 || ms > MAX_TIME_MS as f64 {
            return Err(format!("cannot parse {s:?} to a valid timestamp: out of range"));
        }
        return Ok(ms as i64);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
}

/// Parses a duration given as seconds (`30`, `1.5`) or in Prometheus's format (`5m`).
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() || f < 0.0 || f * 1000.0 > i64::MAX as f64 {
            return Err(format!("cannot parse {s:?} to a valid duration"));
        }
        return Ok((f * 1000.0).round() as i64);
    }
    lantern_core::PromDuration::parse(s)
        .map(|d| d.as_millis_i64())
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_rfc3339_times() {
        assert_eq!(parse_time_ms("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time_ms("1700000000.123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_time_ms("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time_ms("2023-11-14T22:13:20.5+00:00").unwrap(), 1_700_000_000_500);
        assert!(parse_time_ms("yesterday").is_err());
        assert!(parse_time_ms("NaN").is_err());
        assert_eq!(parse_duration_ms("5m").unwrap(), 300_000);
        assert_eq!(parse_duration_ms("1.5").unwrap(), 1_500);
    }
}
