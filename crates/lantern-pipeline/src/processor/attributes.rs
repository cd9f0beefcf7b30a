//! The `attributes` processor (span, log record and data point attributes) and the
//! `resource` processor (resource attributes), both running a list of
//! [`actions`](crate::processor::actions); `attributes` only on items its `include`
//! block matches and its `exclude` block does not.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use serde::Deserialize;

use crate::data::Decoded;
use crate::processor::actions::{build, text, Action, ActionConfig};
use crate::processor::matching::{MatchConfig, Matcher, Subject};

/// The `attributes` processor's configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The actions, in order.
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
    /// Only items matching this.
    #[serde(default)]
    pub include: Option<MatchConfig>,
    /// Not items matching this.
    #[serde(default)]
    pub exclude: Option<MatchConfig>,
}

/// The `resource` processor's configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// The actions, in order.
    #[serde(default)]
    pub attributes: Vec<ActionConfig>,
}

impl ResourceConfig {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.attributes.is_empty() {
            p.push("missing required field \"attributes\"".into());
        }
        if let Err(e) = build(&self.attributes) {
            p.push(format!("attributes: {e}"));
        }
        p
    }
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.actions.is_empty() {
            p.push("error creating \"attributes\" processor due to missing required field \"actions\"".into());
        }
        if let Err(e) = build(&self.actions) {
            p.push(e);
        }
        for (name, m) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(Err(e)) = m.as_ref().map(Matcher::new) {
                p.push(format!("{name}: {e}"));
            }
        }
        p
    }
}

/// The `attributes` processor, compiled.
pub struct Attributes {
    actions: Vec<Action>,
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl Attributes {
    /// From a checked configuration.
    pub fn new(c: &Config) -> Result<Self, String> {
        Ok(Self {
            actions: build(&c.actions)?,
            include: c.include.as_ref().map(Matcher::new).transpose()?,
            exclude: c.exclude.as_ref().map(Matcher::new).transpose()?,
        })
    }

    fn wanted(&self, s: &Subject) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches(s)) && !self.exclude.as_ref().is_some_and(|m| m.matches(s))
    }

    fn apply(&self, attrs: &mut Vec<KeyValue>) {
        for a in &self.actions {
            a.apply(attrs);
        }
    }

    /// Runs the actions on every wanted item.
    pub fn process(&self, d: &mut Decoded) {
        match d {
            Decoded::Traces(r) => {
                for rs in &mut r.resource_spans {
                    let res = rs.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for ss in &mut rs.scope_spans {
                        let scope = ss.scope.as_ref().map(|s| (s.name.clone(), s.version.clone()));
                        for sp in &mut ss.spans {
                            let wanted = self.wanted(&Subject {
                                resource: &res,
                                attributes: &sp.attributes,
                                scope: scope.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                                span_name: Some(&sp.name),
                                span_kind: Some(sp.kind),
                                ..Default::default()
                            });
                            if wanted {
                                self.apply(&mut sp.attributes);
                            }
                        }
                    }
                }
            }
            Decoded::Logs(r) => {
                for rl in &mut r.resource_logs {
                    let res = rl.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for sl in &mut rl.scope_logs {
                        let scope = sl.scope.as_ref().map(|s| (s.name.clone(), s.version.clone()));
                        for lr in &mut sl.log_records {
                            let wanted = self.wanted(&Subject {
                                resource: &res,
                                attributes: &lr.attributes,
                                scope: scope.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                                log_body: lr.body.as_ref().map(text),
                                severity_text: Some(&lr.severity_text),
                                ..Default::default()
                            });
                            if wanted {
                                self.apply(&mut lr.attributes);
                            }
                        }
                    }
                }
            }
            Decoded::Metrics(r) => {
                for rm in &mut r.resource_metrics {
                    let res = rm.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
                    for sm in &mut rm.scope_metrics {
                        let scope = sm.scope.as_ref().map(|s| (s.name.clone(), s.version.clone()));
                        for m in &mut sm.metrics {
                            let name = m.name.clone();
                            for attrs in point_attributes(&mut m.data) {
                                let wanted = self.wanted(&Subject {
                                    resource: &res,
                                    attributes: attrs,
                                    scope: scope.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                                    metric_name: Some(&name),
                                    ..Default::default()
                                });
                                if wanted {
                                    self.apply(attrs);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The attribute lists of a metric's data points.
pub fn point_attributes(data: &mut Option<Data>) -> Vec<&mut Vec<KeyValue>> {
    match data {
        Some(Data::Gauge(g)) => g.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Sum(s)) => s.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Histogram(h)) => h.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Summary(s)) => s.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        None => Vec::new(),
    }
}

/// The `resource` processor, compiled.
pub struct ResourceProcessor {
    actions: Vec<Action>,
}

impl ResourceProcessor {
    /// From a checked configuration.
    pub fn new(c: &ResourceConfig) -> Result<Self, String> {
        Ok(Self { actions: build(&c.attributes)? })
    }

    /// Runs the actions on every resource.
    pub fn process(&self, d: &mut Decoded) {
        let run = |r: &mut Option<opentelemetry_proto::tonic::resource::v1::Resource>| {
            let r = r.get_or_insert_with(Default::default);
            for a in &self.actions {
                a.apply(&mut r.attributes);
            }
        };
        match d {
            Decoded::Traces(x) => x.resource_spans.iter_mut().for_each(|rs| run(&mut rs.resource)),
            Decoded::Logs(x) => x.resource_logs.iter_mut().for_each(|rl| run(&mut rl.resource)),
            Decoded::Metrics(x) => x.resource_metrics.iter_mut().for_each(|rm| run(&mut rm.resource)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_run_on_included_spans_and_on_resources() {
        let c: Config = serde_yaml::from_str(
            "actions: [{key: env, action: upsert, value: prod}]\ninclude: {match_type: regexp, span_names: ['^op[01]$']}\nexclude: {match_type: strict, span_names: [op1]}\n",
        )
        .unwrap();
        assert!(c.problems().is_empty());
        let mut d = Decoded::Traces(crate::testing::spans("svc", 3));
        Attributes::new(&c).unwrap().process(&mut d);
        let Decoded::Traces(r) = &d else { panic!() };
        let tagged: Vec<bool> = r.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.attributes.iter().any(|a| a.key == "env"))
            .collect();
        assert_eq!(tagged, vec![true, false, false], "op0 included; op1 excluded; op2 not included");

        let rc: ResourceConfig = serde_yaml::from_str("attributes: [{key: deployment.environment, action: insert, value: test}, {key: service.name, action: update, value: renamed}]").unwrap();
        ResourceProcessor::new(&rc).unwrap().process(&mut d);
        let Decoded::Traces(r) = &d else { panic!() };
        let res: Vec<(String, String)> = r.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .map(|a| (a.key.clone(), text(a.value.as_ref().unwrap())))
            .collect();
        assert_eq!(
            res,
            vec![("service.name".into(), "renamed".into()), ("deployment.environment".into(), "test".into())]
        );
        assert_eq!(ResourceConfig::default().problems(), vec!["missing required field \"attributes\"".to_string()]);
    }
}
