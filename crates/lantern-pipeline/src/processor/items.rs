//! OTLP items as OTTL sees them ([`crate::ottl::Item`]): a span, a log record, a
//! metric, a data point's attributes, a resource; each with its resource's and scope's
//! fields readable.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;

use lantern_traces::model::hex;

use crate::ottl::{Item, Seg, Val};

/// An attribute value as OTTL sees it.
pub fn val(v: Option<&AnyValue>) -> Val {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => Val::Str(s.clone()),
        Some(V::IntValue(i)) => Val::Int(*i),
        Some(V::DoubleValue(d)) => Val::Float(*d),
        Some(V::BoolValue(b)) => Val::Bool(*b),
        Some(other) => Val::Str(crate::processor::actions::text(&AnyValue { value: Some(other.clone()) })),
        None => Val::Nil,
    }
}

fn any(v: Val) -> Option<AnyValue> {
    use any_value::Value as V;
    let v = match v {
        Val::Str(s) => V::StringValue(s),
        Val::Int(i) => V::IntValue(i),
        Val::Float(f) => V::DoubleValue(f),
        Val::Bool(b) => V::BoolValue(b),
        Val::Nil => return None,
    };
    Some(AnyValue { value: Some(v) })
}

fn lookup(attrs: &[KeyValue], k: &str) -> Val {
    attrs.iter().find(|a| a.key == k).map_or(Val::Nil, |a| val(a.value.as_ref()))
}

fn put(attrs: &mut Vec<KeyValue>, k: &str, v: Val) -> bool {
    let Some(v) = any(v) else { return false };
    match attrs.iter_mut().find(|a| a.key == k) {
        Some(a) => a.value = Some(v),
        None => attrs.push(KeyValue { key: k.into(), value: Some(v) }),
    }
    true
}

/// What every item shares: its resource's attributes and its scope.
pub struct Around<'a> {
    /// Resource attributes.
    pub resource: &'a [KeyValue],
    /// Scope name and version.
    pub scope: (&'a str, &'a str),
}

impl Around<'_> {
    fn get(&self, path: &[Seg]) -> Option<Val> {
        match path {
            [Seg::Field(r), Seg::Field(a), Seg::Key(k)] if r == "resource" && a == "attributes" => {
                Some(lookup(self.resource, k))
            }
            [Seg::Field(s), Seg::Field(f)] if s == "instrumentation_scope" || s == "scope" => match f.as_str() {
                "name" => Some(Val::Str(self.scope.0.into())),
                "version" => Some(Val::Str(self.scope.1.into())),
                _ => None,
            },
            _ => None,
        }
    }
}

fn attrs_path(path: &[Seg]) -> Option<&str> {
    match path {
        [Seg::Field(a), Seg::Key(k)] if a == "attributes" => Some(k),
        _ => None,
    }
}

fn is_attrs(path: &[Seg]) -> bool {
    matches!(path, [Seg::Field(a)] if a == "attributes")
}

/// A span.
pub struct SpanItem<'a> {
    /// Its resource and scope.
    pub around: Around<'a>,
    /// The span.
    pub span: &'a mut Span,
}

impl Item for SpanItem<'_> {
    fn get(&self, path: &[Seg]) -> Val {
        if let Some(v) = self.around.get(path) {
            return v;
        }
        if let Some(k) = attrs_path(path) {
            return lookup(&self.span.attributes, k);
        }
        let s = &self.span;
        let f = |x: &str| path.len() == 1 && matches!(&path[0], Seg::Field(y) if y == x);
        let sub = |a: &str, b: &str| matches!(path, [Seg::Field(x), Seg::Field(y)] if x == a && y == b);
        if f("name") {
            Val::Str(s.name.clone())
        } else if f("kind") {
            Val::Int(i64::from(s.kind))
        } else if sub("status", "code") {
            Val::Int(s.status.as_ref().map_or(0, |x| i64::from(x.code)))
        } else if sub("status", "message") {
            Val::Str(s.status.as_ref().map(|x| x.message.clone()).unwrap_or_default())
        } else if sub("trace_id", "string") {
            Val::Str(hex(&s.trace_id))
        } else if sub("span_id", "string") {
            Val::Str(hex(&s.span_id))
        } else if sub("parent_span_id", "string") {
            Val::Str(hex(&s.parent_span_id))
        } else if f("start_time_unix_nano") {
            Val::Int(s.start_time_unix_nano as i64)
        } else if f("end_time_unix_nano") {
            Val::Int(s.end_time_unix_nano as i64)
        } else if f("trace_state") {
            Val::Str(s.trace_state.clone())
        } else {
            Val::Nil
        }
    }

    fn set(&mut self, path: &[Seg], v: Val) -> bool {
        if let Some(k) = attrs_path(path) {
            return put(&mut self.span.attributes, k, v);
        }
        match (path, v) {
            ([Seg::Field(n)], Val::Str(s)) if n == "name" => {
                self.span.name = s;
                true
            }
            ([Seg::Field(a), Seg::Field(b)], Val::Int(c)) if a == "status" && b == "code" => {
                self.span.status.get_or_insert_with(Default::default).code = c as i32;
                true
            }
            ([Seg::Field(a), Seg::Field(b)], Val::Str(m)) if a == "status" && b == "message" => {
                self.span.status.get_or_insert_with(Default::default).message = m;
                true
            }
            _ => false,
        }
    }

    fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool {
        is_attrs(path) && {
            self.span.attributes.retain(|a| keep(&a.key));
            true
        }
    }
}

/// A log record.
pub struct LogItem<'a> {
    /// Its resource and scope.
    pub around: Around<'a>,
    /// The record.
    pub log: &'a mut LogRecord,
}

impl Item for LogItem<'_> {
    fn get(&self, path: &[Seg]) -> Val {
        if let Some(v) = self.around.get(path) {
            return v;
        }
        if let Some(k) = attrs_path(path) {
            return lookup(&self.log.attributes, k);
        }
        let l = &self.log;
        let f = |x: &str| path.len() == 1 && matches!(&path[0], Seg::Field(y) if y == x);
        let sub = |a: &str, b: &str| matches!(path, [Seg::Field(x), Seg::Field(y)] if x == a && y == b);
        if f("body") || sub("body", "string") {
            val(l.body.as_ref())
        } else if f("severity_number") {
            Val::Int(i64::from(l.severity_number))
        } else if f("severity_text") {
            Val::Str(l.severity_text.clone())
        } else if sub("trace_id", "string") {
            Val::Str(hex(&l.trace_id))
        } else if sub("span_id", "string") {
            Val::Str(hex(&l.span_id))
        } else if f("time_unix_nano") {
            Val::Int(l.time_unix_nano as i64)
        } else if f("observed_time_unix_nano") {
            Val::Int(l.observed_time_unix_nano as i64)
        } else if f("event_name") {
            Val::Str(l.event_name.clone())
        } else {
            Val::Nil
        }
    }

    fn set(&mut self, path: &[Seg], v: Val) -> bool {
        if let Some(k) = attrs_path(path) {
            return put(&mut self.log.attributes, k, v);
        }
        match (path, v) {
            ([Seg::Field(n)], v) if n == "body" => {
                self.log.body = any(v);
                true
            }
            ([Seg::Field(n)], Val::Str(s)) if n == "severity_text" => {
                self.log.severity_text = s;
                true
            }
            ([Seg::Field(n)], Val::Int(i)) if n == "severity_number" => {
                self.log.severity_number = i as i32;
                true
            }
            _ => false,
        }
    }

    fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool {
        is_attrs(path) && {
            self.log.attributes.retain(|a| keep(&a.key));
            true
        }
    }
}

/// A metric (its name, description, unit and type).
pub struct MetricItem<'a> {
    /// Its resource and scope.
    pub around: Around<'a>,
    /// The metric.
    pub metric: &'a mut Metric,
}

/// A metric's `type` as OTTL numbers it.
pub fn metric_type(m: &Metric) -> i64 {
    match m.data {
        Some(Data::Gauge(_)) => 1,
        Some(Data::Sum(_)) => 2,
        Some(Data::Histogram(_)) => 3,
        Some(Data::ExponentialHistogram(_)) => 4,
        Some(Data::Summary(_)) => 5,
        None => 0,
    }
}

impl Item for MetricItem<'_> {
    fn get(&self, path: &[Seg]) -> Val {
        if let Some(v) = self.around.get(path) {
            return v;
        }
        match path {
            [Seg::Field(f)] => match f.as_str() {
                "name" => Val::Str(self.metric.name.clone()),
                "description" => Val::Str(self.metric.description.clone()),
                "unit" => Val::Str(self.metric.unit.clone()),
                "type" => Val::Int(metric_type(self.metric)),
                _ => Val::Nil,
            },
            _ => Val::Nil,
        }
    }

    fn set(&mut self, path: &[Seg], v: Val) -> bool {
        match (path, v) {
            ([Seg::Field(f)], Val::Str(s)) => match f.as_str() {
                "name" => self.metric.name = s,
                "description" => self.metric.description = s,
                "unit" => self.metric.unit = s,
                _ => return false,
            },
            _ => return false,
        }
        true
    }

    fn retain_keys(&mut self, _path: &[Seg], _keep: &dyn Fn(&str) -> bool) -> bool {
        false
    }
}

/// A data point (its attributes, and its metric's name and type).
pub struct PointItem<'a> {
    /// Its resource and scope.
    pub around: Around<'a>,
    /// Its metric's name.
    pub metric_name: &'a str,
    /// Its metric's type.
    pub metric_type: i64,
    /// Its attributes.
    pub attributes: &'a mut Vec<KeyValue>,
}

impl Item for PointItem<'_> {
    fn get(&self, path: &[Seg]) -> Val {
        if let Some(v) = self.around.get(path) {
            return v;
        }
        if let Some(k) = attrs_path(path) {
            return lookup(self.attributes, k);
        }
        match path {
            [Seg::Field(m), Seg::Field(n)] if m == "metric" && n == "name" => Val::Str(self.metric_name.into()),
            [Seg::Field(m), Seg::Field(n)] if m == "metric" && n == "type" => Val::Int(self.metric_type),
            _ => Val::Nil,
        }
    }

    fn set(&mut self, path: &[Seg], v: Val) -> bool {
        attrs_path(path).is_some_and(|k| put(self.attributes, k, v))
    }

    fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool {
        is_attrs(path) && {
            self.attributes.retain(|a| keep(&a.key));
            true
        }
    }
}

/// A resource (its attributes, as `attributes` or `resource.attributes`).
pub struct ResourceItem<'a> {
    /// Its attributes.
    pub attributes: &'a mut Vec<KeyValue>,
}

fn resource_path(path: &[Seg]) -> &[Seg] {
    match path {
        [Seg::Field(r), rest @ ..] if r == "resource" && !rest.is_empty() => rest,
        _ => path,
    }
}

impl Item for ResourceItem<'_> {
    fn get(&self, path: &[Seg]) -> Val {
        attrs_path(resource_path(path)).map_or(Val::Nil, |k| lookup(self.attributes, k))
    }

    fn set(&mut self, path: &[Seg], v: Val) -> bool {
        attrs_path(resource_path(path)).is_some_and(|k| put(self.attributes, k, v))
    }

    fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool {
        is_attrs(resource_path(path)) && {
            self.attributes.retain(|a| keep(&a.key));
            true
        }
    }
}
