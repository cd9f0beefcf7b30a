//! The attribute actions the `attributes` and `resource` processors share, as the
//! Collector defines them: `insert` (only if absent), `update` (only if present),
//! `upsert`, `delete` and `hash` (by `key` or a `pattern` on names), `extract` (named
//! groups of `pattern` over the value become attributes) and `convert` (to `int`,
//! `double` or `string`). A value comes from `value`, `from_attribute` or
//! `default_value`.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One action as configured.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The attribute acted on.
    #[serde(default)]
    pub key: Option<String>,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert`.
    pub action: String,
    /// The value set.
    #[serde(default)]
    pub value: Option<serde_yaml::Value>,
    /// The attribute whose value is set.
    #[serde(default)]
    pub from_attribute: Option<String>,
    /// Request metadata (not supported by Lantern).
    #[serde(default)]
    pub from_context: Option<String>,
    /// The value set when no other source has one.
    #[serde(default)]
    pub default_value: Option<serde_yaml::Value>,
    /// A regular expression: on names (`delete`, `hash`) or on the value (`extract`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// `int`, `double` or `string` (`convert`).
    #[serde(default)]
    pub converted_type: Option<String>,
}

/// An action ready to apply.
#[derive(Debug, Clone)]
pub struct Action {
    key: Option<String>,
    kind: Kind,
    pattern: Option<Regex>,
}

#[derive(Debug, Clone)]
enum Kind {
    Insert(Source),
    Update(Source),
    Upsert(Source),
    Delete,
    Hash,
    Extract,
    Convert(String),
}

#[derive(Debug, Clone)]
enum Source {
    Value(AnyValue),
    From(String, Option<AnyValue>),
}

/// A YAML scalar as an attribute value.
pub fn yaml_value(v: &serde_yaml::Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let v = match v {
        serde_yaml::Value::String(s) => V::StringValue(s.clone()),
        serde_yaml::Value::Bool(b) => V::BoolValue(*b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64()?),
        },
        _ => return None,
    };
    Some(AnyValue { value: Some(v) })
}

/// An attribute value as text (for patterns and hashing).
pub fn text(v: &AnyValue) -> String {
    use any_value::Value as V;
    match &v.value {
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(V::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

impl Action {
    /// Checks one configured action.
    pub fn new(c: &ActionConfig) -> Result<Self, String> {
        let pattern = match &c.pattern {
            Some(p) => Some(Regex::new(p).map_err(|e| format!("invalid pattern {p:?}: {e}"))?),
            None => None,
        };
        if c.from_context.is_some() {
            return Err("from_context: request metadata is not supported by Lantern".into());
        }
        let source = || -> Result<Source, String> {
            let default = c.default_value.as_ref().and_then(yaml_value);
            match (&c.value, &c.from_attribute) {
                (Some(v), None) => yaml_value(v).map(Source::Value).ok_or_else(|| "value must be a scalar".to_string()),
                (None, Some(a)) => Ok(Source::From(a.clone(), default)),
                (None, None) => default.map(Source::Value).ok_or_else(|| {
                    format!("error creating AttrProc due to missing value field for action {:?}", c.action)
                }),
                (Some(_), Some(_)) => Err("only one of value and from_attribute may be set".into()),
            }
        };
        let kind = match c.action.as_str() {
            "insert" => Kind::Insert(source()?),
            "update" => Kind::Update(source()?),
            "upsert" => Kind::Upsert(source()?),
            "delete" => Kind::Delete,
            "hash" => Kind::Hash,
            "extract" => {
                let Some(p) = &pattern else { return Err("extract needs a pattern".into()) };
                if p.capture_names().flatten().next().is_none() {
                    return Err("extract's pattern needs named groups".into());
                }
                Kind::Extract
            }
            "convert" => match c.converted_type.as_deref() {
                Some(t @ ("int" | "double" | "string")) => Kind::Convert(t.to_string()),
                other => return Err(format!("convert needs converted_type int, double or string, not {other:?}")),
            },
            other => return Err(format!("error creating AttrProc due to unsupported action {other:?}")),
        };
        let by_pattern = matches!(kind, Kind::Delete | Kind::Hash);
        if c.key.is_none() && !(by_pattern && pattern.is_some()) {
            return Err(format!(
                "error creating AttrProc due to missing required field \"key\" for action {:?}",
                c.action
            ));
        }
        Ok(Self { key: c.key.clone(), kind, pattern })
    }

    /// Applies the action to `attrs`.
    pub fn apply(&self, attrs: &mut Vec<KeyValue>) {
        let at = |attrs: &Vec<KeyValue>, k: &str| attrs.iter().position(|a| a.key == k);
        let key = self.key.as_deref().unwrap_or("");
        let resolve = |attrs: &Vec<KeyValue>, s: &Source| -> Option<AnyValue> {
            match s {
                Source::Value(v) => Some(v.clone()),
                Source::From(a, default) => {
                    at(attrs, a).and_then(|i| attrs[i].value.clone()).or_else(|| default.clone())
                }
            }
        };
        match &self.kind {
            Kind::Insert(s) => {
                if at(attrs, key).is_none() {
                    if let Some(v) = resolve(attrs, s) {
                        attrs.push(KeyValue { key: key.into(), value: Some(v) });
                    }
                }
            }
            Kind::Update(s) => {
                if let Some(i) = at(attrs, key) {
                    if let Some(v) = resolve(attrs, s) {
                        attrs[i].value = Some(v);
                    }
                }
            }
            Kind::Upsert(s) => {
                if let Some(v) = resolve(attrs, s) {
                    match at(attrs, key) {
                        Some(i) => attrs[i].value = Some(v),
                        None => attrs.push(KeyValue { key: key.into(), value: Some(v) }),
                    }
                }
            }
            Kind::Delete => attrs.retain(|a| !self.names(a)),
            Kind::Hash => {
                for a in attrs.iter_mut().filter(|a| self.names(a)) {
                    if let Some(v) = &a.value {
                        a.value = Some(string(hash(v)));
                    }
                }
            }
            Kind::Extract => {
                let (Some(p), Some(i)) = (&self.pattern, at(attrs, key)) else { return };
                let value = attrs[i].value.as_ref().map(text).unwrap_or_default();
                if let Some(caps) = p.captures(&value) {
                    for name in p.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            let v = string(m.as_str().to_string());
                            match at(attrs, name) {
                                Some(j) => attrs[j].value = Some(v),
                                None => attrs.push(KeyValue { key: name.into(), value: Some(v) }),
                            }
                        }
                    }
                }
            }
            Kind::Convert(to) => {
                let Some(i) = at(attrs, key) else { return };
                let Some(v) = attrs[i].value.as_ref() else { return };
                let t = text(v);
                let new = match to.as_str() {
                    "int" => t
                        .parse::<i64>()
                        .ok()
                        .or_else(|| t.parse::<f64>().ok().map(|f| f as i64))
                        .map(|i| AnyValue { value: Some(any_value::Value::IntValue(i)) }),
                    "double" => {
                        t.parse::<f64>().ok().map(|d| AnyValue { value: Some(any_value::Value::DoubleValue(d)) })
                    }
                    _ => Some(string(t)),
                };
                if let Some(n) = new {
                    attrs[i].value = Some(n);
                }
            }
        }
    }

    /// Whether an attribute is the one `delete`/`hash` act on (by key or pattern).
    fn names(&self, a: &KeyValue) -> bool {
        self.key.as_deref() == Some(a.key.as_str()) || self.pattern.as_ref().is_some_and(|p| p.is_match(&a.key))
    }
}

fn string(s: String) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(s)) }
}

/// SHA-256 of the value's bytes (text as is; integers and doubles as 8 little-endian
/// bytes; booleans as one byte), lowercase hex.
fn hash(v: &AnyValue) -> String {
    use any_value::Value as V;
    let bytes = match &v.value {
        Some(V::StringValue(s)) => s.as_bytes().to_vec(),
        Some(V::IntValue(i)) => i.to_le_bytes().to_vec(),
        Some(V::DoubleValue(d)) => d.to_le_bytes().to_vec(),
        Some(V::BoolValue(b)) => vec![u8::from(*b)],
        Some(V::BytesValue(b)) => b.clone(),
        _ => text(v).into_bytes(),
    };
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks every action of a list.
pub fn build(list: &[ActionConfig]) -> Result<Vec<Action>, String> {
    list.iter().enumerate().map(|(i, a)| Action::new(a).map_err(|e| format!("actions[{i}]: {e}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::kv;

    fn action(yaml: &str) -> Action {
        Action::new(&serde_yaml::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn actions_behave_as_the_collectors() {
        let mut a = vec![kv("user.email", "a@b.c"), kv("http.url", "/orders/123?x=1"), kv("count", "7")];
        action("{key: env, action: insert, value: prod}").apply(&mut a);
        action("{key: env, action: insert, value: dev}").apply(&mut a);
        action("{key: missing, action: update, value: x}").apply(&mut a);
        action("{key: copy, action: upsert, from_attribute: env}").apply(&mut a);
        action("{key: user.email, action: hash}").apply(&mut a);
        action("{key: http.url, action: extract, pattern: '^/(?P<resource>[a-z]+)/(?P<id>\\d+)'}").apply(&mut a);
        action("{key: count, action: convert, converted_type: int}").apply(&mut a);
        action("{action: delete, pattern: '^http\\.'}").apply(&mut a);
        let got: Vec<(String, String)> = a.iter().map(|k| (k.key.clone(), text(k.value.as_ref().unwrap()))).collect();
        let want = [
            ("user.email", "(its hash, checked below)"),
            ("count", "7"),
            ("env", "prod"),
            ("copy", "prod"),
            ("resource", "orders"),
            ("id", "123"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.0, w.0);
            if w.0 != "user.email" {
                assert_eq!(g.1, w.1);
            }
        }
        let expect: String = Sha256::digest(b"a@b.c").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got[0].1, expect, "hash is SHA-256 of the value");
        assert!(matches!(a[1].value.as_ref().unwrap().value, Some(any_value::Value::IntValue(7))));
        assert!(Action::new(&serde_yaml::from_str("{key: k, action: insert}").unwrap())
            .unwrap_err()
            .contains("missing value"));
        assert!(Action::new(&serde_yaml::from_str("{action: upsert, value: 1}").unwrap())
            .unwrap_err()
            .contains("\"key\""));
    }
}
