//! Test scripts: commands and their blocks of `expect` and result lines.

use lantern_core::{Labels, PromDuration};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};

use crate::points::{parse_float, parse_points, Point};
use crate::{Error, Result};

/// A series with its points, from a `load` block or an expected result.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    /// The series' labels (`__name__` included when a name was written).
    pub labels: Labels,
    /// One point per step.
    pub points: Vec<Point>,
    /// 1-based line number.
    pub line: usize,
}

/// How an `eval` runs its query.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalKind {
    /// An instant query at this time (ms).
    Instant {
        /// Evaluation time, ms.
        at_ms: i64,
    },
    /// A range query.
    Range {
        /// Start, ms.
        start_ms: i64,
        /// End, ms.
        end_ms: i64,
        /// Step, ms.
        step_ms: i64,
    },
}

/// What an `expect` line asks of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectKind {
    /// The query fails.
    Fail,
    /// At least one warning annotation.
    Warn,
    /// At least one info annotation.
    Info,
    /// No warning annotation.
    NoWarn,
    /// No info annotation.
    NoInfo,
    /// Results in exactly the listed order.
    Ordered,
}

/// How an expected message is compared.
#[derive(Debug, Clone, PartialEq)]
pub enum TextMatch {
    /// Exact text.
    Msg(String),
    /// A regular expression.
    Regex(String),
}

/// One `expect` line (or the expectation implied by a deprecated `eval_*` command).
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The kind.
    pub kind: ExpectKind,
    /// The message to match, if given.
    pub text: Option<TextMatch>,
}

/// The expected result of an `eval`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Series with their points (an instant vector for instant queries, a matrix for
    /// range queries); empty when nothing is expected.
    Series(Vec<SeriesSpec>),
    /// A scalar.
    Scalar(f64),
    /// A string literal.
    String(String),
    /// An instant query returning a range vector, with its sample timestamps.
    RangeVector {
        /// First timestamp, ms.
        start_ms: i64,
        /// Last timestamp, ms.
        end_ms: i64,
        /// Step, ms.
        step_ms: i64,
        /// The series.
        series: Vec<SeriesSpec>,
    },
}

/// An `eval` command.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// 1-based line number of the command.
    pub line: usize,
    /// The PromQL query.
    pub query: String,
    /// Instant or range.
    pub kind: EvalKind,
    /// `expect` lines.
    pub expects: Vec<Expect>,
    /// The expected result.
    pub expected: Expected,
}

impl Eval {
    /// Whether the query is expected to fail.
    pub fn expects_failure(&self) -> bool {
        self.expects.iter().any(|e| e.kind == ExpectKind::Fail)
    }
}

/// One command of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Adds series sampled every `interval_ms`, starting at 0.
    Load {
        /// 1-based line number.
        line: usize,
        /// Step between points, ms.
        interval_ms: i64,
        /// `load_with_nhcb`: classic histograms are also loaded as native ones.
        with_nhcb: bool,
        /// The series.
        series: Vec<SeriesSpec>,
    },
    /// Removes all data.
    Clear {
        /// 1-based line number.
        line: usize,
    },
    /// Runs a query and checks its result.
    Eval(Eval),
}

fn err(line: usize, message: impl Into<String>) -> Error {
    Error { line, message: message.into() }
}

/// A time or duration as scripts write them: `50m`, `1h30m`, `0`, or seconds.
fn parse_time(s: &str, line: usize) -> Result<i64> {
    let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
    let ms = match PromDuration::parse(body) {
        Ok(d) => d.as_millis_i64(),
        Err(_) => {
            let secs: f64 = body.parse().map_err(|_| err(line, format!("invalid time or duration {s:?}")))?;
            (secs * 1000.0).round() as i64
        }
    };
    Ok(if neg { -ms } else { ms })
}

fn is_command(t: &str) -> bool {
    let word = t.split_whitespace().next().unwrap_or("");
    word == "clear" || word.starts_with("load") || word.starts_with("eval")
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let t = lines[i].trim();
        i += 1;
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // The block: following lines up to a blank line or the next command.
        let mut block: Vec<(usize, &str)> = Vec::new();
        while i < lines.len() {
            let b = lines[i].trim();
            if b.is_empty() || is_command(b) {
                break;
            }
            if !b.starts_with('#') {
                block.push((i + 1, b));
            }
            i += 1;
        }
        let (word, rest) = t.split_once(char::is_whitespace).map_or((t, ""), |(w, r)| (w, r.trim()));
        match word {
            "clear" => out.push(Command::Clear { line: line_no }),
            "load" | "load_with_nhcb" => {
                let interval_ms = parse_time(rest, line_no)?;
                let series = block.iter().map(|&(n, l)| parse_series_line(l, n)).collect::<Result<Vec<_>>>()?;
                out.push(Command::Load { line: line_no, interval_ms, with_nhcb: word == "load_with_nhcb", series });
            }
            w if w.starts_with("eval") => out.push(Command::Eval(parse_eval(w, rest, &block, line_no)?)),
            other => return Err(err(line_no, format!("unknown command {other:?}"))),
        }
    }
    Ok(out)
}

fn parse_eval(word: &str, rest: &str, block: &[(usize, &str)], line: usize) -> Result<Eval> {
    let mut expects = Vec::new();
    match word {
        "eval" => {}
        "eval_fail" => expects.push(Expect { kind: ExpectKind::Fail, text: None }),
        "eval_warn" => expects.push(Expect { kind: ExpectKind::Warn, text: None }),
        "eval_info" => expects.push(Expect { kind: ExpectKind::Info, text: None }),
        "eval_ordered" => expects.push(Expect { kind: ExpectKind::Ordered, text: None }),
        other => return Err(err(line, format!("unknown command {other:?}"))),
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (kind, query_from) = match words.as_slice() {
        ["instant", "at", at, ..] => (EvalKind::Instant { at_ms: parse_time(at, line)? }, 3),
        ["range", "from", start, "to", end, "step", step, ..] => (
            EvalKind::Range {
                start_ms: parse_time(start, line)?,
                end_ms: parse_time(end, line)?,
                step_ms: parse_time(step, line)?,
            },
            7,
        ),
        _ => {
            return Err(err(
                line,
                format!("eval needs 'instant at <time>' or 'range from <t> to <t> step <d>': {rest:?}"),
            ))
        }
    };
    // The query is the rest of the line after the words consumed, spacing kept.
    let mut query = rest;
    for w in &words[..query_from] {
        query = query.trim_start().strip_prefix(w).unwrap_or(query);
    }
    let query = query.trim().to_string();
    if query.is_empty() {
        return Err(err(line, "eval has no query"));
    }
    let mut series = Vec::new();
    let mut scalar = None;
    let mut string = None;
    let mut range_vector = None;
    for &(n, l) in block {
        if let Some(e) = l.strip_prefix("expect ") {
            let e = e.trim();
            if let Some(r) = e.strip_prefix("range vector ") {
                let w: Vec<&str> = r.split_whitespace().collect();
                match w.as_slice() {
                    ["from", s, "to", e, "step", st] => {
                        range_vector = Some((parse_time(s, n)?, parse_time(e, n)?, parse_time(st, n)?))
                    }
                    _ => return Err(err(n, format!("invalid 'expect range vector' line: {l:?}"))),
                }
            } else if let Some(s) = e.strip_prefix("string ") {
                string =
                    Some(unquote(s.trim()).ok_or_else(|| err(n, format!("expected string must be quoted: {s:?}")))?);
            } else {
                expects.push(parse_expect(e, n)?);
            }
            continue;
        }
        let first = l.split_whitespace().next().unwrap_or("");
        if !l.contains('{') && parse_float(first).is_some() && l.split_whitespace().count() == 1 {
            scalar = parse_float(first);
            continue;
        }
        series.push(parse_series_line(l, n)?);
    }
    let expected = match (string, scalar, range_vector) {
        (Some(s), _, _) => Expected::String(s),
        (None, Some(v), _) => Expected::Scalar(v),
        (None, None, Some((start_ms, end_ms, step_ms))) => Expected::RangeVector { start_ms, end_ms, step_ms, series },
        (None, None, None) => Expected::Series(series),
    };
    Ok(Eval { line, query, kind, expects, expected })
}

fn unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'`') && b[b.len() - 1] == b[0] {
        Some(s[1..s.len() - 1].to_string())
    } else {
        None
    }
}

fn parse_expect(e: &str, line: usize) -> Result<Expect> {
    let (kind_word, rest) = e.split_once(char::is_whitespace).map_or((e, ""), |(k, r)| (k, r.trim()));
    let kind = match kind_word {
        "fail" => ExpectKind::Fail,
        "warn" => ExpectKind::Warn,
        "info" => ExpectKind::Info,
        "no_warn" => ExpectKind::NoWarn,
        "no_info" => ExpectKind::NoInfo,
        "ordered" => ExpectKind::Ordered,
        other => return Err(err(line, format!("unknown expectation {other:?}"))),
    };
    let text = if rest.is_empty() {
        None
    } else if let Some(m) = rest.strip_prefix("msg:") {
        Some(TextMatch::Msg(unquote(m.trim()).unwrap_or_else(|| m.trim().to_string())))
    } else if let Some(r) = rest.strip_prefix("regex:") {
        Some(TextMatch::Regex(unquote(r.trim()).unwrap_or_else(|| r.trim().to_string())))
    } else {
        return Err(err(line, format!("expectation text must follow 'msg:' or 'regex:': {rest:?}")));
    };
    Ok(Expect { kind, text })
}

/// Splits `metric{a="b"} 1 2 3` into its series and points parts, respecting quotes.
fn split_series(l: &str) -> Option<(&str, &str)> {
    let b = l.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    if i < b.len() && b[i] == b'{' {
        let mut quote: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(_) if c == b'\\' => i += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' || c == b'`' => quote = Some(c),
                None if c == b'}' => return Some((&l[..=i], &l[i + 1..])),
                None => {}
            }
            i += 1;
        }
        return None;
    }
    (i > 0).then(|| (&l[..i], &l[i..]))
}

fn parse_series_line(l: &str, line: usize) -> Result<SeriesSpec> {
    let (series, points) = split_series(l).ok_or_else(|| err(line, format!("cannot read a series from {l:?}")))?;
    let labels = parse_series_labels(series).map_err(|m| err(line, m))?;
    let points = parse_points(points).map_err(|m| err(line, m))?;
    Ok(SeriesSpec { labels, points, line })
}

/// Labels of a series written as a selector with `=` matchers (`{}` means none).
pub fn parse_series_labels(series: &str) -> std::result::Result<Labels, String> {
    if series.replace(char::is_whitespace, "") == "{}" {
        return Ok(Labels::default());
    }
    let expr = parser::parse(series).map_err(|e| format!("invalid series {series:?}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("{series:?} is not a series"));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(name) = vs.name {
        pairs.push(("__name__".into(), name));
    }
    for m in vs.matchers.matchers {
        if m.op != MatchOp::Equal {
            return Err(format!("series {series:?} may only use '=' labels"));
        }
        pairs.push((m.name, m.value));
    }
    Ok(Labels::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_script_parses_completely() {
        let script = r#"
# comment
load 5m
    http_requests{job="api", instance="0"} 0+10x10
    up 1 _ stale

eval instant at 50m sum by (job) (http_requests)
    {job="api"} 100

eval range from 0 to 10m step 5m up
    expect no_warn
    up 1 _ _

eval_fail instant at 0 -{job="api"}

eval instant at 1m ceil({__name__=~'a|b'})
expect fail msg: "vector cannot contain metrics with the same labelset"

eval instant at 50m 1 + 1
	2

eval instant at 50m ("Foo")
 expect string "Foo"

eval instant at 1m some_metric[1m]
  expect range vector from 10s to 1m step 10s
  some_metric{env="a"} 2 3 4 5 6

clear
"#;
        let c = parse_script(script).unwrap();
        assert_eq!(c.len(), 9);
        let Command::Load { interval_ms, series, .. } = &c[0] else { panic!("{:?}", c[0]) };
        assert_eq!(*interval_ms, 300_000);
        assert_eq!(series[0].labels.to_string(), "http_requests{instance=\"0\", job=\"api\"}");
        assert_eq!(series[0].points.len(), 11);
        assert_eq!(series[1].points, vec![Point::Float(1.0), Point::Missing, Point::Stale]);
        let Command::Eval(e) = &c[1] else { panic!() };
        assert_eq!(e.query, "sum by (job) (http_requests)");
        assert_eq!(e.kind, EvalKind::Instant { at_ms: 3_000_000 });
        assert!(matches!(&e.expected, Expected::Series(s) if s[0].labels.get("job") == Some("api")));
        let Command::Eval(e) = &c[2] else { panic!() };
        assert_eq!(e.kind, EvalKind::Range { start_ms: 0, end_ms: 600_000, step_ms: 300_000 });
        assert_eq!(e.expects, vec![Expect { kind: ExpectKind::NoWarn, text: None }]);
        let Command::Eval(e) = &c[3] else { panic!() };
        assert!(e.expects_failure());
        let Command::Eval(e) = &c[4] else { panic!() };
        assert_eq!(
            e.expects[0].text,
            Some(TextMatch::Msg("vector cannot contain metrics with the same labelset".into()))
        );
        let Command::Eval(e) = &c[5] else { panic!() };
        assert_eq!(e.expected, Expected::Scalar(2.0));
        let Command::Eval(e) = &c[6] else { panic!() };
        assert_eq!(e.expected, Expected::String("Foo".into()));
        let Command::Eval(e) = &c[7] else { panic!() };
        assert!(
            matches!(&e.expected, Expected::RangeVector { start_ms: 10_000, end_ms: 60_000, step_ms: 10_000, series } if series.len() == 1)
        );
        assert_eq!(c[8], Command::Clear { line: 29 });
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_script("load 1m\n  up 1 2 three\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("three"), "{e}");
        assert_eq!(parse_script("eval sometime up\n").unwrap_err().line, 1);
        assert_eq!(parse_script("frobnicate\n").unwrap_err().line, 1);
    }

    #[test]
    fn quoted_braces_and_escapes_stay_inside_the_series() {
        let c = parse_script("load 1m\n  m{a=\"x} y\", b=\"q\\\"z\"} 1 2\n").unwrap();
        let Command::Load { series, .. } = &c[0] else { panic!() };
        assert_eq!(series[0].labels.get("a"), Some("x} y"));
        assert_eq!(series[0].labels.get("b"), Some("q\"z"));
        assert_eq!(series[0].points.len(), 2);
    }
}
