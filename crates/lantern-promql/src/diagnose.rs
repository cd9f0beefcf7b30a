//! Where a PromQL expression goes wrong. `promql-parser` says only that a query is
//! invalid; these checks, on a small token stream of their own, find the common
//! mistakes and their position (1-based characters, as Prometheus counts): an unclosed
//! or unexpected bracket, an operator with nothing after it, an expression that begins
//! with an operator, and two operands with no operator between them. Pure.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    /// A name: metric, label, function, keyword.
    Ident,
    /// A number or a duration.
    Number,
    /// A quoted string.
    Str,
    /// A binary or comparison operator (`+`, `==`, `=~`, …) or a set operator.
    Op,
    Comma,
    Open(char),
    Close(char),
    /// `@`, `:` (subquery steps), `=` inside a selector.
    Other,
}

const KEYWORDS: &[&str] =
    &["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "atan2"];
const SET_OPS: &[&str] = &["and", "or", "unless", "atan2"];

/// A token, where it starts (characters) and its text.
type Lexeme = (Tok, usize, String);
/// A mistake: where (characters) and what.
type Mistake = (usize, String);

fn lex(q: &str) -> Result<Vec<Lexeme>, Mistake> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err((start, format!("unterminated quoted string starting with {c}")));
            }
            i += 1;
            out.push((Tok::Str, start, chars[start..i].iter().collect()));
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Number, start, chars[start..i].iter().collect()));
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == ':' && out.last().is_none_or(|t: &Lexeme| t.0 != Tok::Number) {
            if c == ':' && matches!(out.last().map(|t| t.0), Some(Tok::Number | Tok::Close(']'))) {
                i += 1;
                out.push((Tok::Other, start, ":".into()));
                continue;
            }
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let tok = if SET_OPS.contains(&word.to_ascii_lowercase().as_str()) { Tok::Op } else { Tok::Ident };
            out.push((tok, start, word));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (tok, len) = match (c, two.as_str()) {
            (_, "==" | "!=" | ">=" | "<=" | "=~" | "!~") => (Tok::Op, 2),
            ('+' | '-' | '*' | '/' | '%' | '^' | '>' | '<', _) => (Tok::Op, 1),
            ('=', _) => (Tok::Other, 1),
            (',', _) => (Tok::Comma, 1),
            ('(' | '{' | '[', _) => (Tok::Open(c), 1),
            (')' | '}' | ']', _) => (Tok::Close(c), 1),
            ('@' | ':', _) => (Tok::Other, 1),
            _ => return Err((start, format!("unexpected character {c:?}"))),
        };
        i += len;
        out.push((tok, start, chars[start..i].iter().collect()));
    }
    Ok(out)
}

fn opener(close: char) -> char {
    match close {
        ')' => '(',
        '}' => '{',
        _ => '[',
    }
}

/// The first mistake found in `q`: its 0-based character position and what is wrong.
pub fn diagnose(q: &str) -> Option<Mistake> {
    let toks = match lex(q) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    let end = q.chars().count();
    if toks.is_empty() {
        return Some((0, "no expression found in input".into()));
    }
    // Brackets.
    let mut stack: Vec<(char, usize)> = Vec::new();
    for (t, pos, _) in &toks {
        match t {
            Tok::Open(c) => stack.push((*c, *pos)),
            Tok::Close(c) => match stack.pop() {
                Some((o, _)) if o == opener(*c) => {}
                Some((o, p)) => {
                    return Some((*pos, format!("unexpected {c:?}: the {o:?} at char {} is not closed", p + 1)))
                }
                None => return Some((*pos, format!("unexpected {c:?} with no {:?} before it", opener(*c)))),
            },
            _ => {}
        }
    }
    if let Some((o, p)) = stack.first() {
        return Some((*p, format!("unclosed {o:?}")));
    }
    // `)` closing a vector-matching label list (`on(job)`, `group_left(a)`) ends no
    // operand: the other side follows.
    let mut modifier_close = vec![false; toks.len()];
    let mut opens: Vec<(usize, bool)> = Vec::new();
    for (k, (t, _, _)) in toks.iter().enumerate() {
        match t {
            Tok::Open(_) => {
                let after_modifier = k > 0
                    && toks[k - 1].0 == Tok::Ident
                    && ["on", "ignoring", "group_left", "group_right"].contains(&toks[k - 1].2.as_str());
                opens.push((k, after_modifier));
            }
            Tok::Close(_) => {
                if let Some((_, m)) = opens.pop() {
                    modifier_close[k] = m;
                }
            }
            _ => {}
        }
    }
    for (k, (t, pos, text)) in toks.iter().enumerate() {
        let prev = k.checked_sub(1).map(|j| &toks[j]);
        let next = toks.get(k + 1);
        // An operator must have an operand after it (`+` and `-` may also start one).
        if *t == Tok::Op {
            match next {
                None => return Some((end, format!("unexpected end of input: expected an expression after {text:?}"))),
                Some((Tok::Close(c), p, _)) => {
                    return Some((*p, format!("unexpected {c:?}: expected an expression after {text:?}")))
                }
                Some((Tok::Op, p, n)) if n != "-" && n != "+" => {
                    return Some((*p, format!("unexpected operator {n:?} after {text:?}")))
                }
                Some((Tok::Comma, p, _)) => {
                    return Some((*p, format!("unexpected ',': expected an expression after {text:?}")))
                }
                _ => {}
            }
            let starts = prev.is_none_or(|(pt, _, _)| matches!(pt, Tok::Open(_) | Tok::Comma));
            if starts && text != "-" && text != "+" {
                return Some((*pos, format!("unexpected operator {text:?}: expected an expression before it")));
            }
        }
        // Two operands side by side.
        let operand =
            |t: &Tok, s: &str| matches!(t, Tok::Number | Tok::Str) || (*t == Tok::Ident && !KEYWORDS.contains(&s));
        if let (Some((pt, _, ps)), true) = (prev, operand(t, text)) {
            let prev_ends_operand = operand(pt, ps) || (matches!(pt, Tok::Close(')' | '}')) && !modifier_close[k - 1]);
            let in_selector = stack_at(&toks, k) == Some('{') || stack_at(&toks, k) == Some('[');
            // `x offset 5m`, `… by (a)`, `x @ 10` are fine; so is a duration in brackets.
            if prev_ends_operand && !in_selector {
                return Some((*pos, format!("unexpected {text:?}: expected an operator or the end of the expression")));
            }
        }
    }
    None
}

/// The innermost bracket open at token `k`.
fn stack_at(toks: &[Lexeme], k: usize) -> Option<char> {
    let mut stack = Vec::new();
    for (t, _, _) in &toks[..k] {
        match t {
            Tok::Open(c) => stack.push(*c),
            Tok::Close(_) => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(q: &str) -> Option<usize> {
        diagnose(q).map(|d| d.0 + 1)
    }

    #[test]
    fn mistakes_are_found_where_they_are() {
        assert_eq!(
            diagnose("rate(foo[5m]) +"),
            Some((15, "unexpected end of input: expected an expression after \"+\"".into()))
        );
        assert_eq!(at("sum(rate(x[5m])"), Some(4));
        assert_eq!(at("sum(rate(x[5m]))) "), Some(17));
        assert_eq!(at("x{a=\"b\")"), Some(8));
        assert_eq!(at("* x"), Some(1));
        assert_eq!(at("x + * y"), Some(5));
        assert_eq!(at("foo bar"), Some(5));
        assert_eq!(at("sum(x) by (job) 5"), Some(17));
        assert_eq!(at("x{a=\"b}"), Some(5));
        assert_eq!(at(""), Some(1));
    }

    #[test]
    fn valid_queries_are_not_faulted() {
        for q in [
            "sum by (job) (rate(http_requests_total{status=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m]))",
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))",
            "x offset 5m",
            "x @ 1609746000",
            "-x + -1",
            "rate(x[5m:1m])",
            "max_over_time(deriv(rate(x[1m])[5m:1m])[10m:])",
            "a and on(job) b",
            "topk(5, x) or vector(0)",
            "label_replace(up, \"a\", \"$1\", \"job\", \"(.*)\")",
            "x == bool 1",
            "count_values(\"v\", x)",
            "sum without (a) (x) unless y",
            "{__name__=~\"a.*\"} > 2",
            "1 - (0.999) * 14.4",
            "foo:bar:rate5m{a=\"1\"}",
        ] {
            assert_eq!(diagnose(q), None, "{q}");
            assert!(promql_parser::parser::parse(q).is_ok(), "{q}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_diagnosed_without_panicking(q in "[ -~]{0,40}") {
            let _ = diagnose(&q);
        }
    }
}
