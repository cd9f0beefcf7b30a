//! The `include`/`exclude` blocks of the `attributes` processor: `match_type` `strict`
//! or `regexp` over services, span names and kinds, attributes, resource attributes,
//! libraries, log bodies and severity texts, metric names. Every property given must
//! match (and), any item of a property's list may (or).

use opentelemetry_proto::tonic::common::v1::KeyValue;
use regex::Regex;
use serde::Deserialize;

use crate::processor::actions::{text, yaml_value};

/// One block as configured.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// `strict` or `regexp`.
    pub match_type: String,
    /// Resource `service.name`s.
    pub services: Vec<String>,
    /// Span names.
    pub span_names: Vec<String>,
    /// Span kinds (`SPAN_KIND_SERVER`, …; always strict).
    pub span_kinds: Vec<String>,
    /// Attributes (value optional: present is enough).
    pub attributes: Vec<KeyMatch>,
    /// Resource attributes.
    pub resources: Vec<KeyMatch>,
    /// Instrumentation scopes.
    pub libraries: Vec<Library>,
    /// Log bodies.
    pub log_bodies: Vec<String>,
    /// Log severity texts.
    pub log_severity_texts: Vec<String>,
    /// Metric names.
    pub metric_names: Vec<String>,
    /// Accepted for compatibility (patterns are compiled once).
    pub regexp: Option<serde_yaml::Value>,
}

/// `{key, value}`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct KeyMatch {
    /// The attribute.
    pub key: String,
    /// Its value, if it matters.
    #[serde(default)]
    pub value: Option<serde_yaml::Value>,
}

/// `{name, version}`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// The scope's name.
    pub name: String,
    /// Its version, if it matters.
    #[serde(default)]
    pub version: Option<String>,
}

/// What an item offers to be matched.
#[derive(Default)]
pub struct Subject<'a> {
    /// The resource's attributes.
    pub resource: &'a [KeyValue],
    /// The item's attributes.
    pub attributes: &'a [KeyValue],
    /// The scope's name and version.
    pub scope: Option<(&'a str, &'a str)>,
    /// A span's name.
    pub span_name: Option<&'a str>,
    /// A span's kind.
    pub span_kind: Option<i32>,
    /// A log record's body, as text.
    pub log_body: Option<String>,
    /// A log record's severity text.
    pub severity_text: Option<&'a str>,
    /// A metric's name.
    pub metric_name: Option<&'a str>,
}

/// A compiled block.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Vec<Pattern>,
    span_names: Vec<Pattern>,
    span_kinds: Vec<i32>,
    attributes: Vec<(String, Option<Pattern>)>,
    resources: Vec<(String, Option<Pattern>)>,
    libraries: Vec<(Pattern, Option<Pattern>)>,
    log_bodies: Vec<Pattern>,
    log_severity_texts: Vec<Pattern>,
    metric_names: Vec<Pattern>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Re(Regex),
}

impl Pattern {
    fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(e) => e == s,
            Pattern::Re(r) => r.is_match(s),
        }
    }
}

impl Matcher {
    /// Compiles a block.
    pub fn new(c: &MatchConfig) -> Result<Self, String> {
        let regexp = match c.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            other => return Err(format!("match_type: {other:?} is not strict or regexp")),
        };
        let pat = |s: &str| -> Result<Pattern, String> {
            if regexp {
                Regex::new(s).map(Pattern::Re).map_err(|e| format!("invalid regexp {s:?}: {e}"))
            } else {
                Ok(Pattern::Exact(s.to_string()))
            }
        };
        let pats = |v: &[String]| v.iter().map(|s| pat(s)).collect::<Result<Vec<_>, _>>();
        let kv = |v: &[KeyMatch]| {
            v.iter()
                .map(|k| {
                    let value = k.value.as_ref().and_then(yaml_value).map(|v| text(&v));
                    Ok((k.key.clone(), value.map(|s| pat(&s)).transpose()?))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let kinds = c
            .span_kinds
            .iter()
            .map(|k| match k.as_str() {
                "SPAN_KIND_UNSPECIFIED" => Ok(0),
                "SPAN_KIND_INTERNAL" => Ok(1),
                "SPAN_KIND_SERVER" => Ok(2),
                "SPAN_KIND_CLIENT" => Ok(3),
                "SPAN_KIND_PRODUCER" => Ok(4),
                "SPAN_KIND_CONSUMER" => Ok(5),
                other => Err(format!("span_kinds: unknown kind {other:?}")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            services: pats(&c.services)?,
            span_names: pats(&c.span_names)?,
            span_kinds: kinds,
            attributes: kv(&c.attributes)?,
            resources: kv(&c.resources)?,
            libraries: c
                .libraries
                .iter()
                .map(|l| Ok((pat(&l.name)?, l.version.as_deref().map(pat).transpose()?)))
                .collect::<Result<Vec<_>, String>>()?,
            log_bodies: pats(&c.log_bodies)?,
            log_severity_texts: pats(&c.log_severity_texts)?,
            metric_names: pats(&c.metric_names)?,
        })
    }

    /// Whether the item matches every property given.
    pub fn matches(&self, s: &Subject) -> bool {
        let any = |ps: &[Pattern], v: Option<&str>| ps.is_empty() || v.is_some_and(|v| ps.iter().any(|p| p.matches(v)));
        let attrs = |want: &[(String, Option<Pattern>)], have: &[KeyValue]| {
            want.iter().all(|(k, v)| {
                have.iter().any(|a| {
                    a.key == *k && v.as_ref().is_none_or(|p| p.matches(&a.value.as_ref().map(text).unwrap_or_default()))
                })
            })
        };
        let service = s.resource.iter().find(|a| a.key == "service.name").and_then(|a| a.value.as_ref()).map(text);
        any(&self.services, service.as_deref())
            && any(&self.span_names, s.span_name)
            && (self.span_kinds.is_empty() || s.span_kind.is_some_and(|k| self.span_kinds.contains(&k)))
            && attrs(&self.attributes, s.attributes)
            && attrs(&self.resources, s.resource)
            && (self.libraries.is_empty()
                || s.scope.is_some_and(|(n, v)| {
                    self.libraries.iter().any(|(pn, pv)| pn.matches(n) && pv.as_ref().is_none_or(|p| p.matches(v)))
                }))
            && any(&self.log_bodies, s.log_body.as_deref())
            && any(&self.log_severity_texts, s.severity_text)
            && any(&self.metric_names, s.metric_name)
    }
}
