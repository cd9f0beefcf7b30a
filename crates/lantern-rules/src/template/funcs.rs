//! The functions alert templates can call besides Go's built-ins, as Prometheus
//! defines them: formatting (`humanize`, `humanize1024`, `humanizePercentage`,
//! `humanizeDuration`, `humanizeTimestamp`, `toUpper`, `toLower`, `title`), queries
//! (`query`, `first`, `label`, `value`, `strvalue`, `sortByLabel`), and strings
//! (`reReplaceAll`, `match`, `stripPort`, `stripDomain`, `safeHtml`).

use std::collections::BTreeMap;

use lantern_gotemplate::format::{fmt_g, humanize, humanize_duration};
use lantern_gotemplate::Val;

use super::{sample, Data};

/// Names [`call`] knows.
pub const NAMES: [&str; 19] = [
    "humanize",
    "humanize1024",
    "humanizePercentage",
    "humanizeDuration",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "reReplaceAll",
    "match",
    "stripPort",
    "stripDomain",
    "safeHtml",
];

/// Calls `f`; a piped value arrives as the last argument.
pub fn call(f: &str, args: Vec<Val>, d: &Data) -> Result<Val, String> {
    let one = |args: &[Val]| args.first().cloned().ok_or_else(|| format!("{f} needs an argument"));
    let two = |args: &[Val]| match args {
        [a, b, ..] => Ok((a.clone(), b.clone())),
        _ => Err(format!("{f} needs two arguments")),
    };
    Ok(match f {
        "humanize" => Val::Str(humanize(
            one(&args)?.num()?,
            1000.0,
            &["k", "M", "G", "T", "P", "E", "Z", "Y"],
            &["m", "u", "n", "p", "f", "a", "z", "y"],
        )),
        "humanize1024" => {
            let v = one(&args)?.num()?;
            if v.abs() < 1.0 {
                Val::Str(fmt_g(v, 4))
            } else {
                Val::Str(humanize(v, 1024.0, &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"], &[]))
            }
        }
        "humanizePercentage" => Val::Str(format!("{}%", fmt_g(one(&args)?.num()? * 100.0, 4))),
        "humanizeDuration" => Val::Str(humanize_duration(one(&args)?.num()?)),
        "humanizeTimestamp" => {
            let v = one(&args)?.num()?;
            let t = chrono::DateTime::from_timestamp(v.floor() as i64, ((v - v.floor()) * 1e9) as u32);
            Val::Str(t.map_or_else(|| fmt_g(v, 4), |t| t.format("%Y-%m-%d %H:%M:%S%.f +0000 UTC").to_string()))
        }
        "toUpper" => Val::Str(one(&args)?.text().to_uppercase()),
        "toLower" => Val::Str(one(&args)?.text().to_lowercase()),
        "title" => Val::Str(
            one(&args)?
                .text()
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "query" => {
            let q = one(&args)?.text();
            let run = d.query.ok_or("query is not available here")?;
            Val::List(run(&q)?.into_iter().map(|(l, v)| sample(l, v)).collect())
        }
        "first" => match one(&args)? {
            Val::List(s) => s.into_iter().next().unwrap_or(Val::Nil),
            other => return Err(format!("first needs query results, not {}", other.kind())),
        },
        "label" => {
            let (name, s) = two(&args)?;
            match (&s, as_sample(&s)) {
                (_, Some((l, _))) => Val::Str(l.get(&name.text()).cloned().unwrap_or_default()),
                (Val::Nil, _) => Val::Str(String::new()),
                (other, None) => return Err(format!("label needs a sample, not {}", other.kind())),
            }
        }
        "value" => {
            let s = one(&args)?;
            let (_, v) = as_sample(&s).ok_or_else(|| format!("value needs a sample, not {}", s.kind()))?;
            Val::Num(v)
        }
        "strvalue" => {
            let s = one(&args)?;
            let (l, _) = as_sample(&s).ok_or_else(|| format!("strvalue needs a sample, not {}", s.kind()))?;
            Val::Str(l.get("__value__").cloned().unwrap_or_default())
        }
        "sortByLabel" => {
            let (name, s) = two(&args)?;
            let Val::List(mut s) = s else { return Err("sortByLabel needs query results".into()) };
            let k = name.text();
            let key = |v: &Val| as_sample(v).and_then(|(l, _)| l.get(&k).cloned());
            s.sort_by_key(key);
            Val::List(s)
        }
        "reReplaceAll" => {
            let [re, with, text] = args.as_slice() else { return Err("reReplaceAll needs three arguments".into()) };
            let re = regex::Regex::new(&re.text()).map_err(|e| format!("reReplaceAll: {e}"))?;
            Val::Str(re.replace_all(&text.text(), with.text().as_str()).into_owned())
        }
        "match" => {
            let (re, text) = two(&args)?;
            let re = regex::Regex::new(&re.text()).map_err(|e| format!("match: {e}"))?;
            Val::Bool(re.is_match(&text.text()))
        }
        "stripPort" => {
            let s = one(&args)?.text();
            let host = match s.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
                    h.trim_start_matches('[').trim_end_matches(']')
                }
                _ => s.as_str(),
            };
            Val::Str(host.to_string())
        }
        "stripDomain" => {
            let s = one(&args)?.text();
            let (host, port) = match s.rsplit_once(':') {
                Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), format!(":{p}")),
                _ => (s.clone(), String::new()),
            };
            let short = if host.parse::<std::net::IpAddr>().is_ok() {
                host.as_str()
            } else {
                host.split('.').next().unwrap_or("")
            };
            Val::Str(format!("{short}{port}"))
        }
        "safeHtml" => Val::Str(one(&args)?.text()),
        other => return Err(format!("function {other:?} is not supported")),
    })
}

/// The labels and value of one query result.
fn as_sample(v: &Val) -> Option<(&BTreeMap<String, String>, f64)> {
    match (v.get("Labels"), v.get("Value")) {
        (Some(Val::Map(l)), Some(Val::Num(x))) => Some((l, *x)),
        _ => None,
    }
}
