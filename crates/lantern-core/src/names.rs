//! Conventions of metric names that more than one part of Lantern reads: which series
//! measure how saturated a service is.

const SATURATION: &[&str] = &[
    "cpu",
    "memory",
    "mem_",
    "queue",
    "pool",
    "inflight",
    "in_flight",
    "saturation",
    "threads",
    "connections",
    "heap",
    "goroutines",
];

/// Whether a metric measures saturation (CPU, memory, queues, pools, connections,
/// threads…): not a request counter or histogram, not a histogram's parts.
pub fn is_saturation_metric(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !n.starts_with("http_request")
        && !n.starts_with("traces_")
        && !["_bucket", "_count", "_sum", "_created"].iter().any(|s| n.ends_with(s))
        && SATURATION.iter().any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_series_are_told_by_name() {
        for n in [
            "process_cpu_seconds_total",
            "container_memory_usage_bytes",
            "queue_depth",
            "db_pool_in_use",
            "active_connections",
        ] {
            assert!(is_saturation_metric(n), "{n}");
        }
        for n in ["http_requests_total", "db_pool_wait_seconds_bucket", "traces_spanmetrics_calls_total", "up"] {
            assert!(!is_saturation_metric(n), "{n}");
        }
    }
}
