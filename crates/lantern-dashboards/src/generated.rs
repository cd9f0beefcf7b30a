//! A Service Overview dashboard for each service Lantern has seen, in span metrics
//! (`traces_spanmetrics_calls_total{service}`) or in a scraped `http_requests_total`
//! (its `job`): the four golden signals — rate, error ratio, latency p50/p95/p99 and
//! saturation (whatever CPU, memory, pool, queue or connection series the service has) —
//! with their numbers now, the service's error logs and its failed traces.

use std::collections::BTreeMap;

use lantern_core::Matcher;
use lantern_tsdb::Tsdb;
use serde_json::{json, Value};

/// What Lantern stores about one service, deciding the dashboard's queries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// The name (`service` of span metrics, `job` of scraped metrics).
    pub name: String,
    /// It has `http_requests_total{job=name}`.
    pub http: bool,
    /// It has `http_request_duration_seconds_bucket{job=name}`.
    pub http_latency: bool,
    /// It has span metrics.
    pub spans: bool,
    /// Metric names of its saturation series.
    pub saturation: Vec<String>,
}

/// The uid of a service's overview dashboard.
pub fn uid(service: &str) -> String {
    let s: String =
        service.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let mut uid = format!("service-overview-{s}");
    uid.truncate(40);
    uid
}

/// The services seen between `mint` and `maxt` (ms), by name.
pub fn services(db: &Tsdb, mint: i64, maxt: i64) -> BTreeMap<String, Service> {
    let mut out: BTreeMap<String, Service> = BTreeMap::new();
    let name = |n: &str| vec![Matcher::equal("__name__", n)];
    for job in db.label_values("job", &[name("http_requests_total")], mint, maxt) {
        out.entry(job.clone()).or_insert_with(|| Service { name: job, ..Default::default() }).http = true;
    }
    for s in db.label_values("service", &[name("traces_spanmetrics_calls_total")], mint, maxt) {
        out.entry(s.clone()).or_insert_with(|| Service { name: s, ..Default::default() }).spans = true;
    }
    out
}

/// One service with its latency and saturation series looked up.
pub fn describe(db: &Tsdb, mut s: Service, mint: i64, maxt: i64) -> Service {
    let names = db.label_values("__name__", &[vec![Matcher::equal("job", s.name.as_str())]], mint, maxt);
    s.http_latency = names.iter().any(|n| n == "http_request_duration_seconds_bucket");
    s.saturation = names.into_iter().filter(|n| lantern_core::names::is_saturation_metric(n)).collect();
    s
}

fn panel(title: &str, kind: &str, unit: &str, pos: (i64, i64, i64, i64), targets: Vec<Value>) -> Value {
    json!({
        "title": title,
        "type": kind,
        "datasource": {"type": "prometheus", "uid": "lantern"},
        "gridPos": {"x": pos.0, "y": pos.1, "w": pos.2, "h": pos.3},
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds(unit)}, "overrides": []},
        "targets": targets,
    })
}

/// Colours for the numbers now: error ratios past 1% and 5%, latencies past 0.5 s and
/// 1 s, used fractions past 70% and 90%.
fn thresholds(unit: &str) -> Value {
    let steps = |warn: f64, bad: f64| {
        json!({"mode": "absolute", "steps": [
            {"color": "green", "value": null}, {"color": "orange", "value": warn}, {"color": "red", "value": bad}
        ]})
    };
    match unit {
        "percentunit" => steps(0.01, 0.05),
        "s" => steps(0.5, 1.0),
        _ => json!({"mode": "absolute", "steps": [{"color": "green", "value": null}]}),
    }
}

fn target(expr: String, legend: &str, ref_id: &str) -> Value {
    json!({"expr": expr, "legendFormat": legend, "refId": ref_id})
}

const SERVER_KINDS: &str = r#"span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER""#;

/// Rate, errors and a latency histogram's selector for a service, from its own HTTP
/// metrics when it has them, else from its spans.
fn golden(s: &Service) -> (String, String, Option<String>) {
    let ri = "$__rate_interval";
    if s.http {
        let sel = format!(r#"job="{}""#, s.name);
        let rate = format!("sum(rate(http_requests_total{{{sel}}}[{ri}]))");
        let errors = format!(
            r#"sum(rate(http_requests_total{{{sel}, status=~"5.."}}[{ri}])) / sum(rate(http_requests_total{{{sel}}}[{ri}]))"#
        );
        let latency = (s.http_latency || !s.spans).then(|| format!("http_request_duration_seconds_bucket{{{sel}}}"));
        if latency.is_some() || !s.spans {
            return (rate, errors, latency);
        }
        let spans = format!(r#"service="{}", {SERVER_KINDS}"#, s.name);
        return (rate, errors, Some(format!("traces_spanmetrics_latency_bucket{{{spans}}}")));
    }
    let sel = format!(r#"service="{}", {SERVER_KINDS}"#, s.name);
    (
        format!("sum(rate(traces_spanmetrics_calls_total{{{sel}}}[{ri}]))"),
        format!(
            r#"sum(rate(traces_spanmetrics_calls_total{{{sel}, status_code="STATUS_CODE_ERROR"}}[{ri}])) / sum(rate(traces_spanmetrics_calls_total{{{sel}}}[{ri}]))"#
        ),
        Some(format!("traces_spanmetrics_latency_bucket{{{sel}}}")),
    )
}

fn saturation_targets(s: &Service) -> Vec<Value> {
    let job = format!(r#"job="{}""#, s.name);
    let has = |n: &str| s.saturation.iter().any(|x| x == n);
    let mut out = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    if has("container_memory_usage_bytes") && has("container_spec_memory_limit_bytes") {
        out.push(format!("container_memory_usage_bytes{{{job}}} / container_spec_memory_limit_bytes{{{job}}}"));
        used.extend(["container_memory_usage_bytes", "container_spec_memory_limit_bytes"]);
    }
    for n in &s.saturation {
        if used.contains(&n.as_str()) {
            continue;
        }
        if n.ends_with("_total") {
            out.push(format!("rate({n}{{{job}}}[$__rate_interval])"));
        } else {
            out.push(format!("{n}{{{job}}}"));
        }
    }
    out.truncate(6);
    let legends = out.iter().map(|e| e.split('{').next().unwrap_or(e).trim_start_matches("rate(").to_string());
    out.iter()
        .zip(legends)
        .enumerate()
        .map(|(i, (e, l))| {
            let legend = if e.contains(" / ") { "memory used / limit".to_string() } else { l };
            target(e.clone(), &legend, &ref_id(i))
        })
        .collect()
}

fn ref_id(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}

/// The Service Overview dashboard of one service.
pub fn overview(s: &Service) -> Value {
    let (rate, errors, latency) = golden(s);
    let q = |p: &str, hist: &str| format!("histogram_quantile({p}, sum by (le) (rate({hist}[$__rate_interval])))");
    let mut panels = vec![
        json!({"type": "row", "title": "Now", "collapsed": false, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []}),
        panel("Requests per second", "stat", "reqps", (0, 1, 6, 4), vec![target(rate.clone(), "", "A")]),
        panel("Error ratio", "stat", "percentunit", (6, 1, 6, 4), vec![target(errors.clone(), "", "A")]),
    ];
    if let Some(h) = &latency {
        panels.push(panel("p95 latency", "stat", "s", (12, 1, 6, 4), vec![target(q("0.95", h), "", "A")]));
    }
    let sat = saturation_targets(s);
    if let Some(first) = sat.first() {
        let mut t = first.clone();
        t["legendFormat"] = json!("");
        let fraction = first["expr"].as_str().is_some_and(|e| e.contains(" / "));
        let mut gauge =
            panel("Saturation", "gauge", if fraction { "percentunit" } else { "short" }, (18, 1, 6, 4), vec![t]);
        if fraction {
            gauge["fieldConfig"]["defaults"]["max"] = json!(1);
            gauge["fieldConfig"]["defaults"]["thresholds"] = json!({"mode": "absolute", "steps": [
                {"color": "green", "value": null}, {"color": "orange", "value": 0.7}, {"color": "red", "value": 0.9}
            ]});
        }
        panels.push(gauge);
    }
    panels.push(json!({"type": "row", "title": "Golden signals", "collapsed": false, "gridPos": {"x": 0, "y": 5, "w": 24, "h": 1}, "panels": []}));
    panels.push(panel("Request rate", "timeseries", "reqps", (0, 6, 12, 8), vec![target(rate, "requests/s", "A")]));
    panels.push(panel("Error ratio", "timeseries", "percentunit", (12, 6, 12, 8), vec![target(errors, "errors", "A")]));
    if let Some(h) = &latency {
        panels.push(panel(
            "Latency (p50, p95, p99)",
            "timeseries",
            "s",
            (0, 14, 12, 8),
            vec![target(q("0.50", h), "p50", "A"), target(q("0.95", h), "p95", "B"), target(q("0.99", h), "p99", "C")],
        ));
    }
    if !sat.is_empty() {
        panels.push(panel("Saturation", "timeseries", "short", (12, 14, 12, 8), sat));
    }
    panels.push(json!({"type": "row", "title": "Logs and traces", "collapsed": false, "gridPos": {"x": 0, "y": 22, "w": 24, "h": 1}, "panels": []}));
    panels.push(json!({
        "title": "Error logs",
        "type": "logs",
        "datasource": {"type": "loki", "uid": "lantern"},
        "gridPos": {"x": 0, "y": 23, "w": 12, "h": 10},
        "targets": [{"expr": format!(r#"{{service="{}", level=~"error|critical|fatal"}}"#, s.name), "refId": "A"}],
    }));
    panels.push(json!({
        "title": "Failed traces",
        "type": "traces",
        "datasource": {"type": "jaeger", "uid": "lantern"},
        "gridPos": {"x": 12, "y": 23, "w": 12, "h": 10},
        "targets": [{"queryType": "search", "service": s.name, "tags": "error=true", "limit": 20, "refId": "A"}],
    }));
    for (i, p) in panels.iter_mut().enumerate() {
        p["id"] = json!(i + 1);
    }
    json!({
        "uid": uid(&s.name),
        "title": format!("Service Overview: {}", s.name),
        "tags": ["generated", "service-overview"],
        "description": format!(
            "The golden signals of {}, generated by Lantern from {}. Save a copy to change it.",
            s.name,
            match (s.http, s.spans) {
                (true, true) => "its scraped HTTP metrics and its spans",
                (true, false) => "its scraped HTTP metrics",
                _ => "its spans",
            }
        ),
        "editable": false,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": []},
        "panels": panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scraped_service_gets_its_http_signals_and_saturation() {
        let s = Service {
            name: "payment-service".into(),
            http: true,
            http_latency: true,
            spans: true,
            saturation: vec![
                "container_cpu_usage_ratio".into(),
                "container_memory_usage_bytes".into(),
                "container_spec_memory_limit_bytes".into(),
                "queue_depth".into(),
            ],
        };
        let d = overview(&s);
        assert_eq!(d["uid"], "service-overview-payment-service");
        assert!(crate::validate::problems(&d).is_empty(), "{:?}", crate::validate::problems(&d));
        let titles: Vec<&str> = d["panels"].as_array().unwrap().iter().filter_map(|p| p["title"].as_str()).collect();
        assert_eq!(
            titles,
            [
                "Now",
                "Requests per second",
                "Error ratio",
                "p95 latency",
                "Saturation",
                "Golden signals",
                "Request rate",
                "Error ratio",
                "Latency (p50, p95, p99)",
                "Saturation",
                "Logs and traces",
                "Error logs",
                "Failed traces"
            ]
        );
        let sat: Vec<&str> =
            d["panels"][9]["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
        assert_eq!(
            sat,
            [
                r#"container_memory_usage_bytes{job="payment-service"} / container_spec_memory_limit_bytes{job="payment-service"}"#,
                r#"container_cpu_usage_ratio{job="payment-service"}"#,
                r#"queue_depth{job="payment-service"}"#
            ]
        );
        assert!(d["panels"][2]["targets"][0]["expr"].as_str().unwrap().contains(r#"status=~"5..""#));
        let gauge = &d["panels"][4];
        assert_eq!(gauge["type"], "gauge");
        assert_eq!(gauge["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"], 0.7, "{gauge}");
        assert_eq!(d["panels"][2]["fieldConfig"]["defaults"]["thresholds"]["steps"][2]["value"], 0.05);
    }

    #[test]
    fn a_service_seen_only_in_spans_uses_span_metrics() {
        let d = overview(&Service { name: "inventory".into(), spans: true, ..Default::default() });
        assert!(crate::validate::problems(&d).is_empty());
        let rate = d["panels"][1]["targets"][0]["expr"].as_str().unwrap();
        assert!(rate.starts_with(r#"sum(rate(traces_spanmetrics_calls_total{service="inventory""#), "{rate}");
        assert!(d["panels"].as_array().unwrap().iter().all(|p| p["title"] != "Saturation"));
        assert_eq!(uid("a b/c"), "service-overview-a-b-c");
    }
}
