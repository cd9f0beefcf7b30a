//! The `probabilistic_sampler` processor: keeps a share of traces (and of the logs of
//! traces) decided by the trace ID alone, so every span of a trace, in every agent, gets
//! the same decision. `hash_seed` mode (when a seed is set or asked for) as the
//! Collector: FNV-1a over the seed and the trace ID, 14 bits of it against the
//! percentage; `proportional` (otherwise) compares the trace ID's 56 random bits with
//! the threshold of the percentage. A span's `sampling.priority` attribute overrides: 0
//! drops it, more keeps it. Dropped items are counted.

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use serde::Deserialize;

use crate::data::Decoded;

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Percent of traces kept (100 and above: all).
    pub sampling_percentage: f32,
    /// The hash's seed (`hash_seed` mode).
    pub hash_seed: u32,
    /// `hash_seed`, `proportional` or `equalizing` (as `proportional` here).
    pub mode: String,
    /// Accepted for compatibility (tracestate thresholds are not written).
    pub sampling_precision: u32,
    /// Whether items without a trace ID are dropped.
    pub fail_closed: bool,
    /// Logs: `traceID` (default) or `record` (an attribute's value).
    pub attribute_source: String,
    /// Logs: the attribute hashed with `attribute_source: record`.
    pub from_attribute: String,
    /// Logs: an attribute that overrides the decision like `sampling.priority`.
    pub sampling_priority: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sampling_percentage: 0.0,
            hash_seed: 0,
            mode: String::new(),
            sampling_precision: 4,
            fail_closed: true,
            attribute_source: "traceID".into(),
            from_attribute: String::new(),
            sampling_priority: String::new(),
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(0.0..=f32::MAX).contains(&self.sampling_percentage) || self.sampling_percentage.is_nan() {
            p.push(format!("sampling_percentage: {} is not a percentage", self.sampling_percentage));
        }
        if !matches!(self.mode.as_str(), "" | "hash_seed" | "proportional" | "equalizing") {
            p.push(format!("mode: {:?} is not hash_seed, proportional or equalizing", self.mode));
        }
        if !matches!(self.attribute_source.as_str(), "traceID" | "record") {
            p.push(format!("attribute_source: {:?} is not traceID or record", self.attribute_source));
        }
        if self.attribute_source == "record" && self.from_attribute.is_empty() {
            p.push("from_attribute must be set with attribute_source: record".into());
        }
        p
    }
}

/// The sampler.
pub struct Sampler {
    config: Config,
    hash_mode: bool,
}

fn fnv1a(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in *p {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

fn priority(attrs: &[KeyValue], key: &str) -> Option<bool> {
    let v = attrs.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()?;
    Some(match v {
        any_value::Value::IntValue(i) => *i > 0,
        any_value::Value::DoubleValue(d) => *d > 0.0,
        any_value::Value::StringValue(s) => s.parse::<f64>().map_or(true, |x| x > 0.0),
        _ => true,
    })
}

impl Sampler {
    /// The sampler for a checked configuration.
    pub fn new(c: &Config) -> Self {
        let hash_mode =
            c.mode == "hash_seed" || (c.mode.is_empty() && (c.hash_seed != 0 || c.attribute_source == "record"));
        Self { config: c.clone(), hash_mode }
    }

    /// Whether bytes identifying a trace (or a record) are kept.
    fn keep(&self, id: &[u8]) -> bool {
        let pct = self.config.sampling_percentage;
        if pct >= 100.0 {
            return true;
        }
        if id.is_empty() || id.iter().all(|b| *b == 0) {
            return !self.config.fail_closed;
        }
        if self.hash_mode {
            let bucket = fnv1a(&[&self.config.hash_seed.to_le_bytes(), id]) & 0x3fff;
            return bucket < (pct * 16384.0 / 100.0) as u32;
        }
        // Proportional: the trace ID's last 56 bits are its randomness.
        let tail = &id[id.len().saturating_sub(7)..];
        let r = tail.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let threshold = ((1.0 - f64::from(pct) / 100.0) * (1u64 << 56) as f64).round() as u64;
        r >= threshold
    }

    /// Drops what is not sampled.
    pub fn process(&self, d: &mut Decoded) {
        match d {
            Decoded::Traces(r) => {
                for rs in &mut r.resource_spans {
                    for ss in &mut rs.scope_spans {
                        ss.spans.retain(|s| {
                            priority(&s.attributes, "sampling.priority").unwrap_or_else(|| self.keep(&s.trace_id))
                        });
                    }
                    rs.scope_spans.retain(|ss| !ss.spans.is_empty());
                }
                r.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
            }
            Decoded::Logs(r) => {
                let prio = self.config.sampling_priority.clone();
                for rl in &mut r.resource_logs {
                    for sl in &mut rl.scope_logs {
                        sl.log_records.retain(|l| {
                            if !prio.is_empty() {
                                if let Some(p) = priority(&l.attributes, &prio) {
                                    return p;
                                }
                            }
                            if self.config.attribute_source == "record" {
                                let v = l.attributes.iter().find(|a| a.key == self.config.from_attribute);
                                let text = v.and_then(|a| a.value.as_ref()).map(crate::processor::actions::text);
                                return self.keep(text.as_deref().unwrap_or("").as_bytes());
                            }
                            self.keep(&l.trace_id)
                        });
                    }
                    rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
                }
                r.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
            }
            Decoded::Metrics(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_share_asked_is_kept_and_a_trace_is_decided_as_one() {
        for (mode, seed) in [("", 0u32), ("hash_seed", 22)] {
            let s = Sampler::new(&Config {
                sampling_percentage: 25.0,
                mode: mode.into(),
                hash_seed: seed,
                ..Default::default()
            });
            let mut kept = 0;
            for i in 0u64..4000 {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
                id[8..].copy_from_slice(&(i ^ 0x5bd1_e995).wrapping_mul(0xbf58_476d_1ce4_e5b9).to_be_bytes());
                let k = s.keep(&id);
                assert_eq!(k, s.keep(&id), "the same trace, the same decision");
                kept += usize::from(k);
            }
            assert!((800..1200).contains(&kept), "mode {mode:?}: kept {kept} of 4000 at 25%");
        }
        let none = Sampler::new(&Config { sampling_percentage: 0.0, ..Default::default() });
        let mut d = Decoded::Traces(crate::testing::spans("svc", 3));
        none.process(&mut d);
        assert_eq!(d.encode().items, 0);
        assert_eq!(fnv1a(&[b"a"]), 0xe40c_292c);
    }
}
