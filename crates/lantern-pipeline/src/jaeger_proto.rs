//! Jaeger's gRPC model (`jaeger.api_v2`: `PostSpansRequest`, `Batch`, `Process`,
//! `Span`, …) as prost messages, and the mapping of OTLP spans onto it as the
//! Collector's Jaeger translator does: one batch per resource, `service.name` as the
//! process's service and the other resource attributes as its tags, the scope, kind and
//! status as tags, events as logs, the parent and links as references; and back
//! ([`to_otlp`]) for spans posted to Lantern.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue as OtlpKv};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans};

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

/// A tag as an OTLP value (binary as base64, as the Collector's translator does).
fn value(t: &KeyValue) -> AnyValue {
    use any_value::Value as V;
    let v = match t.v_type {
        1 => V::BoolValue(t.v_bool),
        2 => V::IntValue(t.v_int64),
        3 => V::DoubleValue(t.v_float64),
        4 => V::StringValue(base64(&t.v_binary)),
        _ => V::StringValue(t.v_str.clone()),
    };
    AnyValue { value: Some(v) }
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn attr(t: &KeyValue) -> OtlpKv {
    OtlpKv { key: t.key.clone(), value: Some(value(t)) }
}

/// Posted spans as OTLP: one resource per process (a span's own process wins over the
/// batch's), spans grouped into scopes by their `otel.scope.name`/`otel.library.name`
/// tags, `span.kind`, `otel.status_code`/`error` and `w3c.tracestate` tags read back into
/// the span's fields, the first `CHILD_OF` reference as the parent and the others as
/// links, logs as events.
pub fn to_otlp(req: &PostSpansRequest) -> Vec<ResourceSpans> {
    let Some(batch) = &req.batch else { return Vec::new() };
    let mut resources: Vec<(Process, Vec<ScopeSpans>)> = Vec::new();
    for s in &batch.spans {
        let process = s.process.clone().or_else(|| batch.process.clone()).unwrap_or_default();
        let at = match resources.iter().position(|(p, _)| *p == process) {
            Some(i) => i,
            None => {
                resources.push((process, Vec::new()));
                resources.len() - 1
            }
        };
        let tag = |k: &str| s.tags.iter().find(|t| t.key == k);
        let scope_name = tag("otel.scope.name").or_else(|| tag("otel.library.name")).map(|t| t.v_str.clone());
        let scope_version = tag("otel.scope.version").or_else(|| tag("otel.library.version")).map(|t| t.v_str.clone());
        let kind = match tag("span.kind").map(|t| t.v_str.as_str()) {
            Some("client") => span::SpanKind::Client,
            Some("server") => span::SpanKind::Server,
            Some("producer") => span::SpanKind::Producer,
            Some("consumer") => span::SpanKind::Consumer,
            Some("internal") => span::SpanKind::Internal,
            _ => span::SpanKind::Unspecified,
        };
        let error = tag("error").is_some_and(|t| t.v_bool || t.v_str.eq_ignore_ascii_case("true"));
        let code = match tag("otel.status_code").map(|t| t.v_str.to_ascii_uppercase()) {
            _ if error => status::StatusCode::Error,
            Some(c) if c == "ERROR" => status::StatusCode::Error,
            Some(c) if c == "OK" => status::StatusCode::Ok,
            _ => status::StatusCode::Unset,
        };
        let message = tag("otel.status_description").map(|t| t.v_str.clone()).unwrap_or_default();
        const READ: [&str; 10] = [
            "otel.scope.name",
            "otel.scope.version",
            "otel.library.name",
            "otel.library.version",
            "span.kind",
            "error",
            "otel.status_code",
            "otel.status_description",
            "w3c.tracestate",
            "internal.span.format",
        ];
        let mut parent = Vec::new();
        let mut links = Vec::new();
        for r in &s.references {
            if parent.is_empty() && r.ref_type == 0 && r.trace_id == s.trace_id {
                parent = r.span_id.clone();
                continue;
            }
            let kind = if r.ref_type == 0 { "child_of" } else { "follows_from" };
            links.push(span::Link {
                trace_id: r.trace_id.clone(),
                span_id: r.span_id.clone(),
                attributes: vec![OtlpKv {
                    key: "opentracing.ref_type".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue(kind.into())) }),
                }],
                ..Default::default()
            });
        }
        let start = s.start_time.map_or(0, Time::nanos).max(0);
        let end = start.saturating_add(s.duration.map_or(0, Time::nanos).max(0));
        let events = s
            .logs
            .iter()
            .map(|l| span::Event {
                time_unix_nano: l.timestamp.map_or(0, Time::nanos).max(0) as u64,
                name: l.fields.iter().find(|f| f.key == "event").map(|f| f.v_str.clone()).unwrap_or_default(),
                attributes: l.fields.iter().filter(|f| f.key != "event").map(attr).collect(),
                dropped_attributes_count: 0,
            })
            .collect();
        let otlp = opentelemetry_proto::tonic::trace::v1::Span {
            trace_id: s.trace_id.clone(),
            span_id: s.span_id.clone(),
            trace_state: tag("w3c.tracestate").map(|t| t.v_str.clone()).unwrap_or_default(),
            parent_span_id: parent,
            flags: s.flags,
            name: s.operation_name.clone(),
            kind: kind as i32,
            start_time_unix_nano: start as u64,
            end_time_unix_nano: end as u64,
            attributes: s.tags.iter().filter(|t| !READ.contains(&t.key.as_str())).map(attr).collect(),
            events,
            links,
            status: Some(opentelemetry_proto::tonic::trace::v1::Status { code: code as i32, message }),
            ..Default::default()
        };
        let scopes = &mut resources[at].1;
        let scope = InstrumentationScope {
            name: scope_name.unwrap_or_default(),
            version: scope_version.unwrap_or_default(),
            ..Default::default()
        };
        match scopes.iter_mut().find(|ss| ss.scope.as_ref() == Some(&scope)) {
            Some(ss) => ss.spans.push(otlp),
            None => scopes.push(ScopeSpans { scope: Some(scope), spans: vec![otlp], schema_url: String::new() }),
        }
    }
    resources
        .into_iter()
        .map(|(p, scope_spans)| {
            let mut attributes = Vec::with_capacity(p.tags.len() + 1);
            if !p.service_name.is_empty() && p.service_name != NO_SERVICE {
                attributes.push(OtlpKv {
                    key: "service.name".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue(p.service_name.clone())) }),
                });
            }
            attributes.extend(p.tags.iter().map(|t| {
                let mut a = attr(t);
                if t.key == "hostname" {
                    a.key = "host.name".into();
                }
                a
            }));
            ResourceSpans {
                resource: Some(Resource { attributes, ..Default::default() }),
                scope_spans,
                schema_url: String::new(),
            }
        })
        .collect()
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

        // And back: what Lantern stores from a posted batch is the span it came from.
        let back = to_otlp(&PostSpansRequest { batch: Some(batch(&rs)) });
        assert_eq!(back.len(), 1);
        let res = back[0].resource.as_ref().unwrap();
        assert_eq!(res.attributes, vec![kv("service.name", "payment"), kv("host.name", "h1")]);
        let ss = &back[0].scope_spans[0];
        assert_eq!(ss.scope, rs.scope_spans[0].scope);
        assert_eq!(ss.spans, rs.scope_spans[0].spans);
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
