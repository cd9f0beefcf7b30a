//! `ExportLogsServiceRequest` decoded in place.

use bumpalo::collections::Vec as BVec;
use bumpalo::Bump;

use crate::common::{any_value, fields, push_kv};
pub use crate::common::{Kv, Scope, Value};
use crate::pb::{DecodeError, Field};

/// A `LogRecord`.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// `time_unix_nano` (0 when unknown).
    pub time_unix_nano: u64,
    /// `observed_time_unix_nano`.
    pub observed_time_unix_nano: u64,
    /// `severity_number` (1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error,
    /// 21–24 fatal; 0 unspecified).
    pub severity_number: i32,
    /// `severity_text`.
    pub severity_text: &'a str,
    /// `body`.
    pub body: Value<'a>,
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `flags`.
    pub flags: u32,
    /// `trace_id` (empty, or 16 bytes).
    pub trace_id: &'a [u8],
    /// `span_id` (empty, or 8 bytes).
    pub span_id: &'a [u8],
    /// `event_name`.
    pub event_name: &'a str,
}

impl Default for LogRecord<'_> {
    fn default() -> Self {
        Self {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity_number: 0,
            severity_text: "",
            body: Value::Empty,
            attributes: &[],
            dropped_attributes_count: 0,
            flags: 0,
            trace_id: &[],
            span_id: &[],
            event_name: "",
        }
    }
}

/// A `ResourceLogs`: its resource and its records by scope.
pub type ResourceLogs<'a> = crate::common::Resource<'a, LogRecord<'a>>;

fn record<'a>(b: &'a [u8], bump: &'a Bump) -> Result<LogRecord<'a>, DecodeError> {
    let mut r = LogRecord::default();
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => r.time_unix_nano = f.fixed64(t)?,
            11 => r.observed_time_unix_nano = f.fixed64(t)?,
            2 => r.severity_number = f.varint(t)? as i32,
            3 => r.severity_text = f.str(t)?,
            5 => r.body = any_value(f.bytes(t)?, bump)?,
            6 => push_kv(&mut attrs, t, f, bump)?,
            7 => r.dropped_attributes_count = f.varint(t)? as u32,
            8 => {
                r.flags = match f {
                    Field::I32(v) => v,
                    _ => return Err(DecodeError(format!("field {t}: wrong wire type, want 32-bit"))),
                }
            }
            9 => r.trace_id = f.bytes(t)?,
            10 => r.span_id = f.bytes(t)?,
            12 => r.event_name = f.str(t)?,
            _ => {}
        }
        Ok(())
    })?;
    r.attributes = attrs.into_bump_slice();
    Ok(r)
}

/// Decodes an `ExportLogsServiceRequest`.
pub fn logs_request<'a>(b: &'a [u8], bump: &'a Bump) -> Result<&'a [ResourceLogs<'a>], DecodeError> {
    crate::common::envelope(b, bump, record)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1 as pl;
    use prost::Message;

    use super::*;

    #[test]
    fn decodes_what_prost_encodes() {
        let s = |v: &str| AnyValue { value: Some(any_value::Value::StringValue(v.into())) };
        let kv = |k: &str, v: &str| KeyValue { key: k.into(), value: Some(s(v)) };
        let req = ExportLogsServiceRequest {
            resource_logs: vec![pl::ResourceLogs {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![kv("service.name", "payment")],
                    ..Default::default()
                }),
                scope_logs: vec![pl::ScopeLogs {
                    scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                        name: "app".into(),
                        ..Default::default()
                    }),
                    log_records: vec![
                        pl::LogRecord {
                            time_unix_nano: 10,
                            observed_time_unix_nano: 11,
                            severity_number: 17,
                            severity_text: "ERROR".into(),
                            body: Some(s("payment_failed")),
                            attributes: vec![kv("error_code", "CARD_DECLINED")],
                            dropped_attributes_count: 2,
                            flags: 1,
                            trace_id: vec![7; 16],
                            span_id: vec![8; 8],
                            event_name: "payment".into(),
                        },
                        pl::LogRecord {
                            body: Some(AnyValue {
                                value: Some(any_value::Value::KvlistValue(KeyValueList { values: vec![kv("a", "b")] })),
                            }),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let bytes = req.encode_to_vec();
        let bump = Bump::new();
        let rl = logs_request(&bytes, &bump).unwrap();
        assert!(matches!(rl[0].resource[0].value, Value::Str("payment")));
        let sl = rl[0].scopes[0];
        assert_eq!(sl.scope.unwrap().name, "app");
        let r = sl.items[0];
        assert_eq!(
            (r.time_unix_nano, r.observed_time_unix_nano, r.severity_number, r.severity_text),
            (10, 11, 17, "ERROR")
        );
        assert!(matches!(r.body, Value::Str("payment_failed")));
        assert_eq!((r.attributes[0].key, r.dropped_attributes_count, r.flags), ("error_code", 2, 1));
        assert_eq!((r.trace_id, r.span_id, r.event_name), (&[7u8; 16][..], &[8u8; 8][..], "payment"));
        assert!(matches!(sl.items[1].body, Value::KvList([Kv { key: "a", .. }])));
        assert!(logs_request(&bytes[..bytes.len() - 1], &bump).is_err());
    }
}
