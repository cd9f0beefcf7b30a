//! The `transform` processor: OTTL statements ([`crate::ottl`]) per signal, in order.
//! A statement is a string whose context is read from its target's prefix
//! (`set(span.attributes["x"], "y")`, `delete_key(resource.attributes, "k")`; a bare
//! `attributes` is the signal's item), or a group `{context, conditions, statements}`
//! whose conditions (OR-ed) guard every statement.

use serde::Deserialize;

use crate::data::Decoded;
use crate::ottl::{condition, statement, truth, Expr, Item, Statement};
use crate::processor::attributes::point_attributes;
use crate::processor::items::{metric_type, Around, LogItem, MetricItem, PointItem, ResourceItem, SpanItem};

/// A statement or a group of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Group {
    /// One statement; its context from its target.
    Basic(String),
    /// Statements in a context, guarded by conditions.
    Advanced {
        /// `resource`, `span`, `log`, `metric` or `datapoint`.
        context: String,
        /// OR-ed guard.
        #[serde(default)]
        conditions: Vec<String>,
        /// The statements.
        statements: Vec<String>,
    },
}

/// Its configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `propagate`, `ignore` or `silent`.
    pub error_mode: Option<String>,
    /// Statements on spans.
    pub trace_statements: Vec<Group>,
    /// Statements on metrics.
    pub metric_statements: Vec<Group>,
    /// Statements on logs.
    pub log_statements: Vec<Group>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    Resource,
    Span,
    Log,
    Metric,
    Point,
}

struct Compiled {
    ctx: Ctx,
    guard: Vec<Expr>,
    statement: Statement,
}

/// The compiled statements.
pub struct Transform {
    traces: Vec<Compiled>,
    metrics: Vec<Compiled>,
    logs: Vec<Compiled>,
}

const CONTEXTS: [&str; 5] = ["span", "log", "metric", "datapoint", "resource"];

fn context(name: &str, default: Ctx, allowed: &[Ctx]) -> Result<Ctx, String> {
    let c = match name {
        "" => default,
        "resource" => Ctx::Resource,
        "span" => Ctx::Span,
        "log" => Ctx::Log,
        "metric" => Ctx::Metric,
        "datapoint" => Ctx::Point,
        other => return Err(format!("context {other:?} is not supported by Lantern")),
    };
    if allowed.contains(&c) {
        Ok(c)
    } else {
        Err(format!("context {name:?} does not apply to this signal"))
    }
}

/// The context a basic statement's target names (`set(span.name, …)` → span).
fn inferred(src: &str) -> &str {
    let inner = src.split_once('(').map_or("", |(_, r)| r.trim_start());
    CONTEXTS.into_iter().find(|c| inner.starts_with(&format!("{c}."))).unwrap_or("")
}

/// The prefix a path may carry in a context (`resource.attributes` stays whole).
fn prefixes(ctx: Ctx) -> &'static [&'static str] {
    match ctx {
        Ctx::Resource => &[],
        Ctx::Span => &["span"],
        Ctx::Log => &["log"],
        Ctx::Metric => &["metric"],
        Ctx::Point => &["datapoint"],
    }
}

fn compile(groups: &[Group], default: Ctx, allowed: &[Ctx], path: &str) -> Result<Vec<Compiled>, String> {
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let at = |e: String| format!("{path}[{i}]: {e}");
        match g {
            Group::Basic(s) => {
                let ctx = context(inferred(s), default, allowed).map_err(at)?;
                let strip = prefixes(ctx);
                out.push(Compiled { ctx, guard: Vec::new(), statement: statement(s, strip).map_err(at)? });
            }
            Group::Advanced { context: name, conditions, statements } => {
                let ctx = context(name, default, allowed).map_err(at)?;
                let strip = prefixes(ctx);
                let guard =
                    conditions.iter().map(|c| condition(c, strip)).collect::<Result<Vec<_>, _>>().map_err(at)?;
                for s in statements {
                    out.push(Compiled { ctx, guard: guard.clone(), statement: statement(s, strip).map_err(at)? });
                }
            }
        }
    }
    Ok(out)
}

impl Config {
    /// Every problem.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        p.extend(crate::ottl::error_mode_problem(self.error_mode.as_deref()));
        if let Err(e) = Transform::new(self) {
            p.push(e);
        }
        p
    }
}

fn run(c: &Compiled, item: &mut dyn Item) {
    if c.guard.is_empty() || c.guard.iter().any(|g| truth(g, item)) {
        c.statement.run(item);
    }
}

impl Transform {
    /// Compiles the statements.
    pub fn new(c: &Config) -> Result<Self, String> {
        Ok(Self {
            traces: compile(&c.trace_statements, Ctx::Span, &[Ctx::Span, Ctx::Resource], "trace_statements")?,
            metrics: compile(
                &c.metric_statements,
                Ctx::Point,
                &[Ctx::Metric, Ctx::Point, Ctx::Resource],
                "metric_statements",
            )?,
            logs: compile(&c.log_statements, Ctx::Log, &[Ctx::Log, Ctx::Resource], "log_statements")?,
        })
    }

    /// Runs every statement of the payload's signal, in order.
    pub fn process(&self, d: &mut Decoded) {
        match d {
            Decoded::Traces(r) => {
                for c in &self.traces {
                    for rs in &mut r.resource_spans {
                        let res = rs.resource.get_or_insert_with(Default::default);
                        if c.ctx == Ctx::Resource {
                            run(c, &mut ResourceItem { attributes: &mut res.attributes });
                            continue;
                        }
                        for ss in &mut rs.scope_spans {
                            let (n, v) =
                                ss.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                            for span in &mut ss.spans {
                                run(
                                    c,
                                    &mut SpanItem {
                                        around: Around { resource: &res.attributes, scope: (&n, &v) },
                                        span,
                                    },
                                );
                            }
                        }
                    }
                }
            }
            Decoded::Logs(r) => {
                for c in &self.logs {
                    for rl in &mut r.resource_logs {
                        let res = rl.resource.get_or_insert_with(Default::default);
                        if c.ctx == Ctx::Resource {
                            run(c, &mut ResourceItem { attributes: &mut res.attributes });
                            continue;
                        }
                        for sl in &mut rl.scope_logs {
                            let (n, v) =
                                sl.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                            for log in &mut sl.log_records {
                                run(
                                    c,
                                    &mut LogItem { around: Around { resource: &res.attributes, scope: (&n, &v) }, log },
                                );
                            }
                        }
                    }
                }
            }
            Decoded::Metrics(r) => {
                for c in &self.metrics {
                    for rm in &mut r.resource_metrics {
                        let res = rm.resource.get_or_insert_with(Default::default);
                        if c.ctx == Ctx::Resource {
                            run(c, &mut ResourceItem { attributes: &mut res.attributes });
                            continue;
                        }
                        for sm in &mut rm.scope_metrics {
                            let (n, v) =
                                sm.scope.as_ref().map(|s| (s.name.clone(), s.version.clone())).unwrap_or_default();
                            for metric in &mut sm.metrics {
                                if c.ctx == Ctx::Metric {
                                    run(
                                        c,
                                        &mut MetricItem {
                                            around: Around { resource: &res.attributes, scope: (&n, &v) },
                                            metric,
                                        },
                                    );
                                    continue;
                                }
                                let (name, ty) = (metric.name.clone(), metric_type(metric));
                                for attributes in point_attributes(&mut metric.data) {
                                    run(
                                        c,
                                        &mut PointItem {
                                            around: Around { resource: &res.attributes, scope: (&n, &v) },
                                            metric_name: &name,
                                            metric_type: ty,
                                            attributes,
                                        },
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::actions::text;

    #[test]
    fn statements_set_and_delete_in_their_contexts() {
        let c: Config = serde_yaml::from_str(
            r#"
trace_statements:
  - 'set(span.attributes["env"], "prod") where span.name == "op1"'
  - 'set(resource.attributes["region"], "eu")'
  - context: span
    conditions: ['name == "op0"']
    statements: ['set(attributes["first"], true)', 'set(name, "renamed")']
  - 'delete_key(resource.attributes, "service.name")'
"#,
        )
        .unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let mut d = Decoded::Traces(crate::testing::spans("svc", 2));
        Transform::new(&c).unwrap().process(&mut d);
        let Decoded::Traces(r) = &d else { panic!() };
        let res: Vec<&str> =
            r.resource_spans[0].resource.as_ref().unwrap().attributes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(res, ["region"]);
        let spans = &r.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[0].name, "renamed");
        assert_eq!(spans[0].attributes.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["first"]);
        assert_eq!(text(spans[1].attributes[0].value.as_ref().unwrap()), "prod");
        let bad: Config = serde_yaml::from_str("log_statements: ['set(span.name, \"x\")']").unwrap();
        assert!(bad.problems()[0].contains("does not apply"), "{:?}", bad.problems());
    }
}
