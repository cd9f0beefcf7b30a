//! Series selectors (`match[]`): PromQL vector selectors turned into label matchers.

use lantern_core::{MatchOp, Matcher, METRIC_NAME};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{self, Expr};

use crate::ApiError;

/// Parses one `match[]` selector into its alternatives (`{a="1" or b="2"}` has two),
/// each a list of matchers that must all hold.
pub fn parse_selector(s: &str) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let expr = parser::parse(s).map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(ApiError::bad_data(format!("invalid parameter \"match[]\": {s:?} is not a series selector")));
    };
    let groups: Vec<Vec<promql_parser::label::Matcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![vs.matchers.matchers.clone()]
    } else {
        vs.matchers.or_matchers.clone()
    };
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut ms = Vec::with_capacity(g.len() + 1);
        if let Some(name) = &vs.name {
            if !g.iter().any(|m| m.name == METRIC_NAME) {
                ms.push(Matcher::equal(METRIC_NAME, name.clone()));
            }
        }
        for m in g {
            let op = match m.op {
                PMatchOp::Equal => MatchOp::Equal,
                PMatchOp::NotEqual => MatchOp::NotEqual,
                PMatchOp::Re(_) => MatchOp::Regex,
                PMatchOp::NotRe(_) => MatchOp::NotRegex,
            };
            ms.push(
                Matcher::new(op, m.name, m.value)
                    .map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))?,
            );
        }
        if ms.iter().all(|m| m.matches_empty()) {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"match[]\": {s:?}: match[] must contain at least one non-empty matcher"
            )));
        }
        out.push(ms);
    }
    Ok(out)
}

/// Parses every `match[]` value; the result is the union of all alternatives.
pub fn parse_selectors(values: &[&str]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut out = Vec::new();
    for v in values {
        out.extend(parse_selector(v)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_matchers() {
        let g = parse_selector(r#"up{job=~"a|b", instance!="x"}"#).unwrap();
        assert_eq!(g.len(), 1);
        let s: Vec<String> = g[0].iter().map(|m| m.to_string()).collect();
        assert!(s.contains(&"__name__=\"up\"".to_string()), "{s:?}");
        assert!(s.contains(&"job=~\"a|b\"".to_string()));
        assert!(s.contains(&"instance!=\"x\"".to_string()));
        assert!(parse_selector(r#"{job=""}"#).is_err());
        assert!(parse_selector("sum(up)").is_err());
        assert!(parse_selector("up{").is_err());
    }
}
