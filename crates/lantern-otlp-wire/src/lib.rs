//! OTLP protobuf read in place on `lantern_core`'s protobuf wire reader ([`pb`]);
//! [`common`] decodes attributes, resources, scopes and the envelope every export request
//! shares; [`metrics`], [`traces`] and [`logs`] decode the export requests into views whose strings and bytes borrow the request and whose
//! lists live in a per-request arena. Unknown fields are skipped as protobuf says.

pub mod common;
pub mod logs;
pub mod metrics;
pub use lantern_core::protowire as pb;
pub mod traces;

pub use pb::DecodeError;

#[cfg(test)]
mod fuzz {
    use bumpalo::Bump;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1 as pl;
    use opentelemetry_proto::tonic::metrics::v1 as pm;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use proptest::prelude::*;
    use prost::Message;

    /// One valid request of each signal, encoded, to mutate.
    fn valid() -> Vec<Vec<u8>> {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        };
        let resource = Some(opentelemetry_proto::tonic::resource::v1::Resource {
            attributes: vec![kv("service.name", "svc")],
            ..Default::default()
        });
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                resource: resource.clone(),
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![pm::Metric {
                        name: "requests".into(),
                        data: Some(pm::metric::Data::Sum(pm::Sum {
                            data_points: vec![pm::NumberDataPoint {
                                attributes: vec![kv("route", "/a")],
                                time_unix_nano: 5,
                                value: Some(pm::number_data_point::Value::AsInt(3)),
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![pt::ResourceSpans {
                resource: resource.clone(),
                scope_spans: vec![pt::ScopeSpans {
                    spans: vec![pt::Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "GET /a".into(),
                        attributes: vec![kv("http.route", "/a")],
                        start_time_unix_nano: 1,
                        end_time_unix_nano: 2,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![pl::ResourceLogs {
                resource,
                scope_logs: vec![pl::ScopeLogs {
                    log_records: vec![pl::LogRecord {
                        time_unix_nano: 7,
                        severity_text: "ERROR".into(),
                        body: Some(AnyValue { value: Some(any_value::Value::StringValue("boom".into())) }),
                        attributes: vec![kv("request_id", "req-1")],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        vec![metrics.encode_to_vec(), traces.encode_to_vec(), logs.encode_to_vec()]
    }

    fn decode_all(b: &[u8]) {
        let bump = Bump::new();
        let _ = crate::metrics::metrics_request(b, &bump);
        let _ = crate::traces::traces_request(b, &bump);
        let _ = crate::logs::logs_request(b, &bump);
    }

    proptest! {
        /// Arbitrary bytes decode to a request or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            decode_all(&b);
        }

        /// Valid requests with bytes changed, cut short or extended decode to a request
        /// or an error, never a panic.
        #[test]
        fn damaged_requests_never_panic(
            which in 0usize..3,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = valid().swap_remove(which);
            for (at, byte) in flips {
                let i = at.index(b.len());
                b[i] = byte;
            }
            decode_all(&b);
            decode_all(&b[..cut.index(b.len() + 1)]);
        }
    }

    #[test]
    fn the_valid_requests_decode() {
        let bump = Bump::new();
        let v = valid();
        assert_eq!(crate::metrics::metrics_request(&v[0], &bump).unwrap().len(), 1);
        assert_eq!(crate::traces::traces_request(&v[1], &bump).unwrap().len(), 1);
        assert_eq!(crate::logs::logs_request(&v[2], &bump).unwrap().len(), 1);
    }
}
