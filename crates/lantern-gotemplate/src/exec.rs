//! Expansion: walking the nodes with a scope of variables and dot, and Go's built-in
//! functions.

use crate::format::printf;
use crate::{Arg, Cmd, Env, Node, Pipe, Val};

struct Scope {
    vars: Vec<(String, Val)>,
    dot: Val,
}

pub(crate) fn run(nodes: &[Node], env: &dyn Env, out: &mut String) -> Result<(), String> {
    let mut scope = Scope { vars: Vec::new(), dot: Val::Root };
    exec(nodes, env, &mut scope, out)
}

fn field(v: Val, f: &str, env: &dyn Env) -> Result<Val, String> {
    Ok(match v {
        Val::Root => env.root_field(f).map_err(|e| e.to_string())?,
        Val::Map(m) => Val::Str(m.get(f).cloned().unwrap_or_default()),
        Val::Nil => Val::Nil,
        other => match other.get(f) {
            Some(v) => v.clone(),
            None => return Err(format!("cannot read field {f:?} of {}", other.kind())),
        },
    })
}

fn value(a: &Arg, env: &dyn Env, s: &mut Scope) -> Result<Val, String> {
    let (base, path) = match a {
        Arg::Str(t) => return Ok(Val::Str(t.clone())),
        Arg::Num(n) => return Ok(Val::Num(*n)),
        Arg::Bool(b) => return Ok(Val::Bool(*b)),
        Arg::Sub(p) => return run_pipe(p, env, s),
        Arg::Dot(path) => (s.dot.clone(), path),
        Arg::Var(name, path) => {
            let v = if name == "$" {
                Val::Root
            } else if let Some((_, v)) = s.vars.iter().rev().find(|(n, _)| n == name) {
                v.clone()
            } else {
                env.var(name)
            };
            (v, path)
        }
    };
    path.iter().try_fold(base, |v, f| field(v, f, env))
}

fn run_pipe(p: &Pipe, env: &dyn Env, s: &mut Scope) -> Result<Val, String> {
    let mut piped: Option<Val> = None;
    for c in &p.cmds {
        piped = Some(match c {
            Cmd::Value(a) => value(a, env, s)?,
            Cmd::Call(f, args) => {
                let mut vals = args.iter().map(|a| value(a, env, s)).collect::<Result<Vec<_>, _>>()?;
                if let Some(p) = piped.take() {
                    vals.push(p);
                }
                match builtin(f, &vals)? {
                    Some(v) => v,
                    None => env.call(f, vals).map_err(|e| e.to_string())?,
                }
            }
        });
    }
    let v = piped.unwrap_or(Val::Nil);
    if let Some(name) = &p.decl {
        s.vars.push((name.clone(), v.clone()));
    }
    Ok(v)
}

fn exec(nodes: &[Node], env: &dyn Env, s: &mut Scope, out: &mut String) -> Result<(), String> {
    for n in nodes {
        let depth = s.vars.len();
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = run_pipe(p, env, s)?;
                if p.decl.is_none() {
                    out.push_str(&v.text());
                }
                continue;
            }
            Node::If(p, then, other) => {
                let v = run_pipe(p, env, s)?;
                exec(if v.truthy() { then } else { other }, env, s, out)?;
            }
            Node::With(p, then, other) => {
                let v = run_pipe(p, env, s)?;
                if v.truthy() {
                    let dot = std::mem::replace(&mut s.dot, v);
                    exec(then, env, s, out)?;
                    s.dot = dot;
                } else {
                    exec(other, env, s, out)?;
                }
            }
            Node::Range(p, body, other) => {
                let items: Vec<Val> = match run_pipe(p, env, s)? {
                    Val::List(v) => v,
                    Val::Map(m) => m.into_values().map(Val::Str).collect(),
                    Val::Nil => Vec::new(),
                    other => return Err(format!("range over {}", other.kind())),
                };
                if items.is_empty() {
                    exec(other, env, s, out)?;
                }
                for it in items {
                    let dot = std::mem::replace(&mut s.dot, it);
                    exec(body, env, s, out)?;
                    s.dot = dot;
                }
            }
        }
        // Variables declared inside a block end with it.
        s.vars.truncate(depth);
    }
    Ok(())
}

fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        _ => a.num()?.partial_cmp(&b.num()?).ok_or_else(|| "cannot compare NaN".to_string()),
    }
}

/// Go's built-in functions; `None` for any other name.
fn builtin(f: &str, args: &[Val]) -> Result<Option<Val>, String> {
    let one = || args.first().cloned().ok_or_else(|| format!("{f} needs an argument"));
    let two = || match args {
        [a, b, ..] => Ok((a, b)),
        _ => Err(format!("{f} needs two arguments")),
    };
    Ok(Some(match f {
        "eq" => {
            // eq a b c…: whether a equals any of the others.
            let (a, _) = two()?;
            Val::Bool(args[1..].iter().any(|x| compare(a, x).is_ok_and(|o| o.is_eq())))
        }
        "ne" => {
            let (a, b) = two()?;
            Val::Bool(!compare(a, b)?.is_eq())
        }
        "lt" | "le" | "gt" | "ge" => {
            let (a, b) = two()?;
            let o = compare(a, b)?;
            Val::Bool(match f {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "and" => args.iter().find(|a| !a.truthy()).or(args.last()).cloned().unwrap_or(Val::Nil),
        "or" => args.iter().find(|a| a.truthy()).or(args.last()).cloned().unwrap_or(Val::Nil),
        "not" => Val::Bool(!one()?.truthy()),
        "len" => Val::Num(match one()? {
            Val::Str(s) => s.len(),
            Val::Map(m) => m.len(),
            Val::List(l) => l.len(),
            other => return Err(format!("len of {}", other.kind())),
        } as f64),
        "index" => {
            let (m, k) = two()?;
            match m {
                Val::Map(m) => Val::Str(m.get(&k.text()).cloned().unwrap_or_default()),
                Val::List(l) => {
                    let i = k.num()?;
                    if i < 0.0 || i.fract() != 0.0 {
                        return Err(format!("index {} is not a list position", k.text()));
                    }
                    l.get(i as usize).cloned().unwrap_or(Val::Nil)
                }
                other => return Err(format!("index of {}", other.kind())),
            }
        }
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else { return Err("printf needs a format".into()) };
            Val::Str(printf(&fmt.text(), rest)?)
        }
        _ => return Ok(None),
    }))
}
