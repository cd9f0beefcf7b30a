//! Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`, and the
//! collector's relabel processors): every action (`replace`, `keep`, `drop`, `keepequal`,
//! `dropequal`, `hashmod`, `labelmap`, `labeldrop`, `labelkeep`, `lowercase`,
//! `uppercase`) with Prometheus's defaults and validation. Pure.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Set `target_label` to `replacement` (with the regex's captures) when the regex matches.
    #[default]
    Replace,
    /// Keep the target only if the regex matches.
    Keep,
    /// Drop the target if the regex matches.
    Drop,
    /// Keep the target only if the source value equals `target_label`'s value.
    KeepEqual,
    /// Drop the target if the source value equals `target_label`'s value.
    DropEqual,
    /// Set `target_label` to the MD5 of the source value modulo `modulus`.
    HashMod,
    /// Copy labels whose names match the regex to names made by `replacement`.
    LabelMap,
    /// Remove labels whose names match the regex.
    LabelDrop,
    /// Remove labels whose names do not match the regex.
    LabelKeep,
    /// Set `target_label` to the source value in lower case.
    Lowercase,
    /// Set `target_label` to the source value in upper case.
    Uppercase,
}

/// One step of a relabeling, as written in a Prometheus config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined to make the source value.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Joins the source values (default `;`).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Matched against the source value, anchored at both ends (default `(.*)`).
    #[serde(default = "default_regex", deserialize_with = "regex_source")]
    pub regex: String,
    /// For `hashmod`.
    #[serde(default)]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`.
    #[serde(default)]
    pub target_label: String,
    /// What `replace` and `labelmap` write (default `$1`).
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// The action (default `replace`).
    #[serde(default)]
    pub action: Action,
}

fn default_separator() -> String {
    ";".into()
}
fn default_regex() -> String {
    "(.*)".into()
}
fn default_replacement() -> String {
    "$1".into()
}

/// Prometheus accepts the regex as a string (numbers too, as YAML may type them).
fn regex_source<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        Str(String),
        Num(f64),
        Int(i64),
    }
    Ok(match S::deserialize(d)? {
        S::Str(s) => s,
        S::Int(i) => i.to_string(),
        S::Num(f) => f.to_string(),
    })
}

/// A configuration problem, naming the step and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("relabel step {index}: {message}")]
pub struct ConfigError {
    /// 0-based position of the step.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// A validated step with its compiled regex.
#[derive(Debug, Clone)]
pub struct Rule {
    cfg: RelabelConfig,
    re: Regex,
}

/// Validates and compiles a list of steps.
pub fn compile(cfgs: &[RelabelConfig]) -> Result<Vec<Rule>, ConfigError> {
    cfgs.iter()
        .enumerate()
        .map(|(index, c)| {
            let err = |m: String| ConfigError { index, message: m };
            let re = Regex::new(&format!("^(?s:{})$", c.regex))
                .map_err(|e| err(format!("invalid regex {:?}: {e}", c.regex)))?;
            let needs_target = matches!(
                c.action,
                Action::Replace
                    | Action::HashMod
                    | Action::Lowercase
                    | Action::Uppercase
                    | Action::KeepEqual
                    | Action::DropEqual
            );
            if needs_target && c.target_label.is_empty() {
                return Err(err(format!(
                    "relabel configuration for {} action requires 'target_label' value",
                    name(c.action)
                )));
            }
            if matches!(c.action, Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual)
                && !is_label_name(&c.target_label)
            {
                return Err(err(format!(
                    "{:?} is invalid 'target_label' for {} action",
                    c.target_label,
                    name(c.action)
                )));
            }
            if c.action == Action::Replace && !c.target_label.contains('$') && !is_label_name(&c.target_label) {
                return Err(err(format!("{:?} is invalid 'target_label' for replace action", c.target_label)));
            }
            if c.action == Action::HashMod && c.modulus == 0 {
                return Err(err("relabel configuration for hashmod requires non-zero modulus".into()));
            }
            if matches!(c.action, Action::LabelDrop | Action::LabelKeep)
                && (!c.source_labels.is_empty()
                    || !c.target_label.is_empty()
                    || c.modulus != 0
                    || c.separator != default_separator()
                    || c.replacement != default_replacement())
            {
                return Err(err(format!("{} action requires only 'regex', and no other fields", name(c.action))));
            }
            Ok(Rule { cfg: c.clone(), re })
        })
        .collect()
}

fn name(a: Action) -> &'static str {
    match a {
        Action::Replace => "replace",
        Action::Keep => "keep",
        Action::Drop => "drop",
        Action::KeepEqual => "keepequal",
        Action::DropEqual => "dropequal",
        Action::HashMod => "hashmod",
        Action::LabelMap => "labelmap",
        Action::LabelDrop => "labeldrop",
        Action::LabelKeep => "labelkeep",
        Action::Lowercase => "lowercase",
        Action::Uppercase => "uppercase",
    }
}

/// Whether `s` is a classic label name.
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Applies `rules` in order to `labels` (name → value; an empty value is no label).
/// Returns `false` if a step dropped the target.
pub fn process(rules: &[Rule], labels: &mut BTreeMap<String, String>) -> bool {
    for r in rules {
        if !apply(r, labels) {
            return false;
        }
    }
    labels.retain(|_, v| !v.is_empty());
    true
}

fn apply(r: &Rule, labels: &mut BTreeMap<String, String>) -> bool {
    let c = &r.cfg;
    let value = || {
        c.source_labels
            .iter()
            .map(|n| labels.get(n).map(String::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&c.separator)
    };
    match c.action {
        Action::Keep => return r.re.is_match(&value()),
        Action::Drop => return !r.re.is_match(&value()),
        Action::KeepEqual => return value() == labels.get(&c.target_label).map(String::as_str).unwrap_or(""),
        Action::DropEqual => return value() != labels.get(&c.target_label).map(String::as_str).unwrap_or(""),
        Action::Replace => {
            let v = value();
            let Some(caps) = r.re.captures(&v) else { return true };
            let mut target = String::new();
            caps.expand(&c.target_label, &mut target);
            if !is_label_name(&target) {
                return true;
            }
            let mut res = String::new();
            caps.expand(&c.replacement, &mut res);
            if res.is_empty() {
                labels.remove(&target);
            } else {
                labels.insert(target, res);
            }
        }
        Action::Lowercase => {
            let v = value().to_lowercase();
            labels.insert(c.target_label.clone(), v);
        }
        Action::Uppercase => {
            let v = value().to_uppercase();
            labels.insert(c.target_label.clone(), v);
        }
        Action::HashMod => {
            let sum = Md5::digest(value().as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&sum[8..16]);
            let m = u64::from_be_bytes(tail) % c.modulus;
            labels.insert(c.target_label.clone(), m.to_string());
        }
        Action::LabelMap => {
            let add: Vec<(String, String)> = labels
                .iter()
                .filter(|(n, _)| r.re.is_match(n))
                .map(|(n, v)| (r.re.replace_all(n, c.replacement.as_str()).into_owned(), v.clone()))
                .collect();
            for (n, v) in add {
                labels.insert(n, v);
            }
        }
        Action::LabelDrop => labels.retain(|n, _| !r.re.is_match(n)),
        Action::LabelKeep => labels.retain(|n, _| r.re.is_match(n)),
    }
    true
}

#[cfg(test)]
mod tests;
