//! Go's `text/template` language, the one engine behind alert templates (Prometheus's
//! labels and annotations) and LogQL's `line_format`/`label_format`: text and `{{ … }}`
//! actions with pipelines (`a | f b`), `if`/`else if`/`else`, `with`, `range`,
//! variables (`$x := …`), `.` and fields (`.Labels.job`), `{{-`/`-}}` trimming,
//! comments, and Go's built-in functions (`eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`,
//! `or`, `not`, `len`, `index`, `printf`).
//!
//! A [`Dialect`] names the functions and predefined variables a caller offers, so a
//! template is checked when it is parsed; an [`Env`] gives their values when it is
//! expanded. `define`, `template` and `block` are refused: no caller needs them.

mod exec;
pub mod format;
mod parse;

/// Why a template was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The text is not a template this dialect takes (refused when rules or queries load).
    Parse(String),
    /// Expanding failed: a field or function refused its input.
    Exec(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(m) | Error::Exec(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// A dialect's function or field failing on its input is an expansion error.
impl From<String> for Error {
    fn from(m: String) -> Self {
        Error::Exec(m)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Self {
        Error::Exec(m.to_string())
    }
}

use std::collections::BTreeMap;

/// Go's built-in functions, available in every dialect.
pub const BUILTINS: [&str; 12] = ["eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "len", "index", "printf"];

/// What a caller's templates may name.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Functions besides [`BUILTINS`].
    pub funcs: &'static [&'static str],
    /// Predefined variables, with their `$` (`$labels`); `$` alone is always the root.
    pub vars: &'static [&'static str],
    /// What the templates are, for errors ("alert templates").
    pub what: &'static str,
}

/// The data and functions of one expansion.
pub trait Env {
    /// `.name` read from the root (the data `.` starts as).
    fn root_field(&self, name: &str) -> Result<Val, Error>;
    /// A predefined variable the dialect names.
    fn var(&self, name: &str) -> Val;
    /// A function the dialect names (never a built-in); a piped value arrives as the
    /// last argument.
    fn call(&self, name: &str, args: Vec<Val>) -> Result<Val, Error>;
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
    /// A map of strings (labels).
    Map(BTreeMap<String, String>),
    /// A list.
    List(Vec<Val>),
    /// A struct: named fields in order.
    Record(Vec<(String, Val)>),
    /// The root data, read through [`Env::root_field`].
    Root,
}

impl Val {
    /// Go's truth: false, 0, nil and empty values are false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Record(_) | Val::Root => true,
        }
    }

    /// What the value is, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "a boolean",
            Val::Num(_) => "a number",
            Val::Str(_) => "a string",
            Val::Map(_) => "a map",
            Val::List(_) => "a list",
            Val::Record(_) => "a struct",
            Val::Root => "the template data",
        }
    }

    /// The text Go's template prints for it.
    pub fn text(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Str(s) => s.clone(),
            Val::Num(n) => format::go_float(*n),
            Val::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
            Val::List(l) => format!("[{}]", l.iter().map(Val::text).collect::<Vec<_>>().join(" ")),
            Val::Record(fields) => {
                format!("{{{}}}", fields.iter().map(|(_, v)| v.text()).collect::<Vec<_>>().join(" "))
            }
            Val::Root => "{…}".into(),
        }
    }

    /// The value as a number.
    pub fn num(&self) -> Result<f64, String> {
        match self {
            Val::Num(n) => Ok(*n),
            Val::Str(s) => s.trim().parse().map_err(|_| format!("{s:?} is not a number")),
            other => Err(format!("{} is not a number", other.kind())),
        }
    }

    /// A field of a struct, if it has it.
    pub fn get(&self, name: &str) -> Option<&Val> {
        match self {
            Val::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

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

impl Template {
    /// A template that expands to `text` as written.
    pub fn literal(text: &str) -> Template {
        Template { nodes: vec![Node::Text(text.to_string())] }
    }

    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str, dialect: &Dialect) -> Result<Template, Error> {
        parse::parse(text, dialect).map(|nodes| Template { nodes }).map_err(Error::Parse)
    }

    /// Expands the template.
    pub fn expand(&self, env: &dyn Env) -> Result<String, Error> {
        let mut out = String::new();
        exec::run(&self.nodes, env, &mut out).map_err(Error::Exec)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
