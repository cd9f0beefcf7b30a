//! The log search syntax the seed uses (`level:error AND timestamp:[a TO b]`), a
//! Lucene query-string dialect, parsed into a [`Query`] tree. Pure: evaluation lives
//! with the log store.
//!
//! - `field:value`, `field:"a phrase"`, free text (`word`, `"a phrase"`); terms side by
//!   side are joined by AND (log search narrows; write `OR` for either);
//! - `AND`/`&&`, `OR`/`||`, `NOT`/`!`/`-`, `+` (required), parentheses, and a field
//!   applied to a group: `level:(error OR warn)`;
//! - `*` and `?` wildcards in terms; `*` or `*:*` alone matches everything;
//! - ranges `field:[a TO b]` (inclusive) and `field:{a TO b}` (exclusive), mixed
//!   brackets, `*` for an open end, and `field:>=10`, `>`, `<`, `<=`;
//! - `_exists_:field`;
//! - `\` escapes the next character. Inside range bounds and after `field:` a value may
//!   hold `:` (timestamps need no escaping).

/// A parse failure, pointing at the character where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error at position {pos}: {message}")]
pub struct ParseError {
    /// Character offset (0-based) into the query.
    pub pos: usize,
    /// What was wrong.
    pub message: String,
}

/// How a term's text is to be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// One word (or a value compared whole).
    Word,
    /// A quoted phrase: its words in sequence.
    Phrase,
    /// A pattern with `*` or `?`.
    Wildcard,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every event.
    All,
    /// A term, in a field or (`None`) anywhere.
    Term {
        /// The field, if one was named.
        field: Option<String>,
        /// The text (escapes removed).
        text: String,
        /// Word, phrase or wildcard.
        kind: TermKind,
    },
    /// A range of values of a field; `None` is an open end.
    Range {
        /// The field.
        field: String,
        /// Lower bound and whether it is included.
        lo: Option<(String, bool)>,
        /// Upper bound and whether it is included.
        hi: Option<(String, bool)>,
    },
    /// Events that have the field.
    Exists(String),
    /// All of these.
    And(Vec<Query>),
    /// One of these.
    Or(Vec<Query>),
    /// Not this.
    Not(Box<Query>),
}

/// Parses a query. An empty query is [`Query::All`].
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let mut p = Parser { chars: input.chars().collect(), pos: 0 };
    p.skip_ws();
    if p.at_end() {
        return Ok(Query::All);
    }
    let q = p.or(None)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(match p.peek() {
            Some(')') => "unbalanced ')'".to_string(),
            Some(c) => format!("unexpected '{c}'"),
            None => "unexpected end".to_string(),
        }));
    }
    Ok(q)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError { pos: self.pos, message: message.into() }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether the next token is the keyword `kw` (followed by a word end).
    fn keyword(&self, kw: &str) -> bool {
        let n = kw.chars().count();
        let ok = kw.chars().enumerate().all(|(i, c)| self.chars.get(self.pos + i) == Some(&c));
        ok && self.chars.get(self.pos + n).is_none_or(|&c| ends_word(c))
    }

    fn symbol(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn or(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        let mut parts = vec![self.and(field)?];
        loop {
            self.skip_ws();
            if !(self.keyword("OR") || self.symbol("||")) {
                break;
            }
            self.pos += 2;
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                return Err(self.error("expected a term after OR"));
            }
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::Or(parts) })
    }

    fn and(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') || self.keyword("OR") || self.symbol("||") {
                break;
            }
            if self.keyword("AND") {
                self.pos += 3;
            } else if self.symbol("&&") {
                self.pos += 2;
            }
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                return Err(self.error("expected a term after AND"));
            }
            parts.push(self.unary(field)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::And(parts) })
    }

    fn unary(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        self.skip_ws();
        // `AND level:error`, `a AND AND b`, `a OR || b`: an operator where a term must be.
        for (op, is) in [
            ("AND", self.keyword("AND")),
            ("OR", self.keyword("OR")),
            ("&&", self.symbol("&&")),
            ("||", self.symbol("||")),
        ] {
            if is {
                return Err(self.error(format!("expected a term, found the operator {op}")));
            }
        }
        if self.keyword("NOT") {
            self.pos += 3;
            return Ok(Query::Not(Box::new(self.operand(field)?)));
        }
        match self.peek() {
            Some('!' | '-') if self.chars.get(self.pos + 1).is_some_and(|&c| !c.is_whitespace()) => {
                self.pos += 1;
                Ok(Query::Not(Box::new(self.operand(field)?)))
            }
            Some('+') => {
                self.pos += 1;
                self.operand(field)
            }
            _ => self.primary(field),
        }
    }

    /// What follows NOT: a unary (so `NOT NOT a` and `NOT -a` read as written).
    fn operand(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        self.skip_ws();
        if self.at_end() || self.peek() == Some(')') {
            return Err(self.error("expected a term after NOT"));
        }
        self.unary(field)
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Query, ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("expected a term")),
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.error("empty parentheses"));
                }
                let q = self.or(field)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(ParseError { pos: open, message: "'(' is never closed".into() });
                }
                self.pos += 1;
                Ok(q)
            }
            Some(')') => Err(self.error("unbalanced ')'")),
            Some('"') => {
                let text = self.phrase()?;
                Ok(term(field, text, TermKind::Phrase))
            }
            Some(_) => {
                let start = self.pos;
                let (word, colon) = self.word(true)?;
                if let Some(colon) = colon {
                    if field.is_some() {
                        return Err(ParseError { pos: colon, message: "a field inside a field's group".into() });
                    }
                    let name = word;
                    if name.is_empty() {
                        return Err(ParseError { pos: start, message: "missing field name before ':'".into() });
                    }
                    return self.field_value(&name, colon);
                }
                if word == "*" {
                    return Ok(match field {
                        Some(f) => Query::Exists(f.to_string()),
                        None => Query::All,
                    });
                }
                Ok(bare(field, word))
            }
        }
    }

    /// After `name:`.
    fn field_value(&mut self, name: &str, colon: usize) -> Result<Query, ParseError> {
        if name == "*" {
            let (w, _) = self.word(false)?;
            if w == "*" {
                return Ok(Query::All);
            }
            return Err(ParseError { pos: colon, message: "only '*' may follow '*:'".into() });
        }
        match self.peek() {
            None => Err(self.error(format!("expected a value for field {name:?}"))),
            Some(c) if c.is_whitespace() => Err(self.error(format!("expected a value for field {name:?}"))),
            Some('(') => self.primary(Some(name)),
            Some('"') => {
                let text = self.phrase()?;
                Ok(term(Some(name), text, TermKind::Phrase))
            }
            Some('[' | '{') => self.range(name),
            Some('>' | '<') => {
                let op_pos = self.pos;
                let lt = self.peek() == Some('<');
                self.pos += 1;
                let incl = self.peek() == Some('=');
                if incl {
                    self.pos += 1;
                }
                let (w, _) = self.word(false)?;
                if w.is_empty() {
                    return Err(ParseError { pos: op_pos, message: "expected a value after the comparison".into() });
                }
                let b = Some((w, incl));
                Ok(Query::Range {
                    field: name.to_string(),
                    lo: if lt { None } else { b.clone() },
                    hi: if lt { b } else { None },
                })
            }
            Some(_) => {
                let (w, _) = self.word(false)?;
                if name == "_exists_" {
                    return Ok(Query::Exists(w));
                }
                if w == "*" {
                    return Ok(Query::Exists(name.to_string()));
                }
                Ok(bare(Some(name), w))
            }
        }
    }

    /// A range after `name:`, at its opening bracket.
    fn range(&mut self, name: &str) -> Result<Query, ParseError> {
        let open = self.pos;
        let lo_incl = self.peek() == Some('[');
        self.pos += 1;
        self.skip_ws();
        let lo = self.bound()?;
        self.skip_ws();
        if !self.keyword("TO") {
            return Err(self.error("expected TO in the range"));
        }
        self.pos += 2;
        self.skip_ws();
        let hi = self.bound()?;
        self.skip_ws();
        let hi_incl = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(ParseError { pos: open, message: "range is never closed with ']' or '}'".into() }),
        };
        self.pos += 1;
        let end = |b: String, incl: bool| (b != "*").then_some((b, incl));
        Ok(Query::Range { field: name.to_string(), lo: end(lo, lo_incl), hi: end(hi, hi_incl) })
    }

    /// One bound of a range: a phrase or text up to whitespace or a closing bracket.
    fn bound(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            return self.phrase();
        }
        let start = self.pos;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ']' || c == '}' {
                break;
            }
            self.pos += 1;
            if c == '\\' {
                out.push(self.peek().ok_or_else(|| self.error("'\\' at the end of the query"))?);
                self.pos += 1;
            } else {
                out.push(c);
            }
        }
        if out.is_empty() {
            return Err(ParseError { pos: start, message: "expected a range bound".into() });
        }
        Ok(out)
    }

    /// A quoted phrase, at its opening quote.
    fn phrase(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError { pos: open, message: "quote is never closed".into() }),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    out.push(self.peek().ok_or_else(|| self.error("'\\' at the end of the query"))?);
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A bare word; with `field_ok`, a word ending in an unescaped `:` (or holding one)
    /// is a field name: returns the name and the colon's position, leaving the parser
    /// after the colon. Wildcards are kept as written (escaped ones as `\*`/`\?`).
    fn word(&mut self, field_ok: bool) -> Result<(String, Option<usize>), ParseError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            if c == ':' && field_ok {
                let colon = self.pos;
                self.pos += 1;
                return Ok((out, Some(colon)));
            }
            self.pos += 1;
            if c == '\\' {
                let e = self.peek().ok_or_else(|| self.error("'\\' at the end of the query"))?;
                self.pos += 1;
                if e == '*' || e == '?' {
                    out.push('\\');
                }
                out.push(e);
            } else {
                out.push(c);
            }
        }
        if out.is_empty() {
            return Err(self.error(match self.peek() {
                Some(c) => format!("unexpected '{c}'"),
                None => "expected a term".to_string(),
            }));
        }
        Ok((out, None))
    }
}

fn term(field: Option<&str>, text: String, kind: TermKind) -> Query {
    Query::Term { field: field.map(str::to_string), text, kind }
}

/// A bare word as a term: a wildcard if it holds an unescaped `*` or `?`.
fn bare(field: Option<&str>, w: String) -> Query {
    let mut wild = false;
    let mut text = String::with_capacity(w.len());
    let mut chars = w.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // Kept escaped in a pattern; plain in a word.
                if let Some(e) = chars.next() {
                    text.push('\\');
                    text.push(e);
                }
            }
            '*' | '?' => {
                wild = true;
                text.push(c);
            }
            c => text.push(c),
        }
    }
    if wild {
        term(field, text, TermKind::Wildcard)
    } else {
        term(field, text.replace("\\*", "*").replace("\\?", "?"), TermKind::Word)
    }
}

#[cfg(test)]
mod tests;
