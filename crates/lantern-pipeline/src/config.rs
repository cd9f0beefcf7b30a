//! A Collector configuration, decoded and validated as the Collector's `validate`
//! does: the sections and their components, the service's pipelines, every reference
//! checked, each component checked for the signals of the pipelines naming it. Every
//! problem is reported, each with its path (`service::pipelines::traces: references
//! receiver "x" which is not configured`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use crate::components::{extension, Connector, Exporter, Processor, Receiver};
use crate::extension::Extension;
use crate::id::{ComponentId, PipelineId};

/// One pipeline's components, in order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pipeline {
    /// Where its data comes from.
    pub receivers: Vec<String>,
    /// What changes it, in order.
    pub processors: Vec<String>,
    /// Where it goes.
    pub exporters: Vec<String>,
}

/// A pipeline with its components' IDs parsed.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// Its ID.
    pub id: PipelineId,
    /// Receivers.
    pub receivers: Vec<ComponentId>,
    /// Processors, in order.
    pub processors: Vec<ComponentId>,
    /// Exporters.
    pub exporters: Vec<ComponentId>,
}

/// `service::telemetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// Lantern's own metrics.
    pub metrics: TelemetryMetrics,
    /// Accepted for compatibility (Lantern's `--log-level` applies).
    pub logs: Option<Value>,
    /// Accepted for compatibility.
    pub traces: Option<Value>,
    /// Accepted for compatibility.
    pub resource: Option<Value>,
}

/// `service::telemetry::metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryMetrics {
    /// `none`, `basic`, `normal` (default) or `detailed`: `none` serves nothing.
    pub level: String,
    /// Where `/metrics` is served (the Collector's older key).
    pub address: Option<String>,
    /// `[{pull: {exporter: {prometheus: {host, port}}}}]`.
    pub readers: Vec<Value>,
}

impl Default for TelemetryMetrics {
    fn default() -> Self {
        Self { level: "normal".into(), address: None, readers: Vec::new() }
    }
}

impl TelemetryMetrics {
    /// Where Lantern's own metrics are served (`None`: not served).
    pub fn address(&self) -> Result<Option<String>, String> {
        if self.level.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        for r in &self.readers {
            let p = &r["pull"]["exporter"]["prometheus"];
            if p.is_mapping() {
                let host = p["host"].as_str().unwrap_or("localhost");
                let port = p["port"]
                    .as_u64()
                    .ok_or("service::telemetry::metrics::readers: a prometheus reader needs a port")?;
                return Ok(Some(format!("{host}:{port}")));
            }
        }
        Ok(Some(self.address.clone().unwrap_or_else(|| "localhost:8888".into())))
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Receivers by ID.
    pub receivers: BTreeMap<ComponentId, Receiver>,
    /// Processors by ID.
    pub processors: BTreeMap<ComponentId, Processor>,
    /// Exporters by ID.
    pub exporters: BTreeMap<ComponentId, Exporter>,
    /// Connectors by ID.
    pub connectors: BTreeMap<ComponentId, Connector>,
    /// Extensions enabled in `service::extensions`, in order.
    pub extensions: Vec<(ComponentId, Extension)>,
    /// The pipelines.
    pub pipelines: Vec<PipelineSpec>,
    /// Self-telemetry.
    pub telemetry: Telemetry,
    /// Things worth a warning (unused components).
    pub warnings: Vec<String>,
}

/// Top-level sections.
const SECTIONS: [&str; 6] = ["receivers", "processors", "exporters", "connectors", "extensions", "service"];

fn section(doc: &Mapping, name: &str, problems: &mut Vec<String>) -> Vec<(ComponentId, Value)> {
    let mut out = Vec::new();
    match doc.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(m)) => {
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                };
                match ComponentId::parse(&key) {
                    Ok(id) if out.iter().any(|(o, _): &(ComponentId, Value)| *o == id) => {
                        problems.push(format!("{name}: duplicate name {:?}", id.to_string()));
                    }
                    Ok(id) => out.push((id, v.clone())),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
        }
        Some(_) => problems.push(format!("'{name}' expected a map")),
    }
    out
}

/// Every component of a section, decoded; one whose configuration is wrong is reported
/// (with its path) and listed in `failed`.
fn components<T>(
    doc: &Mapping,
    name: &str,
    decode: impl Fn(&str, &str, Value) -> Result<T, String>,
    problems: &mut Vec<String>,
    failed: &mut Vec<ComponentId>,
) -> BTreeMap<ComponentId, T> {
    let mut out = BTreeMap::new();
    for (id, v) in section(doc, name, problems) {
        match decode(&id.kind, &id.to_string(), v) {
            Ok(c) => {
                out.insert(id, c);
            }
            Err(e) => {
                problems.push(format!("{name}::{id}: {e}"));
                failed.push(id);
            }
        }
    }
    out
}

impl Config {
    /// Decodes and validates a resolved document; every problem if it is not valid.
    pub fn from_value(doc: &Value) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let Some(doc) = doc.as_mapping() else {
            return Err(vec!["the configuration must be a map".into()]);
        };
        if doc.is_empty() {
            return Err(vec!["empty configuration file".into()]);
        }
        let unknown: Vec<String> =
            doc.keys().filter_map(|k| k.as_str()).filter(|k| !SECTIONS.contains(k)).map(str::to_string).collect();
        if !unknown.is_empty() {
            problems.push(format!("'' has invalid keys: {}", unknown.join(", ")));
        }
        // Components whose own configuration is wrong (not reported again as missing).
        let mut failed = Vec::new();
        let receivers = components(doc, "receivers", Receiver::decode, &mut problems, &mut failed);
        let processors = components(doc, "processors", Processor::decode, &mut problems, &mut failed);
        let exporters = components(doc, "exporters", Exporter::decode, &mut problems, &mut failed);
        let mut connectors = components(doc, "connectors", Connector::decode, &mut problems, &mut failed);
        connectors.retain(|id, _| {
            let other = match (receivers.contains_key(id), exporters.contains_key(id)) {
                (true, _) => "receiver",
                (_, true) => "exporter",
                _ => return true,
            };
            problems.push(format!(
                "connectors::{id}: ambiguous ID: Found both {id:?} {other} and {id:?} connector. Change one of the components' IDs to eliminate ambiguity (e.g. rename {id:?} connector to \"{id}/connector\")",
                id = id.to_string()
            ));
            false
        });
        let declared_extensions = components(doc, "extensions", extension, &mut problems, &mut failed);
        if receivers.is_empty() && !problems.iter().any(|p| p.starts_with("receivers::")) {
            problems.push("no receiver configuration specified in config".into());
        }
        if exporters.is_empty() && !problems.iter().any(|p| p.starts_with("exporters::")) {
            problems.push("no exporter configuration specified in config".into());
        }

        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct Service {
            extensions: Vec<String>,
            pipelines: BTreeMap<String, Value>,
            telemetry: Telemetry,
        }
        let service: Service = match doc.get("service") {
            None | Some(Value::Null) => Service::default(),
            Some(v) => match serde_path_to_error::deserialize(v.clone()) {
                Ok(s) => s,
                Err(e) => {
                    let at = e.path().to_string().replace('.', "::");
                    problems.push(format!("service::{at}: {}", e.into_inner()));
                    Service::default()
                }
            },
        };
        let mut extensions = Vec::new();
        for x in &service.extensions {
            match ComponentId::parse(x) {
                Ok(id) => match declared_extensions.get(&id) {
                    Some(e) => extensions.push((id, e.clone())),
                    None if failed.contains(&id) => {}
                    None => problems
                        .push(format!("service::extensions: references extension {x:?} which is not configured")),
                },
                Err(e) => problems.push(format!("service::extensions: {e}")),
            }
        }
        for (id, e) in &exporters {
            let Some(storage) = e.queue().and_then(|q| q.storage.as_ref()) else { continue };
            let found = ComponentId::parse(storage).ok().and_then(|s| extensions.iter().find(|(x, _)| *x == s));
            match found {
                Some((_, Extension::FileStorage(_))) => {}
                Some(_) => problems.push(format!("exporters::{id}: sending_queue::storage: {storage:?} is not a storage extension")),
                None => problems.push(format!(
                    "exporters::{id}: sending_queue::storage: storage extension {storage:?} is not configured and enabled in service::extensions"
                )),
            }
        }
        if service.pipelines.is_empty() {
            problems.push("service::pipelines: service must have at least one pipeline".into());
        }
        let mut pipelines = Vec::new();
        for (name, v) in &service.pipelines {
            let path = format!("service::pipelines::{name}");
            let id = match PipelineId::parse(name) {
                Ok(id) => id,
                Err(e) => {
                    problems.push(format!("{path}: {e}"));
                    continue;
                }
            };
            let v = if v.is_null() { Value::Mapping(Mapping::new()) } else { v.clone() };
            let p: Pipeline = match serde_path_to_error::deserialize(v) {
                Ok(p) => p,
                Err(e) => {
                    let at = e.path().to_string();
                    problems.push(format!("{path}::{at}: {}", e.into_inner()));
                    continue;
                }
            };
            let mut found = Vec::new();
            let spec = check_pipeline(&path, id, &p, &receivers, &processors, &exporters, &connectors, &mut found);
            problems.extend(found.into_iter().filter(|f| {
                !failed.iter().any(|id| f.ends_with(&format!("{:?} which is not configured", id.to_string())))
            }));
            pipelines.push(spec);
        }
        if let Err(e) = service.telemetry.metrics.address() {
            problems.push(e);
        }
        for (id, c) in &connectors {
            let (takes, makes) = c.signals();
            let as_exporter: Vec<&PipelineSpec> = pipelines.iter().filter(|p| p.exporters.contains(id)).collect();
            let as_receiver: Vec<&PipelineSpec> = pipelines.iter().filter(|p| p.receivers.contains(id)).collect();
            for p in &as_exporter {
                if p.id.signal != takes || as_receiver.iter().all(|r| r.id.signal != makes) {
                    problems.push(format!(
                        "failed to build pipelines: connector {:?} used as exporter in [{}] pipeline but not used in any supported receiver pipeline",
                        id.to_string(),
                        p.id
                    ));
                }
            }
            for p in &as_receiver {
                if p.id.signal != makes || as_exporter.iter().all(|e| e.id.signal != takes) {
                    problems.push(format!(
                        "failed to build pipelines: connector {:?} used as receiver in [{}] pipeline but not used in any supported exporter pipeline",
                        id.to_string(),
                        p.id
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut warnings = Vec::new();
        let used = |id: &ComponentId, pick: fn(&PipelineSpec) -> &Vec<ComponentId>| {
            pipelines.iter().any(|p| pick(p).contains(id))
        };
        for id in receivers.keys().filter(|id| !used(id, |p| &p.receivers)) {
            warnings.push(format!("receivers::{id} is not used by any pipeline"));
        }
        for id in processors.keys().filter(|id| !used(id, |p| &p.processors)) {
            warnings.push(format!("processors::{id} is not used by any pipeline"));
        }
        for id in exporters.keys().filter(|id| !used(id, |p| &p.exporters)) {
            warnings.push(format!("exporters::{id} is not used by any pipeline"));
        }
        for id in connectors.keys().filter(|id| !used(id, |p| &p.exporters)) {
            warnings.push(format!("connectors::{id} is not used by any pipeline"));
        }
        Ok(Config {
            receivers,
            processors,
            exporters,
            connectors,
            extensions,
            pipelines,
            telemetry: service.telemetry,
            warnings,
        })
    }

    /// The pipelines as text, one per line: `traces: otlp → memory_limiter → batch → jaeger`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for p in &self.pipelines {
            let names = |ids: &[ComponentId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let mut parts = vec![names(&p.receivers)];
            parts.extend(p.processors.iter().map(ToString::to_string));
            parts.push(names(&p.exporters));
            out.push_str(&format!("{}: {}\n", p.id, parts.join(" → ")));
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn check_pipeline(
    path: &str,
    id: PipelineId,
    p: &Pipeline,
    receivers: &BTreeMap<ComponentId, Receiver>,
    processors: &BTreeMap<ComponentId, Processor>,
    exporters: &BTreeMap<ComponentId, Exporter>,
    connectors: &BTreeMap<ComponentId, Connector>,
    problems: &mut Vec<String>,
) -> PipelineSpec {
    let signal = id.signal;
    if p.receivers.is_empty() {
        problems.push(format!("{path}: must have at least one receiver"));
    }
    if p.exporters.is_empty() {
        problems.push(format!("{path}: must have at least one exporter"));
    }
    let mut ids = |names: &[String], what: &str| -> Vec<ComponentId> {
        let mut out: Vec<ComponentId> = Vec::new();
        for n in names {
            match ComponentId::parse(n) {
                Ok(c) => {
                    if what == "processor" && out.contains(&c) {
                        problems.push(format!("{path}: references processor {n:?} multiple times"));
                    }
                    out.push(c);
                }
                Err(e) => problems.push(format!("{path}: {e}")),
            }
        }
        out
    };
    let spec = PipelineSpec {
        id: id.clone(),
        receivers: ids(&p.receivers, "receiver"),
        processors: ids(&p.processors, "processor"),
        exporters: ids(&p.exporters, "exporter"),
    };
    let unsupported = |kind: &str, c: &ComponentId| {
        match kind {
        "processor" => format!(
            "failed to build pipelines: failed to create {:?} processor, in pipeline {:?}: telemetry type is not supported",
            c.to_string(),
            id.to_string()
        ),
        _ => format!(
            "failed to build pipelines: failed to create {:?} {kind} for data type {:?}: telemetry type is not supported",
            c.to_string(),
            signal.as_str()
        ),
    }
    };
    for c in &spec.receivers {
        match receivers.get(c) {
            None if connectors.contains_key(c) => {}
            None => problems.push(format!("{path}: references receiver {:?} which is not configured", c.to_string())),
            Some(r) if !r.supports(signal) => problems.push(unsupported("receiver", c)),
            _ => {}
        }
    }
    for c in &spec.processors {
        match processors.get(c) {
            None => problems.push(format!("{path}: references processor {:?} which is not configured", c.to_string())),
            Some(x) if !x.supports(signal) => problems.push(unsupported("processor", c)),
            _ => {}
        }
    }
    for c in &spec.exporters {
        match exporters.get(c) {
            None if connectors.contains_key(c) => {}
            None => problems.push(format!("{path}: references exporter {:?} which is not configured", c.to_string())),
            Some(x) if !x.supports(signal) => problems.push(unsupported("exporter", c)),
            _ => {}
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        Config::from_value(&serde_yaml::from_str(yaml).unwrap()).unwrap_err()
    }

    #[test]
    fn the_seeds_collector_config_is_valid_as_written() {
        let text = include_str!("../testdata/otel-collector-config.yaml");
        let c = Config::from_value(&serde_yaml::from_str(text).unwrap()).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.describe(),
            "logs: otlp → memory_limiter → batch → loki\n\
             metrics: otlp → memory_limiter → batch → prometheus\n\
             traces: otlp → memory_limiter → batch → jaeger\n"
        );
        let Some(Processor::Batch(b)) = c.processors.get(&ComponentId::parse("batch").unwrap()) else { panic!() };
        assert_eq!((b.timeout.0.as_secs(), b.send_batch_size), (10, 8192));
        assert_eq!(c.telemetry.metrics.address().unwrap().as_deref(), Some("localhost:8888"));
    }

    #[test]
    fn invalid_pipelines_are_refused_with_the_path_of_each_problem() {
        let p = problems(
            "receivers: {otlp: {protocols: {grpc: ~}}, prometheus/x: {}}\n\
             processors: {batch: {send_batch_size: 10, send_batch_max_size: 5}, nosuch: {}}\n\
             exporters: {loki: {endpoint: 'http://l/push'}, otlp: {}, logging: {}}\n\
             service:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      processors: [batch, batch]\n      exporters: [loki]\n    metrics:\n      receivers: [otlp]\n    spans/x:\n      receivers: [otlp]\n",
        );
        let expect = [
            "receivers::prometheus/x: missing field `config`",
            "processors::batch: send_batch_max_size must be greater or equal to send_batch_size",
            r#"processors::nosuch: unknown type: "nosuch" for id: "nosuch" (valid values: [attributes batch filter memory_limiter probabilistic_sampler resource tail_sampling transform])"#,
            "exporters::logging: the logging exporter has been deprecated, use the debug exporter instead",
            "exporters::otlp: requires a non-empty \"endpoint\"",
            "service::pipelines::metrics: must have at least one exporter",
            r#"service::pipelines::spans/x: unknown pipeline signal: "spans""#,
            r#"service::pipelines::traces: references processor "batch" multiple times"#,
            r#"service::pipelines::traces: references receiver "zipkin" which is not configured"#,
            r#"failed to build pipelines: failed to create "loki" exporter for data type "traces": telemetry type is not supported"#,
        ];
        for e in expect {
            assert!(p.contains(&e.to_string()), "missing {e:?} in {p:#?}");
        }
        let p = problems("receivers:\n  otlp:\n    protocols:\n      htttp:\nexporters: {debug: ~}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n");
        assert_eq!(
            p,
            vec!["receivers::otlp: protocols::htttp: unknown field `htttp`, expected `grpc` or `http`".to_string()]
        );
        let p = problems("receivers: {otlp: {}}\nexporters: {debug: ~}\nservice: {pipelines: {}}\n");
        assert!(
            p.contains(&"receivers::otlp: must specify at least one protocol when using the OTLP receiver".to_string())
        );
        assert!(p.contains(&"service::pipelines: service must have at least one pipeline".to_string()));
        assert_eq!(problems("{}"), vec!["empty configuration file".to_string()]);
        let p = problems("receivers: {otlp: {protocols: {http: ~}}}\nexporters: {debug: ~, otlp/unused: {endpoint: 'x:1'}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\nextra: 1\n");
        assert_eq!(p, vec!["'' has invalid keys: extra".to_string()]);
        let ok = Config::from_value(
            &serde_yaml::from_str("receivers: {otlp: {protocols: {http: ~}}}\nexporters: {debug: ~, otlp/unused: {endpoint: 'x:1'}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(ok.warnings, vec!["exporters::otlp/unused is not used by any pipeline".to_string()]);

        // A connector joins a traces pipeline to a metrics pipeline, and nothing else.
        let base = "receivers: {otlp: {protocols: {grpc: ~}}}\nexporters: {debug: ~}\nconnectors: {spanmetrics: ~}\n";
        let ok = Config::from_value(
            &serde_yaml::from_str(&format!("{base}service: {{pipelines: {{traces: {{receivers: [otlp], exporters: [spanmetrics]}}, metrics: {{receivers: [spanmetrics], exporters: [debug]}}}}}}")).unwrap(),
        )
        .unwrap();
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
        let p = problems(&format!("{base}service: {{pipelines: {{traces: {{receivers: [otlp], exporters: [spanmetrics]}}, logs: {{receivers: [spanmetrics], exporters: [debug]}}}}}}"));
        assert_eq!(
            p,
            vec![
                r#"failed to build pipelines: connector "spanmetrics" used as exporter in [traces] pipeline but not used in any supported receiver pipeline"#.to_string(),
                r#"failed to build pipelines: connector "spanmetrics" used as receiver in [logs] pipeline but not used in any supported exporter pipeline"#.to_string(),
            ]
        );
    }
}
