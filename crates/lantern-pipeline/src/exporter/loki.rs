//! The `loki` exporter (the seed's; removed from the upstream Collector in 2025): log
//! records pushed to Loki's `/loki/api/v1/push` as JSON streams. Labels as the
//! exporter set them: `job` (`service.namespace/service.name`), `instance`
//! (`service.instance.id`), `exporter="OTLP"`, `level`, plus the attributes named by
//! the `loki.attribute.labels` and `loki.resource.labels` hints; each line is the
//! record as JSON (`body`, `traceid`, `spanid`, `severity`, `attributes`, `resources`,
//! `instrumentation_scope`).

use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use serde::Deserialize;

use lantern_traces::model::hex;

use crate::consumer::BoxFuture;
use crate::data::Payload;
use crate::exporter::http::HttpClient;
use crate::exporter::{Delivery, SendError, Sender};
use crate::settings::{
    compression_problem, five_seconds, GoDuration, Headers, QueueSettings, RetrySettings, TlsSettings,
};

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The push URL (`http://loki:3100/loki/api/v1/push`).
    pub endpoint: String,
    /// Which default labels are set (`exporter`, `job`, `instance`, `level`; all by default).
    pub default_labels_enabled: BTreeMap<String, bool>,
    /// Headers sent with each request.
    pub headers: Headers,
    /// TLS.
    pub tls: TlsSettings,
    /// `none` (default) or `gzip`.
    pub compression: String,
    /// One request's time limit.
    pub timeout: GoDuration,
    /// Retries.
    pub retry_on_failure: RetrySettings,
    /// The queue.
    pub sending_queue: QueueSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            default_labels_enabled: BTreeMap::new(),
            headers: Headers::new(),
            tls: TlsSettings::default(),
            compression: String::new(),
            timeout: five_seconds(),
            retry_on_failure: RetrySettings::default(),
            sending_queue: QueueSettings::default(),
        }
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.endpoint.is_empty() {
            p.push("\"endpoint\" must be a valid URL".into());
        } else if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            p.push(format!("\"endpoint\" must be a valid URL: {:?} has no http:// or https://", self.endpoint));
        }
        for k in self.default_labels_enabled.keys() {
            if !matches!(k.as_str(), "exporter" | "job" | "instance" | "level") {
                p.push(format!("default_labels_enabled: unknown label {k:?}: use exporter, job, instance or level"));
            }
        }
        p.extend(compression_problem(&self.compression));
        p.extend(self.sending_queue.problems());
        p
    }

    /// Queue and retries (the HTTP client bounds each request by `timeout`).
    pub fn delivery(&self) -> Delivery {
        Delivery {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            timeout: std::time::Duration::ZERO,
        }
    }

    fn enabled(&self, label: &str) -> bool {
        self.default_labels_enabled.get(label).copied().unwrap_or(true)
    }
}

/// Pushes log records.
pub struct LokiSender {
    client: HttpClient,
    config: Config,
}

impl LokiSender {
    /// The sender for these settings.
    pub fn new(c: &Config) -> Result<Arc<Self>, String> {
        let client = HttpClient::new(&c.tls, &c.compression, &c.headers, c.timeout.0)?;
        Ok(Arc::new(Self { client, config: c.clone() }))
    }
}

impl Sender for LokiSender {
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let req = ExportLogsServiceRequest::decode(&data.body[..])
                .map_err(|e| SendError::Permanent(format!("cannot decode the log records: {e}")))?;
            let body = push_body(&req, &self.config);
            self.client.post(&self.config.endpoint, "application/json", body.into()).await
        })
    }
}

fn text(v: Option<&AnyValue>) -> String {
    match json(v) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

fn json(v: Option<&AnyValue>) -> serde_json::Value {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => s.clone().into(),
        Some(V::BoolValue(b)) => (*b).into(),
        Some(V::IntValue(i)) => (*i).into(),
        Some(V::DoubleValue(d)) => (*d).into(),
        Some(V::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect::<String>().into(),
        Some(V::ArrayValue(a)) => a.values.iter().map(|x| json(Some(x))).collect(),
        Some(V::KvlistValue(m)) => map(&m.values).into(),
        None => serde_json::Value::Null,
    }
}

fn map(kvs: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    kvs.iter().map(|kv| (kv.key.clone(), json(kv.value.as_ref()))).collect()
}

/// Label names from a hint attribute's value (`a, b.c` → `a`, `b_c`).
fn hinted<'a>(kvs: &'a [KeyValue], hint: &str) -> Vec<&'a str> {
    kvs.iter()
        .find(|kv| kv.key == hint)
        .and_then(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
        .map(|s| s.split(',').map(str::trim).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default()
}

fn label_name(attr: &str) -> String {
    attr.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// The severity as the `level` label: the text lowercased, else the number's range.
fn level(text: &str, number: i32) -> String {
    if text.is_empty() {
        lantern_logs::otlp::severity_level("", number)
    } else {
        text.to_ascii_lowercase()
    }
}

/// The push request: records grouped into streams by their labels.
pub fn push_body(req: &ExportLogsServiceRequest, c: &Config) -> Vec<u8> {
    const HINTS: [&str; 4] = ["loki.attribute.labels", "loki.resource.labels", "loki.format", "loki.tenant"];
    let mut streams: BTreeMap<BTreeMap<String, String>, Vec<(String, String)>> = BTreeMap::new();
    for rl in &req.resource_logs {
        let res = rl.resource.as_ref().map(|r| &r.attributes[..]).unwrap_or_default();
        let get = |k: &str| res.iter().find(|kv| kv.key == k).map(|kv| text(kv.value.as_ref()));
        let mut base = BTreeMap::new();
        if c.enabled("exporter") {
            base.insert("exporter".to_string(), "OTLP".to_string());
        }
        if c.enabled("job") {
            match (get("service.namespace"), get("service.name")) {
                (Some(ns), Some(n)) => base.insert("job".into(), format!("{ns}/{n}")),
                (None, Some(n)) => base.insert("job".into(), n),
                _ => None,
            };
        }
        if let Some(i) = get("service.instance.id").filter(|_| c.enabled("instance")) {
            base.insert("instance".into(), i);
        }
        for a in hinted(res, "loki.resource.labels") {
            if let Some(v) = get(a) {
                base.insert(label_name(a), v);
            }
        }
        let resources: serde_json::Map<_, _> =
            map(res).into_iter().filter(|(k, _)| !HINTS.contains(&k.as_str())).collect();
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                let mut labels = base.clone();
                let lvl = level(&r.severity_text, r.severity_number);
                if c.enabled("level") && !lvl.is_empty() {
                    labels.insert("level".into(), lvl);
                }
                for a in hinted(&r.attributes, "loki.attribute.labels") {
                    if let Some(kv) = r.attributes.iter().find(|kv| kv.key == a) {
                        labels.insert(label_name(a), text(kv.value.as_ref()));
                    }
                }
                let mut line = serde_json::Map::new();
                line.insert("body".into(), json(r.body.as_ref()));
                if !r.trace_id.is_empty() {
                    line.insert("traceid".into(), hex(&r.trace_id).into());
                }
                if !r.span_id.is_empty() {
                    line.insert("spanid".into(), hex(&r.span_id).into());
                }
                if !r.severity_text.is_empty() {
                    line.insert("severity".into(), r.severity_text.clone().into());
                }
                let attrs: serde_json::Map<_, _> =
                    map(&r.attributes).into_iter().filter(|(k, _)| !HINTS.contains(&k.as_str())).collect();
                if !attrs.is_empty() {
                    line.insert("attributes".into(), attrs.into());
                }
                if !resources.is_empty() {
                    line.insert("resources".into(), resources.clone().into());
                }
                if let Some(s) = sl.scope.as_ref().filter(|s| !s.name.is_empty()) {
                    line.insert(
                        "instrumentation_scope".into(),
                        serde_json::json!({"name": s.name, "version": s.version}),
                    );
                }
                let t = if r.time_unix_nano != 0 { r.time_unix_nano } else { r.observed_time_unix_nano };
                streams.entry(labels).or_default().push((t.to_string(), serde_json::Value::Object(line).to_string()));
            }
        }
    }
    let streams: Vec<serde_json::Value> =
        streams.into_iter().map(|(labels, values)| serde_json::json!({"stream": labels, "values": values})).collect();
    serde_json::json!({ "streams": streams }).to_string().into_bytes()
}
