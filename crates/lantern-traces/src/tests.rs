use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as pt;
use prost::Message;

use crate::model::{convert, AttrValue};
use crate::table::otlp_payload;
use crate::{Search, TraceStore};

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }) }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// The seed's `create_order` trace: a root with `user.id` and three children, one of
/// them with payment attributes; plus an invalid span that must be refused alone.
fn seed_request(trace: u8, base_ns: u64) -> Vec<u8> {
    let span = |id: u8, parent: Option<u8>, name: &str, start: u64, end: u64, attrs: Vec<KeyValue>| pt::Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind: if parent.is_none() { 2 } else { 1 },
        start_time_unix_nano: base_ns + start,
        end_time_unix_nano: base_ns + end,
        attributes: attrs,
        ..Default::default()
    };
    let mut bad = span(9, None, "bad", 0, 1, vec![]);
    bad.trace_id = vec![0; 16];
    ExportTraceServiceRequest {
        resource_spans: vec![pt::ResourceSpans {
            resource: Some(Resource { attributes: vec![kv("service.name", s("order-service"))], ..Default::default() }),
            scope_spans: vec![pt::ScopeSpans {
                spans: vec![
                    span(1, None, "create_order", 0, 100_000_000, vec![kv("user.id", s("user-456"))]),
                    span(2, Some(1), "validate_order", 1_000_000, 10_000_000, vec![]),
                    span(
                        3,
                        Some(1),
                        "process_payment",
                        10_000_000,
                        80_000_000,
                        vec![
                            kv("payment.amount", any_value::Value::DoubleValue(99.5)),
                            kv("payment.status", s("success")),
                        ],
                    ),
                    span(4, Some(1), "create_fulfillment", 80_000_000, 95_000_000, vec![]),
                    bad,
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn ingest(store: &TraceStore, body: &[u8]) -> usize {
    let bump = bumpalo::Bump::new();
    let req = lantern_otlp_wire::traces::traces_request(body, &bump).unwrap();
    let c = convert(req);
    store.append(c.spans, Some(&otlp_payload(body))).unwrap();
    c.rejected
}

#[tokio::test]
async fn traces_are_found_by_id_and_search_before_and_after_sealing_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = lantern_objstore::Store::local(&dir.path().join("data")).unwrap();
    let log = dir.path().join("log");
    let open = || TraceStore::open(&log, data.clone(), lantern_events::Options::default());
    let store = open().await.unwrap();
    let t0 = 1_700_000_000_000_000_000u64;
    assert_eq!(ingest(&store, &seed_request(1, t0)), 1, "the all-zero trace ID is refused");
    let trace = store.trace(&[1; 16]).await.unwrap();
    assert_eq!(
        trace.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["create_order", "validate_order", "process_payment", "create_fulfillment"]
    );
    assert_eq!(trace[2].attr("payment.amount"), Some(&AttrValue::DoubleValue(99.5)));
    assert_eq!(trace[2].parent_span_id, Some([1; 8]));
    store.events().seal().await.unwrap();
    ingest(&store, &seed_request(2, t0 + 60_000_000_000));
    drop(store);

    // After a restart: trace 1 from its segment, trace 2 replayed from the log.
    let store = open().await.unwrap();
    for id in [1u8, 2] {
        let t = store.trace(&[id; 16]).await.unwrap();
        assert_eq!(t.len(), 4, "trace {id}");
        assert_eq!(t[0].origin.service, "order-service");
        assert_eq!(t[0].attr("user.id"), Some(&AttrValue::StringValue("user-456".into())));
    }
    assert!(store.trace(&[3; 16]).await.unwrap().is_empty());

    let all = Search { start_ns: 0, end_ns: i64::MAX, limit: 10, ..Search::default() };
    let found = store.search_ids(&Search { service: Some("order-service".into()), ..all.clone() }).await.unwrap();
    assert_eq!(found, vec![[2; 16], [1; 16]], "newest first");
    let q = Search {
        tags: vec![("payment.status".into(), "success".into())],
        min_duration_ns: Some(60_000_000),
        ..all.clone()
    };
    assert_eq!(store.search_ids(&q).await.unwrap().len(), 2);
    let q = Search { tags: vec![("payment.status".into(), "failed".into())], ..all.clone() };
    assert!(store.search_ids(&q).await.unwrap().is_empty());
    let q = Search {
        operation: Some("process_payment".into()),
        service: Some("order-service".into()),
        limit: 1,
        ..all.clone()
    };
    let traces = store.search(&q).await.unwrap();
    assert_eq!((traces.len(), traces[0].len(), traces[0][0].trace_id), (1, 4, [2; 16]));
    let q = Search { start_ns: t0 as i64 + 30_000_000_000, ..all.clone() };
    assert_eq!(store.search_ids(&q).await.unwrap(), vec![[2; 16]], "by time");

    assert_eq!(store.services(0, i64::MAX), vec!["order-service".to_string()]);
    let ops: Vec<String> = store.operations("order-service", 0, i64::MAX).into_iter().map(|o| o.name).collect();
    assert_eq!(ops, ["create_fulfillment", "create_order", "process_payment", "validate_order"]);
}

/// A page's keys, made once each for the page, are every key of each of its spans.
#[test]
fn a_pages_keys_are_its_spans_keys() {
    use lantern_events::Table;
    let mut spans = Vec::new();
    for (t, base) in [(1u8, 0), (2, 5_000_000_000), (1, 9_000_000_000)] {
        let body = seed_request(t, base);
        let bump = bumpalo::Bump::new();
        spans.extend(convert(lantern_otlp_wire::traces::traces_request(&body, &bump).unwrap()).spans);
    }
    // The same values under other keys, and numbers, are keys of their own.
    spans[1]
        .attributes
        .push(crate::model::Attr { key: "other".into(), value: AttrValue::StringValue("user-456".into()) });
    spans[2].attributes.push(crate::model::Attr { key: "n".into(), value: AttrValue::IntValue(7) });
    spans[3].attributes.push(crate::model::Attr { key: "n".into(), value: AttrValue::IntValue(8) });
    spans[4].attributes.push(crate::model::Attr { key: "b".into(), value: AttrValue::BoolValue(true) });
    let rows: Vec<_> = spans.iter().collect();
    let mut page = Vec::new();
    crate::table::Spans::group_keys(&rows, &mut page);
    let mut each = Vec::new();
    for s in &spans {
        crate::table::span_keys(s, &mut each);
    }
    let set = |v: Vec<u64>| v.into_iter().collect::<std::collections::BTreeSet<_>>();
    assert_eq!(set(page), set(each));
}
