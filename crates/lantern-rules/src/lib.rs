//! Rule files in Prometheus's format: groups (`name`, `interval`, `limit`,
//! `query_offset`, `labels`) of recording rules (`record`, `expr`, `labels`) and alerting
//! rules (`alert`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`). A rule's
//! `expr` is PromQL, or LogQL with Lantern's `lang: logql` (one rule engine for every
//! signal). [`load`] reads and checks a file as `promtool check rules` does, and every
//! problem names the file, the line and the reason. [`slo`] reads SLO files and computes
//! error budgets; [`alerts`] keeps alerting rules' state as Prometheus does.

pub mod alerts;
pub mod eval;
pub mod mem;
pub mod querier;
pub mod slo;
pub mod template;
pub mod unittest;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use lantern_core::PromDuration;
use serde::{Deserialize, Serialize};

/// A problem with a rule file: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct RuleError {
    /// The file.
    pub file: String,
    /// The line (1-based; 0 when the problem is the whole file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A rule file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Rule groups.
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// A group of rules evaluated together, in order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique within the file.
    pub name: String,
    /// How often the group is evaluated (default: the global evaluation interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<PromDuration>,
    /// Most series an alerting rule may fire or a recording rule may write (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: usize,
    /// How far in the past the group's rules are evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_offset: Option<PromDuration>,
    /// Labels added to every rule's output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// The query language of a rule's expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// PromQL over metrics (the default).
    #[default]
    Promql,
    /// A LogQL metric query over logs.
    Logql,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The series a recording rule writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The name of an alerting rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The expression.
    pub expr: String,
    /// The expression's language (Lantern's extension).
    #[serde(default, skip_serializing_if = "Lang::is_promql")]
    pub lang: Lang,
    /// How long an alert is pending before it fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<PromDuration>,
    /// How long an alert keeps firing after its condition cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<PromDuration>,
    /// Labels added or overwritten (templates for alerts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations (templates) of an alert.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The line the rule starts on (filled in by [`parse`]).
    #[serde(skip)]
    pub line: usize,
}

impl Lang {
    fn is_promql(&self) -> bool {
        *self == Lang::Promql
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Rule {
    /// The rule's name: its alert or record.
    pub fn name(&self) -> &str {
        self.alert.as_deref().or(self.record.as_deref()).unwrap_or("")
    }
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The line of each rule: list items (`- `) that start with `alert:`, `record:` or
/// `expr:`, in document order (as serde reads the rules).
fn rule_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            l.trim_start().strip_prefix('-').is_some_and(|rest| {
                let t = rest.trim_start();
                t.starts_with("alert:") || t.starts_with("record:") || t.starts_with("expr:")
            })
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// Reads and checks rule file text (`file` names it in errors): every problem found,
/// or the rules.
pub fn parse(file: &str, text: &str) -> Result<RuleFile, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let mut rf: RuleFile = match serde_yaml::from_str::<Option<RuleFile>>(text) {
        Ok(f) => f.unwrap_or(RuleFile { groups: Vec::new() }),
        Err(e) => {
            let line = e.location().map_or(0, |l| l.line());
            return Err(vec![err(line, e.to_string())]);
        }
    };
    let lines = rule_lines(text);
    let mut n = 0;
    for g in &mut rf.groups {
        for r in &mut g.rules {
            r.line = lines.get(n).copied().unwrap_or(0);
            n += 1;
        }
    }
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    // Groups are the list items with `name:` (rules have `alert:`/`record:`).
    let group_lines = slo::item_lines(text, "name:");
    for (i, g) in rf.groups.iter().enumerate() {
        let gline = group_lines.get(i).copied().or(g.rules.first().map(|r| r.line)).unwrap_or(0);
        if g.name.is_empty() {
            errors.push(err(gline, "a group needs a name".into()));
        } else if !names.insert(g.name.clone()) {
            errors.push(err(gline, format!("group {:?}: the name is used by another group", g.name)));
        }
        if g.interval.is_some_and(|i| i.0.is_zero()) {
            errors.push(err(gline, format!("group {:?}: interval must be positive", g.name)));
        }
        for k in g.labels.keys().filter(|k| !valid_label_name(k)) {
            errors.push(err(gline, format!("group {:?}: invalid label name {k:?}", g.name)));
        }
        for r in &g.rules {
            let at = |reason: String| err(r.line, format!("group {:?}, rule {:?}: {reason}", g.name, r.name()));
            match (&r.record, &r.alert) {
                (Some(_), Some(_)) => errors.push(at("only one of 'record' and 'alert' may be set".into())),
                (None, None) => errors.push(at("one of 'record' or 'alert' must be set".into())),
                (Some(rec), None) => {
                    if !valid_metric_name(rec) {
                        errors.push(at(format!("invalid recording rule name {rec:?}")));
                    }
                    if r.for_.is_some() || r.keep_firing_for.is_some() {
                        errors.push(at("'for' and 'keep_firing_for' are for alerting rules".into()));
                    }
                    if !r.annotations.is_empty() {
                        errors.push(at("annotations are for alerting rules".into()));
                    }
                }
                (None, Some(a)) => {
                    if a.is_empty() {
                        errors.push(at("an alert needs a name".into()));
                    }
                }
            }
            if r.expr.trim().is_empty() {
                errors.push(at("'expr' is empty".into()));
            } else {
                match r.lang {
                    Lang::Promql => {
                        if let Err(e) = lantern_promql::parse(&r.expr) {
                            errors.push(at(format!("could not parse expression: {e}")));
                        }
                    }
                    Lang::Logql => match lantern_logql::parse(&r.expr) {
                        Ok(e) if e.is_log() => {
                            errors.push(at("a LogQL rule needs a metric query, not a log query".into()))
                        }
                        Ok(_) => {}
                        Err(e) => errors.push(at(format!("could not parse LogQL expression: {e}"))),
                    },
                }
            }
            for k in r.labels.keys() {
                if !valid_label_name(k) {
                    errors.push(at(format!("invalid label name {k:?}")));
                }
                if k == "__name__" {
                    errors.push(at("the label __name__ cannot be set".into()));
                }
            }
            for k in r.annotations.keys().filter(|k| !valid_label_name(k)) {
                errors.push(at(format!("invalid annotation name {k:?}")));
            }
            if r.alert.is_some() {
                for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
                    for (k, v) in map {
                        if let Err(e) = template::Template::parse(v) {
                            errors.push(at(format!("{what} {k:?}: bad template: {e}")));
                        }
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(rf)
    } else {
        Err(errors)
    }
}

/// Expands globs; a pattern without wildcards names a file that must exist.
pub fn expand_globs(patterns: &[String]) -> Result<Vec<String>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => {
                let found: Vec<String> = paths.filter_map(Result::ok).map(|p| p.display().to_string()).collect();
                if found.is_empty() && !p.contains(['*', '?', '[']) {
                    errors.push(format!("{p}: no such file"));
                }
                out.extend(found);
            }
            Err(e) => errors.push(format!("{p}: bad pattern: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Reads and checks a rule file.
pub fn load(path: &Path) -> Result<RuleFile, Vec<RuleError>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(vec![RuleError { file, line: 0, reason: format!("cannot read the file: {e}") }]),
    }
}

#[cfg(test)]
mod tests;
