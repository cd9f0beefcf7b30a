use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// A small dialect: `.name` and `$who` read a map, `shout` upper-cases.
struct Small(BTreeMap<String, String>);

const SMALL: Dialect = Dialect { funcs: &["shout", "items"], vars: &["$who"], what: "test templates" };

impl Env for Small {
    fn root_field(&self, name: &str) -> Result<Val, Error> {
        Ok(Val::Str(self.0.get(name).cloned().unwrap_or_default()))
    }
    fn var(&self, _: &str) -> Val {
        Val::Map(self.0.clone())
    }
    fn call(&self, name: &str, args: Vec<Val>) -> Result<Val, Error> {
        match name {
            "shout" => Ok(Val::Str(args.last().map(Val::text).unwrap_or_default().to_uppercase())),
            _ => Ok(Val::List(vec![
                Val::Record(vec![("Name".into(), Val::Str("a".into())), ("N".into(), Val::Num(1.0))]),
                Val::Record(vec![("Name".into(), Val::Str("b".into())), ("N".into(), Val::Num(2.5))]),
            ])),
        }
    }
}

fn expand(t: &str) -> Result<String, String> {
    let env =
        Small([("job", "api"), ("instance", "web-1")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    Template::parse(t, &SMALL).and_then(|t| t.expand(&env)).map_err(|e| e.to_string())
}

#[test]
fn text_fields_pipelines_and_builtins() {
    assert_eq!(expand("plain text").unwrap(), "plain text");
    assert_eq!(expand("{{ .job }} on {{ $who.instance }}").unwrap(), "api on web-1");
    assert_eq!(expand("{{ .job | shout }}").unwrap(), "API");
    assert_eq!(expand("{{ shout .job }}").unwrap(), "API");
    assert_eq!(expand(r#"{{ printf "%s=%.1f" .job 2.25 }}"#).unwrap(), "api=2.2");
    assert_eq!(expand(r#"{{ if eq .job "db" "api" }}yes{{ end }}"#).unwrap(), "yes");
    assert_eq!(expand(r#"{{ len .job }} {{ index $who "instance" }} {{ not true }}"#).unwrap(), "3 web-1 false");
    assert_eq!(expand("{{ .missing }}|{{ $who.missing }}").unwrap(), "|");
}

#[test]
fn control_flow_variables_and_trimming() {
    assert_eq!(expand("{{ if gt 2 1 }}a{{ else if gt 1 0 }}b{{ else }}c{{ end }}").unwrap(), "a");
    assert_eq!(expand("{{ if lt 2 1 }}a{{ else if gt 1 0 }}b{{ else }}c{{ end }}").unwrap(), "b");
    assert_eq!(expand("{{ with .job }}[{{ . }}]{{ else }}none{{ end }}").unwrap(), "[api]");
    assert_eq!(expand("{{ with .nothing }}[{{ . }}]{{ else }}none{{ end }}").unwrap(), "none");
    assert_eq!(expand("{{ range items }}{{ .Name }}={{ .N }} {{ end }}").unwrap(), "a=1 b=2.5 ");
    assert_eq!(expand("{{ range $who }}{{ . }},{{ end }}").unwrap(), "web-1,api,");
    assert_eq!(expand("{{ index (items) 1 }}").unwrap(), "{b 2.5}");
    assert_eq!(expand("{{ $x := .job }}{{ $x | shout }}").unwrap(), "API");
    assert_eq!(expand("{{- \"a\" }}  \n  {{- \"b\" -}}  c{{/* note */}}").unwrap(), "abc");
}

#[test]
fn bad_templates_are_refused_with_the_reason() {
    let err = |t: &str| expand(t).unwrap_err();
    assert!(err("{{ .job ").contains("never closed"));
    assert!(err("{{ if .job }}x").contains("never closed"));
    assert!(err("{{ end }}").contains("without"));
    assert!(err("{{ else }}").contains("outside"));
    assert!(err("{{ nosuchfunc 1 }}").contains("not supported"));
    assert!(err("{{ $nonsense }}").contains("undefined variable"));
    assert!(err(r#"{{ define "x" }}{{ end }}"#).contains("not supported in test templates"));
    assert!(err("a }} b").contains("without"));
    assert!(err(r#"{{ "open }}"#).contains("unterminated"));
    assert!(err("{{ 1 2 }}").contains("cannot take arguments"));
    assert!(err("{{ range 5 }}{{ end }}").contains("range over a number"));
    assert!(err("{{ index (items) -1 }}").contains("not a list position"));
}

proptest! {
    #[test]
    fn arbitrary_text_parses_or_is_refused_without_panicking(s in "(\\PC|[{}|$.()\"`-]){0,40}") {
        if let Ok(t) = Template::parse(&s, &SMALL) {
            let env = Small(BTreeMap::new());
            let _ = t.expand(&env);
        }
    }
}

#[test]
fn errors_say_whether_parsing_or_expanding_failed() {
    assert!(matches!(Template::parse("{{ end }}", &SMALL), Err(Error::Parse(m)) if m.contains("without")));
    let t = Template::parse("{{ range 5 }}{{ end }}", &SMALL).unwrap();
    assert!(matches!(t.expand(&Small(BTreeMap::new())), Err(Error::Exec(m)) if m.contains("range over a number")));
}
