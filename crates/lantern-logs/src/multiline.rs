//! Multiline records in followed files: which lines start a record and which continue
//! the one before (a Python or Java traceback, a message printed over several lines),
//! decided by a start pattern — as the Collector's `filelog` `multiline.line_start_pattern`
//! or Filebeat's `multiline.pattern` — or by a built-in rule for Python and Java
//! tracebacks. A record's lines are kept together, with the newlines between them.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// How lines are grouped into records.
#[derive(Debug, Clone)]
pub enum Multiline {
    /// A line matching the pattern starts a record; any other line continues it.
    Start(Regex),
    /// Python's tracebacks (`Traceback (most recent call last):`, its indented frames,
    /// the exception line, chained exceptions) and indented lines continue a record.
    Python,
    /// Java's stack traces (an exception's class line, `at …` frames, `... n more`,
    /// `Caused by:`, `Suppressed:`) and indented lines continue a record.
    Java,
}

impl PartialEq for Multiline {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Start(a), Self::Start(b)) => a.as_str() == b.as_str(),
            (Self::Python, Self::Python) | (Self::Java, Self::Java) => true,
            _ => false,
        }
    }
}

/// The names [`Multiline::preset`] knows.
pub const PRESETS: &[&str] = &["python", "java"];

impl Multiline {
    /// A rule starting records at lines `pattern` (a regular expression) matches.
    pub fn start_pattern(pattern: &str) -> crate::Result<Self> {
        Regex::new(pattern).map(Self::Start).map_err(|e| crate::Error::Invalid(e.to_string()))
    }

    /// A built-in rule by name (`python`, `java`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "python" => Some(Self::Python),
            "java" => Some(Self::Java),
            _ => None,
        }
    }

    /// The records of `text` (complete lines, each ended by `\n`) as byte ranges of it,
    /// without their last newline. Blank lines between records are dropped; those
    /// inside one (between a Python traceback and the exception chained to it) kept.
    pub fn records(&self, text: &str) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        let mut state = State::Normal;
        let mut pos = 0;
        // The blank lines after the last record's last line: they join it only if a
        // continuation follows.
        let mut blank = false;
        for line in text.split_inclusive('\n') {
            let start = pos;
            pos += line.len();
            let body = line.trim_end_matches(['\n', '\r']);
            if body.trim().is_empty() {
                blank = true;
                continue;
            }
            let end = start + body.len();
            let continues = !out.is_empty() && self.continues(body, blank, &mut state);
            match out.last_mut() {
                Some(r) if continues => r.end = end,
                _ => {
                    if out.is_empty() {
                        // The first line sets the state up as a continuation would.
                        self.continues(body, blank, &mut state);
                    }
                    out.push(start..end);
                }
            }
            blank = false;
        }
        out
    }

    /// Whether `line` continues the record before it (`after_blank`: blank lines came
    /// between them), moving the traceback state on.
    fn continues(&self, line: &str, after_blank: bool, state: &mut State) -> bool {
        let indented = line.starts_with([' ', '\t']);
        match self {
            Self::Start(re) => !re.is_match(line),
            Self::Python => {
                let next = python(line, indented, *state);
                let continues = match next {
                    // Blank lines are part of a record only around the words that
                    // chain one traceback to the next.
                    Some(s) => {
                        !after_blank
                            || matches!((*state, s), (State::Raised, State::Chained) | (State::Chained, State::Trace))
                    }
                    None => false,
                };
                *state = if continues {
                    next.unwrap_or(State::Normal)
                } else if line.starts_with("Traceback (most recent call last):") {
                    State::Trace
                } else {
                    State::Normal
                };
                continues
            }
            Self::Java => {
                !after_blank
                    && (indented
                        || line.starts_with("Caused by: ")
                        || line.starts_with("Suppressed: ")
                        || line.starts_with("Exception in thread ")
                        || JAVA_EXCEPTION.is_match(line))
            }
        }
    }
}

/// Each non-blank line of `text` as a record of its own, as [`Multiline::records`] gives
/// them.
pub fn single_lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.trim().is_empty() {
            out.push(pos..pos + body.len());
        }
        pos += line.len();
    }
    out
}

/// Where a Python traceback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not in a traceback.
    Normal,
    /// After `Traceback (most recent call last):` or one of its frames.
    Trace,
    /// After the exception line that ends a traceback.
    Raised,
    /// After "During handling of the above exception…": a traceback follows.
    Chained,
}

/// The state after `line` if it continues a record in `state`; `None` if it starts one.
fn python(line: &str, indented: bool, state: State) -> Option<State> {
    if line.starts_with("Traceback (most recent call last):") {
        return Some(State::Trace);
    }
    if line.starts_with("During handling of the above exception")
        || line.starts_with("The above exception was the direct cause")
    {
        return matches!(state, State::Raised).then_some(State::Chained);
    }
    match state {
        _ if indented => Some(if state == State::Normal { State::Normal } else { State::Trace }),
        State::Trace if PYTHON_EXCEPTION.is_match(line) => Some(State::Raised),
        _ => None,
    }
}

/// The line that ends a Python traceback: the exception's (dotted) name, then its
/// message (`ValueError: bad`, `requests.exceptions.ReadTimeout: …`, `KeyboardInterrupt`).
static PYTHON_EXCEPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:|$)").expect("a valid pattern"));

/// The first line of a Java stack trace: a dotted class name ending in `Exception`,
/// `Error` or `Throwable`, then its message.
static JAVA_EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_$][A-Za-z0-9_$]*\.)+[A-Za-z0-9_$]*(Exception|Error|Throwable)(: |:?$)")
        .expect("a valid pattern")
});

#[cfg(test)]
mod tests {
    use super::*;

    fn records<'a>(m: &Multiline, text: &'a str) -> Vec<&'a str> {
        m.records(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn python_tracebacks_are_one_record_with_the_line_that_logged_them() {
        let text = "2026-12-06 10:00:00,001 INFO started\n\
                    2026-12-06 10:00:01,002 ERROR charge failed\n\
                    Traceback (most recent call last):\n  \
                      File \"/app/payment.py\", line 12, in charge\n    \
                        gateway.charge(card)\n\
                    TimeoutError: gateway did not answer\n\
                    \n\
                    During handling of the above exception, another exception occurred:\n\
                    \n\
                    Traceback (most recent call last):\n  \
                      File \"/app/app.py\", line 40, in checkout\n    \
                        pay()\n\
                    app.errors.PaymentError: payment failed\n\
                    \n\
                    2026-12-06 10:00:02,003 INFO next request\n\
                    Exception: not a traceback's line\n";
        let r = records(&Multiline::Python, text);
        assert_eq!(r.len(), 4, "{r:#?}");
        assert_eq!(r[0], "2026-12-06 10:00:00,001 INFO started");
        assert!(r[1].starts_with("2026-12-06 10:00:01,002 ERROR charge failed\nTraceback"), "{}", r[1]);
        assert!(r[1].ends_with("app.errors.PaymentError: payment failed"), "{}", r[1]);
        assert!(r[1].contains("TimeoutError: gateway did not answer\n\nDuring handling"), "{}", r[1]);
        assert_eq!(r[2], "2026-12-06 10:00:02,003 INFO next request");
        assert_eq!(r[3], "Exception: not a traceback's line");
    }

    #[test]
    fn a_traceback_printed_alone_is_one_record() {
        let text =
            "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyboardInterrupt\nnext\n";
        assert_eq!(
            records(&Multiline::Python, text),
            ["Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyboardInterrupt", "next"]
        );
    }

    #[test]
    fn java_stack_traces_are_one_record() {
        let text = "2026-12-06T10:00:00Z ERROR order failed\n\
                    java.lang.IllegalStateException: boom\n\
                    \tat com.shop.Order.place(Order.java:10)\n\
                    \tat com.shop.Api.post(Api.java:22)\n\
                    Caused by: java.io.IOException: closed\n\
                    \tat com.shop.Db.write(Db.java:5)\n\
                    \t... 2 more\n\
                    2026-12-06T10:00:01Z INFO ok\n";
        let r = records(&Multiline::Java, text);
        assert_eq!(r.len(), 2, "{r:#?}");
        assert!(r[0].ends_with("\t... 2 more") && r[0].contains("Caused by: java.io.IOException"), "{}", r[0]);
        assert_eq!(r[1], "2026-12-06T10:00:01Z INFO ok");
    }

    #[test]
    fn a_start_pattern_starts_records_and_crlf_and_blank_lines_are_handled() {
        let m = Multiline::Start(Regex::new(r"^\d{4} ").unwrap());
        let text = "  orphan continuation\r\n2026 a\r\n  more\r\n\r\nstill a\r\n2027 b\r\n";
        assert_eq!(records(&m, text), ["  orphan continuation", "2026 a\r\n  more\r\n\r\nstill a", "2027 b"]);
    }
}
