//! The configuration as the Collector resolves it: each `--config` source (a file path,
//! `file:…`, `env:VAR` or `yaml:a::b: value`) read as YAML, merged in order (maps
//! deeply; any other value, lists included, replaced by the later one), then `${…}`
//! expanded in values (never in keys): `${VAR}` and `${env:VAR}` are the environment
//! variable, `${env:VAR:-default}` its default when unset, `${file:path}` a file's
//! text, and `$$` a literal `$`. A value that is only a reference takes the referenced
//! text's YAML type (`${PORT}` → a number); within longer text it is spliced in.

use std::path::Path;

use serde_yaml::{Mapping, Value};

/// Rounds of expansion before a reference is taken to refer to itself.
const MAX_ROUNDS: usize = 1000;

/// A resolved configuration and what the resolution noticed on the way.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The merged, expanded document.
    pub value: Value,
    /// Things to warn about (an unset variable referenced without a default).
    pub warnings: Vec<String>,
}

/// Reads and merges `sources` in order, then expands references with `env`.
pub fn resolve(sources: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved, String> {
    if sources.is_empty() {
        return Err("at least one config flag must be provided".into());
    }
    let mut merged = Value::Mapping(Mapping::new());
    for s in sources {
        let v = retrieve(s, env)?;
        merge(&mut merged, v);
    }
    let mut warnings = Vec::new();
    expand_value(&mut merged, env, &mut warnings)?;
    Ok(Resolved { value: merged, warnings })
}

/// One source's document.
fn retrieve(uri: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    let (scheme, rest) = match uri.split_once(':') {
        // A drive letter or no scheme at all: a file path.
        Some((s, r)) if s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) => (s, r),
        _ => ("file", uri),
    };
    match scheme {
        "file" => {
            let text = std::fs::read_to_string(Path::new(rest))
                .map_err(|e| format!("cannot retrieve the configuration: unable to read the file {rest}: {e}"))?;
            parse_doc(&text, rest)
        }
        "env" => {
            let text = env(rest).unwrap_or_default();
            parse_doc(&text, uri)
        }
        "yaml" => {
            // YAML whose keys may be paths: `a::b::c: value` → nested maps.
            let v: Value = serde_yaml::from_str(rest).map_err(|e| format!("{uri}: {e}"))?;
            Ok(nest_paths(v))
        }
        _ => Err(format!("unsupported scheme on URI {uri:?}")),
    }
}

/// A map whose keys are `::` paths, as nested maps.
fn nest_paths(v: Value) -> Value {
    let Value::Mapping(m) = v else { return v };
    let mut out = Value::Mapping(Mapping::new());
    for (k, v) in m {
        let v = nest_paths(v);
        let Some(path) = k.as_str().map(str::to_string) else {
            merge(&mut out, Value::Mapping(Mapping::from_iter([(k, v)])));
            continue;
        };
        let mut nested = v;
        for part in path.rsplit("::") {
            nested = Value::Mapping(Mapping::from_iter([(Value::String(part.trim().to_string()), nested)]));
        }
        merge(&mut out, nested);
    }
    out
}

fn parse_doc(text: &str, origin: &str) -> Result<Value, String> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(Value::Mapping(Mapping::new())),
        Ok(v @ Value::Mapping(_)) => Ok(v),
        Ok(_) => Err(format!("{origin}: the configuration must be a map")),
        Err(e) => Err(format!("cannot unmarshal the configuration from {origin}: {e}")),
    }
}

/// Merges `from` into `into`: maps key by key, recursively; anything else replaced.
pub fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn expand_value(v: &mut Value, env: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if let Some(new) = expand_scalar(s, env, warnings)? {
                *v = new;
            }
        }
        Value::Mapping(m) => {
            for (_, x) in m.iter_mut() {
                expand_value(x, env, warnings)?;
            }
        }
        Value::Sequence(items) => {
            for x in items {
                expand_value(x, env, warnings)?;
            }
        }
        Value::Tagged(t) => expand_value(&mut t.value, env, warnings)?,
        _ => {}
    }
    Ok(())
}

/// The value of a string scalar after expansion; `None` when it has no reference or
/// escape.
fn expand_scalar(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<Value>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    // A value that is one reference alone keeps the referenced text's YAML type.
    if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        if !inner.contains("${") && !inner.contains('}') {
            let text = lookup(inner, env, warnings)?;
            let text = expand_text(&text, env, warnings, 1)?;
            return Ok(Some(typed(&text)));
        }
    }
    Ok(Some(Value::String(expand_text(s, env, warnings, 0)?)))
}

/// Text read as the YAML scalar it spells (`123` a number, `true` a boolean), kept as
/// text otherwise.
fn typed(text: &str) -> Value {
    match serde_yaml::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        Ok(v @ (Value::Mapping(_) | Value::Sequence(_))) => v,
        _ => Value::String(text.to_string()),
    }
}

fn expand_text(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_ROUNDS {
        return Err("too many recursive expansions".into());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("${") {
            let Some(end) = t.find('}') else {
                return Err(format!("{s:?}: a reference ${{ is not closed by }}"));
            };
            let text = lookup(&t[..end], env, warnings)?;
            out.push_str(&expand_text(&text, env, warnings, depth + 1)?);
            rest = &t[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The text of one reference (`env:VAR:-default`, `VAR`, `file:path`).
fn lookup(reference: &str, env: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Result<String, String> {
    let (scheme, rest) = match reference.split_once(':') {
        Some((s, r)) if s == "env" || s == "file" => (s, r),
        Some((s, _)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) && !reference.contains(":-") => {
            return Err(format!("unsupported scheme on URI {reference:?}"));
        }
        _ => ("env", reference),
    };
    if scheme == "file" {
        return std::fs::read_to_string(rest).map_err(|e| format!("unable to read the file {rest}: {e}"));
    }
    let (name, default) = match rest.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (rest, None),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "environment variable {name:?} has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
        ));
    }
    match (env(name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => {
            warnings.push(format!("configuration references unset environment variable {name:?}"));
            Ok(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "PORT" => Some("4317".into()),
            "HOST" => Some("collector".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn files_merge_deeply_and_lists_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "receivers:\n  otlp:\n    protocols:\n      grpc:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n").unwrap();
        std::fs::write(&b, "receivers:\n  otlp:\n    protocols:\n      http:\nservice:\n  pipelines:\n    traces:\n      exporters: [otlp]\n").unwrap();
        let r = resolve(&[a.display().to_string(), format!("file:{}", b.display())], &env).unwrap();
        let protocols = &r.value["receivers"]["otlp"]["protocols"];
        assert!(
            protocols.as_mapping().unwrap().contains_key("grpc")
                && protocols.as_mapping().unwrap().contains_key("http")
        );
        let t = &r.value["service"]["pipelines"]["traces"];
        assert_eq!(t["receivers"], serde_yaml::from_str::<Value>("[otlp]").unwrap());
        assert_eq!(t["exporters"], serde_yaml::from_str::<Value>("[otlp]").unwrap(), "a later list replaces");
        let y = resolve(&[a.display().to_string(), "yaml:exporters::debug::verbosity: detailed".into()], &env).unwrap();
        assert_eq!(y.value["exporters"]["debug"]["verbosity"], Value::String("detailed".into()));
        assert_eq!(resolve(&["s3:bucket".into()], &env).unwrap_err(), r#"unsupported scheme on URI "s3:bucket""#);
        assert!(resolve(&[], &env).is_err());
    }

    #[test]
    fn references_expand_in_values_with_types_defaults_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(
            &f,
            "a: ${PORT}\nb: ${env:HOST}:${PORT}\nc: ${env:MISSING:-fallback}\nd: $${PORT}\ne: ${EMPTY:-x}\nf: ${MISSING}\n${PORT}: key\n",
        )
        .unwrap();
        let r = resolve(&[f.display().to_string()], &env).unwrap();
        let v = &r.value;
        assert_eq!(v["a"], Value::Number(4317.into()), "a lone reference takes its YAML type");
        assert_eq!(v["b"], Value::String("collector:4317".into()));
        assert_eq!(v["c"], Value::String("fallback".into()));
        assert_eq!(v["d"], Value::String("${PORT}".into()), "$$ is a literal $");
        assert_eq!(v["e"], Value::String(String::new()), "the default is for unset variables only");
        assert_eq!(v["f"], Value::String(String::new()));
        assert!(v.as_mapping().unwrap().contains_key("${PORT}"), "keys are not expanded");
        assert_eq!(r.warnings, vec![r#"configuration references unset environment variable "MISSING""#.to_string()]);
        std::fs::write(&f, "a: ${1abc}\n").unwrap();
        assert!(resolve(&[f.display().to_string()], &env).unwrap_err().contains("has invalid name"));
    }
}
