//! LogQL tokens with their byte offsets.

use crate::ParseError;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name (label, function, keyword).
    Ident(String),
    /// A quoted string (escapes undone).
    Str(String),
    /// A number, or a number with a unit (`5m`, `10KB`), as written.
    Num(String),
    /// Punctuation and operators.
    Sym(&'static str),
    /// The end.
    Eof,
}

const SYMS: [&str; 24] = [
    "|=", "|~", "!=", "!~", "=~", "==", ">=", "<=", "{", "}", "(", ")", "[", "]", ",", "|", "=", ">", "<", "+", "-",
    "*", "/", "%",
];

/// Splits `src` into tokens, each with its byte offset.
pub(crate) fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'"' || c == b'`' {
            let (s, end) = string(src, i)?;
            out.push((Tok::Str(s), start));
            i = end;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            // `µs` is two bytes.
            while i + 1 < b.len() && src[i..].starts_with('µ') {
                i += 'µ'.len_utf8();
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            out.push((Tok::Num(src[start..i].to_string()), start));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), start));
            continue;
        }
        if c == b'^' {
            out.push((Tok::Sym("^"), start));
            i += 1;
            continue;
        }
        match SYMS.iter().find(|s| src[i..].starts_with(**s)) {
            Some(s) => {
                out.push((Tok::Sym(s), start));
                i += s.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(error_at(src, i, format!("syntax error: unexpected character {ch:?}")));
            }
        }
    }
    out.push((Tok::Eof, src.len()));
    Ok(out)
}

/// A quoted string at `i`: its value and the offset after it.
fn string(src: &str, i: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[i] as char;
    let mut out = String::new();
    let mut chars = src[i + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1 + j + 1));
        }
        if c == '\\' && quote == '"' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                'u' | 'x' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..n).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                    let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    out.push(ch.ok_or_else(|| error_at(src, i, format!("invalid escape \\{e}{hex} in a string")))?);
                }
                // Go accepts no other escapes; regular expressions need `\\` or backquotes.
                other => return Err(error_at(src, i + 1 + j, format!("invalid escape \\{other} in a string"))),
            }
            continue;
        }
        out.push(c);
    }
    Err(error_at(src, i, "syntax error: unterminated string".into()))
}

/// A parse error at byte offset `at` of `src`.
pub(crate) fn error_at(src: &str, at: usize, message: String) -> ParseError {
    let before = &src[..at.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ParseError { line, col, message }
}
