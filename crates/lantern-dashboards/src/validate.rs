//! Checking a dashboard before it is stored: every problem, each named by its JSON path
//! (`panels[2].targets[0].expr: …`). Queries are parsed after Grafana's template
//! variables are replaced by their current values (or a stand-in of the right kind), so
//! `rate(x{job=~"$job"}[$__rate_interval])` is checked as the query it will become.

use regex::Regex;
use serde_json::{Map, Value};
use std::sync::OnceLock;

use crate::model::{is_mixed, signal, Signal};

/// The problems with a dashboard (empty when it is fine).
pub fn problems(dash: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(obj) = dash.as_object() else {
        return vec!["the dashboard is not a JSON object".into()];
    };
    for (key, kind) in [("title", "a string"), ("uid", "a string")] {
        if let Some(v) = obj.get(key) {
            if !v.is_string() && !v.is_null() {
                out.push(format!("{key}: must be {kind}, not {}", type_name(v)));
            }
        }
    }
    if obj.get("title").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        out.push("title: a dashboard needs a title".into());
    }
    let vars = variables(obj, &mut out);
    match obj.get("panels") {
        None => {}
        Some(Value::Array(panels)) => panels_problems(panels, "panels", dash, &vars, &mut out),
        Some(v) => out.push(format!("panels: must be an array, not {}", type_name(v))),
    }
    match obj.get("rows") {
        None => {}
        // The legacy shape is checked where the user wrote it, before it is converted.
        Some(Value::Array(rows)) => {
            for (i, row) in rows.iter().enumerate() {
                match row.get("panels") {
                    None => {}
                    Some(Value::Array(panels)) => {
                        panels_problems(panels, &format!("rows[{i}].panels"), dash, &vars, &mut out)
                    }
                    Some(v) => out.push(format!("rows[{i}].panels: must be an array, not {}", type_name(v))),
                }
            }
        }
        Some(v) => out.push(format!("rows: must be an array, not {}", type_name(v))),
    }
    if let Some(uid) = obj.get("uid").and_then(Value::as_str) {
        if !uid.is_empty() && !crate::model::valid_uid(uid) {
            out.push(format!("uid: {uid:?} must be letters, digits, '-' or '_', at most 40 characters"));
        }
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The template variables and the value each stands for while checking queries.
fn variables(obj: &Map<String, Value>, out: &mut Vec<String>) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let Some(t) = obj.get("templating") else { return vars };
    let list = match t.get("list") {
        None => return vars,
        Some(Value::Array(l)) => l,
        Some(v) => {
            out.push(format!("templating.list: must be an array, not {}", type_name(v)));
            return vars;
        }
    };
    for (i, v) in list.iter().enumerate() {
        let Some(name) = v.get("name").and_then(Value::as_str) else {
            out.push(format!("templating.list[{i}].name: every variable needs a name"));
            continue;
        };
        vars.push((name.to_string(), current_value(v)));
    }
    vars
}

/// A variable's current value as its queries will see it: one value, several as a regex
/// alternation, "All" as `.*` (or the variable's `allValue`).
fn current_value(v: &Value) -> String {
    let cur = v.pointer("/current/value");
    let one = |s: &str| {
        if s == "$__all" {
            v.get("allValue").and_then(Value::as_str).filter(|a| !a.is_empty()).unwrap_or(".*").to_string()
        } else {
            s.to_string()
        }
    };
    match cur {
        Some(Value::String(s)) if !s.is_empty() => one(s),
        Some(Value::Array(a)) if !a.is_empty() => {
            let vals: Vec<String> = a.iter().filter_map(Value::as_str).map(one).collect();
            if vals.len() == 1 {
                vals[0].clone()
            } else {
                format!("({})", vals.join("|"))
            }
        }
        _ => match v.get("type").and_then(Value::as_str) {
            Some("interval") => "5m".into(),
            _ => "lantern_var".into(),
        },
    }
}

fn var_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
            .unwrap_or_else(|_| unreachable!("a fixed pattern"))
    })
}

/// A query with its template variables replaced: built-ins by a duration (or a number
/// for the `_s`/`_ms` forms), others by their current value; where a duration must
/// stand (`[$x]`, `[…:$x]`, `offset $x`), by `5m`.
pub fn substitute(query: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(query.len());
    let mut last = 0;
    for c in var_regex().captures_iter(query) {
        let Some(m) = c.get(0) else { continue };
        let name = c.get(1).or(c.get(2)).or(c.get(3)).map_or("", |n| n.as_str());
        out.push_str(&query[last..m.start()]);
        let before = query[..m.start()].trim_end();
        let wants_duration =
            before.ends_with('[') || (before.ends_with(':') && in_brackets(before)) || before.ends_with("offset");
        let value = if let Some(builtin) = name.strip_prefix("__") {
            match builtin {
                "range_s" | "interval_s" => "300".to_string(),
                "range_ms" | "interval_ms" => "300000".to_string(),
                _ => "5m".to_string(),
            }
        } else if wants_duration {
            "5m".to_string()
        } else {
            vars.iter().find(|(n, _)| n == name).map_or_else(|| "lantern_var".to_string(), |(_, v)| v.clone())
        };
        out.push_str(&value);
        last = m.end();
    }
    out.push_str(&query[last..]);
    out
}

fn in_brackets(before: &str) -> bool {
    before.rfind('[') > before.rfind(']')
}

fn panels_problems(panels: &[Value], path: &str, dash: &Value, vars: &[(String, String)], out: &mut Vec<String>) {
    for (i, p) in panels.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let Some(obj) = p.as_object() else {
            out.push(format!("{here}: a panel must be an object, not {}", type_name(p)));
            continue;
        };
        match obj.get("type") {
            Some(Value::String(t)) if !t.is_empty() => {}
            Some(v) => out.push(format!("{here}.type: must be a panel type name, not {}", type_name(v))),
            None => out.push(format!("{here}.type: every panel needs a type")),
        }
        if let Some(g) = obj.get("gridPos") {
            for k in ["h", "w", "x", "y"] {
                if !g.get(k).is_some_and(Value::is_number) {
                    out.push(format!("{here}.gridPos.{k}: must be a number"));
                }
            }
        }
        if let Some(inner) = obj.get("panels") {
            match inner {
                Value::Array(inner) => panels_problems(inner, &format!("{here}.panels"), dash, vars, out),
                v => out.push(format!("{here}.panels: must be an array, not {}", type_name(v))),
            }
        }
        match obj.get("targets") {
            None | Some(Value::Null) => {}
            Some(Value::Array(targets)) => {
                let panel_ds = obj.get("datasource");
                for (j, t) in targets.iter().enumerate() {
                    let there = format!("{here}.targets[{j}]");
                    let Some(tobj) = t.as_object() else {
                        out.push(format!("{there}: a query must be an object, not {}", type_name(t)));
                        continue;
                    };
                    let ds = if is_mixed(panel_ds) || panel_ds.is_none() {
                        tobj.get("datasource").or(panel_ds)
                    } else {
                        panel_ds
                    };
                    target_problems(tobj, &there, signal(ds, dash), vars, out);
                }
            }
            Some(v) => out.push(format!("{here}.targets: must be an array, not {}", type_name(v))),
        }
    }
}

fn target_problems(t: &Map<String, Value>, path: &str, sig: Signal, vars: &[(String, String)], out: &mut Vec<String>) {
    let expr = match t.get("expr") {
        None | Some(Value::Null) => return,
        Some(Value::String(s)) => s,
        Some(v) => {
            out.push(format!("{path}.expr: must be a string, not {}", type_name(v)));
            return;
        }
    };
    if expr.trim().is_empty() {
        return;
    }
    let q = substitute(expr, vars);
    match sig {
        Signal::Metrics => {
            if let Err(e) = lantern_promql::parse(&q) {
                out.push(format!("{path}.expr: {e}"));
            }
        }
        Signal::Logs => {
            if let Err(e) = lantern_logql::parse(&q) {
                out.push(format!("{path}.expr: {e}"));
            }
        }
        Signal::Traces | Signal::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_are_substituted_by_kind_and_value() {
        let vars = vec![("job".to_string(), "(api|web)".to_string()), ("n".to_string(), "5".to_string())];
        assert_eq!(
            substitute("topk($n, rate(x{job=~\"$job\"}[$__rate_interval]))", &vars),
            "topk(5, rate(x{job=~\"(api|web)\"}[5m]))"
        );
        assert_eq!(
            substitute("max_over_time(x[${win}:$step]) offset $off", &vars),
            "max_over_time(x[5m:5m]) offset 5m"
        );
        assert_eq!(
            substitute("x{a=\"[[job]]\"} / ${job:regex} * $__range_s", &vars),
            "x{a=\"(api|web)\"} / (api|web) * 300"
        );
        assert_eq!(substitute("up{instance=\"$unknown\"}", &vars), "up{instance=\"lantern_var\"}");
    }

    #[test]
    fn problems_name_their_paths() {
        let d = json!({
            "title": "t",
            "templating": {"list": [{"name": "job", "type": "query", "current": {"value": ["$__all"]}, "allValue": ".+"}, {"type": "custom"}]},
            "panels": [
                {"type": "timeseries", "targets": [{"expr": "rate(x{job=~\"$job\"}[$__rate_interval])"}]},
                {"type": "row", "panels": [{"type": "stat", "targets": [{"expr": "sum(rate(x[5m])) +"}]}]},
                {"type": "logs", "datasource": {"type": "loki"}, "targets": [{"expr": "{service=\"a\"} |= "}]},
                {"type": "graph", "datasource": "-- Mixed --", "targets": [
                    {"datasource": {"type": "loki"}, "expr": "sum(count_over_time({a=\"b\"}[5m]))"},
                    {"datasource": {"type": "tempo"}, "query": "abc"},
                    {"expr": 42}
                ]},
                {"title": "no type"},
                "not a panel",
                {"type": "stat", "gridPos": {"x": 0, "y": "top", "w": 6, "h": 4}}
            ]
        });
        let p = problems(&d);
        assert_eq!(p.len(), 7, "{p:#?}");
        assert_eq!(p[0], "templating.list[1].name: every variable needs a name");
        assert!(p[1].starts_with("panels[1].panels[0].targets[0].expr: "), "{}", p[1]);
        assert!(p[2].starts_with("panels[2].targets[0].expr: parse error at line 1, col "), "{}", p[2]);
        assert_eq!(p[3], "panels[3].targets[2].expr: must be a string, not a number");
        assert_eq!(p[4], "panels[4].type: every panel needs a type");
        assert_eq!(p[5], "panels[5]: a panel must be an object, not a string");
        assert_eq!(p[6], "panels[6].gridPos.y: must be a number");
        assert_eq!(problems(&json!([])), ["the dashboard is not a JSON object"]);
        assert_eq!(
            problems(&json!({"panels": {}})),
            ["title: a dashboard needs a title", "panels: must be an array, not an object"]
        );
        let legacy = json!({"title": "t", "uid": "a/b", "rows": [{"panels": []}, {"panels": [{"type": "graph", "targets": [{"expr": "rate(x[5m]"}]}]}]});
        let p = problems(&legacy);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("rows[1].panels[0].targets[0].expr: "), "{}", p[0]);
        assert!(p[1].starts_with("uid: \"a/b\" must be"), "{}", p[1]);
    }
}
