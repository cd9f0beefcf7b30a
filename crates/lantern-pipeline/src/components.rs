//! The components Lantern runs, by type, with their configurations decoded strictly
//! (an unknown key is an error naming its path, as the Collector's decoder does) and the
//! signals each supports.

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use crate::exporter;
use crate::id::{Kind, Signal};
use crate::processor::{attributes, batch, filter, memory_limiter, sampler, tail_sampling, transform};
use crate::receiver::{filelog, jaeger, loki, otlp, prometheus};

/// A receiver's configuration (built once at start: its size does not matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Receiver {
    /// `otlp`.
    Otlp(otlp::Config),
    /// `jaeger` (gRPC `PostSpans`).
    Jaeger(jaeger::Config),
    /// `loki` (the push API).
    Loki(loki::Config),
    /// `filelog`.
    Filelog(filelog::Config),
    /// `prometheus` (scrape_configs).
    Prometheus(prometheus::Config),
}

/// A processor's configuration.
#[derive(Debug, Clone)]
pub enum Processor {
    /// `batch`.
    Batch(batch::Config),
    /// `memory_limiter`.
    MemoryLimiter(memory_limiter::Config),
    /// `attributes`.
    Attributes(attributes::Config),
    /// `resource`.
    Resource(attributes::ResourceConfig),
    /// `filter`.
    Filter(filter::Config),
    /// `transform`.
    Transform(transform::Config),
    /// `probabilistic_sampler`.
    Sampler(sampler::Config),
    /// `tail_sampling`.
    TailSampling(tail_sampling::Config),
}

/// An exporter's configuration.
#[derive(Debug, Clone)]
pub enum Exporter {
    /// `otlp` / `otlp_grpc`.
    Otlp(exporter::otlp::Config),
    /// `otlphttp` / `otlp_http`.
    OtlpHttp(exporter::otlphttp::Config),
    /// `debug`.
    Debug(exporter::debug::Config),
    /// `jaeger` (gRPC `PostSpans`).
    Jaeger(exporter::otlp::Config),
    /// `loki`.
    Loki(exporter::loki::Config),
    /// `prometheus`.
    Prometheus(exporter::prometheus::Config),
    /// `prometheusremotewrite` / `prometheus_remote_write`.
    RemoteWrite(exporter::remote_write::Config),
    /// `file`.
    File(exporter::file::Config),
}

/// A connector's configuration.
#[derive(Debug, Clone)]
pub struct Connector {
    /// What it makes.
    pub kind: crate::connector::Kind,
    /// Its settings.
    pub config: crate::connector::Config,
}

impl Connector {
    /// The connector of type `ty` configured by `v`.
    pub fn decode(ty: &str, id: &str, v: Value) -> Result<Self, String> {
        let kind = match ty {
            "spanmetrics" | "span_metrics" => crate::connector::Kind::SpanMetrics,
            "servicegraph" | "service_graph" => crate::connector::Kind::ServiceGraph,
            _ => return Err(unknown(Kind::Connector, ty, id)),
        };
        read(v, crate::connector::Config::problems).map(|config| Connector { kind, config })
    }

    /// The signal it takes (as an exporter) and the one it makes (as a receiver).
    pub fn signals(&self) -> (Signal, Signal) {
        (Signal::Traces, Signal::Metrics)
    }
}

/// Types of each kind Lantern runs.
const RECEIVERS: &[&str] = &["filelog", "jaeger", "loki", "otlp", "prometheus"];
const PROCESSORS: &[&str] = &[
    "attributes",
    "batch",
    "filter",
    "memory_limiter",
    "probabilistic_sampler",
    "resource",
    "tail_sampling",
    "transform",
];
const EXPORTERS: &[&str] = &[
    "debug",
    "file",
    "jaeger",
    "loki",
    "otlp",
    "otlp_grpc",
    "otlp_http",
    "otlphttp",
    "prometheus",
    "prometheus_remote_write",
    "prometheusremotewrite",
];

/// Collector component types Lantern does not run yet (a clearer refusal than "unknown").
const NOT_YET: &[(Kind, &str)] =
    &[(Kind::Receiver, "prometheus"), (Kind::Extension, "pprof"), (Kind::Extension, "zpages")];

/// The refusal of a type that is not one of `kind`'s.
fn unknown(kind: Kind, ty: &str, id: &str) -> String {
    if kind == Kind::Exporter && ty == "logging" {
        return "the logging exporter has been deprecated, use the debug exporter instead".into();
    }
    if NOT_YET.contains(&(kind, ty)) {
        return format!("the {ty} {} is not supported by Lantern yet (id: {id:?})", kind.as_str());
    }
    let valid = match kind {
        Kind::Receiver => RECEIVERS,
        Kind::Processor => PROCESSORS,
        Kind::Exporter => EXPORTERS,
        Kind::Connector => &["service_graph", "servicegraph", "span_metrics", "spanmetrics"],
        Kind::Extension => &["file_storage", "health_check"],
    };
    format!("unknown type: {ty:?} for id: {id:?} (valid values: [{}])", valid.join(" "))
}

/// Decodes a component's section (empty means every default); problems carry the key
/// path within it.
fn decode<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    let v = if v.is_null() { Value::Mapping(Default::default()) } else { v };
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string().replace('.', "::");
        let inner = e.into_inner().to_string();
        if path == "?" || path == "::" || path.is_empty() {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// Decodes a component's section and checks it with its own `problems`.
fn read<T: DeserializeOwned>(v: Value, problems: fn(&T) -> Vec<String>) -> Result<T, String> {
    let c: T = decode(v)?;
    let p = problems(&c);
    if p.is_empty() {
        Ok(c)
    } else {
        Err(p.join("; "))
    }
}

impl Receiver {
    /// The receiver of type `ty` (ID `id`) configured by `v`.
    pub fn decode(ty: &str, id: &str, v: Value) -> Result<Self, String> {
        match ty {
            "otlp" => read(v, otlp::Config::problems).map(Receiver::Otlp),
            "jaeger" => read(v, jaeger::Config::problems).map(Receiver::Jaeger),
            "loki" => read(v, loki::Config::problems).map(Receiver::Loki),
            "filelog" => read(v, filelog::Config::problems).map(Receiver::Filelog),
            "prometheus" => read(v, prometheus::Config::problems).map(Receiver::Prometheus),
            _ => Err(unknown(Kind::Receiver, ty, id)),
        }
    }

    /// Whether it produces `signal`.
    pub fn supports(&self, signal: Signal) -> bool {
        match self {
            Receiver::Otlp(_) => true,
            Receiver::Jaeger(_) => signal == Signal::Traces,
            Receiver::Loki(_) | Receiver::Filelog(_) => signal == Signal::Logs,
            Receiver::Prometheus(_) => signal == Signal::Metrics,
        }
    }
}

impl Processor {
    /// The processor of type `ty` configured by `v`.
    pub fn decode(ty: &str, id: &str, v: Value) -> Result<Self, String> {
        match ty {
            "batch" => read(v, batch::Config::problems).map(Processor::Batch),
            "memory_limiter" => read(v, memory_limiter::Config::problems).map(Processor::MemoryLimiter),
            "attributes" => read(v, attributes::Config::problems).map(Processor::Attributes),
            "resource" => read(v, attributes::ResourceConfig::problems).map(Processor::Resource),
            "filter" => read(v, filter::Config::problems).map(Processor::Filter),
            "transform" => read(v, transform::Config::problems).map(Processor::Transform),
            "probabilistic_sampler" => read(v, sampler::Config::problems).map(Processor::Sampler),
            "tail_sampling" => read(v, tail_sampling::Config::problems).map(Processor::TailSampling),
            _ => Err(unknown(Kind::Processor, ty, id)),
        }
    }

    /// Whether it handles `signal`.
    pub fn supports(&self, signal: Signal) -> bool {
        match self {
            Processor::Sampler(_) => signal != Signal::Metrics,
            Processor::TailSampling(_) => signal == Signal::Traces,
            _ => true,
        }
    }
}

impl Exporter {
    /// The exporter of type `ty` configured by `v`.
    pub fn decode(ty: &str, id: &str, v: Value) -> Result<Self, String> {
        match ty {
            "otlp" | "otlp_grpc" => read(v, exporter::otlp::Config::problems).map(Exporter::Otlp),
            "otlphttp" | "otlp_http" => read(v, exporter::otlphttp::Config::problems).map(Exporter::OtlpHttp),
            "debug" => read(v, exporter::debug::Config::problems).map(Exporter::Debug),
            "jaeger" => read(v, exporter::otlp::Config::problems).map(Exporter::Jaeger),
            "loki" => read(v, exporter::loki::Config::problems).map(Exporter::Loki),
            "prometheus" => read(v, exporter::prometheus::Config::problems).map(Exporter::Prometheus),
            "file" => read(v, exporter::file::Config::problems).map(Exporter::File),
            "prometheusremotewrite" | "prometheus_remote_write" => {
                read(v, exporter::remote_write::Config::problems).map(Exporter::RemoteWrite)
            }
            _ => Err(unknown(Kind::Exporter, ty, id)),
        }
    }

    /// Whether it sends `signal`.
    pub fn supports(&self, signal: Signal) -> bool {
        match self {
            Exporter::Otlp(_) | Exporter::OtlpHttp(_) | Exporter::Debug(_) | Exporter::File(_) => true,
            Exporter::Jaeger(_) => signal == Signal::Traces,
            Exporter::Loki(_) => signal == Signal::Logs,
            Exporter::Prometheus(_) | Exporter::RemoteWrite(_) => signal == Signal::Metrics,
        }
    }
}

impl Exporter {
    /// Its sending queue's settings, if it has one.
    pub fn queue(&self) -> Option<&crate::settings::QueueSettings> {
        match self {
            Exporter::Otlp(c) | Exporter::Jaeger(c) => Some(&c.sending_queue),
            Exporter::OtlpHttp(c) => Some(&c.sending_queue),
            Exporter::Loki(c) => Some(&c.sending_queue),
            Exporter::Debug(c) => Some(&c.sending_queue),
            Exporter::Prometheus(_) | Exporter::RemoteWrite(_) | Exporter::File(_) => None,
        }
    }
}

/// The extension of type `ty` configured by `v`.
pub fn extension(ty: &str, id: &str, v: Value) -> Result<crate::extension::Extension, String> {
    use crate::extension::Extension;
    match ty {
        "file_storage" => Ok(Extension::FileStorage(decode(v)?)),
        "health_check" | "healthcheck" => Ok(Extension::HealthCheck(decode(v)?)),
        _ => Err(unknown(Kind::Extension, ty, id)),
    }
}
