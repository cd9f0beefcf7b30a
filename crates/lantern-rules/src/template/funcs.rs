//! The functions alert templates can call, as Prometheus defines them: formatting
//! (`humanize`, `humanize1024`, `humanizePercentage`, `humanizeDuration`,
//! `humanizeTimestamp`, `printf`, `toUpper`, `toLower`, `title`), queries (`query`,
//! `first`, `label`, `value`, `strvalue`, `sortByLabel`), strings (`reReplaceAll`,
//! `match`, `stripPort`, `stripDomain`, `safeHtml`), and Go's built-ins (`eq`, `ne`,
//! `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`, `len`, `index`).

use super::format::{fmt_g, go_float, humanize, humanize_duration, printf};
use super::{Data, Val};

/// Names [`call`] knows.
pub const NAMES: [&str; 31] = [
    "humanize",
    "humanize1024",
    "humanizePercentage",
    "humanizeDuration",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "printf",
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
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "not",
    "len",
    "index",
];

fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        _ => a.num()?.partial_cmp(&b.num()?).ok_or_else(|| "cannot compare NaN".to_string()),
    }
}

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
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else { return Err("printf needs a format".into()) };
            Val::Str(printf(&fmt.text(), rest)?)
        }
        "query" => {
            let q = one(&args)?.text();
            let run = d.query.ok_or("query is not available here")?;
            Val::Samples(run(&q)?)
        }
        "first" => match one(&args)? {
            Val::Samples(s) => s.into_iter().next().map_or(Val::Nil, |(l, v)| Val::Sample(l, v)),
            other => return Err(format!("first needs query results, not {}", other.kind())),
        },
        "label" => {
            let (name, s) = two(&args)?;
            match s {
                Val::Sample(l, _) => Val::Str(l.get(&name.text()).cloned().unwrap_or_default()),
                Val::Nil => Val::Str(String::new()),
                other => return Err(format!("label needs a sample, not {}", other.kind())),
            }
        }
        "value" => match one(&args)? {
            Val::Sample(_, v) => Val::Num(v),
            other => return Err(format!("value needs a sample, not {}", other.kind())),
        },
        "strvalue" => match one(&args)? {
            Val::Sample(l, _) => Val::Str(l.get("__value__").cloned().unwrap_or_default()),
            other => return Err(format!("strvalue needs a sample, not {}", other.kind())),
        },
        "sortByLabel" => {
            let (name, s) = two(&args)?;
            let Val::Samples(mut s) = s else { return Err("sortByLabel needs query results".into()) };
            let k = name.text();
            s.sort_by(|a, b| a.0.get(&k).cmp(&b.0.get(&k)));
            Val::Samples(s)
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
        "eq" => {
            // eq a b c…: whether a equals any of the others.
            let (a, _) = two(&args)?;
            Val::Bool(args[1..].iter().any(|x| compare(&a, x).is_ok_and(|o| o.is_eq())))
        }
        "ne" => {
            let (a, b) = two(&args)?;
            Val::Bool(!compare(&a, &b)?.is_eq())
        }
        "lt" | "le" | "gt" | "ge" => {
            let (a, b) = two(&args)?;
            let o = compare(&a, &b)?;
            Val::Bool(match f {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "and" => args.iter().find(|a| !a.truthy()).or(args.last()).cloned().unwrap_or(Val::Nil),
        "or" => args.iter().find(|a| a.truthy()).or(args.last()).cloned().unwrap_or(Val::Nil),
        "not" => Val::Bool(!one(&args)?.truthy()),
        "len" => Val::Num(match one(&args)? {
            Val::Str(s) => s.len(),
            Val::Map(m) => m.len(),
            Val::Samples(s) => s.len(),
            other => return Err(format!("len of {}", other.kind())),
        } as f64),
        "index" => {
            let (m, k) = two(&args)?;
            match m {
                Val::Map(m) => Val::Str(m.get(&k.text()).cloned().unwrap_or_default()),
                Val::Samples(s) => {
                    let i = k.num()? as usize;
                    s.get(i).map_or(Val::Nil, |(l, v)| Val::Sample(l.clone(), *v))
                }
                other => return Err(format!("index of {}", other.kind())),
            }
        }
        other => return Err(format!("function {other:?} is not supported")),
    })
}

impl Val {
    /// Go's truth: false, 0, nil and empty values are false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::Samples(s) => !s.is_empty(),
            Val::Sample(..) | Val::Root => true,
        }
    }

    /// What the value is, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "a boolean",
            Val::Num(_) => "a number",
            Val::Str(_) => "a string",
            Val::Map(_) => "a map",
            Val::Samples(_) => "query results",
            Val::Sample(..) => "a sample",
            Val::Root => "the template data",
        }
    }

    /// The text Go's template prints for it.
    pub fn text(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Str(s) => s.clone(),
            Val::Num(n) => go_float(*n),
            Val::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
            Val::Samples(s) => format!("[{}]", s.iter().map(|(l, v)| sample_text(l, *v)).collect::<Vec<_>>().join(" ")),
            Val::Sample(l, v) => sample_text(l, *v),
            Val::Root => "{…}".into(),
        }
    }

    /// The value as a number.
    pub fn num(&self) -> Result<f64, String> {
        match self {
            Val::Num(n) => Ok(*n),
            Val::Str(s) => s.trim().parse().map_err(|_| format!("{s:?} is not a number")),
            Val::Sample(_, v) => Ok(*v),
            other => Err(format!("{} is not a number", other.kind())),
        }
    }
}

fn sample_text(l: &std::collections::BTreeMap<String, String>, v: f64) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{map[{}] {}}}", inner.join(" "), go_float(v))
}
