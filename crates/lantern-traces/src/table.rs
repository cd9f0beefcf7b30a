//! Spans as an event-engine table: the Parquet schema (one column per span field;
//! attributes and resources as compact JSON objects ([`compact`]), events and links as
//! OTLP/JSON text, which Parquet's dictionaries and zstd squeeze well), the index keys, and the log payload (the OTLP
//! request itself, converted again on replay).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, Int32Builder, Int64Builder, StringBuilder, UInt32Builder};
use arrow_array::{
    Array, ArrayRef, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use lantern_events::bloom::key;
use lantern_events::Table;

use crate::model::{compact, Attr, AttrValue, Event, Link, Origin, Span};

/// The spans table.
pub struct Spans;

/// Log payload tags.
const OTLP: u8 = 1;
const JSON: u8 = 2;

/// Spans per Parquet page, and per filter of a row group's index keys.
const PAGE_ROWS: usize = 4096;

/// The key of a trace ID in segment filters.
pub fn trace_key(id: &[u8; 16]) -> u64 {
    key(&[b"t", id])
}

/// The key of a service.
pub fn service_key(service: &str) -> u64 {
    key(&[b"s", service.as_bytes()])
}

/// The key of an operation of a service.
pub fn operation_key(service: &str, name: &str) -> u64 {
    key(&[b"o", service.as_bytes(), name.as_bytes()])
}

/// The key of an attribute value (span or resource attribute), by its text.
pub fn attr_key(k: &str, v: &str) -> u64 {
    key(&[b"a", k.as_bytes(), v.as_bytes()])
}

/// The log payload of an OTLP request body, as parts (a tag, then the body).
pub fn otlp_payload(body: &[u8]) -> [&[u8]; 2] {
    [&[OTLP], body]
}

fn schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        Field::new("trace_id", DataType::FixedSizeBinary(16), false),
        Field::new("span_id", DataType::FixedSizeBinary(8), false),
        Field::new("parent_span_id", DataType::FixedSizeBinary(8), true),
        s("trace_state"),
        Field::new("flags", DataType::UInt32, false),
        s("service"),
        s("name"),
        Field::new("kind", DataType::Int32, false),
        Field::new("start_ns", DataType::Int64, false),
        Field::new("duration_ns", DataType::Int64, false),
        Field::new("status_code", DataType::Int32, false),
        s("status_message"),
        s("attributes"),
        Field::new("dropped_attributes", DataType::UInt32, false),
        s("events"),
        Field::new("dropped_events", DataType::UInt32, false),
        s("links"),
        Field::new("dropped_links", DataType::UInt32, false),
        s("resource"),
        s("scope_name"),
        s("scope_version"),
        s("scope_attributes"),
    ]))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// JSON writing of the span's list fields into a reused buffer.
mod erased {
    pub trait Json {
        fn write_json(&self, out: &mut Vec<u8>);
    }

    impl<T: serde::Serialize> Json for Vec<T> {
        fn write_json(&self, out: &mut Vec<u8>) {
            if serde_json::to_writer(&mut *out, self).is_err() {
                out.clear();
                out.extend_from_slice(b"[]");
            }
        }
    }
}

fn scalar_text(v: &AttrValue) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        AttrValue::ArrayValue(_) | AttrValue::KvlistValue(_) | AttrValue::BytesValue(_) => None,
        AttrValue::StringValue(s) => Some(s.as_str().into()),
        v => Some(v.text().into()),
    }
}

/// Index keys of a span: trace, service, operation, and each scalar span or resource
/// attribute value.
pub fn span_keys(s: &Span, out: &mut Vec<u64>) {
    origin_keys(&s.origin, out);
    own_keys(s, out);
}

/// The keys of a span's origin: its service and resource attributes.
fn origin_keys(o: &crate::model::Origin, out: &mut Vec<u64>) {
    out.push(service_key(&o.service));
    attr_keys(&o.resource, out);
}

/// The keys of a span besides its origin's.
fn own_keys(s: &Span, out: &mut Vec<u64>) {
    out.push(trace_key(&s.trace_id));
    out.push(operation_key(&s.origin.service, &s.name));
    attr_keys(&s.attributes, out);
}

fn attr_keys(attrs: &[crate::model::Attr], out: &mut Vec<u64>) {
    for a in attrs {
        if let Some(v) = scalar_text(&a.value) {
            if v.len() <= 256 {
                out.push(attr_key(&a.key, &v));
            }
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LoggedSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    trace_state: String,
    flags: u32,
    name: String,
    kind: i32,
    start_ns: i64,
    end_ns: i64,
    status_code: i32,
    status_message: String,
    attributes: Vec<Attr>,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    links: Vec<Link>,
    dropped_links: u32,
    origin: Origin,
}

fn col<'a, A: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a A, String> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<A>())
        .ok_or_else(|| format!("column {name} is missing or has the wrong type"))
}

impl Table for Spans {
    type Row = Span;
    const NAME: &'static str = "spans";
    /// The spans of a Parquet page (see `writer_props`).
    const FILTER_PAGE_ROWS: usize = PAGE_ROWS;
    const SIGNAL: &'static str = lantern_core::selfmon::signal::TRACES;

    fn schema() -> SchemaRef {
        schema()
    }

    /// Columns that are nearly constant within a row group (a few bytes once
    /// dictionary- and run-length-encoded) are not compressed again: compressing a page
    /// costs a fresh zstd context whatever its size, and would save nothing here.
    fn writer_props(
        mut props: lantern_events::parquet::file::properties::WriterPropertiesBuilder,
        _schema: &SchemaRef,
        _rows: &[&Span],
    ) -> lantern_events::parquet::file::properties::WriterPropertiesBuilder {
        use lantern_events::parquet::basic::Compression;
        use lantern_events::parquet::schema::types::ColumnPath;
        for c in [
            "trace_state",
            "flags",
            "service",
            "kind",
            "status_code",
            "status_message",
            "dropped_attributes",
            "dropped_events",
            "dropped_links",
            "scope_name",
            "scope_version",
            "scope_attributes",
            "resource",
        ] {
            props = props.set_column_compression(ColumnPath::new(vec![c.to_string()]), Compression::UNCOMPRESSED);
        }
        // Pages of 4096 spans: reading a trace's rows skips the other pages of a row group.
        props.set_data_page_row_count_limit(PAGE_ROWS)
    }

    fn time(s: &Span) -> i64 {
        s.start_ns
    }

    /// One service's spans together (searches name a service), by trace within it.
    fn order(a: &Span, b: &Span) -> std::cmp::Ordering {
        a.origin.service.cmp(&b.origin.service).then(a.trace_id.cmp(&b.trace_id))
    }

    fn keys(s: &Span, out: &mut Vec<u64>) {
        span_keys(s, out)
    }

    /// [`span_keys`] of each span, each key made once: the spans of one request share
    /// their origin, a trace's spans lie together (the order's), and operations and
    /// attribute values repeat across spans (methods, routes, a request's IDs).
    fn group_keys(rows: &[&Span], out: &mut Vec<u64>) {
        type Seen<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
        let mut origins: Seen<*const crate::model::Origin> = Seen::default();
        let mut ops: Seen<(&str, &str)> = Seen::default();
        let mut attrs: Seen<(&str, &str)> = Seen::default();
        let mut ints: Seen<(&str, i64)> = Seen::default();
        let mut last_trace = None;
        for s in rows {
            if origins.insert(Arc::as_ptr(&s.origin)) {
                origin_keys(&s.origin, out);
            }
            if last_trace != Some(s.trace_id) {
                out.push(trace_key(&s.trace_id));
                last_trace = Some(s.trace_id);
            }
            if ops.insert((&s.origin.service, &s.name)) {
                out.push(operation_key(&s.origin.service, &s.name));
            }
            for a in &s.attributes {
                let new = match &a.value {
                    AttrValue::StringValue(v) => attrs.insert((&a.key, v)),
                    AttrValue::IntValue(i) => ints.insert((&a.key, *i)),
                    _ => true,
                };
                if new {
                    attr_keys(std::slice::from_ref(a), out);
                }
            }
        }
    }

    fn encode_log(rows: &[Span], out: &mut Vec<u8>) {
        out.push(JSON);
        let logged: Vec<LoggedSpan> = rows
            .iter()
            .map(|s| LoggedSpan {
                trace_id: crate::model::hex(&s.trace_id),
                span_id: crate::model::hex(&s.span_id),
                parent_span_id: s.parent_span_id.map(|p| crate::model::hex(&p)),
                trace_state: s.trace_state.clone(),
                flags: s.flags,
                name: s.name.clone(),
                kind: s.kind,
                start_ns: s.start_ns,
                end_ns: s.end_ns,
                status_code: s.status_code,
                status_message: s.status_message.clone(),
                attributes: s.attributes.clone(),
                dropped_attributes: s.dropped_attributes,
                events: s.events.clone(),
                dropped_events: s.dropped_events,
                links: s.links.clone(),
                dropped_links: s.dropped_links,
                origin: (*s.origin).clone(),
            })
            .collect();
        out.extend_from_slice(json(&logged).as_bytes());
    }

    fn decode_log(b: &[u8]) -> Option<Vec<Span>> {
        let (&tag, body) = b.split_first()?;
        match tag {
            OTLP => {
                let bump = bumpalo::Bump::new();
                let req = lantern_otlp_wire::traces::traces_request(body, &bump).ok()?;
                Some(crate::model::convert(req).spans)
            }
            JSON => {
                let logged: Vec<LoggedSpan> = serde_json::from_slice(body).ok()?;
                logged
                    .into_iter()
                    .map(|l| {
                        let id8 = |s: &str| -> Option<[u8; 8]> { crate::model::unhex(s)?.try_into().ok() };
                        Some(Span {
                            trace_id: crate::model::unhex(&l.trace_id)?.try_into().ok()?,
                            span_id: id8(&l.span_id)?,
                            parent_span_id: match &l.parent_span_id {
                                Some(p) => Some(id8(p)?),
                                None => None,
                            },
                            trace_state: l.trace_state,
                            flags: l.flags,
                            name: l.name,
                            kind: l.kind,
                            start_ns: l.start_ns,
                            end_ns: l.end_ns,
                            status_code: l.status_code,
                            status_message: l.status_message,
                            attributes: l.attributes,
                            dropped_attributes: l.dropped_attributes,
                            events: l.events,
                            dropped_events: l.dropped_events,
                            links: l.links,
                            dropped_links: l.dropped_links,
                            origin: Arc::new(l.origin),
                        })
                    })
                    .collect()
            }
            _ => None,
        }
    }

    fn to_batch(schema: &SchemaRef, rows: &[&Span]) -> Result<RecordBatch, String> {
        let n = rows.len();
        let e = |e: arrow_schema::ArrowError| e.to_string();
        let mut trace_id = FixedSizeBinaryBuilder::with_capacity(n, 16);
        let mut span_id = FixedSizeBinaryBuilder::with_capacity(n, 8);
        let mut parent = FixedSizeBinaryBuilder::with_capacity(n, 8);
        let mut strings: Vec<StringBuilder> = (0..11).map(|_| StringBuilder::with_capacity(n, n * 16)).collect();
        let (mut flags, mut kind, mut status) =
            (UInt32Builder::with_capacity(n), Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
        let (mut start, mut duration) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
        let mut dropped: Vec<UInt32Builder> = (0..3).map(|_| UInt32Builder::with_capacity(n)).collect();
        // Resources repeat across spans: their JSON is made once per origin.
        let mut origins: HashMap<*const Origin, (String, String)> = HashMap::new();
        use erased::Json as _;
        let mut bufs: [Vec<u8>; 3] = Default::default();
        for s in rows {
            trace_id.append_value(s.trace_id).map_err(e)?;
            span_id.append_value(s.span_id).map_err(e)?;
            match s.parent_span_id {
                Some(p) => parent.append_value(p).map_err(e)?,
                None => parent.append_null(),
            }
            let (resource, scope_attrs) = origins.entry(Arc::as_ptr(&s.origin)).or_insert_with(|| {
                (compact::to_string(&s.origin.resource), compact::to_string(&s.origin.scope_attributes))
            });
            // Serialised into reused buffers: no allocation per span.
            for buf in bufs.iter_mut() {
                buf.clear();
            }
            compact::write(&s.attributes, &mut bufs[0]);
            s.events.write_json(&mut bufs[1]);
            s.links.write_json(&mut bufs[2]);
            let texts: [&str; 11] = [
                &s.trace_state,
                &s.origin.service,
                &s.name,
                &s.status_message,
                std::str::from_utf8(&bufs[0]).unwrap_or("[]"),
                std::str::from_utf8(&bufs[1]).unwrap_or("[]"),
                std::str::from_utf8(&bufs[2]).unwrap_or("[]"),
                resource,
                &s.origin.scope_name,
                &s.origin.scope_version,
                scope_attrs,
            ];
            for (b, t) in strings.iter_mut().zip(texts) {
                b.append_value(t);
            }
            flags.append_value(s.flags);
            kind.append_value(s.kind);
            status.append_value(s.status_code);
            start.append_value(s.start_ns);
            duration.append_value(s.duration_ns());
            dropped[0].append_value(s.dropped_attributes);
            dropped[1].append_value(s.dropped_events);
            dropped[2].append_value(s.dropped_links);
        }
        let mut st: Vec<ArrayRef> = strings.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let mut dr: Vec<ArrayRef> = dropped.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let take = |v: &mut Vec<ArrayRef>| v.remove(0);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(trace_id.finish()),
            Arc::new(span_id.finish()),
            Arc::new(parent.finish()),
            take(&mut st), // trace_state
            Arc::new(flags.finish()),
            take(&mut st), // service
            take(&mut st), // name
            Arc::new(kind.finish()),
            Arc::new(start.finish()),
            Arc::new(duration.finish()),
            Arc::new(status.finish()),
            take(&mut st), // status_message
            take(&mut st), // attributes
            take(&mut dr),
            take(&mut st), // events
            take(&mut dr),
            take(&mut st), // links
            take(&mut dr),
            take(&mut st), // resource
            take(&mut st), // scope_name
            take(&mut st), // scope_version
            take(&mut st), // scope_attributes
        ];
        RecordBatch::try_new(schema.clone(), cols).map_err(e)
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<Span>, String> {
        let trace_id = col::<FixedSizeBinaryArray>(b, "trace_id")?;
        let span_id = col::<FixedSizeBinaryArray>(b, "span_id")?;
        let parent = col::<FixedSizeBinaryArray>(b, "parent_span_id")?;
        let text = |n: &str| col::<StringArray>(b, n);
        let (trace_state, service, name, status_message) =
            (text("trace_state")?, text("service")?, text("name")?, text("status_message")?);
        let (attributes, events, links, resource) =
            (text("attributes")?, text("events")?, text("links")?, text("resource")?);
        let (scope_name, scope_version, scope_attributes) =
            (text("scope_name")?, text("scope_version")?, text("scope_attributes")?);
        let u32s = |n: &str| col::<UInt32Array>(b, n);
        let (flags, d_attr, d_ev, d_link) =
            (u32s("flags")?, u32s("dropped_attributes")?, u32s("dropped_events")?, u32s("dropped_links")?);
        let (kind, status) = (col::<Int32Array>(b, "kind")?, col::<Int32Array>(b, "status_code")?);
        let (start, duration) = (col::<Int64Array>(b, "start_ns")?, col::<Int64Array>(b, "duration_ns")?);

        let mut origins: HashMap<(String, String, String, String, String), Arc<Origin>> = HashMap::new();
        let mut out = Vec::with_capacity(b.num_rows());
        for i in 0..b.num_rows() {
            let okey = (
                service.value(i).to_string(),
                resource.value(i).to_string(),
                scope_name.value(i).to_string(),
                scope_version.value(i).to_string(),
                scope_attributes.value(i).to_string(),
            );
            let origin = match origins.get(&okey) {
                Some(o) => o.clone(),
                None => {
                    let o = Arc::new(Origin {
                        service: okey.0.clone(),
                        resource: compact::read(&okey.1).map_err(|e| format!("resource: {e}"))?,
                        scope_name: okey.2.clone(),
                        scope_version: okey.3.clone(),
                        scope_attributes: compact::read(&okey.4).map_err(|e| format!("scope_attributes: {e}"))?,
                    });
                    origins.insert(okey, o.clone());
                    o
                }
            };
            let start_ns = start.value(i);
            out.push(Span {
                trace_id: trace_id.value(i).try_into().map_err(|_| "trace_id width")?,
                span_id: span_id.value(i).try_into().map_err(|_| "span_id width")?,
                parent_span_id: if parent.is_null(i) {
                    None
                } else {
                    Some(parent.value(i).try_into().map_err(|_| "parent_span_id width")?)
                },
                trace_state: trace_state.value(i).to_string(),
                flags: flags.value(i),
                name: name.value(i).to_string(),
                kind: kind.value(i),
                start_ns,
                end_ns: start_ns + duration.value(i),
                status_code: status.value(i),
                status_message: status_message.value(i).to_string(),
                attributes: compact::read(attributes.value(i)).map_err(|e| format!("attributes: {e}"))?,
                dropped_attributes: d_attr.value(i),
                events: serde_json::from_str(events.value(i)).map_err(|e| format!("events: {e}"))?,
                dropped_events: d_ev.value(i),
                links: serde_json::from_str(links.value(i)).map_err(|e| format!("links: {e}"))?,
                dropped_links: d_link.value(i),
                origin,
            });
        }
        Ok(out)
    }

    fn summarize(rows: &[&Span]) -> serde_json::Value {
        let mut ops: Vec<(&str, &str, i32)> =
            rows.iter().map(|s| (s.origin.service.as_str(), s.name.as_str(), s.kind)).collect();
        ops.sort_unstable();
        ops.dedup();
        serde_json::json!({ "operations": ops })
    }
}

/// Prefilters of sealed spans: tests on the raw columns that let a scan decode only the
/// spans that may match.
pub mod prefilter {
    use std::collections::HashSet;
    use std::sync::Arc;

    use arrow_array::{Array, BooleanArray, FixedSizeBinaryArray, Int64Array, RecordBatch, StringArray};
    use lantern_events::RowFilter;
    use memchr::memmem::Finder;

    /// Spans of the given traces.
    pub fn traces(ids: HashSet<[u8; 16]>) -> RowFilter {
        // Sorted, as numbers: a row's ID is found in a few comparisons, without hashing.
        let mut ids: Vec<u128> = ids.into_iter().map(u128::from_be_bytes).collect();
        ids.sort_unstable();
        RowFilter {
            dictionary: false,
            skip: None,
            key: None,
            cheap: None,
            columns: vec!["trace_id".into()],
            test: Arc::new(move |b: &RecordBatch, _| {
                let keep: BooleanArray = match b
                    .column_by_name("trace_id")
                    .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>())
                {
                    Some(col) => (0..col.len())
                        .map(|i| {
                            let id = col.value(i).try_into().map(u128::from_be_bytes);
                            Some(col.is_valid(i) && id.is_ok_and(|id| ids.binary_search(&id).is_ok()))
                        })
                        .collect(),
                    None => vec![true; b.num_rows()].into(),
                };
                keep.into()
            }),
        }
    }

    /// Spans that may match a search: service and operation equal, duration in range, and
    /// each tag's JSON text found in the span's or the resource's attributes.
    pub fn search(
        service: Option<String>,
        operation: Option<String>,
        tags: &[(String, String)],
        min_duration_ns: Option<i64>,
        max_duration_ns: Option<i64>,
    ) -> RowFilter {
        // The condition, for the segments to remember where nothing meets it.
        let key = lantern_events::condition_key(&format!(
            "spans {service:?} {operation:?} {tags:?} {min_duration_ns:?} {max_duration_ns:?}"
        ));
        let tags: Vec<Vec<Finder<'static>>> = tags
            .iter()
            .filter_map(|(k, v)| crate::model::compact::fragments(k, v))
            .map(|fs| fs.into_iter().map(|f| Finder::new(&f).into_owned()).collect())
            .collect();
        let test = move |b: &RecordBatch| -> Option<BooleanArray> {
            let text = |n: &str| b.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
            let (svc, name, attrs, res) = (text("service")?, text("name")?, text("attributes")?, text("resource")?);
            let dur = b.column_by_name("duration_ns")?.as_any().downcast_ref::<Int64Array>()?.clone();
            let keep = (0..b.num_rows()).map(|i| {
                let ok = service.as_deref().is_none_or(|s| svc.value(i) == s)
                    && operation.as_deref().is_none_or(|o| name.value(i) == o)
                    && min_duration_ns.is_none_or(|m| dur.value(i) >= m)
                    && max_duration_ns.is_none_or(|m| dur.value(i) <= m)
                    && tags.iter().all(|fs| {
                        fs.iter().any(|f| {
                            f.find(attrs.value(i).as_bytes()).is_some() || f.find(res.value(i).as_bytes()).is_some()
                        })
                    });
                Some(ok)
            });
            Some(keep.collect::<BooleanArray>())
        };
        RowFilter {
            dictionary: false,
            skip: None,
            key: Some(key),
            cheap: None,
            columns: ["service", "name", "attributes", "resource", "duration_ns"].map(String::from).into(),
            test: Arc::new(move |b: &RecordBatch, _| match test(b) {
                // Every row is tested (the time range is not part of the test).
                Some(keep) => {
                    let rows: Vec<bool> = keep.iter().map(|k| k == Some(true)).collect();
                    let sure = vec![false; rows.len()];
                    lantern_events::Tested { keep, met: Some(lantern_events::Met { rows, sure }) }
                }
                None => BooleanArray::from(vec![true; b.num_rows()]).into(),
            }),
        }
    }
}
