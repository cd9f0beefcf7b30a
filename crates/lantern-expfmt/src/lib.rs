//! Parsers of the formats metrics are exposed in for scraping: Prometheus's text format
//! 0.0.4 and OpenMetrics 1.0 (with exemplars, `# UNIT` and `# EOF`).
//!
//! [`Parser`] walks a scrape body line by line and yields [`Entry`]s. A sample keeps the
//! exact bytes of its series (`name{labels}`) so a scraper can find a series it already
//! knows without parsing its labels again; [`Sample::labels`] parses them when needed.
//! Every error names its line. Pure: no I/O, no allocation per sample on the fast path.

use std::borrow::Cow;

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: timestamps in milliseconds.
    PrometheusText,
    /// `application/openmetrics-text; version=1.0.0`: timestamps in seconds, exemplars,
    /// units, and a final `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header announces (Prometheus's text format when
    /// absent or unknown, as Prometheus falls back).
    pub fn from_content_type(ct: &str) -> Format {
        if ct.trim_start().starts_with("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics)
    Info,
    /// `stateset` (OpenMetrics)
    StateSet,
    /// `unknown` or `untyped`
    Unknown,
}

impl MetricType {
    /// The name Prometheus's metadata API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn parse(s: &str, format: Format) -> Option<MetricType> {
        Some(match (s, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::PrometheusText) | ("unknown", Format::OpenMetrics) => MetricType::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        })
    }
}

/// A parse error and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Label pairs; values borrow from the body unless they held escapes.
pub type LabelPairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// An exemplar attached to a sample (OpenMetrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// Its labels (`trace_id`, `span_id`, …).
    pub labels: LabelPairs<'a>,
    /// The observed value.
    pub value: f64,
    /// When it was observed, ms.
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The series exactly as written (`name{a="b"}`): equal bytes mean the same series.
    pub series: &'a [u8],
    /// The metric name.
    pub name: Cow<'a, str>,
    /// The text between the braces (empty without labels).
    labels_text: &'a str,
    /// The name was written quoted inside the braces (`{"my.metric", a="b"}`).
    name_in_braces: bool,
    /// The value.
    pub value: f64,
    /// The sample's own timestamp, ms.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any.
    pub exemplar: Option<Exemplar<'a>>,
    /// 1-based line number.
    pub line: usize,
}

impl<'a> Sample<'a> {
    /// The labels (without the name), parsed from the series text.
    /// Checked only here, so a scraper that recognises the series bytes skips the work.
    pub fn labels(&self) -> Result<LabelPairs<'a>, ParseError> {
        let mut c = Cursor { s: self.labels_text.as_bytes(), pos: 0, line: self.line };
        let mut out = Vec::new();
        let mut name = None;
        parse_label_list(&mut c, &mut out, self.name_in_braces.then_some(&mut name))?;
        if c.peek().is_some() {
            return Err(c.err(format!("unexpected {:?} in the labels", c.rest_preview())));
        }
        Ok(out)
    }
}

/// One line of meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`
    Help {
        /// The family.
        name: Cow<'a, str>,
        /// The help text, unescaped.
        text: String,
    },
    /// `# TYPE name type`
    Type {
        /// The family.
        name: Cow<'a, str>,
        /// Its type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics)
    Unit {
        /// The family.
        name: Cow<'a, str>,
        /// The unit.
        unit: &'a str,
    },
    /// A sample.
    Sample(Sample<'a>),
}

/// Iterates over the entries of a body.
pub struct Parser<'a> {
    body: &'a [u8],
    pos: usize,
    line: usize,
    format: Format,
    eof_seen: bool,
    done: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Self {
        Self { body, pos: 0, line: 0, format, eof_seen: false, done: false }
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError { line: self.line, message: message.into() }
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            if self.pos >= self.body.len() {
                if self.format == Format::OpenMetrics && !self.eof_seen {
                    self.line += 1;
                    return Err(self.err("expected \"# EOF\" at the end of an OpenMetrics body"));
                }
                return Ok(None);
            }
            let rest = &self.body[self.pos..];
            let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let raw = &rest[..len];
            self.pos += len + 1;
            self.line += 1;
            if self.eof_seen {
                return Err(self.err("content after \"# EOF\""));
            }
            let line =
                std::str::from_utf8(raw).map_err(|e| self.err(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                if self.format == Format::OpenMetrics {
                    return Err(self.err("empty line"));
                }
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                match self.comment(comment)? {
                    Some(e) => return Ok(Some(e)),
                    None => continue,
                }
            }
            return self.sample(line).map(|s| Some(Entry::Sample(s)));
        }
    }

    fn comment(&mut self, c: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let om = self.format == Format::OpenMetrics;
        let c = c.strip_prefix(' ').or(if om { None } else { Some(c.trim_start()) });
        let Some(c) = c else { return Err(self.err("expected a space after '#'")) };
        if om && c == "EOF" {
            self.eof_seen = true;
            return Ok(None);
        }
        let (keyword, rest) = c.split_once([' ', '\t']).unwrap_or((c, ""));
        let rest = if om { rest } else { rest.trim_start() };
        match keyword {
            "HELP" | "TYPE" | "UNIT" => {}
            _ if om => return Err(self.err(format!("unknown comment \"# {keyword}\""))),
            _ => return Ok(None), // other comments are allowed in the text format
        }
        let (name_raw, value) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        let name = self.family_name(name_raw)?;
        match keyword {
            "HELP" => Ok(Some(Entry::Help { name, text: unescape_help(value, om) })),
            "TYPE" => {
                let t = value.trim();
                let kind =
                    MetricType::parse(t, self.format).ok_or_else(|| self.err(format!("invalid metric type {t:?}")))?;
                Ok(Some(Entry::Type { name, kind }))
            }
            _ if om => Ok(Some(Entry::Unit { name, unit: value.trim() })),
            _ => Err(self.err("\"# UNIT\" is OpenMetrics only")),
        }
    }

    fn family_name(&self, raw: &'a str) -> Result<Cow<'a, str>, ParseError> {
        if raw.starts_with('"') {
            let mut c = Cursor { s: raw.as_bytes(), pos: 0, line: self.line };
            return c.quoted();
        }
        if !is_metric_name(raw) {
            return Err(self.err(format!("invalid metric name {raw:?}")));
        }
        Ok(Cow::Borrowed(raw))
    }

    fn sample(&self, line: &'a str) -> Result<Sample<'a>, ParseError> {
        let mut c = Cursor { s: line.as_bytes(), pos: 0, line: self.line };
        let mut name: Option<Cow<'a, str>> = None;
        if c.peek() != Some(b'{') {
            let n = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
            if n.is_empty() || n.as_bytes()[0].is_ascii_digit() {
                return Err(c.err(format!("expected a metric name, got {:?}", first_token(line))));
            }
            name = Some(Cow::Borrowed(n));
            // Blanks may separate the name from its labels.
            let after_name = c.pos;
            c.skip_blanks();
            if c.peek() != Some(b'{') {
                c.pos = after_name;
            }
        }
        let mut labels_text = "";
        let mut name_in_braces = false;
        if c.peek() == Some(b'{') {
            c.pos += 1;
            let start = c.pos;
            c.scan_to_closing_brace()?;
            labels_text = &line[start..c.pos];
            c.pos += 1;
            if name.is_none() {
                // `{"my.metric", a="b"}`: a quoted first item without '=' is the name.
                let mut inner = Cursor { s: labels_text.as_bytes(), pos: 0, line: self.line };
                inner.skip_blanks();
                if inner.peek() == Some(b'"') {
                    let q = inner.quoted()?;
                    inner.skip_blanks();
                    if inner.peek() != Some(b'=') {
                        name = Some(q);
                        name_in_braces = true;
                    }
                }
            }
        }
        let Some(name) = name else { return Err(c.err("a sample needs a metric name")) };
        let series = &line.as_bytes()[..c.pos];
        if !c.skip_blanks() {
            return Err(c.err("expected a space before the value"));
        }
        let value = c.number("value")?;
        let mut timestamp_ms = None;
        let om = self.format == Format::OpenMetrics;
        if c.skip_blanks() && c.peek().is_some_and(|b| b != b'#') {
            timestamp_ms = Some(c.timestamp(om)?);
            c.skip_blanks();
        }
        let mut exemplar = None;
        if c.peek() == Some(b'#') {
            if !om {
                return Err(c.err("exemplars are OpenMetrics only"));
            }
            c.pos += 1;
            if !c.skip_blanks() || c.peek() != Some(b'{') {
                return Err(c.err("expected \"# {\" to start an exemplar"));
            }
            c.pos += 1;
            let mut labels = Vec::new();
            parse_label_list(&mut c, &mut labels, None)?;
            c.expect(b'}')?;
            let runes: usize = labels.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
            if runes > 128 {
                return Err(c.err(format!("exemplar labels have {runes} characters, more than 128")));
            }
            if !c.skip_blanks() {
                return Err(c.err("expected a space before the exemplar value"));
            }
            let value = c.number("exemplar value")?;
            let mut ts = None;
            if c.skip_blanks() && c.peek().is_some() {
                ts = Some(c.timestamp(true)?);
            }
            exemplar = Some(Exemplar { labels, value, timestamp_ms: ts });
        }
        c.skip_blanks();
        if c.peek().is_some() {
            return Err(c.err(format!("unexpected {:?} after the sample", &line[c.pos..])));
        }
        Ok(Sample { series, name, labels_text, name_in_braces, value, timestamp_ms, exemplar, line: self.line })
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn first_token(line: &str) -> &str {
    line.split([' ', '\t']).next().unwrap_or(line)
}

/// Whether `s` is a classic metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn unescape_help(s: &str, om: bool) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if om => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Parses `name="value", …` up to (not including) the closing brace. With `name_slot`,
/// a first quoted item without `=` is taken as the metric name.
fn parse_label_list<'a>(
    c: &mut Cursor<'a>,
    out: &mut LabelPairs<'a>,
    mut name_slot: Option<&mut Option<Cow<'a, str>>>,
) -> Result<(), ParseError> {
    loop {
        c.skip_blanks();
        match c.peek() {
            Some(b'}') | None => return Ok(()),
            _ => {}
        }
        let lname: Cow<'a, str> = if c.peek() == Some(b'"') {
            let q = c.quoted()?;
            c.skip_blanks();
            if c.peek() != Some(b'=') {
                match name_slot.take() {
                    Some(slot) => {
                        *slot = Some(q);
                        if c.peek() == Some(b',') {
                            c.pos += 1;
                        }
                        continue;
                    }
                    None => return Err(c.err("expected '=' after a quoted label name")),
                }
            }
            q
        } else {
            let n = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
            if n.is_empty() || n.as_bytes()[0].is_ascii_digit() {
                return Err(c.err(format!("invalid label name at {:?}", c.rest_preview())));
            }
            Cow::Borrowed(n)
        };
        name_slot = None;
        c.skip_blanks();
        c.expect(b'=')?;
        c.skip_blanks();
        let value = c.quoted()?;
        if out.iter().any(|(n, _)| *n == lname) {
            return Err(c.err(format!("label {lname:?} appears twice")));
        }
        out.push((lname, value));
        c.skip_blanks();
        match c.peek() {
            Some(b',') => c.pos += 1,
            Some(b'}') | None => return Ok(()),
            _ => return Err(c.err(format!("expected ',' or '}}' after a label, got {:?}", c.rest_preview()))),
        }
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError { line: self.line, message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn rest_preview(&self) -> String {
        String::from_utf8_lossy(&self.s[self.pos.min(self.s.len())..]).chars().take(20).collect()
    }

    /// Skips spaces and tabs; whether any were skipped.
    fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes were taken, so this is valid UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default()
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {:?}, got {:?}", b as char, self.rest_preview())))
        }
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        if self.pos > self.s.len() {
            return Err(self.err("unterminated quoted string"));
        }
        let raw = std::str::from_utf8(&self.s[start..self.pos]).map_err(|_| self.err("invalid UTF-8 in a string"))?;
        self.pos += 1;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut it = raw.chars();
        while let Some(ch) = it.next() {
            if ch != '\\' {
                out.push(ch);
                continue;
            }
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(other) => return Err(self.err(format!("invalid escape \"\\{other}\" in a string"))),
                None => return Err(self.err("unterminated escape in a string")),
            }
        }
        Ok(Cow::Owned(out))
    }

    /// Moves to the `}` closing a label list, stepping over quoted strings.
    fn scan_to_closing_brace(&mut self) -> Result<(), ParseError> {
        let mut in_quotes = false;
        while let Some(b) = self.peek() {
            match (in_quotes, b) {
                (false, b'}') => return Ok(()),
                (false, b'"') => in_quotes = true,
                (true, b'"') => in_quotes = false,
                (true, b'\\') => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
        Err(self.err("expected '}' to close the labels"))
    }

    fn token(&mut self) -> &'a str {
        self.take_while(|b| b != b' ' && b != b'\t')
    }

    fn number(&mut self, what: &str) -> Result<f64, ParseError> {
        let t = self.token();
        parse_float(t).ok_or_else(|| self.err(format!("invalid {what} {t:?}")))
    }

    /// A timestamp: integer ms (text format) or float seconds (OpenMetrics).
    fn timestamp(&mut self, seconds: bool) -> Result<i64, ParseError> {
        let t = self.token();
        let ms = if seconds {
            parse_float(t).filter(|f| f.is_finite()).map(|f| (f * 1000.0).round() as i64)
        } else {
            t.parse::<i64>().ok()
        };
        ms.ok_or_else(|| self.err(format!("invalid timestamp {t:?}")))
    }
}

/// A float as Go's `strconv.ParseFloat` reads exposition values (`NaN`, `+Inf`, `-Inf`).
fn parse_float(t: &str) -> Option<f64> {
    match t {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if t.is_empty() || t.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') => None,
        _ => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests;
