//! `lantern investigate`: asks a running Lantern's `/api/v1/investigate` and prints the
//! answer for a person (the verdict, then each step's evidence with links), or the JSON.

use std::process::ExitCode;

use clap::{ArgGroup, Args};

/// Flags of `lantern investigate`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("start").args(["alert", "query", "slo"]).multiple(false)))]
#[command(after_help = "Without --alert, --query or --slo the symptom is found automatically: the error ratio or \
                        p95 latency per service (from http_requests_total and from span metrics) that rose most \
                        clearly in the window, against the baseline before it. \"no incident found\" means none rose.\n\n\
                        Examples:\n  lantern investigate --from -30m\n  lantern investigate --alert HighErrorRate --json\n  \
                        lantern investigate --url http://lantern:9700 --from 2026-02-11T14:30:00Z --to 2026-02-11T14:40:00Z")]
pub struct InvestigateArgs {
    /// Lantern's URL.
    #[arg(long, env = "LANTERN_URL", default_value = "http://127.0.0.1:9700")]
    url: String,
    /// Window start: RFC 3339, Unix seconds, or relative to now (-30m, now-1h).
    #[arg(long, default_value = "-1h", allow_hyphen_values = true)]
    from: String,
    /// Window end: RFC 3339, Unix seconds, or relative to now.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
    /// Start from this alerting rule's expression.
    #[arg(long)]
    alert: Option<String>,
    /// Start from this PromQL expression (a rise in its value is the symptom).
    #[arg(long)]
    query: Option<String>,
    /// Start from this SLO's error ratio.
    #[arg(long)]
    slo: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A time as the API takes it (RFC 3339 or Unix seconds); relative ones resolved now.
fn absolute(t: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    let t = t.trim();
    if t == "now" {
        return Ok(now.to_rfc3339());
    }
    let rel = t.strip_prefix("now").unwrap_or(t);
    if let Some(d) = rel.strip_prefix('-') {
        let d: lantern_core::PromDuration = d.parse().map_err(|e| format!("{t:?} is not a time: {e}"))?;
        let back = chrono::Duration::from_std(d.0).map_err(|e| format!("{t:?}: {e}"))?;
        return Ok((now - back).to_rfc3339());
    }
    lantern_http::time::parse_time_ms(t).map(|_| t.to_string()).map_err(|e| format!("{t:?} is not a time: {e}"))
}

/// Runs the command.
pub fn run(a: &InvestigateArgs) -> ExitCode {
    let now = chrono::Utc::now();
    let (from, to) = match (absolute(&a.from, now), absolute(&a.to, now)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("lantern investigate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut params = vec![("start", from), ("end", to)];
    for (k, v) in [("alert", &a.alert), ("query", &a.query), ("slo", &a.slo)] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    let base = a.url.trim_end_matches('/');
    let client = match reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(120)).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lantern investigate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let answer = client.get(format!("{base}/api/v1/investigate")).query(&params).send().and_then(|r| r.text());
    let body: serde_json::Value = match answer.map(|t| serde_json::from_str(&t)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            eprintln!("lantern investigate: {base} did not answer JSON: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("lantern investigate: cannot reach {base}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if body["status"] != "success" {
        eprintln!("lantern investigate: {}", body["error"].as_str().unwrap_or("the investigation failed"));
        return ExitCode::FAILURE;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&body["data"]).unwrap_or_default());
    } else {
        print!("{}", lantern_correlate::investigate::render_text(&body["data"], base));
    }
    ExitCode::SUCCESS
}
