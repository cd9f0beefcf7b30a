//! The investigation's answer: the verdict, the JSON the API gives (`verdict`,
//! `suspect`, `symptom`, `evidence` with each step's findings and links), and the text
//! `lantern investigate` prints.

use serde_json::{json, Value};

use super::patterns::{Distinct, Pattern};
use super::{api_link as link, request_query, rfc3339_ms as ts, Kind, Request, Symptom};
use crate::Report;

/// What the steps found.
pub(super) struct Findings {
    pub req: Request,
    pub symptom: Symptom,
    pub step: i64,
    /// Baseline from, to; window from, to (ms).
    pub windows: (i64, i64, i64, i64),
    /// Error lines in the window and baseline, patterns, distinguishing fields.
    pub logs: (u64, u64, Vec<Pattern>, Vec<Distinct>),
    /// Failing requests: request ID, trace ID.
    pub requests: Vec<(String, String)>,
    /// Service, operation, confidence, what failed (or how it slowed), share.
    pub suspect: Option<(String, String, f64, String, f64)>,
    pub culprit: Value,
    /// Saturation series: name, mean before, mean after.
    pub saturation: Vec<(String, f64, f64)>,
}

fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn value(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Errors => format!("{}%", num(v * 100.0)),
        Kind::Latency => {
            if v >= 1.0 {
                format!("{} s", num(v))
            } else {
                format!("{} ms", num(v * 1000.0))
            }
        }
        Kind::Given => num(v),
    }
}

fn ms(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{} s", num(ns / 1e9))
    } else {
        format!("{} ms", num(ns / 1e6))
    }
}

fn symptom_text(s: &Symptom) -> String {
    let at = s.service().map(|x| format!(" of {x}")).unwrap_or_default();
    format!(
        "{}{at} rose from {} to {} at {}",
        s.candidate.what,
        value(s.candidate.kind, s.before),
        value(s.candidate.kind, s.after),
        ts(s.onset_ms)
    )
}

fn range_link(query: &str, from: i64, to: i64, step: i64) -> String {
    link(
        "/api/v1/query_range",
        &[
            ("query", query.to_string()),
            ("start", format!("{}", from / 1000)),
            ("end", format!("{}", to / 1000)),
            ("step", format!("{}s", step / 1000)),
        ],
    )
}

pub(super) fn build(f: Findings) -> Report {
    let (b_from, b_to, w_from, w_to) = f.windows;
    let (w_total, b_total, pats, fields) = &f.logs;
    let sym = symptom_text(&f.symptom);
    let compare = &f.culprit["compare"];
    let verdict = match &f.suspect {
        Some((svc, op, _, what, share)) => {
            let mut v = if f.culprit["kind"] == "errors" {
                let mut s = format!(
                    "{svc} `{op}` is where the failures start: {what} in {}% of the failing traces",
                    num(share * 100.0)
                );
                if let (Some(now), Some(before)) = (compare["p95_ns"].as_f64(), compare["baseline_p95_ns"].as_f64()) {
                    s.push_str(&format!(", p95 {} vs {} before", ms(now), ms(before)));
                }
                s
            } else {
                format!("{svc} `{op}` is where the time goes: {what}, {}% of the slowdown", num(share * 100.0))
            };
            if let Some((name, b, a)) = f.saturation.iter().find(|(_, b, a)| (a - b).abs() > b.abs() * 0.25) {
                v.push_str(&format!("; its {name} went from {} to {}", num(*b), num(*a)));
            }
            v.push_str(&format!(". Symptom: {sym}."));
            v
        }
        None => format!("{sym}, but no service stands out in the traces of that window as where it started."),
    };
    let evidence = json!({
        "symptom": {
            "what": f.symptom.candidate.what,
            "query": f.symptom.candidate.query,
            "labels": f.symptom.labels.iter().map(|l| (l.name.to_string(), Value::String(l.value.to_string()))).collect::<serde_json::Map<_, _>>(),
            "started": ts(f.symptom.onset_ms),
            "before": f.symptom.before,
            "after": f.symptom.after,
            "score": f.symptom.score,
            "link": range_link(&f.symptom.candidate.query, b_from, w_to, f.step),
        },
        "logs": {
            "error_lines": w_total,
            "baseline_error_lines": b_total,
            "patterns": pats.iter().take(8).map(|p| json!({"service": p.service, "template": p.template, "count": p.count, "baseline": p.baseline})).collect::<Vec<_>>(),
            "distinct_fields": fields.iter().map(|d| json!({"field": d.field, "value": d.value, "count": d.count, "baseline": d.baseline})).collect::<Vec<_>>(),
            "link": link("/api/v1/logs/search", &[("query", "level:error".into()), ("start", ts(w_from)), ("end", ts(w_to))]),
        },
        "requests": f.requests.iter().map(|(rid, tid)| json!({
            "request_id": rid,
            "trace_id": tid,
            "correlate": link("/api/v1/correlate", &[("id", rid.clone())]),
            "logs": link("/api/v1/logs/search", &[("query", request_query(rid))]),
            "trace": (!tid.is_empty()).then(|| format!("/api/traces/{tid}")),
        })).collect::<Vec<_>>(),
        "traces": f.culprit,
        "saturation": {
            "service": f.suspect.as_ref().map(|s| s.0.clone()),
            "series": f.saturation.iter().map(|(n, b, a)| json!({"metric": n, "before": b, "after": a})).collect::<Vec<_>>(),
            "link": f.suspect.as_ref().map(|s| range_link(&format!("{{job=\"{0}\", __name__=~\".*(cpu|memory|queue|pool|connections).*\"}}", s.0), b_from, w_to, f.step)),
        },
    });
    let json = json!({
        "verdict": verdict,
        "incident": true,
        "suspect": f.suspect.as_ref().map(|(svc, op, conf, ..)| json!({"service": svc, "operation": op, "confidence": (conf * 100.0).round() / 100.0})),
        "symptom": sym,
        "window": {"start": ts(f.req.start_ms), "end": ts(f.req.end_ms)},
        "baseline": {"start": ts(b_from), "end": ts(b_to)},
        "evidence": evidence,
    });
    Report {
        suspect: f.suspect.map(|(s, o, c, ..)| (s, o, c)),
        verdict: json["verdict"].as_str().unwrap_or_default().to_string(),
        json,
        request: f.req,
    }
}

pub(super) fn no_incident(req: Request, largest: Option<Symptom>, step: i64) -> Report {
    let mut verdict = format!(
        "no incident found between {} and {}: no error ratio or latency rose clearly",
        ts(req.start_ms),
        ts(req.end_ms)
    );
    if let Some(l) = &largest {
        verdict.push_str(&format!(" (the largest change: {})", symptom_text(l)));
    }
    verdict.push('.');
    let json = json!({
        "verdict": verdict,
        "incident": false,
        "suspect": null,
        "symptom": null,
        "window": {"start": ts(req.start_ms), "end": ts(req.end_ms)},
        "evidence": {
            "largest_change": largest.as_ref().map(|l| json!({
                "what": l.candidate.what, "query": l.candidate.query, "started": ts(l.onset_ms), "before": l.before, "after": l.after, "score": l.score,
                "link": range_link(&l.candidate.query, req.start_ms - (req.end_ms - req.start_ms), req.end_ms, step),
            })),
        },
    });
    Report { verdict, suspect: None, json, request: req }
}

/// The answer for a person: the verdict, then each step's evidence; links are made
/// absolute with `base` (Lantern's URL).
pub fn render_text(v: &Value, base: &str) -> String {
    let base = base.trim_end_matches('/');
    let mut out = String::new();
    let w = &v["window"];
    out.push_str(&format!(
        "Investigation of {} → {}\n\n",
        w["start"].as_str().unwrap_or("?"),
        w["end"].as_str().unwrap_or("?")
    ));
    out.push_str(&format!("Verdict: {}\n", v["verdict"].as_str().unwrap_or("")));
    if let Some(s) = v["suspect"].as_object() {
        out.push_str(&format!(
            "Suspect: {} / {} (confidence {})\n",
            s["service"].as_str().unwrap_or("?"),
            s["operation"].as_str().unwrap_or("?"),
            s["confidence"]
        ));
    }
    let e = &v["evidence"];
    let url = |l: &Value| l.as_str().map(|l| format!("{base}{l}")).unwrap_or_default();
    if v["incident"] != true {
        if let Some(l) = e["largest_change"].as_object() {
            out.push_str(&format!(
                "\nLargest change seen: {} ({})\n  {}\n",
                l["what"].as_str().unwrap_or(""),
                l["started"].as_str().unwrap_or(""),
                url(&l["link"])
            ));
        }
        return out;
    }
    out.push_str(&format!(
        "\n1. Symptom: {}\n   {}\n",
        v["symptom"].as_str().unwrap_or(""),
        url(&e["symptom"]["link"])
    ));
    let l = &e["logs"];
    out.push_str(&format!(
        "\n2. Error logs: {} in the window, {} in the baseline\n",
        l["error_lines"], l["baseline_error_lines"]
    ));
    for p in l["patterns"].as_array().into_iter().flatten().take(5) {
        out.push_str(&format!(
            "   {:>6} ({} before)  {}  {}\n",
            p["count"],
            p["baseline"],
            p["service"].as_str().unwrap_or(""),
            p["template"].as_str().unwrap_or("")
        ));
    }
    for d in l["distinct_fields"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "   {}={}: {} lines ({} before)\n",
            d["field"].as_str().unwrap_or(""),
            d["value"].as_str().unwrap_or(""),
            d["count"],
            d["baseline"]
        ));
    }
    out.push_str(&format!("   {}\n", url(&l["link"])));
    out.push_str("\n3. Failing requests\n");
    let reqs = e["requests"].as_array().cloned().unwrap_or_default();
    if reqs.is_empty() {
        out.push_str("   (no error line in the window carries a request ID)\n");
    }
    for r in reqs.iter().take(5) {
        out.push_str(&format!(
            "   {}  trace {}\n     {}\n",
            r["request_id"].as_str().unwrap_or(""),
            r["trace_id"].as_str().unwrap_or("-"),
            url(&r["correlate"])
        ));
    }
    let t = &e["traces"];
    out.push_str("\n4. Traces\n");
    if t["kind"] == "errors" {
        out.push_str(&format!(
            "   {} failing traces in the window ({} in the baseline); where their failures start:\n",
            t["failing_traces"], t["baseline_failing_traces"]
        ));
        for o in t["origins"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "   {} `{}`: {} traces, {}% (before: {}%)\n",
                o["service"].as_str().unwrap_or(""),
                o["operation"].as_str().unwrap_or(""),
                o["traces"],
                num(o["share"].as_f64().unwrap_or(0.0) * 100.0),
                num(o["baseline_share"].as_f64().unwrap_or(0.0) * 100.0)
            ));
        }
    } else if let Some(s) = t["slowest"].as_object() {
        out.push_str(&format!(
            "   most of the slowdown: {} `{}`, self time {} vs {} before\n",
            s["service"].as_str().unwrap_or(""),
            s["operation"].as_str().unwrap_or(""),
            ms(s["self_time_after_ns"].as_f64().unwrap_or(0.0)),
            ms(s["self_time_before_ns"].as_f64().unwrap_or(0.0))
        ));
    }
    for x in t["examples"].as_array().into_iter().flatten().take(3) {
        out.push_str(&format!("   {}\n", url(x)));
    }
    let s = &e["saturation"];
    if let Some(svc) = s["service"].as_str() {
        out.push_str(&format!("\n5. Saturation of {svc}\n"));
        let series = s["series"].as_array().cloned().unwrap_or_default();
        if series.is_empty() {
            out.push_str("   (no CPU, memory, queue, pool or connection series)\n");
        }
        for x in series.iter().take(6) {
            out.push_str(&format!(
                "   {}: {} → {}\n",
                x["metric"].as_str().unwrap_or(""),
                num(x["before"].as_f64().unwrap_or(0.0)),
                num(x["after"].as_f64().unwrap_or(0.0))
            ));
        }
        if !s["link"].is_null() {
            out.push_str(&format!("   {}\n", url(&s["link"])));
        }
    }
    out
}
