//! Jaeger's gRPC model (`jaeger.api_v2`: `PostSpansRequest`, `Batch`, `Process`,
//! `Span`, …) as prost messages, and the mapping of OTLP spans onto it as the
//! Collector's Jaeger translator does: one batch per resource, `service.name` as the
//! process's service and the other resource attributes as its tags, the scope, kind and
//! status as tags, events as logs, the parent and links as references.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue as OtlpKv};
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans};

/// `jaeger.api_v2.PostSpansRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansRequest {
    /// The spans of one process.
    #[prost(message, optional, tag = "1")]
    pub batch: Option<Batch>,
}

/// `jaeger.api_v2.Batch`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Batch {
    /// The spans.
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
    /// Their process.
    #[prost(message, optional, tag = "2")]
    pub process: Option<Process>,
}

/// `jaeger.api_v2.Process`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Process {
    /// The service.
    #[prost(string, tag = "1")]
    pub service_name: String,
    /// The process's tags.
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

/// `google.protobuf.Timestamp` and `Duration` (same shape).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Time {
    /// Seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Time {
    /// From nanoseconds.
    pub fn from_nanos(ns: i64) -> Self {
        Self { seconds: ns.div_euclid(1_000_000_000), nanos: ns.rem_euclid(1_000_000_000) as i32 }
    }

    /// As nanoseconds.
    pub fn nanos(self) -> i64 {
        self.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(self.nanos))
    }
}

/// `jaeger.api_v2.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    /// 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// The operation.
    #[prost(string, tag = "3")]
    pub operation_name: String,
    /// Parent and links.
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<SpanRef>,
    /// Flags.
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    /// Start.
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Time>,
    /// Duration.
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Time>,
    /// Tags.
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    /// Logs (events).
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<Log>,
    /// A process of its own, overriding the batch's.
    #[prost(message, optional, tag = "10")]
    pub process: Option<Process>,
    /// The process's ID in a trace.
    #[prost(string, tag = "11")]
    pub process_id: String,
    /// Warnings.
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// `jaeger.api_v2.SpanRef`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanRef {
    /// The other span's trace.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// The other span.
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// 0 CHILD_OF, 1 FOLLOWS_FROM.
    #[prost(int32, tag = "3")]
    pub ref_type: i32,
}

/// `jaeger.api_v2.Log`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    /// When.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Time>,
    /// Fields.
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

/// `jaeger.api_v2.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// 0 STRING, 1 BOOL, 2 INT64, 3 FLOAT64, 4 BINARY.
    #[prost(int32, tag = "2")]
    pub v_type: i32,
    /// String value.
    #[prost(string, tag = "3")]
    pub v_str: String,
    /// Boolean value.
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    /// Integer value.
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    /// Float value.
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    /// Binary value.
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

/// The gRPC method spans are posted to.
pub const POST_SPANS: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// The service of a resource with no attributes.
const NO_SERVICE: &str = "OTLPResourceNoServiceName";

fn string_kv(key: &str, v: &str) -> KeyValue {
    KeyValue { key: key.into(), v_type: 0, v_str: v.into(), ..Default::default() }
}

/// An OTLP value as a tag.
fn tag(key: &str, v: Option<&AnyValue>) -> KeyValue {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => string_kv(key, s),
        Some(V::BoolValue(b)) => KeyValue { key: key.into(), v_type: 1, v_bool: *b, ..Default::default() },
        Some(V::IntValue(i)) => KeyValue { key: key.into(), v_type: 2, v_int64: *i, ..Default::default() },
        Some(V::DoubleValue(d)) => KeyValue { key: key.into(), v_type: 3, v_float64: *d, ..Default::default() },
        Some(V::BytesValue(b)) => KeyValue { key: key.into(), v_type: 4, v_binary: b.clone(), ..Default::default() },
        Some(other) => string_kv(key, &json_text(other)),
        None => string_kv(key, ""),
    }
}

/// An array or map value as JSON text.
fn json_text(v: &any_value::Value) -> String {
    use any_value::Value as V;
    fn to_json(v: Option<&any_value::Value>) -> serde_json::Value {
        match v {
            Some(V::StringValue(s)) => s.clone().into(),
            Some(V::BoolValue(b)) => (*b).into(),
            Some(V::IntValue(i)) => (*i).into(),
            Some(V::DoubleValue(d)) => (*d).into(),
            Some(V::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect::<String>().into(),
            Some(V::ArrayValue(a)) => a.values.iter().map(|x| to_json(x.value.as_ref())).collect(),
            Some(V::KvlistValue(m)) => m
                .values
                .iter()
                .map(|kv| (kv.key.clone(), to_json(kv.value.as_ref().and_then(|x| x.value.as_ref()))))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            None => serde_json::Value::Null,
        }
    }
    to_json(Some(v)).to_string()
}

fn tags(attrs: &[OtlpKv]) -> impl Iterator<Item = KeyValue> + '_ {
    attrs.iter().map(|kv| tag(&kv.key, kv.value.as_ref()))
}

/// One resource's spans as one batch.
pub fn batch(rs: &ResourceSpans) -> Batch {
    let attrs = rs.resource.as_ref().map(|r| &r.attributes[..]).unwrap_or_default();
    let service = attrs.iter().find(|kv| kv.key == "service.name").map(|kv| tag("", kv.value.as_ref()).v_str);
    let process = Process {
        service_name: match service {
            Some(s) => s,
            None if attrs.is_empty() => NO_SERVICE.into(),
            None => String::new(),
        },
        tags: tags(attrs).filter(|t| t.key != "service.name").collect(),
    };
    let mut spans = Vec::new();
    for ss in &rs.scope_spans {
        let scope = ss.scope.as_ref();
        for s in &ss.spans {
            let mut t = Vec::with_capacity(s.attributes.len() + 4);
            if let Some(sc) = scope.filter(|sc| !sc.name.is_empty()) {
                t.push(string_kv("otel.scope.name", &sc.name));
                if !sc.version.is_empty() {
                    t.push(string_kv("otel.scope.version", &sc.version));
                }
            }
            t.extend(tags(&s.attributes));
            let kind = match span::SpanKind::try_from(s.kind).unwrap_or(span::SpanKind::Unspecified) {
                span::SpanKind::Client => Some("client"),
                span::SpanKind::Server => Some("server"),
                span::SpanKind::Producer => Some("producer"),
                span::SpanKind::Consumer => Some("consumer"),
                span::SpanKind::Internal => Some("internal"),
                span::SpanKind::Unspecified => None,
            };
            if let Some(k) = kind {
                t.push(string_kv("span.kind", k));
            }
            if let Some(st) = &s.status {
                match status::StatusCode::try_from(st.code).unwrap_or(status::StatusCode::Unset) {
                    status::StatusCode::Ok => t.push(string_kv("otel.status_code", "OK")),
                    status::StatusCode::Error => {
                        t.push(string_kv("otel.status_code", "ERROR"));
                        t.push(KeyValue { key: "error".into(), v_type: 1, v_bool: true, ..Default::default() });
                    }
                    status::StatusCode::Unset => {}
                }
                if !st.message.is_empty() {
                    t.push(string_kv("otel.status_description", &st.message));
                }
            }
            if !s.trace_state.is_empty() {
                t.push(string_kv("w3c.tracestate", &s.trace_state));
            }
            let mut refs = Vec::new();
            if !s.parent_span_id.is_empty() {
                refs.push(SpanRef { trace_id: s.trace_id.clone(), span_id: s.parent_span_id.clone(), ref_type: 0 });
            }
            for l in &s.links {
                let child_of = l
                    .attributes
                    .iter()
                    .any(|kv| kv.key == "opentracing.ref_type" && tag("", kv.value.as_ref()).v_str == "child_of");
                let ref_type = if child_of { 0 } else { 1 };
                if l.trace_id == s.trace_id && l.span_id == s.parent_span_id {
                    refs[0].ref_type = ref_type;
                    continue;
                }
                refs.push(SpanRef { trace_id: l.trace_id.clone(), span_id: l.span_id.clone(), ref_type });
            }
            let logs = s
                .events
                .iter()
                .map(|e| {
                    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
                    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
                        fields.push(string_kv("event", &e.name));
                    }
                    fields.extend(tags(&e.attributes));
                    Log { timestamp: Some(Time::from_nanos(e.time_unix_nano as i64)), fields }
                })
                .collect();
            let start = s.start_time_unix_nano as i64;
            let end = s.end_time_unix_nano as i64;
            spans.push(Span {
                trace_id: s.trace_id.clone(),
                span_id: s.span_id.clone(),
                operation_name: s.name.clone(),
                references: refs,
                flags: s.flags & 0xff,
                start_time: Some(Time::from_nanos(start)),
                duration: Some(Time::from_nanos(end.saturating_sub(start).max(0))),
                tags: t,
                logs,
                ..Default::default()
            });
        }
    }
    Batch { spans, process: Some(process) }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1 as pt;

    use super::*;
    use crate::testing::kv;

    #[test]
    fn otlp_spans_map_onto_jaeger_as_the_translator_does() {
        let rs = pt::ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![kv("service.name", "payment"), kv("host.name", "h1")],
                ..Default::default()
            }),
            scope_spans: vec![pt::ScopeSpans {
                scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                    name: "flask".into(),
                    version: "1.2".into(),
                    ..Default::default()
                }),
                spans: vec![pt::Span {
                    trace_id: vec![7; 16],
                    span_id: vec![2; 8],
                    parent_span_id: vec![1; 8],
                    name: "charge".into(),
                    kind: 3,
                    start_time_unix_nano: 1_700_000_000_500_000_000,
                    end_time_unix_nano: 1_700_000_001_750_000_000,
                    attributes: vec![kv("user.id", "u1")],
                    events: vec![pt::span::Event {
                        time_unix_nano: 1_700_000_001_000_000_000,
                        name: "retry".into(),
                        ..Default::default()
                    }],
                    status: Some(pt::Status { code: 2, message: "card declined".into() }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let b = batch(&rs);
        let p = b.process.unwrap();
        assert_eq!(p.service_name, "payment");
        assert_eq!(
            p.tags.iter().map(|t| (t.key.as_str(), t.v_str.as_str())).collect::<Vec<_>>(),
            vec![("host.name", "h1")]
        );
        let s = &b.spans[0];
        assert_eq!((s.operation_name.as_str(), s.span_id.len(), s.trace_id.len()), ("charge", 8, 16));
        assert_eq!(s.references, vec![SpanRef { trace_id: vec![7; 16], span_id: vec![1; 8], ref_type: 0 }]);
        assert_eq!(s.start_time.unwrap(), Time { seconds: 1_700_000_000, nanos: 500_000_000 });
        assert_eq!(s.duration.unwrap(), Time { seconds: 1, nanos: 250_000_000 });
        let keys: Vec<&str> = s.tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "otel.scope.name",
                "otel.scope.version",
                "user.id",
                "span.kind",
                "otel.status_code",
                "error",
                "otel.status_description"
            ]
        );
        assert_eq!(s.tags[3].v_str, "client");
        assert!(s.tags[5].v_bool && s.tags[5].v_type == 1);
        assert_eq!(s.logs[0].fields[0], string_kv("event", "retry"));
    }
}
