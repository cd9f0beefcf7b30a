//! `ExportTraceServiceRequest` decoded in place.

use bumpalo::collections::Vec as BVec;
use bumpalo::Bump;

use crate::common::{fields, push_kv};
pub use crate::common::{Kv, Scope, Value};
use crate::pb::DecodeError;

/// A span event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Event<'a> {
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `name`.
    pub name: &'a str,
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
}

/// A span link.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link<'a> {
    /// `trace_id`.
    pub trace_id: &'a [u8],
    /// `span_id`.
    pub span_id: &'a [u8],
    /// `trace_state`.
    pub trace_state: &'a str,
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `flags`.
    pub flags: u32,
}

/// A `Span`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span<'a> {
    /// `trace_id`.
    pub trace_id: &'a [u8],
    /// `span_id`.
    pub span_id: &'a [u8],
    /// `trace_state`.
    pub trace_state: &'a str,
    /// `parent_span_id`.
    pub parent_span_id: &'a [u8],
    /// `flags`.
    pub flags: u32,
    /// `name`.
    pub name: &'a str,
    /// `kind` (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// `start_time_unix_nano`.
    pub start_time_unix_nano: u64,
    /// `end_time_unix_nano`.
    pub end_time_unix_nano: u64,
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `events`.
    pub events: &'a [Event<'a>],
    /// `dropped_events_count`.
    pub dropped_events_count: u32,
    /// `links`.
    pub links: &'a [Link<'a>],
    /// `dropped_links_count`.
    pub dropped_links_count: u32,
    /// `status.code` (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// `status.message`.
    pub status_message: &'a str,
}

/// A `ResourceSpans`: its resource and its spans by scope.
pub type ResourceSpans<'a> = crate::common::Resource<'a, Span<'a>>;

fn event<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Event<'a>, DecodeError> {
    let mut e = Event::default();
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => e.time_unix_nano = f.fixed64(t)?,
            2 => e.name = f.str(t)?,
            3 => push_kv(&mut attrs, t, f, bump)?,
            4 => e.dropped_attributes_count = f.varint(t)? as u32,
            _ => {}
        }
        Ok(())
    })?;
    e.attributes = attrs.into_bump_slice();
    Ok(e)
}

fn link<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Link<'a>, DecodeError> {
    let mut l = Link::default();
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => l.trace_id = f.bytes(t)?,
            2 => l.span_id = f.bytes(t)?,
            3 => l.trace_state = f.str(t)?,
            4 => push_kv(&mut attrs, t, f, bump)?,
            5 => l.dropped_attributes_count = f.varint(t)? as u32,
            6 => l.flags = fixed32(f, t)?,
            _ => {}
        }
        Ok(())
    })?;
    l.attributes = attrs.into_bump_slice();
    Ok(l)
}

fn fixed32(f: crate::pb::Field<'_>, t: u32) -> Result<u32, DecodeError> {
    match f {
        crate::pb::Field::I32(v) => Ok(v),
        _ => Err(DecodeError(format!("field {t}: wrong wire type, want 32-bit"))),
    }
}

fn span<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Span<'a>, DecodeError> {
    let mut s = Span::default();
    let mut attrs = BVec::new_in(bump);
    let mut events = BVec::new_in(bump);
    let mut links = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => s.trace_id = f.bytes(t)?,
            2 => s.span_id = f.bytes(t)?,
            3 => s.trace_state = f.str(t)?,
            4 => s.parent_span_id = f.bytes(t)?,
            16 => s.flags = fixed32(f, t)?,
            5 => s.name = f.str(t)?,
            6 => s.kind = f.varint(t)? as i32,
            7 => s.start_time_unix_nano = f.fixed64(t)?,
            8 => s.end_time_unix_nano = f.fixed64(t)?,
            9 => push_kv(&mut attrs, t, f, bump)?,
            10 => s.dropped_attributes_count = f.varint(t)? as u32,
            11 => events.push(event(f.bytes(t)?, bump)?),
            12 => s.dropped_events_count = f.varint(t)? as u32,
            13 => links.push(link(f.bytes(t)?, bump)?),
            14 => s.dropped_links_count = f.varint(t)? as u32,
            15 => fields(f.bytes(t)?, |t, f| {
                match t {
                    2 => s.status_message = f.str(t)?,
                    3 => s.status_code = f.varint(t)? as i32,
                    _ => {}
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    s.attributes = attrs.into_bump_slice();
    s.events = events.into_bump_slice();
    s.links = links.into_bump_slice();
    Ok(s)
}

/// Decodes an `ExportTraceServiceRequest`.
pub fn traces_request<'a>(b: &'a [u8], bump: &'a Bump) -> Result<&'a [ResourceSpans<'a>], DecodeError> {
    crate::common::envelope(b, bump, span)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message;

    use super::*;

    #[test]
    fn decodes_what_prost_encodes() {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![kv("service.name", "orders")],
                    ..Default::default()
                }),
                scope_spans: vec![pt::ScopeSpans {
                    scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                        name: "app".into(),
                        ..Default::default()
                    }),
                    spans: vec![pt::Span {
                        trace_id: vec![7; 16],
                        span_id: vec![8; 8],
                        parent_span_id: vec![9; 8],
                        trace_state: "k=v".into(),
                        flags: 0x301,
                        name: "create_order".into(),
                        kind: 2,
                        start_time_unix_nano: 10,
                        end_time_unix_nano: 20,
                        attributes: vec![kv("user.id", "u1")],
                        dropped_attributes_count: 1,
                        events: vec![pt::span::Event {
                            time_unix_nano: 15,
                            name: "retry".into(),
                            attributes: vec![kv("n", "2")],
                            dropped_attributes_count: 0,
                        }],
                        dropped_events_count: 2,
                        links: vec![pt::span::Link {
                            trace_id: vec![1; 16],
                            span_id: vec![2; 8],
                            trace_state: String::new(),
                            attributes: vec![],
                            dropped_attributes_count: 0,
                            flags: 1,
                        }],
                        dropped_links_count: 3,
                        status: Some(pt::Status { message: "card declined".into(), code: 2 }),
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let bytes = req.encode_to_vec();
        let bump = Bump::new();
        let rs = traces_request(&bytes, &bump).unwrap();
        assert!(matches!(rs[0].resource[0].value, Value::Str("orders")));
        let ss = rs[0].scopes[0];
        assert_eq!(ss.scope.unwrap().name, "app");
        let s = ss.items[0];
        assert_eq!((s.trace_id, s.span_id, s.parent_span_id), (&[7u8; 16][..], &[8u8; 8][..], &[9u8; 8][..]));
        assert_eq!((s.trace_state, s.flags, s.name, s.kind), ("k=v", 0x301, "create_order", 2));
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (10, 20));
        assert_eq!((s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count), (1, 2, 3));
        assert_eq!((s.status_code, s.status_message), (2, "card declined"));
        assert_eq!((s.events[0].name, s.events[0].time_unix_nano, s.events[0].attributes[0].key), ("retry", 15, "n"));
        assert_eq!((s.links[0].trace_id, s.links[0].flags), (&[1u8; 16][..], 1));
        assert!(traces_request(&bytes[..bytes.len() - 1], &bump).is_err());
    }
}
