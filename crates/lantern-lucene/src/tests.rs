use super::*;

fn t(field: Option<&str>, text: &str) -> Query {
    Query::Term { field: field.map(str::to_string), text: text.into(), kind: TermKind::Word }
}

#[test]
fn the_seeds_query() {
    let q = parse("level:error AND timestamp:[2026-02-11T14:30:00 TO 2026-02-11T14:35:00]").unwrap();
    assert_eq!(
        q,
        Query::And(vec![
            t(Some("level"), "error"),
            Query::Range {
                field: "timestamp".into(),
                lo: Some(("2026-02-11T14:30:00".into(), true)),
                hi: Some(("2026-02-11T14:35:00".into(), true)),
            }
        ])
    );
}

#[test]
fn operators_and_precedence() {
    // AND binds tighter than OR; juxtaposition is AND.
    assert_eq!(parse("a b OR c").unwrap(), Query::Or(vec![Query::And(vec![t(None, "a"), t(None, "b")]), t(None, "c")]));
    assert_eq!(
        parse("a && (b || c)").unwrap(),
        Query::And(vec![t(None, "a"), Query::Or(vec![t(None, "b"), t(None, "c")])])
    );
    assert_eq!(parse("NOT a").unwrap(), Query::Not(Box::new(t(None, "a"))));
    assert_eq!(parse("-level:info").unwrap(), Query::Not(Box::new(t(Some("level"), "info"))));
    assert_eq!(parse("+a !b").unwrap(), Query::And(vec![t(None, "a"), Query::Not(Box::new(t(None, "b")))]));
    // A lone '-' inside a word is part of it.
    assert_eq!(parse("user_id:user-456").unwrap(), t(Some("user_id"), "user-456"));
}

#[test]
fn phrases_wildcards_exists_groups() {
    assert_eq!(
        parse(r#"error:"Card declined""#).unwrap(),
        Query::Term { field: Some("error".into()), text: "Card declined".into(), kind: TermKind::Phrase }
    );
    assert_eq!(parse("req-*").unwrap(), Query::Term { field: None, text: "req-*".into(), kind: TermKind::Wildcard });
    assert_eq!(parse(r"a\*b").unwrap(), t(None, "a*b"));
    assert_eq!(parse("_exists_:error_code").unwrap(), Query::Exists("error_code".into()));
    assert_eq!(parse("error_code:*").unwrap(), Query::Exists("error_code".into()));
    assert_eq!(parse("*").unwrap(), Query::All);
    assert_eq!(parse("*:*").unwrap(), Query::All);
    assert_eq!(parse("").unwrap(), Query::All);
    assert_eq!(
        parse("level:(error OR warn)").unwrap(),
        Query::Or(vec![t(Some("level"), "error"), t(Some("level"), "warn")])
    );
    assert_eq!(parse(r#"url:http\://x"#).unwrap(), t(Some("url"), "http://x"));
    // A value after a field may hold ':' unescaped.
    assert_eq!(parse("timestamp:2026-02-11T14:30:00").unwrap(), t(Some("timestamp"), "2026-02-11T14:30:00"));
}

#[test]
fn ranges_and_comparisons() {
    assert_eq!(
        parse("status:{400 TO *]").unwrap(),
        Query::Range { field: "status".into(), lo: Some(("400".into(), false)), hi: None }
    );
    assert_eq!(
        parse("duration_ms:>=250").unwrap(),
        Query::Range { field: "duration_ms".into(), lo: Some(("250".into(), true)), hi: None }
    );
    assert_eq!(
        parse("duration_ms:<5").unwrap(),
        Query::Range { field: "duration_ms".into(), lo: None, hi: Some(("5".into(), false)) }
    );
}

#[test]
fn errors_point_at_the_problem() {
    let e = |q: &str| parse(q).unwrap_err();
    assert_eq!(e("level:error AND").pos, 15);
    assert_eq!(e("(a OR b").pos, 0);
    assert_eq!(e("a)").pos, 1);
    assert_eq!(e(r#"msg:"unclosed"#).pos, 4);
    assert_eq!(e("t:[1 2]").pos, 5);
    assert!(e("t:[1 2]").message.contains("TO"), "{}", e("t:[1 2]"));
    assert_eq!(e("t:[1 TO 2").pos, 2);
    assert_eq!(e("level:").pos, 6);
    assert_eq!(e(":x").pos, 0);
    assert_eq!(e("a OR").pos, 4);
    assert_eq!(e("()").pos, 1);
    assert!(e("a AND").to_string().starts_with("syntax error at position 5: "));
}

#[test]
fn an_operator_where_a_term_must_be_is_an_error() {
    let e = |q: &str| parse(q).unwrap_err();
    assert_eq!(e("AND level:error").pos, 0);
    assert_eq!(e("AND level:error").message, "expected a term, found the operator AND");
    assert_eq!(e("level:error AND AND").pos, 16);
    assert_eq!(e("level:error AND AND x").pos, 16);
    assert_eq!(e("OR a").pos, 0);
    assert_eq!(e("a OR OR b").pos, 5);
    assert_eq!(e("a && || b").pos, 5);
    assert_eq!(e("NOT AND a").pos, 4);
    assert_eq!(e("(AND a)").pos, 1);
    // Lowercase words and operators inside words stay words.
    assert!(parse("and or").is_ok() && parse("ANDROID").is_ok() && parse("level:error AND ORDER").is_ok());
}

proptest::proptest! {
    /// Arbitrary text, and text made of the syntax's own pieces, parses or is refused
    /// with a position inside the query; never a panic.
    #[test]
    fn any_text_parses_or_is_refused_in_place(
        q in proptest::string::string_regex(
            r#"([:()\[\]{}"*?\\^~+!<>=-]|AND|OR|NOT|TO|&&|\|\||_exists_|level|[a-z]{1,3}|[0-9]{1,3}|\s|\PC){0,24}"#
        ).unwrap()
    ) {
        if let Err(e) = parse(&q) {
            proptest::prop_assert!(e.pos <= q.chars().count(), "{} in {:?}", e.message, q);
            proptest::prop_assert!(!e.message.is_empty());
        }
    }
}
