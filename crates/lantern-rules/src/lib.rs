//! Rule files in Prometheus's format: groups (`name`, `interval`, `limit`,
//! `query_offset`, `labels`) of recording rules (`record`, `expr`, `labels`) and alerting
//! rules (`alert`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`). A rule's
//! `expr` is PromQL, or LogQL with Lantern's `lang: logql` (one rule engine for every
//! signal). [`load`] reads and checks a file as `promtool check rules` does, and every
//! problem names the file, the line and the reason. [`slo`] reads SLO files and computes
//! error budgets; [`alerts`] keeps alerting rules' state as Prometheus does.

pub mod alerts;
pub mod error;
pub mod eval;
pub mod mem;
pub mod querier;
pub mod slo;
pub mod template;
pub mod unittest;

pub use error::EvalError;

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

/// A problem and the line it is on.
type LineProblem = (usize, String);

/// One step of a path into the YAML.
enum Step {
    Key(String),
    Index(usize),
}

fn steps(p: &serde_path_to_error::Path) -> Vec<Step> {
    use serde_path_to_error::Segment;
    p.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { variant } => Some(Step::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Reads rule file text into a [`RuleFile`], collecting every field of the wrong type
/// or value rather than stopping at the first: each is reported (with the line of its
/// rule or group and its path, `groups[0].rules[1].for`), removed, and the reading
/// tried again, so the rest of the file is still checked. A problem that cannot be
/// removed (bad YAML, a group or rule that is not a map) is the only one reported.
fn read_lenient(
    text: &str,
    rule_lines: &[usize],
    group_lines: &[usize],
) -> Result<(RuleFile, Vec<LineProblem>), LineProblem> {
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| (e.location().map_or(0, |l| l.line()), e.to_string()))?;
    if doc.is_null() {
        return Ok((RuleFile { groups: Vec::new() }, Vec::new()));
    }
    let mut problems = Vec::new();
    for _ in 0..1000 {
        let e = match serde_path_to_error::deserialize::<_, RuleFile>(doc.clone()) {
            Ok(rf) => return Ok((rf, problems)),
            Err(e) => e,
        };
        let path = steps(e.path());
        let message = e.inner().to_string();
        // The line: the rule's, else the group's.
        let (g, r) = match path.as_slice() {
            [Step::Key(k), Step::Index(g), Step::Key(rs), Step::Index(r), ..] if k == "groups" && rs == "rules" => {
                (Some(*g), Some(*r))
            }
            [Step::Key(k), Step::Index(g), ..] if k == "groups" => (Some(*g), None),
            _ => (None, None),
        };
        let line = match (g, r) {
            (Some(g), Some(r)) => {
                let before: usize = (0..g).map(|i| doc["groups"][i]["rules"].as_sequence().map_or(0, Vec::len)).sum();
                rule_lines.get(before + r).copied().unwrap_or(0)
            }
            (Some(g), None) => group_lines.get(g).copied().unwrap_or(0),
            _ => 0,
        };
        // Remove what was wrong: the field the path names, or the unknown field named.
        let unknown = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()).map(str::to_string);
        let (field, parent) = match (&unknown, path.split_last()) {
            // The path may end at the unknown field itself, or at the map holding it.
            (Some(u), Some((Step::Key(k), parent))) if k == u => (u.clone(), parent),
            (Some(u), _) => (u.clone(), &path[..]),
            (None, Some((Step::Key(k), parent))) => (k.clone(), parent),
            _ => return Err((line, format!("{}: {message}", e.path()))),
        };
        let mut at = &mut doc;
        for s in parent {
            at = match s {
                Step::Key(k) => &mut at[k.as_str()],
                Step::Index(i) => &mut at[*i],
            };
        }
        let shown = e.path().to_string();
        match at.as_mapping_mut().and_then(|m| m.remove(field.as_str())) {
            Some(_) => problems.push((line, format!("{shown}: {message}"))),
            None => return Err((line, format!("{shown}: {message}"))),
        }
    }
    Err((0, "too many problems".into()))
}

/// Reads and checks rule file text (`file` names it in errors): every problem found,
/// or the rules.
pub fn parse(file: &str, text: &str) -> Result<RuleFile, Vec<RuleError>> {
    let err = |line: usize, reason: String| RuleError { file: file.to_string(), line, reason };
    let lines = rule_lines(text);
    let group_lines = slo::item_lines(text, "name:");
    let (mut rf, mut errors) = read_lenient(text, &lines, &group_lines).map_err(|(line, e)| vec![err(line, e)])?;
    let mut errors: Vec<RuleError> = errors.drain(..).map(|(line, e)| err(line, e)).collect();
    let mut n = 0;
    for g in &mut rf.groups {
        for r in &mut g.rules {
            r.line = lines.get(n).copied().unwrap_or(0);
            n += 1;
        }
    }
    let mut names = HashSet::new();
    // Groups are the list items with `name:` (rules have `alert:`/`record:`).
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
        // In the order of the file.
        errors.sort_by_key(|e| e.line);
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
