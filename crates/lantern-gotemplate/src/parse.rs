//! Parsing: the text between actions, the words of each action, pipelines, and the
//! blocks (`if`/`with`/`range` … `else` … `end`) they open and close.

use crate::{Arg, Cmd, Dialect, Node, Pipe, BUILTINS};

fn is_number(tok: &str) -> bool {
    tok.parse::<f64>().is_ok()
        && tok.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
}

fn fields(rest: &str) -> Vec<String> {
    rest.split('.').filter(|f| !f.is_empty()).map(str::to_string).collect()
}

/// Splits an action into words, keeping quoted strings whole and parentheses apart.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' => {
                cur.push(c);
                let mut closed = false;
                while let Some(d) = chars.next() {
                    cur.push(d);
                    if d == '\\' && c == '"' {
                        if let Some(e) = chars.next() {
                            cur.push(e);
                        }
                        continue;
                    }
                    if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
            }
            '(' | ')' | '|' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn unquote(tok: &str) -> Option<String> {
    if let Some(s) = tok.strip_prefix('"').and_then(|t| t.strip_suffix('"')).filter(|_| tok.len() >= 2) {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        }
        return Some(out);
    }
    tok.strip_prefix('`').and_then(|t| t.strip_suffix('`')).filter(|_| tok.len() >= 2).map(str::to_string)
}

/// Parses words into pipelines and arguments, knowing the dialect and the variables
/// declared so far.
struct Words<'a> {
    ws: Vec<String>,
    dialect: &'a Dialect,
    vars: &'a [String],
}

impl Words<'_> {
    fn is_func(&self, w: &str) -> bool {
        BUILTINS.contains(&w) || self.dialect.funcs.contains(&w)
    }

    /// Parses a pipeline from `*i` until `)` or the end.
    fn pipe(&self, i: &mut usize) -> Result<Pipe, String> {
        let ws = &self.ws;
        let mut decl = None;
        if ws.len() > *i + 1 && ws[*i].starts_with('$') && (ws[*i + 1] == ":=" || ws[*i + 1] == "=") {
            decl = Some(ws[*i].clone());
            *i += 2;
        }
        let mut cmds = Vec::new();
        let mut cur: Vec<Arg> = Vec::new();
        let mut head: Option<String> = None;
        let finish = |head: &mut Option<String>, cur: &mut Vec<Arg>, cmds: &mut Vec<Cmd>| -> Result<(), String> {
            match head.take() {
                Some(f) => cmds.push(Cmd::Call(f, std::mem::take(cur))),
                None if cur.len() == 1 => cmds.push(Cmd::Value(cur.remove(0))),
                None if cur.is_empty() => return Err("empty command in a pipeline".into()),
                None => return Err("a value cannot take arguments".into()),
            }
            Ok(())
        };
        while *i < ws.len() {
            let w = ws[*i].as_str();
            *i += 1;
            match w {
                ")" => break,
                "|" => finish(&mut head, &mut cur, &mut cmds)?,
                "(" => cur.push(Arg::Sub(Box::new(self.pipe(i)?))),
                _ if head.is_none() && cur.is_empty() && self.is_func(w) => head = Some(w.to_string()),
                _ => cur.push(self.arg(w)?),
            }
        }
        finish(&mut head, &mut cur, &mut cmds)?;
        Ok(Pipe { decl, cmds })
    }

    fn arg(&self, tok: &str) -> Result<Arg, String> {
        if let Some(s) = unquote(tok) {
            return Ok(Arg::Str(s));
        }
        if tok == "true" || tok == "false" {
            return Ok(Arg::Bool(tok == "true"));
        }
        if is_number(tok) {
            return tok.parse().map(Arg::Num).map_err(|_| format!("bad number {tok:?}"));
        }
        if let Some(rest) = tok.strip_prefix('.') {
            return Ok(Arg::Dot(fields(rest)));
        }
        if let Some(rest) = tok.strip_prefix('$') {
            let (name, rest) = rest.split_once('.').unwrap_or((rest, ""));
            let name = format!("${name}");
            if name != "$" && !self.dialect.vars.contains(&name.as_str()) && !self.vars.contains(&name) {
                return Err(format!("{name:?} is not supported in a template (undefined variable)"));
            }
            return Ok(Arg::Var(name, fields(rest)));
        }
        Err(format!("{tok:?} is not supported in a template"))
    }
}

/// One parsed `{{ … }}`.
enum Action {
    Pipe(Pipe),
    Open(&'static str, Pipe),
    Else(Option<Pipe>),
    End,
}

fn action(text: &str, dialect: &Dialect, vars: &mut Vec<String>) -> Result<Action, String> {
    let ws = words(text)?;
    let Some(first) = ws.first().cloned() else { return Err("empty action".into()) };
    let n = ws.len();
    let w = Words { ws, dialect, vars };
    let whole = |mut i: usize| -> Result<Pipe, String> {
        let p = w.pipe(&mut i)?;
        if i < n {
            return Err(format!("unexpected {:?}", w.ws[i]));
        }
        Ok(p)
    };
    let a = match first.as_str() {
        "if" => Action::Open("if", whole(1)?),
        "with" => Action::Open("with", whole(1)?),
        "range" => Action::Open("range", whole(1)?),
        "end" => Action::End,
        "else" if n == 1 => Action::Else(None),
        "else" if w.ws.get(1).map(String::as_str) == Some("if") => Action::Else(Some(whole(2)?)),
        "define" | "template" | "block" | "break" | "continue" => {
            return Err(format!("{first:?} is not supported in {}", dialect.what))
        }
        _ => Action::Pipe(whole(0)?),
    };
    let decl = match &a {
        Action::Pipe(p) | Action::Open(_, p) | Action::Else(Some(p)) => p.decl.clone(),
        _ => None,
    };
    vars.extend(decl);
    Ok(a)
}

/// An open block: its kind, pipeline, nodes so far, and the `else` nodes once seen.
struct Open {
    kind: &'static str,
    pipe: Pipe,
    body: Vec<Node>,
    other: Option<Vec<Node>>,
    /// `else if` chains close with the one `end`.
    chained: bool,
}

fn close(o: Open) -> Node {
    let other = o.other.unwrap_or_default();
    match o.kind {
        "if" => Node::If(o.pipe, o.body, other),
        "with" => Node::With(o.pipe, o.body, other),
        _ => Node::Range(o.pipe, o.body, other),
    }
}

/// Parses a whole template into its nodes.
pub(crate) fn parse(text: &str, dialect: &Dialect) -> Result<Vec<Node>, String> {
    let mut stack: Vec<Open> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    let mut vars: Vec<String> = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    let push = |stack: &mut Vec<Open>, top: &mut Vec<Node>, n: Node| match stack.last_mut() {
        Some(o) => o.other.as_mut().unwrap_or(&mut o.body).push(n),
        None => top.push(n),
    };
    loop {
        let open = rest.find("{{");
        let mut chunk = &rest[..open.unwrap_or(rest.len())];
        if trim_next {
            chunk = chunk.trim_start();
        }
        let inner = open.map(|o| &rest[o + 2..]);
        let trim_before = inner.is_some_and(|s| s.starts_with("- ") || s.starts_with("-\n") || s.starts_with("-\t"));
        if trim_before {
            chunk = chunk.trim_end();
        }
        if chunk.contains("}}") {
            return Err("'}}' without '{{'".into());
        }
        if !chunk.is_empty() {
            push(&mut stack, &mut top, Node::Text(chunk.to_string()));
        }
        let Some(after) = inner else { break };
        let close_at = after.find("}}").ok_or("'{{' is never closed")?;
        let mut body = &after[..close_at];
        if trim_before {
            body = &body[1..];
        }
        trim_next = body.ends_with(" -") || body.ends_with("\n-") || body.ends_with("\t-");
        if trim_next {
            body = &body[..body.len() - 1];
        }
        rest = &after[close_at + 2..];
        let body = body.trim();
        if body.starts_with("/*") {
            continue;
        }
        match action(body, dialect, &mut vars)? {
            Action::Pipe(p) => push(&mut stack, &mut top, Node::Action(p)),
            Action::Open(kind, p) => stack.push(Open { kind, pipe: p, body: Vec::new(), other: None, chained: false }),
            Action::Else(cond) => {
                let o = stack.last_mut().ok_or("'else' outside if, with or range")?;
                if o.other.is_some() {
                    return Err("'else' after 'else'".into());
                }
                o.other = Some(Vec::new());
                if let Some(p) = cond {
                    stack.push(Open { kind: "if", pipe: p, body: Vec::new(), other: None, chained: true });
                }
            }
            Action::End => loop {
                let o = stack.pop().ok_or("'end' without if, with or range")?;
                let chained = o.chained;
                let n = close(o);
                push(&mut stack, &mut top, n);
                if !chained {
                    break;
                }
            },
        }
    }
    if let Some(o) = stack.last() {
        return Err(format!("'{}' is never closed with 'end'", o.kind));
    }
    Ok(top)
}
