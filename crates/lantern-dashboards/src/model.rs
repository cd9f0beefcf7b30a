//! Reading a dashboard in Grafana's JSON model: the import wrapper, the legacy `rows`
//! shape (the seed's dashboard dict) converted to `panels` with `gridPos`, panel ids and
//! positions filled in, and what a datasource reference means to Lantern.
//!
//! Everything else in the JSON is kept as it came, so an export gives back what Grafana
//! would (a panel type Lantern does not draw included).

use serde_json::{json, Map, Value};

/// Grafana's grid is 24 columns wide.
pub const GRID_COLUMNS: i64 = 24;
/// Height, in grid rows, of a panel that does not say.
const DEFAULT_HEIGHT: i64 = 8;
/// The schema version written when legacy rows are converted (rows were removed in 16).
const CONVERTED_SCHEMA: i64 = 39;

/// Which of Lantern's stores a datasource reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Prometheus's API (PromQL).
    Metrics,
    /// Loki's API (LogQL).
    Logs,
    /// Jaeger's or Tempo's API (trace IDs, searches).
    Traces,
    /// Grafana's own sources (annotations, expressions, "-- Dashboard --").
    Other,
}

/// A dashboard body as clients send it: Grafana's import/API wrapper
/// (`{"dashboard": {…}, "overwrite": true}`) or the dashboard itself. Returns the
/// dashboard and the wrapper's `overwrite`.
pub fn unwrap_import(body: Value) -> (Value, bool) {
    match body {
        Value::Object(mut m) if m.get("dashboard").is_some_and(Value::is_object) => {
            let overwrite = m.get("overwrite").and_then(Value::as_bool).unwrap_or(false);
            (m.remove("dashboard").unwrap_or(Value::Null), overwrite)
        }
        other => (other, false),
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// The height in grid rows of a legacy row (`"250px"` or `250`).
fn row_height(row: &Map<String, Value>) -> i64 {
    let px = match row.get("height") {
        Some(Value::String(s)) => s.trim_end_matches("px").trim().parse::<f64>().ok(),
        Some(v) => v.as_f64(),
        None => None,
    };
    px.map_or(DEFAULT_HEIGHT, |px| ((px / 30.0).ceil() as i64).clamp(3, 40))
}

/// Places panels left to right, wrapping at 24 columns, from row `y`; returns the next free row.
fn flow(panels: &mut [Value], mut y: i64, default_w: i64, default_h: i64) -> i64 {
    let mut x = 0;
    let mut line_h = 0;
    for p in panels.iter_mut() {
        let Some(obj) = p.as_object_mut() else { continue };
        let w = int(obj.get("span")).map_or(default_w, |s| s * 2).clamp(1, GRID_COLUMNS);
        if x + w > GRID_COLUMNS {
            x = 0;
            y += line_h;
            line_h = 0;
        }
        obj.insert("gridPos".into(), json!({"x": x, "y": y, "w": w, "h": default_h}));
        obj.remove("span");
        x += w;
        line_h = line_h.max(default_h);
    }
    y + line_h
}

/// Converts the legacy `rows` shape into `panels`: a `row` panel per titled row (its
/// panels inside it when the row was collapsed), panels laid out by their `span`.
pub fn convert_rows(dash: &mut Map<String, Value>) {
    let Some(Value::Array(rows)) = dash.remove("rows") else { return };
    let mut panels: Vec<Value> = match dash.remove("panels") {
        Some(Value::Array(p)) => p,
        _ => Vec::new(),
    };
    let mut y = panels.iter().filter_map(bottom).max().unwrap_or(0);
    for row in rows {
        let Value::Object(mut row) = row else { continue };
        let mut inner: Vec<Value> = match row.remove("panels") {
            Some(Value::Array(p)) => p,
            _ => Vec::new(),
        };
        let title = row.get("title").and_then(Value::as_str).unwrap_or("").to_string();
        let collapsed = row.get("collapse").and_then(Value::as_bool).unwrap_or(false);
        let h = row_height(&row);
        let default_w = if inner.len() <= 2 { GRID_COLUMNS / inner.len().max(1) as i64 } else { 12 };
        if title.is_empty() && !collapsed {
            y = flow(&mut inner, y, default_w, h);
            panels.extend(inner);
            continue;
        }
        let mut row_panel = json!({
            "type": "row",
            "title": title,
            "collapsed": collapsed,
            "gridPos": {"x": 0, "y": y, "w": GRID_COLUMNS, "h": 1},
            "panels": [],
        });
        y += 1;
        let next = flow(&mut inner, y, default_w, h);
        if collapsed {
            row_panel["panels"] = Value::Array(inner);
            panels.push(row_panel);
        } else {
            y = next;
            panels.push(row_panel);
            panels.extend(inner);
        }
    }
    dash.insert("panels".into(), Value::Array(panels));
    dash.insert("schemaVersion".into(), json!(CONVERTED_SCHEMA));
}

fn bottom(p: &Value) -> Option<i64> {
    let g = p.get("gridPos")?;
    Some(int(g.get("y"))? + int(g.get("h"))?)
}

/// Gives every panel (nested ones in collapsed rows too) a unique `id` and a `gridPos`.
pub fn fill_layout(dash: &mut Map<String, Value>) {
    let Some(Value::Array(panels)) = dash.get_mut("panels") else { return };
    let mut seen = std::collections::HashSet::new();
    let mut max_id = 0;
    visit_panels(panels, &mut |p| {
        if let Some(id) = int(p.get("id")) {
            max_id = max_id.max(id);
        }
    });
    visit_panels(panels, &mut |p| match int(p.get("id")) {
        Some(id) if seen.insert(id) => {}
        _ => {
            max_id += 1;
            seen.insert(max_id);
            p.insert("id".into(), json!(max_id));
        }
    });
    // Panels without a position go below the lowest one, left to right.
    let y = panels.iter().filter_map(bottom).max().unwrap_or(0);
    let missing: Vec<usize> =
        (0..panels.len()).filter(|&i| panels[i].get("gridPos").is_none_or(|g| !g.is_object())).collect();
    if !missing.is_empty() {
        let mut placed: Vec<Value> = missing.iter().map(|&i| panels[i].take()).collect();
        flow(&mut placed, y, 12, DEFAULT_HEIGHT);
        for (i, p) in missing.into_iter().zip(placed) {
            panels[i] = p;
        }
    }
}

/// Calls `f` on every panel object, the panels of rows included.
pub fn visit_panels(panels: &mut [Value], f: &mut dyn FnMut(&mut Map<String, Value>)) {
    for p in panels.iter_mut() {
        if let Some(obj) = p.as_object_mut() {
            f(obj);
            if let Some(Value::Array(inner)) = obj.get_mut("panels") {
                visit_panels(inner, f);
            }
        }
    }
}

/// A readable uid from a title: lowercase words joined by dashes, at most 40 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "dashboard".into()
    } else {
        out
    }
}

/// Whether a uid is one Grafana accepts (and a safe file name): letters, digits, `-`, `_`, up to 40.
pub fn valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 40 && uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The datasource plugin a name or type means: `prometheus`, `loki`… matched loosely.
fn signal_of_type(t: &str) -> Signal {
    let t = t.to_ascii_lowercase();
    if t.contains("loki") || t.contains("log") {
        Signal::Logs
    } else if t.contains("jaeger") || t.contains("tempo") || t.contains("zipkin") || t.contains("trace") {
        Signal::Traces
    } else if t.starts_with("-- ") || t == "grafana" || t == "__expr__" || t == "datasource" || t.contains("expression")
    {
        Signal::Other
    } else {
        Signal::Metrics
    }
}

/// What a datasource reference (`null`, a name, `${DS_X}`, `$var`, or `{type, uid}`)
/// points at, reading the dashboard's `__inputs` and datasource variables.
pub fn signal(ds: Option<&Value>, dash: &Value) -> Signal {
    match ds {
        None | Some(Value::Null) => Signal::Metrics,
        Some(Value::String(s)) => signal_of_name(s, dash),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some(t) if !t.is_empty() && !t.starts_with('$') => signal_of_type(t),
            _ => o.get("uid").and_then(Value::as_str).map_or(Signal::Metrics, |u| signal_of_name(u, dash)),
        },
        Some(_) => Signal::Metrics,
    }
}

fn signal_of_name(name: &str, dash: &Value) -> Signal {
    let var = name.trim_start_matches('$').trim_start_matches('{').trim_end_matches('}');
    if name.starts_with('$') {
        // `${DS_PROMETHEUS}` from an export's __inputs, or a datasource variable.
        if let Some(inputs) = dash.get("__inputs").and_then(Value::as_array) {
            for i in inputs {
                if i.get("name").and_then(Value::as_str) == Some(var) {
                    return signal_of_type(i.get("pluginId").and_then(Value::as_str).unwrap_or(""));
                }
            }
        }
        if let Some(list) = dash.pointer("/templating/list").and_then(Value::as_array) {
            for v in list {
                if v.get("name").and_then(Value::as_str) == Some(var)
                    && v.get("type").and_then(Value::as_str) == Some("datasource")
                {
                    return signal_of_type(v.get("query").and_then(Value::as_str).unwrap_or(""));
                }
            }
        }
        return Signal::Metrics;
    }
    if name == "-- Mixed --" {
        return Signal::Other;
    }
    signal_of_type(name)
}

/// Whether a datasource reference is Grafana's "-- Mixed --" (each query names its own).
pub fn is_mixed(ds: Option<&Value>) -> bool {
    match ds {
        Some(Value::String(s)) => s == "-- Mixed --",
        Some(Value::Object(o)) => {
            o.get("uid").and_then(Value::as_str) == Some("-- Mixed --")
                || o.get("type").and_then(Value::as_str) == Some("mixed")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_legacy_rows_become_a_row_and_four_panels() {
        let mut d = json!({"title": "Service Overview", "rows": [{"title": "Golden Signals", "panels": [
            {"title": "Request Rate", "type": "graph", "targets": [{"expr": "sum(rate(http_requests_total[5m]))"}]},
            {"title": "Error Rate", "type": "graph", "targets": [{"expr": "x"}]},
            {"title": "Latency", "type": "graph", "targets": [{"expr": "a"}, {"expr": "b"}, {"expr": "c"}]},
            {"title": "Saturation", "type": "graph", "targets": [{"expr": "y"}]}
        ]}]});
        let m = d.as_object_mut().unwrap();
        convert_rows(m);
        fill_layout(m);
        let panels = d["panels"].as_array().unwrap();
        assert_eq!(panels.len(), 5);
        assert_eq!(panels[0]["type"], "row");
        assert_eq!(panels[0]["title"], "Golden Signals");
        let pos: Vec<_> =
            panels[1..].iter().map(|p| (p["gridPos"]["x"].as_i64(), p["gridPos"]["y"].as_i64())).collect();
        assert_eq!(pos, [(Some(0), Some(1)), (Some(12), Some(1)), (Some(0), Some(9)), (Some(12), Some(9))]);
        let ids: Vec<_> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert!(d.get("rows").is_none());
        assert_eq!(d["schemaVersion"], 39);
        assert_eq!(panels[3]["targets"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn collapsed_rows_keep_their_panels_inside_and_spans_set_widths() {
        let mut d = json!({"rows": [
            {"title": "A", "collapse": true, "height": "300px", "panels": [{"type": "stat", "span": 4}, {"type": "stat", "span": 8}]},
            {"panels": [{"type": "graph", "span": 12}]}
        ]});
        let m = d.as_object_mut().unwrap();
        convert_rows(m);
        fill_layout(m);
        let p = d["panels"].as_array().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0]["collapsed"], true);
        let inner = p[0]["panels"].as_array().unwrap();
        assert_eq!((inner[0]["gridPos"]["w"].as_i64(), inner[1]["gridPos"]["w"].as_i64()), (Some(8), Some(16)));
        assert_eq!(inner[0]["gridPos"]["h"], 10);
        assert_eq!(p[1]["gridPos"], json!({"x": 0, "y": 1, "w": 24, "h": 8}));
    }

    #[test]
    fn duplicate_or_missing_ids_and_positions_are_filled() {
        let mut d = json!({"panels": [
            {"id": 3, "type": "graph", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4}},
            {"id": 3, "type": "graph"},
            {"type": "stat"}
        ]});
        fill_layout(d.as_object_mut().unwrap());
        let ids: Vec<_> = d["panels"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, [3, 4, 5]);
        assert_eq!(d["panels"][1]["gridPos"], json!({"x": 0, "y": 4, "w": 12, "h": 8}));
        assert_eq!(d["panels"][2]["gridPos"], json!({"x": 12, "y": 4, "w": 12, "h": 8}));
    }

    #[test]
    fn datasources_map_to_signals() {
        let d = json!({
            "__inputs": [{"name": "DS_LOKI", "pluginId": "loki"}, {"name": "DS_PROM", "pluginId": "prometheus"}],
            "templating": {"list": [{"name": "ds", "type": "datasource", "query": "tempo"}]}
        });
        assert_eq!(signal(None, &d), Signal::Metrics);
        assert_eq!(signal(Some(&json!("${DS_LOKI}")), &d), Signal::Logs);
        assert_eq!(signal(Some(&json!("${DS_PROM}")), &d), Signal::Metrics);
        assert_eq!(signal(Some(&json!("$ds")), &d), Signal::Traces);
        assert_eq!(signal(Some(&json!({"type": "loki", "uid": "abc"})), &d), Signal::Logs);
        assert_eq!(signal(Some(&json!({"type": "jaeger"})), &d), Signal::Traces);
        assert_eq!(signal(Some(&json!("Prometheus")), &d), Signal::Metrics);
        assert_eq!(signal(Some(&json!({"type": "grafana", "uid": "-- Grafana --"})), &d), Signal::Other);
        assert_eq!(signal(Some(&json!({"type": "datasource", "uid": "-- Mixed --"})), &d), Signal::Other);
        assert!(is_mixed(Some(&json!({"type": "datasource", "uid": "-- Mixed --"}))));
    }

    #[test]
    fn imports_unwrap_and_uids_are_slugs() {
        let (d, o) = unwrap_import(json!({"dashboard": {"title": "x"}, "overwrite": true, "folderUid": "f"}));
        assert_eq!((d, o), (json!({"title": "x"}), true));
        assert_eq!(slug("Service Overview: payment-service!"), "service-overview-payment-service");
        assert_eq!(slug("***"), "dashboard");
        assert!(valid_uid("abc-DEF_1") && !valid_uid("a/b") && !valid_uid(""));
    }
}
