//! `ExportMetricsServiceRequest` decoded in place.

use bumpalo::collections::Vec as BVec;
use bumpalo::Bump;

use crate::common::{fields, push_kv};
pub use crate::common::{Kv, Scope, Value};
use crate::pb::{DecodeError, Field};

/// An `Exemplar`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exemplar<'a> {
    /// `filtered_attributes`.
    pub filtered_attributes: &'a [Kv<'a>],
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `as_double` or `as_int`.
    pub value: f64,
    /// `span_id`.
    pub span_id: &'a [u8],
    /// `trace_id`.
    pub trace_id: &'a [u8],
}

fn exemplar<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Exemplar<'a>, DecodeError> {
    let mut e = Exemplar::default();
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            7 => push_kv(&mut attrs, t, f, bump)?,
            2 => e.time_unix_nano = f.fixed64(t)?,
            3 => e.value = f.double(t)?,
            6 => e.value = f.fixed64(t)? as i64 as f64,
            4 => e.span_id = f.bytes(t)?,
            5 => e.trace_id = f.bytes(t)?,
            _ => {}
        }
        Ok(())
    })?;
    e.filtered_attributes = attrs.into_bump_slice();
    Ok(e)
}

/// The fields every data point kind shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Common<'a> {
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `flags` (bit 0: no recorded value).
    pub flags: u32,
    /// `exemplars`.
    pub exemplars: &'a [Exemplar<'a>],
}

/// A `NumberDataPoint`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NumberPoint<'a> {
    /// Shared fields.
    pub common: Common<'a>,
    /// `as_double` or `as_int`.
    pub value: f64,
}

/// A `HistogramDataPoint` (an exponential one is converted into this shape).
#[derive(Debug, Clone, Copy, Default)]
pub struct HistogramPoint<'a> {
    /// Shared fields.
    pub common: Common<'a>,
    /// `count`.
    pub count: u64,
    /// `sum`, when set.
    pub sum: Option<f64>,
    /// `bucket_counts`.
    pub bucket_counts: &'a [u64],
    /// `explicit_bounds`.
    pub explicit_bounds: &'a [f64],
}

/// An `ExponentialHistogramDataPoint`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpHistogramPoint<'a> {
    /// Shared fields.
    pub common: Common<'a>,
    /// `count`.
    pub count: u64,
    /// `sum`, when set.
    pub sum: Option<f64>,
    /// `scale`.
    pub scale: i32,
    /// `zero_count`.
    pub zero_count: u64,
    /// `zero_threshold`.
    pub zero_threshold: f64,
    /// `positive` buckets: offset and counts.
    pub positive: (i32, &'a [u64]),
    /// `negative` buckets: offset and counts.
    pub negative: (i32, &'a [u64]),
}

/// A `SummaryDataPoint`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryPoint<'a> {
    /// Shared fields.
    pub common: Common<'a>,
    /// `count`.
    pub count: u64,
    /// `sum`.
    pub sum: f64,
    /// `quantile_values`: (quantile, value).
    pub quantiles: &'a [(f64, f64)],
}

/// A metric's data.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// `gauge`.
    Gauge(&'a [NumberPoint<'a>]),
    /// `sum`: points, delta temporality, monotonic.
    Sum(&'a [NumberPoint<'a>], bool, bool),
    /// `histogram`: points, delta temporality.
    Histogram(&'a [HistogramPoint<'a>], bool),
    /// `exponential_histogram`: points, delta temporality.
    ExponentialHistogram(&'a [ExpHistogramPoint<'a>], bool),
    /// `summary`.
    Summary(&'a [SummaryPoint<'a>]),
}

impl Data<'_> {
    /// How many data points.
    pub fn points(&self) -> usize {
        match self {
            Data::Gauge(p) | Data::Sum(p, ..) => p.len(),
            Data::Histogram(p, _) => p.len(),
            Data::ExponentialHistogram(p, _) => p.len(),
            Data::Summary(p) => p.len(),
        }
    }
}

/// A `Metric`.
#[derive(Debug, Clone, Copy)]
pub struct Metric<'a> {
    /// `name`.
    pub name: &'a str,
    /// `description`.
    pub description: &'a str,
    /// `unit`.
    pub unit: &'a str,
    /// The data, when set.
    pub data: Option<Data<'a>>,
}

/// A `ResourceMetrics`: its resource and its metrics by scope.
pub type ResourceMetrics<'a> = crate::common::Resource<'a, Metric<'a>>;

/// Decodes the shared data point fields; other tags go to `other`.
fn point<'a>(
    b: &'a [u8],
    bump: &'a Bump,
    attrs_tag: u32,
    exemplars_tag: u32,
    flags_tag: u32,
    mut other: impl FnMut(u32, Field<'a>) -> Result<(), DecodeError>,
) -> Result<Common<'a>, DecodeError> {
    let mut c = Common::default();
    let mut attrs = BVec::new_in(bump);
    let mut exemplars = BVec::new_in(bump);
    fields(b, |t, f| {
        if t == attrs_tag {
            push_kv(&mut attrs, t, f, bump)
        } else if t == exemplars_tag {
            exemplars.push(exemplar(f.bytes(t)?, bump)?);
            Ok(())
        } else if t == flags_tag {
            c.flags = f.varint(t)? as u32;
            Ok(())
        } else if t == 3 {
            c.time_unix_nano = f.fixed64(t)?;
            Ok(())
        } else {
            other(t, f)
        }
    })?;
    c.attributes = attrs.into_bump_slice();
    c.exemplars = exemplars.into_bump_slice();
    Ok(c)
}

fn number_point<'a>(b: &'a [u8], bump: &'a Bump) -> Result<NumberPoint<'a>, DecodeError> {
    let mut value = 0.0;
    let common = point(b, bump, 7, 5, 8, |t, f| {
        match t {
            4 => value = f.double(t)?,
            6 => value = f.fixed64(t)? as i64 as f64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(NumberPoint { common, value })
}

fn histogram_point<'a>(b: &'a [u8], bump: &'a Bump) -> Result<HistogramPoint<'a>, DecodeError> {
    let (mut count, mut sum) = (0, None);
    let mut counts = BVec::new_in(bump);
    let mut bounds = BVec::new_in(bump);
    let common = point(b, bump, 9, 8, 10, |t, f| {
        match t {
            4 => count = f.fixed64(t)?,
            5 => sum = Some(f.double(t)?),
            6 => f.each_fixed64(t, |v| counts.push(v))?,
            7 => f.each_fixed64(t, |v| bounds.push(f64::from_bits(v)))?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(HistogramPoint {
        common,
        count,
        sum,
        bucket_counts: counts.into_bump_slice(),
        explicit_bounds: bounds.into_bump_slice(),
    })
}

fn buckets<'a>(b: &'a [u8], bump: &'a Bump) -> Result<(i32, &'a [u64]), DecodeError> {
    let mut offset = 0;
    let mut counts = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => offset = f.sint32(t)?,
            2 => f.each_varint(t, |v| counts.push(v))?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((offset, counts.into_bump_slice()))
}

fn exp_histogram_point<'a>(b: &'a [u8], bump: &'a Bump) -> Result<ExpHistogramPoint<'a>, DecodeError> {
    let mut p = ExpHistogramPoint::default();
    let common = point(b, bump, 1, 11, 10, |t, f| {
        match t {
            4 => p.count = f.fixed64(t)?,
            5 => p.sum = Some(f.double(t)?),
            6 => p.scale = f.sint32(t)?,
            7 => p.zero_count = f.fixed64(t)?,
            8 => p.positive = buckets(f.bytes(t)?, bump)?,
            9 => p.negative = buckets(f.bytes(t)?, bump)?,
            14 => p.zero_threshold = f.double(t)?,
            _ => {}
        }
        Ok(())
    })?;
    p.common = common;
    Ok(p)
}

fn summary_point<'a>(b: &'a [u8], bump: &'a Bump) -> Result<SummaryPoint<'a>, DecodeError> {
    let (mut count, mut sum) = (0, 0.0);
    let mut qs = BVec::new_in(bump);
    let common = point(b, bump, 7, 0, 8, |t, f| {
        match t {
            4 => count = f.fixed64(t)?,
            5 => sum = f.double(t)?,
            6 => {
                let mut q = (0.0, 0.0);
                fields(f.bytes(t)?, |t, f| {
                    match t {
                        1 => q.0 = f.double(t)?,
                        2 => q.1 = f.double(t)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                qs.push(q);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(SummaryPoint { common, count, sum, quantiles: qs.into_bump_slice() })
}

/// Decodes the points (field 1), temporality (2) and monotonic flag (3) of a gauge,
/// sum, histogram or summary message.
fn points<'a, P>(
    b: &'a [u8],
    bump: &'a Bump,
    each: impl Fn(&'a [u8], &'a Bump) -> Result<P, DecodeError>,
) -> Result<(&'a [P], bool, bool), DecodeError> {
    let mut out = BVec::new_in(bump);
    let (mut delta, mut monotonic) = (false, false);
    fields(b, |t, f| {
        match t {
            1 => out.push(each(f.bytes(t)?, bump)?),
            2 => delta = f.varint(t)? == 1,
            3 => monotonic = f.varint(t)? != 0,
            _ => {}
        }
        Ok(())
    })?;
    Ok((out.into_bump_slice(), delta, monotonic))
}

fn metric<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Metric<'a>, DecodeError> {
    let mut m = Metric { name: "", description: "", unit: "", data: None };
    fields(b, |t, f| {
        match t {
            1 => m.name = f.str(t)?,
            2 => m.description = f.str(t)?,
            3 => m.unit = f.str(t)?,
            5 => m.data = Some(Data::Gauge(points(f.bytes(t)?, bump, number_point)?.0)),
            7 => {
                let (p, delta, mono) = points(f.bytes(t)?, bump, number_point)?;
                m.data = Some(Data::Sum(p, delta, mono));
            }
            9 => {
                let (p, delta, _) = points(f.bytes(t)?, bump, histogram_point)?;
                m.data = Some(Data::Histogram(p, delta));
            }
            10 => {
                let (p, delta, _) = points(f.bytes(t)?, bump, exp_histogram_point)?;
                m.data = Some(Data::ExponentialHistogram(p, delta));
            }
            11 => m.data = Some(Data::Summary(points(f.bytes(t)?, bump, summary_point)?.0)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

/// Decodes an `ExportMetricsServiceRequest`.
pub fn metrics_request<'a>(b: &'a [u8], bump: &'a Bump) -> Result<&'a [ResourceMetrics<'a>], DecodeError> {
    crate::common::envelope(b, bump, metric)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1 as pm;
    use prost::Message;

    use super::*;

    #[test]
    fn decodes_what_prost_encodes() {
        let kv = |k: &str, v: any_value::Value| KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }) };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                    attributes: vec![
                        kv("service.name", any_value::Value::StringValue("svc".into())),
                        kv(
                            "list",
                            any_value::Value::ArrayValue(ArrayValue {
                                values: vec![AnyValue { value: Some(any_value::Value::IntValue(-3)) }],
                            }),
                        ),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![pm::ScopeMetrics {
                    scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                        name: "lib".into(),
                        version: "1.0".into(),
                        ..Default::default()
                    }),
                    metrics: vec![
                        pm::Metric {
                            name: "h".into(),
                            unit: "s".into(),
                            data: Some(pm::metric::Data::Histogram(pm::Histogram {
                                data_points: vec![pm::HistogramDataPoint {
                                    attributes: vec![kv("a", any_value::Value::BoolValue(true))],
                                    time_unix_nano: 5,
                                    count: 3,
                                    sum: Some(1.5),
                                    bucket_counts: vec![1, 2],
                                    explicit_bounds: vec![0.5],
                                    exemplars: vec![pm::Exemplar {
                                        value: Some(pm::exemplar::Value::AsInt(-7)),
                                        trace_id: vec![1; 16],
                                        ..Default::default()
                                    }],
                                    flags: 1,
                                    ..Default::default()
                                }],
                                aggregation_temporality: 1,
                            })),
                            ..Default::default()
                        },
                        pm::Metric {
                            name: "e".into(),
                            data: Some(pm::metric::Data::ExponentialHistogram(pm::ExponentialHistogram {
                                data_points: vec![pm::ExponentialHistogramDataPoint {
                                    scale: -2,
                                    positive: Some(pm::exponential_histogram_data_point::Buckets {
                                        offset: -5,
                                        bucket_counts: vec![4, 300],
                                    }),
                                    zero_threshold: 0.25,
                                    ..Default::default()
                                }],
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
        let bytes = req.encode_to_vec();
        let bump = Bump::new();
        let rms = metrics_request(&bytes, &bump).unwrap();
        assert_eq!(rms[0].resource[0].key, "service.name");
        assert!(matches!(rms[0].resource[0].value, Value::Str("svc")));
        assert!(matches!(rms[0].resource[1].value, Value::Array([Value::Int(-3)])));
        let sm = &rms[0].scopes[0];
        assert_eq!((sm.scope.unwrap().name, sm.scope.unwrap().version), ("lib", "1.0"));
        let Some(Data::Histogram(ps, true)) = sm.items[0].data else { panic!("{:?}", sm.items[0]) };
        let p = ps[0];
        assert_eq!((p.count, p.sum, p.bucket_counts, p.explicit_bounds), (3, Some(1.5), &[1, 2][..], &[0.5][..]));
        assert_eq!((p.common.time_unix_nano, p.common.flags), (5, 1));
        assert!(matches!(p.common.attributes[0].value, Value::Bool(true)));
        assert_eq!((p.common.exemplars[0].value, p.common.exemplars[0].trace_id), (-7.0, &[1u8; 16][..]));
        let Some(Data::ExponentialHistogram(ps, false)) = sm.items[1].data else { panic!() };
        assert_eq!((ps[0].scale, ps[0].positive, ps[0].zero_threshold), (-2, (-5, &[4, 300][..]), 0.25));

        assert!(metrics_request(&bytes[..bytes.len() - 3], &bump).is_err());
    }
}
