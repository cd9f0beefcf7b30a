//! What flows through a pipeline: an OTLP export request in protobuf, as it arrived
//! (or as a processor rewrote it), with its signal and item count. Requests are read
//! at the wire level here: counting items, joining requests (a request is one repeated
//! field, so two requests' bytes one after the other are one request holding both), and
//! splitting one into requests of at most so many items (at resource, scope, then item
//! boundaries, each piece keeping its resource and scope).

use bytes::Bytes;
use lantern_core::protowire::{DecodeError, Field, Reader};
use lantern_core::varint::put_uvarint;

use crate::id::Signal;

/// One export request on its way through a pipeline.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The signal.
    pub signal: Signal,
    /// `Export{Trace,Metrics,Logs}ServiceRequest` in protobuf.
    pub body: Bytes,
    /// Spans, metric data points or log records in it.
    pub items: usize,
}

impl Payload {
    /// A request, counted; an error if its bytes are not one.
    pub fn new(signal: Signal, body: Bytes) -> Result<Self, DecodeError> {
        let items = count(signal, &body)?;
        Ok(Self { signal, body, items })
    }
}

/// A payload decoded for a processor that changes it.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// Spans.
    Traces(opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest),
    /// Metric points.
    Metrics(opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest),
    /// Log records.
    Logs(opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest),
}

impl Payload {
    /// The request as messages.
    pub fn decode(&self) -> Result<Decoded, prost::DecodeError> {
        use opentelemetry_proto::tonic::collector as c;
        use prost::Message;
        Ok(match self.signal {
            Signal::Traces => Decoded::Traces(c::trace::v1::ExportTraceServiceRequest::decode(&self.body[..])?),
            Signal::Metrics => Decoded::Metrics(c::metrics::v1::ExportMetricsServiceRequest::decode(&self.body[..])?),
            Signal::Logs => Decoded::Logs(c::logs::v1::ExportLogsServiceRequest::decode(&self.body[..])?),
        })
    }
}

impl Decoded {
    /// Spans, metric data points or log records in it.
    pub fn items(&self) -> usize {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        match self {
            Decoded::Traces(r) => r.resource_spans.iter().flat_map(|x| &x.scope_spans).map(|x| x.spans.len()).sum(),
            Decoded::Logs(r) => r.resource_logs.iter().flat_map(|x| &x.scope_logs).map(|x| x.log_records.len()).sum(),
            Decoded::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|x| &x.scope_metrics)
                .flat_map(|x| &x.metrics)
                .map(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(g)) => g.data_points.len(),
                    Some(Data::Histogram(g)) => g.data_points.len(),
                    Some(Data::ExponentialHistogram(g)) => g.data_points.len(),
                    Some(Data::Summary(g)) => g.data_points.len(),
                    None => 0,
                })
                .sum(),
        }
    }

    /// Back to a payload, counted again (a processor may have dropped items).
    pub fn encode(&self) -> Payload {
        use prost::Message;
        let (signal, body) = match self {
            Decoded::Traces(r) => (Signal::Traces, r.encode_to_vec()),
            Decoded::Metrics(r) => (Signal::Metrics, r.encode_to_vec()),
            Decoded::Logs(r) => (Signal::Logs, r.encode_to_vec()),
        };
        let items = count(signal, &body).unwrap_or(0);
        Payload { signal, body: body.into(), items }
    }
}

/// The fields that hold the next level's messages, from the request down to the items:
/// a resource list, its scopes, their items (for metrics: metrics, the data kind
/// (gauge, sum, histogram, exponential histogram, summary), its data points).
fn levels(signal: Signal) -> &'static [&'static [u32]] {
    match signal {
        Signal::Traces | Signal::Logs => &[&[1], &[2], &[2]],
        Signal::Metrics => &[&[1], &[2], &[2], &[5, 7, 9, 10, 11], &[1]],
    }
}

/// The items in a request.
pub fn count(signal: Signal, body: &[u8]) -> Result<usize, DecodeError> {
    count_at(body, levels(signal))
}

fn count_at(msg: &[u8], levels: &[&[u32]]) -> Result<usize, DecodeError> {
    let Some((children, below)) = levels.split_first() else {
        return Ok(1);
    };
    let mut r = Reader::new(msg);
    let mut n = 0;
    while let Some((tag, f)) = r.next()? {
        if children.contains(&tag) {
            n += count_at(f.bytes(tag)?, below)?;
        }
    }
    Ok(n)
}

/// Requests of at most `max` items each (0: no bound) holding every item of `body`.
pub fn split(signal: Signal, body: &[u8], max: usize) -> Result<Vec<(Bytes, usize)>, DecodeError> {
    let total = count(signal, body)?;
    if max == 0 || total <= max {
        return Ok(vec![(Bytes::copy_from_slice(body), total)]);
    }
    Ok(pieces(body, levels(signal), max)?.into_iter().map(|(b, n)| (Bytes::from(b), n)).collect())
}

/// Copies of `msg` each holding a share of its children (and all its other fields), at
/// most `max` items each.
fn pieces(msg: &[u8], levels: &[&[u32]], max: usize) -> Result<Vec<(Vec<u8>, usize)>, DecodeError> {
    let total = count_at(msg, levels)?;
    let Some((children, below)) = levels.split_first() else {
        return Ok(vec![(msg.to_vec(), total)]);
    };
    if total <= max {
        return Ok(vec![(msg.to_vec(), total)]);
    }
    let mut header = Vec::new();
    let mut kids = Vec::new();
    let mut r = Reader::new(msg);
    while let Some((tag, f)) = r.next()? {
        match f {
            Field::Len(b) if children.contains(&tag) => kids.push((tag, b)),
            other => put_field(&mut header, tag, other),
        }
    }
    let mut out = Vec::new();
    let (mut cur, mut n) = (header.clone(), 0);
    for (tag, kid) in kids {
        for (piece, c) in pieces(kid, below, max)? {
            if n > 0 && n + c > max {
                out.push((std::mem::replace(&mut cur, header.clone()), n));
                n = 0;
            }
            put_field(&mut cur, tag, Field::Len(&piece));
            n += c;
        }
    }
    if n > 0 || out.is_empty() {
        out.push((cur, n));
    }
    Ok(out)
}

/// Writes one field.
pub fn put_field(out: &mut Vec<u8>, tag: u32, f: Field<'_>) {
    let key = u64::from(tag) << 3;
    match f {
        Field::Varint(v) => {
            put_uvarint(out, key);
            put_uvarint(out, v);
        }
        Field::I64(v) => {
            put_uvarint(out, key | 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Field::Len(b) => {
            put_uvarint(out, key | 2);
            put_uvarint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
        Field::I32(v) => {
            put_uvarint(out, key | 5);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1 as pm;
    use opentelemetry_proto::tonic::trace::v1 as pt;
    use prost::Message;

    use super::*;

    fn traces(resources: &[(&str, &[usize])]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: resources
                .iter()
                .map(|(svc, scopes)| pt::ResourceSpans {
                    resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                        attributes: vec![crate::testing::kv("service.name", svc)],
                        ..Default::default()
                    }),
                    scope_spans: scopes
                        .iter()
                        .enumerate()
                        .map(|(i, n)| pt::ScopeSpans {
                            scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                                name: format!("scope{i}"),
                                ..Default::default()
                            }),
                            spans: (0..*n)
                                .map(|j| pt::Span {
                                    trace_id: vec![1; 16],
                                    span_id: vec![j as u8 + 1; 8],
                                    name: format!("{svc}-{i}-{j}"),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn names(req: &ExportTraceServiceRequest) -> Vec<(String, String, String)> {
        let mut v = Vec::new();
        for rs in &req.resource_spans {
            let svc = format!("{:?}", rs.resource.as_ref().unwrap().attributes[0].value);
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    v.push((svc.clone(), ss.scope.as_ref().unwrap().name.clone(), s.name.clone()));
                }
            }
        }
        v
    }

    #[test]
    fn requests_are_counted_joined_and_split_keeping_resources_and_scopes() {
        let a = traces(&[("a", &[3, 2]), ("b", &[4])]);
        let b = traces(&[("c", &[1])]);
        let (ab, bb) = (a.encode_to_vec(), b.encode_to_vec());
        assert_eq!(count(Signal::Traces, &ab).unwrap(), 9);
        let mut joined = ab.clone();
        joined.extend_from_slice(&bb);
        assert_eq!(count(Signal::Traces, &joined).unwrap(), 10);
        let whole = ExportTraceServiceRequest::decode(&joined[..]).unwrap();
        assert_eq!(whole.resource_spans.len(), 3, "joined bytes are one request");

        for max in [1, 2, 3, 4, 5, 10] {
            let parts = split(Signal::Traces, &joined, max).unwrap();
            let mut seen = Vec::new();
            for (bytes, n) in &parts {
                assert!(*n <= max, "max {max}: a part of {n}");
                assert_eq!(count(Signal::Traces, bytes).unwrap(), *n);
                seen.extend(names(&ExportTraceServiceRequest::decode(&bytes[..]).unwrap()));
            }
            assert_eq!(seen, names(&whole), "max {max}: every span once, with its resource and scope, in order");
            let expect = 10usize.div_ceil(max);
            assert!(parts.len() <= expect + 3, "max {max}: {} parts", parts.len());
        }
        assert!(count(Signal::Traces, &[0x0a, 0x05, 1]).is_err());
    }

    #[test]
    fn metric_data_points_are_the_items() {
        let point = |v: f64| pm::NumberDataPoint {
            value: Some(pm::number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![
                        pm::Metric {
                            name: "g".into(),
                            data: Some(pm::metric::Data::Gauge(pm::Gauge {
                                data_points: vec![point(1.0), point(2.0)],
                            })),
                            ..Default::default()
                        },
                        pm::Metric {
                            name: "h".into(),
                            data: Some(pm::metric::Data::Histogram(pm::Histogram {
                                data_points: vec![pm::HistogramDataPoint::default(); 3],
                                aggregation_temporality: 2,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let b = req.encode_to_vec();
        assert_eq!(count(Signal::Metrics, &b).unwrap(), 5);
        let parts = split(Signal::Metrics, &b, 2).unwrap();
        assert_eq!(parts.iter().map(|p| p.1).collect::<Vec<_>>(), vec![2, 2, 1]);
        let h = ExportMetricsServiceRequest::decode(&parts[2].0[..]).unwrap();
        let m = &h.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(m.name, "h");
        assert!(
            matches!(&m.data, Some(pm::metric::Data::Histogram(x)) if x.aggregation_temporality == 2 && x.data_points.len() == 1)
        );
    }
}
