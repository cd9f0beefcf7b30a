//! The `filter` processor: OTTL conditions ([`crate::ottl`]) per context, OR-ed;
//! matching telemetry is dropped (`traces.span`, `metrics.metric`,
//! `metrics.datapoint`, `logs.log_record`). A metric left without data points goes, and
//! so do scopes and resources left empty.

use serde::Deserialize;

use crate::data::Decoded;
use crate::ottl::{condition, truth, Expr};
use crate::processor::attributes::point_attributes;
use crate::processor::items::{metric_type, Around, LogItem, MetricItem, PointItem, SpanItem};

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `propagate` (default), `ignore` or `silent` (conditions are checked when read, so
    /// they do not fail at run time).
    pub error_mode: Option<String>,
    /// Span conditions.
    pub traces: TraceConditions,
    /// Metric and data point conditions.
    pub metrics: MetricConditions,
    /// Log record conditions.
    pub logs: LogConditions,
    /// The legacy form (not supported by Lantern: use OTTL conditions).
    pub spans: Option<serde_yaml::Value>,
}

/// `traces`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConditions {
    /// Drop spans matching any.
    pub span: Vec<String>,
    /// Span events (not supported by Lantern yet).
    pub spanevent: Vec<String>,
}

/// `metrics`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricConditions {
    /// Drop metrics matching any.
    pub metric: Vec<String>,
    /// Drop data points matching any.
    pub datapoint: Vec<String>,
    /// The legacy form (not supported).
    pub include: Option<serde_yaml::Value>,
    /// The legacy form (not supported).
    pub exclude: Option<serde_yaml::Value>,
}

/// `logs`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LogConditions {
    /// Drop log records matching any.
    pub log_record: Vec<String>,
    /// The legacy form (not supported).
    pub include: Option<serde_yaml::Value>,
    /// The legacy form (not supported).
    pub exclude: Option<serde_yaml::Value>,
}

/// The compiled conditions.
pub struct Filter {
    span: Vec<Expr>,
    metric: Vec<Expr>,
    datapoint: Vec<Expr>,
    log: Vec<Expr>,
}

fn compile(list: &[String], path: &str, contexts: &[&str]) -> Result<Vec<Expr>, String> {
    list.iter().enumerate().map(|(i, c)| condition(c, contexts).map_err(|e| format!("{path}[{i}]: {e}"))).collect()
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        p.extend(crate::ottl::error_mode_problem(self.error_mode.as_deref()));
        if self.spans.is_some()
            || self.metrics.include.is_some()
            || self.metrics.exclude.is_some()
            || self.logs.include.is_some()
            || self.logs.exclude.is_some()
        {
            p.push("the legacy include/exclude form is not supported by Lantern: write OTTL conditions".into());
        }
        if !self.traces.spanevent.is_empty() {
            p.push("traces::spanevent: span event conditions are not supported by Lantern yet".into());
        }
        if let Err(e) = Filter::new(self) {
            p.push(e);
        }
        p
    }
}

impl Filter {
    /// Compiles the conditions.
    pub fn new(c: &Config) -> Result<Self, String> {
        Ok(Self {
            span: compile(&c.traces.span, "traces::span", &["span"])?,
            metric: compile(&c.metrics.metric, "metrics::metric", &["metric"])?,
            datapoint: compile(&c.metrics.datapoint, "metrics::datapoint", &["datapoint"])?,
            log: compile(&c.logs.log_record, "logs::log_record", &["log"])?,
        })
    }

    /// Drops what matches.
    pub fn process(&self, d: &mut Decoded) {
        match d {
            Decoded::Traces(r) if !self.span.is_empty() => {
                for rs in &mut r.resource_spans {
                    let res = rs.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for ss in &mut rs.scope_spans {
                        let (n, v) = ss.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                        ss.spans.retain_mut(|span| {
                            let item = SpanItem { around: Around { resource: &res, scope: (&n, &v) }, span };
                            !self.span.iter().any(|c| truth(c, &item))
                        });
                    }
                    rs.scope_spans.retain(|ss| !ss.spans.is_empty());
                }
                r.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
            }
            Decoded::Logs(r) if !self.log.is_empty() => {
                for rl in &mut r.resource_logs {
                    let res = rl.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for sl in &mut rl.scope_logs {
                        let (n, v) = sl.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                        sl.log_records.retain_mut(|log| {
                            let item = LogItem { around: Around { resource: &res, scope: (&n, &v) }, log };
                            !self.log.iter().any(|c| truth(c, &item))
                        });
                    }
                    rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
                }
                r.resource_logs.retain(|rl| !rl.scope_logs.is_empty());
            }
            Decoded::Metrics(r) if !(self.metric.is_empty() && self.datapoint.is_empty()) => {
                for rm in &mut r.resource_metrics {
                    let res = rm.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for sm in &mut rm.scope_metrics {
                        let (n, v) = sm.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                        sm.metrics.retain_mut(|metric| {
                            let item = MetricItem { around: Around { resource: &res, scope: (&n, &v) }, metric };
                            !self.metric.iter().any(|c| truth(c, &item))
                        });
                        if !self.datapoint.is_empty() {
                            for m in &mut sm.metrics {
                                let (name, ty) = (m.name.clone(), metric_type(m));
                                let keep: Vec<bool> = point_attributes(&mut m.data)
                                    .into_iter()
                                    .map(|attributes| {
                                        let item = PointItem {
                                            around: Around { resource: &res, scope: (&n, &v) },
                                            metric_name: &name,
                                            metric_type: ty,
                                            attributes,
                                        };
                                        !self.datapoint.iter().any(|c| truth(c, &item))
                                    })
                                    .collect();
                                retain_points(&mut m.data, &keep);
                            }
                            sm.metrics.retain_mut(|m| !point_attributes(&mut m.data).is_empty());
                        }
                    }
                    rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
                }
                r.resource_metrics.retain(|rm| !rm.scope_metrics.is_empty());
            }
            _ => {}
        }
    }
}

/// Keeps the data points whose entry in `keep` is true.
fn retain_points(data: &mut Option<opentelemetry_proto::tonic::metrics::v1::metric::Data>, keep: &[bool]) {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    fn keep_some<T>(v: &mut Vec<T>, keep: &[bool]) {
        let mut i = 0;
        v.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
    }
    match data {
        Some(Data::Gauge(g)) => keep_some(&mut g.data_points, keep),
        Some(Data::Sum(s)) => keep_some(&mut s.data_points, keep),
        Some(Data::Histogram(h)) => keep_some(&mut h.data_points, keep),
        Some(Data::ExponentialHistogram(h)) => keep_some(&mut h.data_points, keep),
        Some(Data::Summary(s)) => keep_some(&mut s.data_points, keep),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_spans_are_dropped_and_empty_resources_go() {
        let c: Config = serde_yaml::from_str(
            "error_mode: ignore\ntraces:\n  span:\n    - 'name == \"op1\"'\n    - 'IsMatch(span.name, \"^op[23]$\") and resource.attributes[\"service.name\"] == \"svc\"'\n",
        )
        .unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let mut d = Decoded::Traces(crate::testing::spans("svc", 5));
        Filter::new(&c).unwrap().process(&mut d);
        assert_eq!(d.encode().items, 2, "op0 and op4 stay");
        let mut all = Decoded::Traces(crate::testing::spans("svc", 2));
        let every: Config = serde_yaml::from_str("traces: {span: ['kind == SPAN_KIND_UNSPECIFIED']}").unwrap();
        Filter::new(&every).unwrap().process(&mut all);
        let Decoded::Traces(r) = &all else { panic!() };
        assert!(r.resource_spans.is_empty());
        let bad: Config = serde_yaml::from_str("logs: {log_record: ['Foo(body)']}").unwrap();
        assert!(
            bad.problems()[0].contains("logs::log_record[0]: the function Foo is not supported"),
            "{:?}",
            bad.problems()
        );
    }
}
