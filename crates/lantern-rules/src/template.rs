//! Alert templates as Prometheus expands them in labels and annotations: Go's
//! `text/template` language — text and `{{ … }}` actions with pipelines (`a | f b`),
//! `if`/`else if`/`else`, `with`, `range`, variables (`$x := …`), `.` and fields
//! (`.Labels.job`, `.Value`), `{{-`/`-}}` trimming — over Prometheus's data
//! (`$labels`, `$value`, `$externalLabels`, `$externalURL`) and functions
//! ([`funcs`], `query` included). Templates are parsed when rules load, so a bad one
//! is refused with its rule's file and line.

mod format;
mod funcs;

pub use format::go_exp;

use std::collections::BTreeMap;

/// Query results: labels and value of each sample.
pub type Samples = Vec<(BTreeMap<String, String>, f64)>;

/// Runs a PromQL query for a template's `query` function.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Samples, String> + 'a;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
}

/// A pipeline, possibly declaring a variable.
#[derive(Debug, Clone, PartialEq)]
struct Pipe {
    decl: Option<String>,
    cmds: Vec<Cmd>,
}

/// One command of a pipeline: a function with arguments, or a value.
#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    Value(Arg),
    Call(String, Vec<Arg>),
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `$name.field…` (`$` alone is the root).
    Var(String, Vec<String>),
    /// `.field…` (`.` alone is dot).
    Dot(Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Sub(Box<Pipe>),
}

/// What a template reads.
pub struct Data<'a> {
    /// The alert's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// The expression's value.
    pub value: f64,
    /// The server's external labels.
    pub external: &'a BTreeMap<String, String>,
    /// The server's external URL.
    pub external_url: &'a str,
    /// PromQL for `query`, when available.
    pub query: Option<&'a QueryFn<'a>>,
}

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Nothing.
    Nil,
    /// `true`/`false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text.
    Str(String),
    /// Labels.
    Map(BTreeMap<String, String>),
    /// Query results.
    Samples(Samples),
    /// One query result (`.Labels`, `.Value`).
    Sample(BTreeMap<String, String>, f64),
    /// The template's data (`.Labels`, `.Value`, `.ExternalLabels`, `.ExternalURL`).
    Root,
}

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
    if let Some(s) = tok.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
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
    tok.strip_prefix('`').and_then(|t| t.strip_suffix('`')).map(str::to_string)
}

/// Parses the words of a pipeline from `*i` until `)` or the end.
fn pipe(ws: &[String], i: &mut usize, vars: &[String]) -> Result<Pipe, String> {
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
            "(" => cur.push(Arg::Sub(Box::new(pipe(ws, i, vars)?))),
            _ if head.is_none() && cur.is_empty() && funcs::NAMES.contains(&w) => head = Some(w.to_string()),
            _ => cur.push(arg(w, vars)?),
        }
    }
    finish(&mut head, &mut cur, &mut cmds)?;
    Ok(Pipe { decl, cmds })
}

fn arg(tok: &str, vars: &[String]) -> Result<Arg, String> {
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
        let known = ["$", "$labels", "$value", "$externalLabels", "$externalURL"];
        if !known.contains(&name.as_str()) && !vars.contains(&name) {
            return Err(format!("{name:?} is not supported in a template (undefined variable)"));
        }
        return Ok(Arg::Var(name, fields(rest)));
    }
    Err(format!("{tok:?} is not supported in a template"))
}

/// One parsed `{{ … }}`.
enum Action {
    Pipe(Pipe),
    Open(&'static str, Pipe),
    Else(Option<Pipe>),
    End,
}

fn action(text: &str, vars: &mut Vec<String>) -> Result<Action, String> {
    let ws = words(text)?;
    let Some(first) = ws.first() else { return Err("empty action".into()) };
    let mut i = 1;
    let whole = |i: &mut usize, vars: &mut Vec<String>| -> Result<Pipe, String> {
        let p = pipe(&ws, i, vars)?;
        if *i < ws.len() {
            return Err(format!("unexpected {:?}", ws[*i]));
        }
        if let Some(d) = &p.decl {
            vars.push(d.clone());
        }
        Ok(p)
    };
    Ok(match first.as_str() {
        "if" => Action::Open("if", whole(&mut i, vars)?),
        "with" => Action::Open("with", whole(&mut i, vars)?),
        "range" => Action::Open("range", whole(&mut i, vars)?),
        "end" => Action::End,
        "else" if ws.len() == 1 => Action::Else(None),
        "else" if ws.get(1).map(String::as_str) == Some("if") => {
            i = 2;
            Action::Else(Some(whole(&mut i, vars)?))
        }
        "define" | "template" | "block" | "break" | "continue" => {
            return Err(format!("{first:?} is not supported in alert templates"))
        }
        _ => {
            i = 0;
            Action::Pipe(whole(&mut i, vars)?)
        }
    })
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

impl Template {
    /// A template that expands to `text` as written.
    pub fn literal(text: &str) -> Template {
        Template { nodes: vec![Node::Text(text.to_string())] }
    }

    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Template, String> {
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
            let trim_before =
                inner.is_some_and(|s| s.starts_with("- ") || s.starts_with("-\n") || s.starts_with("-\t"));
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
            match action(body, &mut vars)? {
                Action::Pipe(p) => push(&mut stack, &mut top, Node::Action(p)),
                Action::Open(kind, p) => {
                    stack.push(Open { kind, pipe: p, body: Vec::new(), other: None, chained: false })
                }
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
        Ok(Template { nodes: top })
    }

    /// Expands the template.
    pub fn expand(&self, d: &Data) -> Result<String, String> {
        let mut out = String::new();
        let mut scope = Scope { vars: Vec::new(), dot: Val::Root };
        exec(&self.nodes, d, &mut scope, &mut out)?;
        Ok(out)
    }
}

struct Scope {
    vars: Vec<(String, Val)>,
    dot: Val,
}

fn field(v: Val, f: &str, d: &Data) -> Result<Val, String> {
    Ok(match (v, f) {
        (Val::Root, "Labels") => Val::Map(d.labels.clone()),
        (Val::Root, "Value") => Val::Num(d.value),
        (Val::Root, "ExternalLabels") => Val::Map(d.external.clone()),
        (Val::Root, "ExternalURL") => Val::Str(d.external_url.to_string()),
        (Val::Sample(l, _), "Labels") => Val::Map(l),
        (Val::Sample(_, v), "Value") => Val::Num(v),
        (Val::Map(m), k) => Val::Str(m.get(k).cloned().unwrap_or_default()),
        (Val::Nil, _) => Val::Nil,
        (other, f) => return Err(format!("cannot read field {f:?} of {}", other.kind())),
    })
}

fn value(a: &Arg, d: &Data, s: &mut Scope) -> Result<Val, String> {
    let (base, path) = match a {
        Arg::Str(t) => return Ok(Val::Str(t.clone())),
        Arg::Num(n) => return Ok(Val::Num(*n)),
        Arg::Bool(b) => return Ok(Val::Bool(*b)),
        Arg::Sub(p) => return run_pipe(p, d, s),
        Arg::Dot(path) => (s.dot.clone(), path),
        Arg::Var(name, path) => {
            let v = match name.as_str() {
                "$" => Val::Root,
                "$labels" => Val::Map(d.labels.clone()),
                "$value" => Val::Num(d.value),
                "$externalLabels" => Val::Map(d.external.clone()),
                "$externalURL" => Val::Str(d.external_url.to_string()),
                _ => s.vars.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or(Val::Nil),
            };
            (v, path)
        }
    };
    path.iter().try_fold(base, |v, f| field(v, f, d))
}

fn run_pipe(p: &Pipe, d: &Data, s: &mut Scope) -> Result<Val, String> {
    let mut piped: Option<Val> = None;
    for c in &p.cmds {
        piped = Some(match c {
            Cmd::Value(a) => value(a, d, s)?,
            Cmd::Call(f, args) => {
                let mut vals = args.iter().map(|a| value(a, d, s)).collect::<Result<Vec<_>, _>>()?;
                if let Some(p) = piped.take() {
                    vals.push(p);
                }
                funcs::call(f, vals, d)?
            }
        });
    }
    let v = piped.unwrap_or(Val::Nil);
    if let Some(name) = &p.decl {
        s.vars.push((name.clone(), v.clone()));
    }
    Ok(v)
}

fn exec(nodes: &[Node], d: &Data, s: &mut Scope, out: &mut String) -> Result<(), String> {
    for n in nodes {
        let depth = s.vars.len();
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = run_pipe(p, d, s)?;
                if p.decl.is_none() {
                    out.push_str(&v.text());
                }
                continue;
            }
            Node::If(p, then, other) => {
                let v = run_pipe(p, d, s)?;
                exec(if v.truthy() { then } else { other }, d, s, out)?;
            }
            Node::With(p, then, other) => {
                let v = run_pipe(p, d, s)?;
                if v.truthy() {
                    let dot = std::mem::replace(&mut s.dot, v);
                    exec(then, d, s, out)?;
                    s.dot = dot;
                } else {
                    exec(other, d, s, out)?;
                }
            }
            Node::Range(p, body, other) => {
                let items: Vec<Val> = match run_pipe(p, d, s)? {
                    Val::Samples(v) => v.into_iter().map(|(l, x)| Val::Sample(l, x)).collect(),
                    Val::Map(m) => m.into_values().map(Val::Str).collect(),
                    Val::Nil => Vec::new(),
                    other => return Err(format!("range over {}", other.kind())),
                };
                if items.is_empty() {
                    exec(other, d, s, out)?;
                }
                for it in items {
                    let dot = std::mem::replace(&mut s.dot, it);
                    exec(body, d, s, out)?;
                    s.dot = dot;
                }
            }
        }
        // Variables declared inside a block end with it.
        s.vars.truncate(depth);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(t: &str, value: f64) -> String {
        let labels: BTreeMap<String, String> =
            [("instance", "web-1"), ("job", "api")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let external: BTreeMap<String, String> = [("cluster".to_string(), "eu".to_string())].into();
        Template::parse(t)
            .unwrap()
            .expand(&Data {
                labels: &labels,
                value,
                external: &external,
                external_url: "http://lantern:9700",
                query: None,
            })
            .unwrap()
    }

    #[test]
    fn expands_as_prometheus_does() {
        assert_eq!(
            expand("{{ $labels.instance }} of {{ .Labels.job }} in {{ $externalLabels.cluster }}", 0.0),
            "web-1 of api in eu"
        );
        assert_eq!(expand("Error rate above 1% for 5 minutes", 0.0), "Error rate above 1% for 5 minutes");
        assert_eq!(expand("{{ $value }}", 0.0123), "0.0123");
        assert_eq!(expand("{{ $value }}", 1e21), "1e+21");
        assert_eq!(expand("{{ $value | humanize }}", 1234567.0), "1.235M");
        assert_eq!(expand("{{ humanize $value }}", 0.0012), "1.2m");
        assert_eq!(expand("{{ $value | humanize }}", 12.0), "12");
        assert_eq!(expand("{{ $value | humanize1024 }}", 2048.0), "2ki");
        assert_eq!(expand("{{ $value | humanizePercentage }}", 0.1234), "12.34%");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 3661.0), "1h 1m 1s");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 93784.5), "1d 2h 3m 4.5s");
        assert_eq!(expand("{{ $value | humanizeDuration }}", 0.25), "250ms");
        assert_eq!(expand("{{ $value | humanizeTimestamp }}", 1_770_836_401.0), "2026-02-11 19:00:01 +0000 UTC");
        assert_eq!(expand(r#"{{ printf "%.2f" $value }}%"#, 4.567), "4.57%");
        assert_eq!(expand(r#"{{ printf "%s is %.1f%%" $labels.instance $value }}"#, 12.34), "web-1 is 12.3%");
        assert_eq!(expand("{{ $labels.job | toUpper }}", 0.0), "API");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("{{ $labels.instance ").unwrap_err().contains("never closed"));
        assert!(Template::parse("{{ if $value }}x").unwrap_err().contains("never closed"));
        assert!(Template::parse("{{ end }}").unwrap_err().contains("without"));
        assert!(Template::parse("{{ nosuchfunc 1 }}").unwrap_err().contains("not supported"));
        assert!(Template::parse("{{ $nonsense }}").unwrap_err().contains("not supported"));
        assert!(Template::parse("a }} b").is_err());
    }

    #[test]
    fn control_flow_variables_and_queries() {
        assert_eq!(expand("{{ if gt $value 0.5 }}high{{ else }}low{{ end }}", 0.7), "high");
        assert_eq!(
            expand("{{ if gt $value 0.5 }}high{{ else if gt $value 0.2 }}mid{{ else }}low{{ end }}", 0.3),
            "mid"
        );
        assert_eq!(expand("{{ with $labels.instance }}on {{ . }}{{ end }}", 0.0), "on web-1");
        assert_eq!(expand("{{ $x := $labels.job }}job={{ $x | toUpper }}", 0.0), "job=API");
        assert_eq!(expand("{{- \"a\" }}  \n  {{- \"b\" -}}  c", 0.0), "abc");
        assert_eq!(expand(r#"{{ reReplaceAll "-(\\d+)" ":$1" $labels.instance }}"#, 0.0), "web:1");
        assert_eq!(expand("{{ $labels.instance | stripPort }}", 0.0), "web-1");
        let labels = BTreeMap::from([("instance".to_string(), "db:9100".to_string())]);
        let q = |q: &str| -> Result<Samples, String> {
            assert_eq!(q, "up{job=\"db\"}");
            Ok(vec![
                (BTreeMap::from([("instance".to_string(), "b".to_string())]), 0.0),
                (BTreeMap::from([("instance".to_string(), "a".to_string())]), 1.0),
            ])
        };
        let d = Data { labels: &labels, value: 1.0, external: &BTreeMap::new(), external_url: "", query: Some(&q) };
        let t = |s: &str| Template::parse(s).unwrap().expand(&d).unwrap();
        assert_eq!(t(r#"{{ with query "up{job=\"db\"}" }}{{ . | first | value | humanize }}{{ end }}"#), "0");
        assert_eq!(
            t(
                r#"{{ range query "up{job=\"db\"}" | sortByLabel "instance" }}{{ .Labels.instance }}={{ .Value }} {{ end }}"#
            ),
            "a=1 b=0 "
        );
        assert_eq!(t(r#"{{ query "up{job=\"db\"}" | first | label "instance" }}"#), "b");
    }
}
