//! Alert templates as Prometheus expands them in labels and annotations: Go's
//! `text/template` language ([`lantern_gotemplate`]) over Prometheus's data (`$labels`,
//! `$value`, `$externalLabels`, `$externalURL`, and `.Labels`, `.Value`…) and functions
//! ([`funcs`], `query` included). Templates are parsed when rules load, so a bad one is
//! refused with its rule's file and line.

mod funcs;

pub use lantern_gotemplate::format::go_exp;
pub use lantern_gotemplate::Val;

use std::collections::BTreeMap;

use lantern_gotemplate::{Dialect, Env, Error};

/// Query results: labels and value of each sample.
pub type Samples = Vec<(BTreeMap<String, String>, f64)>;

/// Runs a PromQL query for a template's `query` function.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Samples, String> + 'a;

/// What alert templates may name.
const PROMETHEUS: Dialect = Dialect {
    funcs: &funcs::NAMES,
    vars: &["$labels", "$value", "$externalLabels", "$externalURL"],
    what: "alert templates",
};

/// A parsed alert template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(lantern_gotemplate::Template);

impl Template {
    /// A template that expands to `text` as written.
    pub fn literal(text: &str) -> Template {
        Template(lantern_gotemplate::Template::literal(text))
    }

    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Template, Error> {
        lantern_gotemplate::Template::parse(text, &PROMETHEUS).map(Template)
    }

    /// Expands the template.
    pub fn expand(&self, d: &Data) -> Result<String, Error> {
        self.0.expand(d)
    }
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

/// One query result as templates see it: `.Labels` and `.Value`.
fn sample(labels: BTreeMap<String, String>, value: f64) -> Val {
    Val::Record(vec![("Labels".into(), Val::Map(labels)), ("Value".into(), Val::Num(value))])
}

impl Env for Data<'_> {
    fn root_field(&self, name: &str) -> Result<Val, Error> {
        Ok(match name {
            "Labels" => Val::Map(self.labels.clone()),
            "Value" => Val::Num(self.value),
            "ExternalLabels" => Val::Map(self.external.clone()),
            "ExternalURL" => Val::Str(self.external_url.to_string()),
            f => return Err(format!("cannot read field {f:?} of the template data").into()),
        })
    }

    fn var(&self, name: &str) -> Val {
        match name {
            "$labels" => Val::Map(self.labels.clone()),
            "$value" => Val::Num(self.value),
            "$externalLabels" => Val::Map(self.external.clone()),
            "$externalURL" => Val::Str(self.external_url.to_string()),
            _ => Val::Nil,
        }
    }

    fn call(&self, name: &str, args: Vec<Val>) -> Result<Val, Error> {
        Ok(funcs::call(name, args, self)?)
    }
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
        assert!(Template::parse("{{ $labels.instance ").unwrap_err().to_string().contains("never closed"));
        assert!(Template::parse("{{ if $value }}x").unwrap_err().to_string().contains("never closed"));
        assert!(Template::parse("{{ end }}").unwrap_err().to_string().contains("without"));
        assert!(Template::parse("{{ nosuchfunc 1 }}").unwrap_err().to_string().contains("not supported"));
        assert!(Template::parse("{{ $nonsense }}").unwrap_err().to_string().contains("not supported"));
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
