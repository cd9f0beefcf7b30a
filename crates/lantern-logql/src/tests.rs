use super::*;

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher { name: name.into(), op, value: value.into() }
}

#[test]
fn log_queries() {
    let e = parse(r#"{service="payment", env=~"prod|staging"} |= "payment_failed" != "test" |~ `card.*` or "x" | json | level="error" and status >= 500 | line_format "{{.event}}""#).unwrap();
    let Expr::Log(l) = e else { panic!("{e:?}") };
    assert_eq!(l.selector, [m("service", MatchOp::Eq, "payment"), m("env", MatchOp::Re, "prod|staging")]);
    assert_eq!(
        l.stages,
        [
            Stage::LineFilter { op: LineOp::Contains, values: vec!["payment_failed".into()] },
            Stage::LineFilter { op: LineOp::NotContains, values: vec!["test".into()] },
            Stage::LineFilter { op: LineOp::Match, values: vec!["card.*".into(), "x".into()] },
            Stage::Json(vec![]),
            Stage::Filter(LabelFilter::And(
                Box::new(LabelFilter::Match(m("level", MatchOp::Eq, "error"))),
                Box::new(LabelFilter::Cmp { name: "status".into(), op: CmpOp::Ge, value: Literal::Number(500.0) })
            )),
            Stage::LineFormat("{{.event}}".into()),
        ]
    );
    let Expr::Log(l) = parse(
        r#"{a="b"} | logfmt | duration > 1.5s or size < 10KB | json code="error.code", msg | unwrap duration(latency)"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        l.stages[1],
        Stage::Filter(LabelFilter::Or(
            Box::new(LabelFilter::Cmp { name: "duration".into(), op: CmpOp::Gt, value: Literal::Duration(1.5) }),
            Box::new(LabelFilter::Cmp { name: "size".into(), op: CmpOp::Lt, value: Literal::Bytes(10_000.0) })
        ))
    );
    assert_eq!(l.stages[2], Stage::Json(vec![("code".into(), "error.code".into()), ("msg".into(), "msg".into())]));
    assert_eq!(l.stages[3], Stage::Unwrap { label: "latency".into(), conv: Some("duration".into()) });
}

#[test]
fn metric_queries() {
    let e = parse(r#"sum(count_over_time({service="payment"} |= "payment_failed" [5m])) > 10"#).unwrap();
    let Expr::Binary { op: BinOp::Gt, lhs, rhs, .. } = e else { panic!("{e:?}") };
    assert_eq!(*rhs, Expr::Number(10.0));
    let Expr::Agg { op: AggOp::Sum, grouping: None, expr, .. } = *lhs else { panic!() };
    let Expr::Range { func: RangeFn::CountOverTime, range, log, .. } = *expr else { panic!() };
    assert_eq!(range, 300_000_000_000);
    assert_eq!(log.stages.len(), 1);

    let e = parse(r#"topk(3, sum by (level) (rate({app="x"}[1m] offset 5m)))"#).unwrap();
    let Expr::Agg { op: AggOp::Topk, param: Some(k), expr, .. } = e else { panic!() };
    assert_eq!(k, 3.0);
    let Expr::Agg { grouping: Some(g), expr, .. } = *expr else { panic!() };
    assert_eq!(g, Grouping { without: false, labels: vec!["level".into()] });
    let Expr::Range { func: RangeFn::Rate, offset, .. } = *expr else { panic!() };
    assert_eq!(offset, 300_000_000_000);
    // Grouping after the parentheses; precedence; bool; vector().
    let e = parse(r#"sum(bytes_over_time({a="b"}[1h])) without (pod) / 2 + 1"#).unwrap();
    assert!(matches!(e, Expr::Binary { op: BinOp::Add, .. }), "{e:?}");
    let e = parse(r#"count_over_time({a="b"}[1m]) > bool 2"#).unwrap();
    assert!(matches!(e, Expr::Binary { return_bool: true, .. }));
    assert_eq!(parse("vector(1)").unwrap(), Expr::Vector(1.0));
    let e = parse(r#"quantile_over_time(0.99, {a="b"} | json | unwrap latency [5m]) by (route)"#).unwrap();
    assert!(matches!(e, Expr::Range { param: Some(_), grouping: Some(_), .. }), "{e:?}");
}

#[test]
fn errors_name_the_position() {
    let e = parse(r#"{service="payment" |= "x""#).unwrap_err();
    assert_eq!((e.line, e.col), (1, 20), "{e}");
    let e = parse(r#"count_over_time({a="b"})"#).unwrap_err();
    assert!(e.message.contains("\"[\""), "{e}");
    let e = parse("{}").unwrap_err();
    assert!(e.message.contains("at least one"), "{e}");
    let e = parse(r#"sum_over_time({a="b"}[5m])"#).unwrap_err();
    assert!(e.message.contains("unwrap"), "{e}");
    let e = parse(r#"{a="b"} | nonsense"#).unwrap_err();
    assert_eq!(e.col, 11, "{e}");
    let e = parse("{a=\"b\"}\n  | json | x > \"s\"").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(parse(r#"{a="b"} + 1"#).is_err());
    assert!(parse(r#"{a="unterminated}"#).is_err());
    assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
    assert_eq!(parse_duration("250ms"), Some(250_000_000));
    assert_eq!(parse_duration("5x"), None);
}

proptest::proptest! {
    /// Arbitrary text, and text made of LogQL's own pieces, parses or is refused with a
    /// position inside the query; never a panic.
    #[test]
    fn any_text_parses_or_is_refused_in_place(
        q in proptest::string::string_regex(
            r#"([{}()\[\]|=~!<>,"`.+*/^%-]|sum|by|rate|count_over_time|json|logfmt|line_format|unwrap|offset|bool|[a-z]{1,3}|[0-9]{1,3}|5m|1h|\s|\PC){0,24}"#
        ).unwrap()
    ) {
        if let Err(e) = parse(&q) {
            let lines = q.split('\n').count().max(1);
            proptest::prop_assert!(e.line >= 1 && e.line <= lines, "{} in {:?}", e, q);
            proptest::prop_assert!(!e.message.is_empty());
        }
    }
}
