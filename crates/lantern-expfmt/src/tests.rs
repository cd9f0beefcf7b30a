use super::*;

fn entries(body: &str, f: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    Parser::new(body.as_bytes(), f).collect()
}

/// A sample as plain values: name, labels, value, timestamp.
type Plain = (String, Vec<(String, String)>, f64, Option<i64>);

fn samples(body: &str, f: Format) -> Vec<Plain> {
    entries(body, f)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some((
                s.name.to_string(),
                s.labels().unwrap().into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
                s.value,
                s.timestamp_ms,
            )),
            _ => None,
        })
        .collect()
}

fn err(body: &str, f: Format) -> ParseError {
    let r: Result<Vec<Entry>, ParseError> = Parser::new(body.as_bytes(), f).collect();
    match r {
        Err(e) => e,
        Ok(v) => {
            // Label errors surface when the labels are read.
            for e in v {
                if let Entry::Sample(s) = e {
                    if let Err(e) = s.labels() {
                        return e;
                    }
                }
            }
            panic!("no error for {body:?}")
        }
    }
}

#[test]
fn prometheus_text_as_client_libraries_write_it() {
    let body = "# HELP http_requests_total Total HTTP requests\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{method=\"GET\",endpoint=\"/api/x\",status=\"200\"} 3.0\n\
                http_requests_total{method=\"POST\",endpoint=\"a\\\"b\\\\c\\nd\",status=\"500\",} 1 1700000000000\n\
                \n\
                # a free comment\n\
                # TYPE active_connections gauge\n\
                active_connections 0\n\
                weird_values{x=\"1\"} NaN\n\
                weird_values{x=\"2\"} +Inf\n\
                weird_values{x=\"3\"}\t-Inf";
    let e = entries(body, Format::PrometheusText).unwrap();
    assert_eq!(e[0], Entry::Help { name: "http_requests_total".into(), text: "Total HTTP requests".into() });
    assert_eq!(e[1], Entry::Type { name: "http_requests_total".into(), kind: MetricType::Counter });
    let s = samples(body, Format::PrometheusText);
    assert_eq!(s.len(), 6);
    assert_eq!(
        s[0].1,
        vec![("method".into(), "GET".into()), ("endpoint".into(), "/api/x".into()), ("status".into(), "200".into())]
    );
    assert_eq!(s[1].1[1], ("endpoint".into(), "a\"b\\c\nd".into()));
    assert_eq!(s[1].3, Some(1_700_000_000_000));
    assert_eq!((s[2].0.as_str(), s[2].2), ("active_connections", 0.0));
    assert!(s[3].2.is_nan());
    assert_eq!(s[4].2, f64::INFINITY);
    assert_eq!(s[5].2, f64::NEG_INFINITY);
}

#[test]
fn series_bytes_identify_a_series() {
    let body = "a{x=\"1\"} 1\na{x=\"1\"}  2 5\nb 3\n";
    let got: Vec<Vec<u8>> = Parser::new(body.as_bytes(), Format::PrometheusText)
        .map(|e| match e.unwrap() {
            Entry::Sample(s) => s.series.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![b"a{x=\"1\"}".to_vec(), b"a{x=\"1\"}".to_vec(), b"b".to_vec()]);
}

#[test]
fn openmetrics_with_exemplars_units_and_eof() {
    let body = "# TYPE http_request_duration_seconds histogram\n\
                # UNIT http_request_duration_seconds seconds\n\
                # HELP http_request_duration_seconds Request duration\n\
                http_request_duration_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.05 1700000000.123\n\
                http_request_duration_seconds_bucket{le=\"+Inf\"} 3 1700000001.5\n\
                http_request_duration_seconds_count 3\n\
                http_request_duration_seconds_sum 0.3\n\
                http_request_duration_seconds_created 1.7e9\n\
                # EOF\n";
    let e = entries(body, Format::OpenMetrics).unwrap();
    assert_eq!(e[1], Entry::Unit { name: "http_request_duration_seconds".into(), unit: "seconds" });
    let Entry::Sample(b) = &e[3] else { panic!() };
    let ex = b.exemplar.as_ref().unwrap();
    assert_eq!(ex.labels, vec![("trace_id".into(), "4bf92f3577b34da6a3ce929d0e0e4736".into())]);
    assert_eq!((ex.value, ex.timestamp_ms), (0.05, Some(1_700_000_000_123)));
    let Entry::Sample(inf) = &e[4] else { panic!() };
    assert_eq!(inf.timestamp_ms, Some(1_700_000_001_500));
    assert_eq!(e.len(), 8);
}

#[test]
fn utf8_names_in_braces() {
    let s = samples("{\"my.metric\", \"service.name\"=\"a\"} 1\n", Format::PrometheusText);
    assert_eq!(s, vec![("my.metric".into(), vec![("service.name".into(), "a".into())], 1.0, None)]);
}

#[test]
fn errors_name_the_line_and_the_problem() {
    let t = Format::PrometheusText;
    let cases = [
        ("a 1\nb{x=\"1\" 2\n", 2, "expected '}'"),
        ("a{x=\"1\" y=\"2\"} 2\n", 1, "expected ',' or '}'"),
        ("a 1\n\nb one\n", 3, "invalid value \"one\""),
        ("a{1x=\"y\"} 1\n", 1, "invalid label name"),
        ("a{x=\"y} 1\n", 1, "expected '}'"),
        ("a{x=\"y\",x=\"z\"} 1\n", 1, "appears twice"),
        ("# TYPE a countr\n", 1, "invalid metric type"),
        ("a 1 12.5\n", 1, "invalid timestamp"),
        ("9a 1\n", 1, "expected a metric name"),
        ("a 1 2 3\n", 1, "unexpected"),
        ("a{x=\"\\q\"} 1\n", 1, "invalid escape"),
        ("a 1 # {t=\"x\"} 1\n", 1, "OpenMetrics only"),
    ];
    for (body, line, msg) in cases {
        let e = err(body, t);
        assert_eq!(e.line, line, "{body:?}: {e}");
        assert!(e.message.contains(msg), "{body:?}: {e}");
    }
    let bad = b"a 1\nb{x=\"\xff\"} 1\n";
    let e = Parser::new(bad, t).collect::<Result<Vec<_>, _>>().unwrap_err();
    assert_eq!((e.line, e.message.contains("UTF-8")), (2, true));

    let om = Format::OpenMetrics;
    assert!(err("a 1\n", om).message.contains("# EOF"));
    assert_eq!(err("a 1\n# EOF\nb 2\n", om).line, 3);
    assert!(err("a 1\n\n# EOF\n", om).message.contains("empty line"));
    let long = format!("a_total 1 # {{trace_id=\"{}\"}} 1\n# EOF\n", "x".repeat(130));
    assert!(err(&long, om).message.contains("more than 128"));
}

#[test]
fn content_type_picks_the_format() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_content_type("text/plain; version=0.0.4"), Format::PrometheusText);
    assert_eq!(Format::from_content_type(""), Format::PrometheusText);
}

proptest::proptest! {
    #[test]
    fn never_panics_on_any_input(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        for f in [Format::PrometheusText, Format::OpenMetrics] {
            for e in Parser::new(&body, f).flatten() {
                if let Entry::Sample(s) = e {
                    let _ = s.labels();
                }
            }
        }
    }

    #[test]
    fn never_panics_on_near_valid_input(body in "[a-z_{}=\",# .0-9\\\\\n\t+-]{0,120}") {
        for f in [Format::PrometheusText, Format::OpenMetrics] {
            for e in Parser::new(body.as_bytes(), f).flatten() {
                if let Entry::Sample(s) = e {
                    let _ = s.labels();
                }
            }
        }
    }
}
