//! A subset of OTTL, the OpenTelemetry Transformation Language, enough for the common
//! `filter` conditions and `transform` statements: comparisons (`==`, `!=`, `<`, `<=`,
//! `>`, `>=`) of paths and literals joined by `and`, `or`, `not` and parentheses;
//! `IsMatch(target, "regex")`; paths such as `attributes["k"]`,
//! `resource.attributes["k"]`, `name`, `kind`, `status.code`, `body`,
//! `severity_number`, `severity_text`, `instrumentation_scope.name`, `metric.name`,
//! optionally prefixed by their context (`span.`, `log.`, `datapoint.`); the enums
//! `SPAN_KIND_*`, `STATUS_CODE_*`, `SEVERITY_NUMBER_*`, `METRIC_DATA_TYPE_*`. Statements:
//! `set(path, value)`, `delete_key(map, "key")`, `delete_matching_keys(map, "regex")`,
//! `keep_keys(map, ["k", …])`, each with an optional `where` condition. Anything
//! outside the subset is refused when the configuration is read, naming it.

use regex::Regex;

/// A value an expression yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Absent.
    Nil,
    /// Text.
    Str(String),
    /// An integer (enums too).
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A path: names and map keys (`resource.attributes["k"]` → `resource`, `attributes`, `["k"]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    /// `.name`.
    Field(String),
    /// `["key"]`.
    Key(String),
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A literal.
    Lit(Val),
    /// A path into the item.
    Path(Vec<Seg>),
    /// A comparison.
    Cmp(Box<Expr>, Op, Box<Expr>),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// `IsMatch(target, pattern)`.
    IsMatch(Box<Expr>, Regex),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// What a path reads from and writes to (one item in its context).
pub trait Item {
    /// The value at `path` (`Nil` if absent or unknown).
    fn get(&self, path: &[Seg]) -> Val;
    /// Sets `path` to `v`; false if the path cannot be set.
    fn set(&mut self, path: &[Seg], v: Val) -> bool;
    /// The keys of the map at `path`, to remove those `drop` says (false if it is not a map).
    fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool;
}

/// A parsed statement.
#[derive(Debug, Clone)]
pub struct Statement {
    action: Action,
    condition: Option<Expr>,
}

#[derive(Debug, Clone)]
enum Action {
    Set(Vec<Seg>, Expr),
    DeleteKey(Vec<Seg>, String),
    DeleteMatching(Vec<Seg>, Regex),
    KeepKeys(Vec<Seg>, Vec<String>),
}

// ---- lexing ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(&'static str),
    Punct(char),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut t = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(format!("unterminated string in {s:?}")),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        match b.get(i) {
                            Some('n') => t.push('\n'),
                            Some('t') => t.push('\t'),
                            Some(&x) => t.push(x),
                            None => return Err(format!("unterminated string in {s:?}")),
                        }
                    }
                    Some(&x) => t.push(x),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(t));
        } else if c.is_ascii_digit() || (c == '-' && b.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
                i += 1;
            }
            out.push(Tok::Num(b[start..i].iter().collect()));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else {
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            let op = ["==", "!=", "<=", ">="].into_iter().find(|o| *o == two);
            if let Some(o) = op {
                out.push(Tok::Op(o));
                i += 2;
            } else if c == '<' || c == '>' {
                out.push(Tok::Op(if c == '<' { "<" } else { ">" }));
                i += 1;
            } else if "()[],.".contains(c) {
                out.push(Tok::Punct(c));
                i += 1;
            } else {
                return Err(format!("unexpected {c:?} in {s:?}"));
            }
        }
    }
    Ok(out)
}

// ---- parsing ----

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    src: &'a str,
}

/// The value of an enum name.
fn enum_value(name: &str) -> Option<i64> {
    let v = match name {
        "SPAN_KIND_UNSPECIFIED" | "STATUS_CODE_UNSET" | "SEVERITY_NUMBER_UNSPECIFIED" | "METRIC_DATA_TYPE_NONE" => 0,
        "SPAN_KIND_INTERNAL" | "STATUS_CODE_OK" | "METRIC_DATA_TYPE_GAUGE" => 1,
        "SPAN_KIND_SERVER" | "STATUS_CODE_ERROR" | "METRIC_DATA_TYPE_SUM" => 2,
        "SPAN_KIND_CLIENT" | "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "SPAN_KIND_PRODUCER" | "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "SPAN_KIND_CONSUMER" | "METRIC_DATA_TYPE_SUMMARY" => 5,
        _ => {
            let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
            let (base, n) = match rest.find(|c: char| c.is_ascii_digit()) {
                Some(i) => (&rest[..i], rest[i..].parse::<i64>().ok()?),
                None => (rest, 1),
            };
            let start = match base {
                "TRACE" => 1,
                "DEBUG" => 5,
                "INFO" => 9,
                "WARN" => 13,
                "ERROR" => 17,
                "FATAL" => 21,
                _ => return None,
            };
            if !(1..=4).contains(&n) {
                return None;
            }
            start + n - 1
        }
    };
    Some(v)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} in {:?}", self.src))
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(x)) if x == c => Ok(()),
            _ => self.err(&format!("expected {c:?}")),
        }
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == k)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.keyword("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let left = self.term()?;
        let op = match self.peek() {
            Some(Tok::Op(o)) => match *o {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.term()?;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Punct('(')) => {
                let e = self.expr()?;
                self.expect(')')?;
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Lit(Val::Str(s))),
            Some(Tok::Num(n)) => match n.parse::<i64>() {
                Ok(i) => Ok(Expr::Lit(Val::Int(i))),
                Err(_) => n.parse::<f64>().map(|f| Expr::Lit(Val::Float(f))).or_else(|_| self.err("bad number")),
            },
            Some(Tok::Ident(i)) => match i.as_str() {
                "true" => Ok(Expr::Lit(Val::Bool(true))),
                "false" => Ok(Expr::Lit(Val::Bool(false))),
                "nil" => Ok(Expr::Lit(Val::Nil)),
                "IsMatch" => {
                    self.expect('(')?;
                    let target = self.term()?;
                    self.expect(',')?;
                    let Some(Tok::Str(p)) = self.next() else { return self.err("IsMatch needs a pattern string") };
                    self.expect(')')?;
                    let re = Regex::new(&p).map_err(|e| format!("invalid pattern {p:?}: {e}"))?;
                    Ok(Expr::IsMatch(Box::new(target), re))
                }
                _ if i.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => match enum_value(&i) {
                    Some(v) => Ok(Expr::Lit(Val::Int(v))),
                    None if matches!(self.peek(), Some(Tok::Punct('('))) => {
                        self.err(&format!("the function {i} is not supported by Lantern"))
                    }
                    None => self.err(&format!("unknown enum {i}")),
                },
                _ => {
                    self.at -= 1;
                    Ok(Expr::Path(self.path()?))
                }
            },
            _ => self.err("expected a value"),
        }
    }

    fn path(&mut self) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        let Some(Tok::Ident(first)) = self.next() else { return self.err("expected a path") };
        segs.push(Seg::Field(first));
        loop {
            match self.peek() {
                Some(Tok::Punct('.')) => {
                    self.at += 1;
                    let Some(Tok::Ident(f)) = self.next() else { return self.err("expected a name after .") };
                    segs.push(Seg::Field(f));
                }
                Some(Tok::Punct('[')) => {
                    self.at += 1;
                    let Some(Tok::Str(k)) = self.next() else { return self.err("expected a string key") };
                    self.expect(']')?;
                    segs.push(Seg::Key(k));
                }
                _ => break,
            }
        }
        Ok(segs)
    }

    fn done(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(t) => self.err(&format!("unexpected {t:?}")),
        }
    }
}

/// Strips a leading context name (`span.name` → `name`).
fn unprefix(mut p: Vec<Seg>, contexts: &[&str]) -> Vec<Seg> {
    if p.len() > 1 {
        if let Seg::Field(f) = &p[0] {
            if contexts.contains(&f.as_str()) {
                p.remove(0);
            }
        }
    }
    p
}

fn strip(e: Expr, contexts: &[&str]) -> Expr {
    match e {
        Expr::Path(p) => Expr::Path(unprefix(p, contexts)),
        Expr::Cmp(a, o, b) => Expr::Cmp(Box::new(strip(*a, contexts)), o, Box::new(strip(*b, contexts))),
        Expr::And(a, b) => Expr::And(Box::new(strip(*a, contexts)), Box::new(strip(*b, contexts))),
        Expr::Or(a, b) => Expr::Or(Box::new(strip(*a, contexts)), Box::new(strip(*b, contexts))),
        Expr::Not(a) => Expr::Not(Box::new(strip(*a, contexts))),
        Expr::IsMatch(a, r) => Expr::IsMatch(Box::new(strip(*a, contexts)), r),
        lit => lit,
    }
}

/// Parses a condition; `contexts` are the prefixes a path may start with.
pub fn condition(src: &str, contexts: &[&str]) -> Result<Expr, String> {
    let mut p = Parser { toks: lex(src)?, at: 0, src };
    let e = p.expr()?;
    p.done()?;
    Ok(strip(e, contexts))
}

/// Parses a statement (`set(…)`, `delete_key(…)`, … with an optional `where`).
pub fn statement(src: &str, contexts: &[&str]) -> Result<Statement, String> {
    let mut p = Parser { toks: lex(src)?, at: 0, src };
    let Some(Tok::Ident(f)) = p.next() else { return p.err("expected a function") };
    p.expect('(')?;
    let target = unprefix(p.path()?, contexts);
    p.expect(',')?;
    let action = match f.as_str() {
        "set" => Action::Set(target, strip(p.term()?, contexts)),
        "delete_key" => match p.next() {
            Some(Tok::Str(k)) => Action::DeleteKey(target, k),
            _ => return p.err("delete_key needs a key string"),
        },
        "delete_matching_keys" => match p.next() {
            Some(Tok::Str(k)) => {
                Action::DeleteMatching(target, Regex::new(&k).map_err(|e| format!("invalid pattern {k:?}: {e}"))?)
            }
            _ => return p.err("delete_matching_keys needs a pattern string"),
        },
        "keep_keys" => {
            p.expect('[')?;
            let mut keys = Vec::new();
            while let Some(Tok::Str(k)) = p.peek().cloned() {
                p.at += 1;
                keys.push(k);
                if matches!(p.peek(), Some(Tok::Punct(','))) {
                    p.at += 1;
                }
            }
            p.expect(']')?;
            Action::KeepKeys(target, keys)
        }
        other => return p.err(&format!("the function {other} is not supported by Lantern")),
    };
    p.expect(')')?;
    let condition = if p.keyword("where") {
        p.at += 1;
        Some(strip(p.expr()?, contexts))
    } else {
        None
    };
    p.done()?;
    Ok(Statement { action, condition })
}

/// What is wrong with an `error_mode` (`propagate`, `ignore` or `silent`), if anything.
/// Conditions are checked when read, so no mode changes what happens at run time.
pub fn error_mode_problem(mode: Option<&str>) -> Option<String> {
    mode.filter(|m| !matches!(*m, "propagate" | "ignore" | "silent"))
        .map(|m| format!("error_mode: {m:?} is not propagate, ignore or silent"))
}

// ---- evaluation ----

fn value(e: &Expr, item: &dyn Item) -> Val {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Path(p) => item.get(p),
        other => Val::Bool(truth(other, item)),
    }
}

fn compare(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Int(x), Val::Float(y)) => (*x as f64).partial_cmp(y),
        (Val::Float(x), Val::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y),
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Nil, Val::Nil) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// Whether a condition holds for an item.
pub fn truth(e: &Expr, item: &dyn Item) -> bool {
    use std::cmp::Ordering::*;
    match e {
        Expr::And(a, b) => truth(a, item) && truth(b, item),
        Expr::Or(a, b) => truth(a, item) || truth(b, item),
        Expr::Not(a) => !truth(a, item),
        Expr::IsMatch(t, re) => match value(t, item) {
            Val::Str(s) => re.is_match(&s),
            Val::Int(i) => re.is_match(&i.to_string()),
            Val::Float(f) => re.is_match(&f.to_string()),
            Val::Bool(b) => re.is_match(&b.to_string()),
            Val::Nil => false,
        },
        Expr::Cmp(a, op, b) => {
            let (x, y) = (value(a, item), value(b, item));
            let ord = compare(&x, &y);
            match op {
                Op::Eq => ord == Some(Equal),
                Op::Ne => ord != Some(Equal),
                Op::Lt => ord == Some(Less),
                Op::Le => matches!(ord, Some(Less | Equal)),
                Op::Gt => ord == Some(Greater),
                Op::Ge => matches!(ord, Some(Greater | Equal)),
            }
        }
        Expr::Lit(Val::Bool(b)) => *b,
        Expr::Path(p) => item.get(p) == Val::Bool(true),
        Expr::Lit(_) => false,
    }
}

impl Statement {
    /// Runs the statement on an item (if its condition holds).
    pub fn run(&self, item: &mut dyn Item) {
        if let Some(c) = &self.condition {
            if !truth(c, item) {
                return;
            }
        }
        match &self.action {
            Action::Set(path, e) => {
                let v = value(e, item);
                if v != Val::Nil {
                    item.set(path, v);
                }
            }
            Action::DeleteKey(path, k) => {
                item.retain_keys(path, &|x| x != k);
            }
            Action::DeleteMatching(path, re) => {
                item.retain_keys(path, &|x| !re.is_match(x));
            }
            Action::KeepKeys(path, keys) => {
                item.retain_keys(path, &|x| keys.iter().any(|k| k == x));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Fake {
        attrs: BTreeMap<String, Val>,
        name: String,
        kind: i64,
    }

    impl Item for Fake {
        fn get(&self, path: &[Seg]) -> Val {
            match path {
                [Seg::Field(f), Seg::Key(k)] if f == "attributes" => self.attrs.get(k).cloned().unwrap_or(Val::Nil),
                [Seg::Field(f)] if f == "name" => Val::Str(self.name.clone()),
                [Seg::Field(f)] if f == "kind" => Val::Int(self.kind),
                _ => Val::Nil,
            }
        }
        fn set(&mut self, path: &[Seg], v: Val) -> bool {
            match path {
                [Seg::Field(f), Seg::Key(k)] if f == "attributes" => {
                    self.attrs.insert(k.clone(), v);
                    true
                }
                _ => false,
            }
        }
        fn retain_keys(&mut self, path: &[Seg], keep: &dyn Fn(&str) -> bool) -> bool {
            if path == [Seg::Field("attributes".into())] {
                self.attrs.retain(|k, _| keep(k));
                return true;
            }
            false
        }
    }

    #[test]
    fn conditions_and_statements_of_the_subset() {
        let mut item = Fake { name: "GET /health".into(), kind: 2, ..Default::default() };
        item.attrs.insert("http.status_code".into(), Val::Int(503));
        item.attrs.insert("secret".into(), Val::Str("x".into()));
        let holds = |c: &str, item: &Fake| truth(&condition(c, &["span"]).unwrap(), item);
        assert!(holds(r#"span.attributes["http.status_code"] >= 500 and kind == SPAN_KIND_SERVER"#, &item));
        assert!(holds(r#"IsMatch(name, "^GET /he.*") or attributes["x"] == "y""#, &item));
        assert!(holds(r#"not (attributes["missing"] != nil)"#, &item));
        assert!(!holds(r#"attributes["http.status_code"] < 500"#, &item));
        assert_eq!(enum_value("SEVERITY_NUMBER_WARN"), Some(13));
        assert_eq!(enum_value("SEVERITY_NUMBER_ERROR3"), Some(19));
        statement(r#"set(attributes["env"], "prod") where kind == SPAN_KIND_SERVER"#, &["span"])
            .unwrap()
            .run(&mut item);
        statement(r#"delete_key(span.attributes, "secret")"#, &["span"]).unwrap().run(&mut item);
        statement(r#"set(attributes["copy"], name) where kind == SPAN_KIND_CLIENT"#, &["span"]).unwrap().run(&mut item);
        assert_eq!(item.attrs.keys().collect::<Vec<_>>(), ["env", "http.status_code"]);
        assert!(condition("Len(name) > 3", &[]).unwrap_err().contains("Len is not supported"));
        assert!(statement("truncate_all(attributes, 3)", &[]).unwrap_err().contains("truncate_all is not supported"));
        assert!(condition(r#"attributes["a"] == "#, &[]).is_err());
    }
}
