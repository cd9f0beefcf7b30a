//! Names in a Collector configuration: component IDs (`type` or `type/name`), the
//! signals, and pipeline IDs (`traces`, `metrics/backend`), checked as the Collector
//! checks them.

use std::fmt;

/// A signal a pipeline carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// Every signal, in the order pipelines are listed.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The name in configurations and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// What one item of this signal is called in counts (`spans`, `metric_points`,
    /// `log_records`), as the Collector's own metrics name them.
    pub fn items(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Takes data in.
    Receiver,
    /// Changes data on its way.
    Processor,
    /// Sends data out.
    Exporter,
    /// An exporter of one pipeline that is a receiver of another.
    Connector,
    /// Runs beside the pipelines.
    Extension,
}

impl Kind {
    /// The singular name (`receiver`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }

    /// The configuration section (`receivers`).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }
}

/// A component's ID: its type and an optional name (`otlp`, `otlp/backend`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    /// The component type (`otlp`).
    pub kind: String,
    /// The name after `/`, if any.
    pub name: Option<String>,
}

impl ComponentId {
    /// Parses `type` or `type/name`, with the Collector's rules and messages.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("id must not be empty".into());
        }
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => {
                let (t, n) = (t.trim(), n.trim());
                if t.is_empty() {
                    return Err(format!("in {s:?} id: the part before / should not be empty"));
                }
                if n.is_empty() {
                    return Err(format!("in {s:?} id: the part after / should not be empty"));
                }
                (t, Some(n))
            }
            None => (s.trim(), None),
        };
        if !valid_type(ty) {
            return Err(format!("invalid character(s) in type {ty:?}"));
        }
        if let Some(n) = name {
            check_name(n)?;
        }
        Ok(Self { kind: ty.to_string(), name: name.map(str::to_string) })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// `^[a-zA-Z][0-9a-zA-Z_]{0,62}$`.
fn valid_type(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A name: at most 1024 characters, none of them a space, control or symbol character.
fn check_name(n: &str) -> Result<(), String> {
    let chars = n.chars().count();
    if chars > 1024 {
        return Err(format!("name {n:?} is longer than 1024 characters ({chars} characters)"));
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || "$+<=>^`|~".contains(c);
    if n.chars().any(bad) {
        return Err(format!("invalid character(s) in name {n:?}"));
    }
    Ok(())
}

/// A pipeline's ID: its signal and an optional name (`traces`, `logs/raw`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    /// The signal it carries.
    pub signal: Signal,
    /// The name after `/`, if any.
    pub name: Option<String>,
}

impl PipelineId {
    /// Parses `signal` or `signal/name`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (sig, name) = match s.split_once('/') {
            Some((t, n)) => {
                if n.trim().is_empty() {
                    return Err(format!("in {s:?} id: the part after / should not be empty"));
                }
                check_name(n.trim())?;
                (t.trim(), Some(n.trim().to_string()))
            }
            None => (s.trim(), None),
        };
        let signal = match sig {
            "traces" => Signal::Traces,
            "metrics" => Signal::Metrics,
            "logs" => Signal::Logs,
            "profiles" => {
                return Err(format!(
                    "pipeline {s:?}: profiling signal support is at alpha level and not supported by Lantern"
                ))
            }
            other => return Err(format!("unknown pipeline signal: {other:?}")),
        };
        Ok(Self { signal, name })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.signal),
            None => f.write_str(self.signal.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_and_refused_as_the_collector_does() {
        let id = ComponentId::parse("otlp/backend").unwrap();
        assert_eq!((id.kind.as_str(), id.name.as_deref()), ("otlp", Some("backend")));
        assert_eq!(ComponentId::parse(" nop / a ").unwrap().to_string(), "nop/a");
        assert_eq!(ComponentId::parse("/x").unwrap_err(), r#"in "/x" id: the part before / should not be empty"#);
        assert_eq!(ComponentId::parse("x/").unwrap_err(), r#"in "x/" id: the part after / should not be empty"#);
        assert_eq!(ComponentId::parse("").unwrap_err(), "id must not be empty");
        assert_eq!(ComponentId::parse("1otlp").unwrap_err(), r#"invalid character(s) in type "1otlp""#);
        assert_eq!(ComponentId::parse("otlp/a b").unwrap_err(), r#"invalid character(s) in name "a b""#);
        let p = PipelineId::parse("traces/raw").unwrap();
        assert_eq!((p.signal, p.to_string()), (Signal::Traces, "traces/raw".to_string()));
        assert_eq!(PipelineId::parse("spans").unwrap_err(), r#"unknown pipeline signal: "spans""#);
    }
}
