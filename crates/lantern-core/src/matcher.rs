//! Label matchers (`=`, `!=`, `=~`, `!~`) as used by series selectors.

use regex::Regex;

use crate::{Error, Result};

/// The comparison a matcher applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

/// One label matcher. An absent label matches as the empty string, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The comparison.
    pub op: MatchOp,
    /// The label name.
    pub name: String,
    /// The value or the regular expression source.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regular expressions are anchored at both ends.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| Error::InvalidRegex(value.clone(), e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Self { op, name: name.into(), value, re })
    }

    /// An `=` matcher (cannot fail).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { op: MatchOp::Equal, name: name.into(), value: value.into(), re: None }
    }

    /// Whether `value` (the label's value, `""` when absent) passes.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == value,
            MatchOp::NotEqual => self.value != value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether the matcher accepts the empty string (so also series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=~` matchers that are a plain alternation of literals (`a|b|c`), the literals;
    /// lets an index look up values directly instead of scanning.
    pub fn set_literals(&self) -> Option<Vec<String>> {
        if self.op != MatchOp::Regex {
            return None;
        }
        let special = |c: char| "\\.+*?()[]{}^$".contains(c);
        if self.value.chars().any(special) {
            return None;
        }
        Some(self.value.split('|').map(str::to_string).collect())
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_empty_matching_is_known() {
        let m = Matcher::new(MatchOp::Regex, "job", "api.*").unwrap();
        assert!(m.matches("api-1"));
        assert!(!m.matches("xapi"));
        assert!(!m.matches_empty());
        let m = Matcher::new(MatchOp::NotRegex, "job", "api").unwrap();
        assert!(m.matches_empty());
        assert!(!m.matches("api"));
        assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
    }

    #[test]
    fn literal_alternations_are_recognised() {
        let m = Matcher::new(MatchOp::Regex, "job", "a|b").unwrap();
        assert_eq!(m.set_literals(), Some(vec!["a".into(), "b".into()]));
        let m = Matcher::new(MatchOp::Regex, "job", "a.*").unwrap();
        assert_eq!(m.set_literals(), None);
    }
}
