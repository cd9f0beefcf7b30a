//! Log events as an event-engine table. A segment's columns depend on its rows: the
//! fixed ones (`_time`, `_service`, `_level`, `_labels` as a JSON object, `_line` for
//! text events, `_keys` (a JSON event's field names in order), `_rest` (fields without
//! a column of their own, as a JSON object)) and one typed column per common field
//! (`.name`: string, integer, float or boolean), which Parquet's dictionaries and zstd
//! squeeze far better than the lines. Rows are ordered by service, then time.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use lantern_events::Table;

use crate::codec;
use crate::model::{LogRow, Stream, Value};

/// The logs table.
pub struct Logs;

/// Field columns per segment at most (the most common fields); the rest go to `_rest`.
const MAX_FIELD_COLUMNS: usize = 256;

/// Rows per Parquet page, and per filter of a row group's index keys.
const PAGE_ROWS: usize = 4096;

/// Column names.
pub mod col {
    /// Time (ns).
    pub const TIME: &str = "_time";
    /// The stream's service.
    pub const SERVICE: &str = "_service";
    /// The stream's level.
    pub const LEVEL: &str = "_level";
    /// The stream's labels, as a JSON object.
    pub const LABELS: &str = "_labels";
    /// The raw line of a text event.
    pub const LINE: &str = "_line";
    /// A JSON event's field names in order, as a JSON array.
    pub const KEYS: &str = "_keys";
    /// Fields without a column, as a JSON object.
    pub const REST: &str = "_rest";
    /// Whether a JSON event is written back compactly.
    pub const COMPACT: &str = "_compact";
    /// The column of a field.
    pub fn field(name: &str) -> String {
        format!(".{name}")
    }
}

fn fixed_fields() -> Vec<Field> {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    vec![
        Field::new(col::TIME, DataType::Int64, false),
        s(col::SERVICE, false),
        s(col::LEVEL, true),
        s(col::LABELS, false),
        s(col::LINE, true),
        s(col::KEYS, true),
        s(col::REST, true),
        Field::new(col::COMPACT, DataType::Boolean, true),
    ]
}

const NULL: u8 = 1;
const BOOL: u8 = 2;
const INT: u8 = 4;
const FLOAT: u8 = 8;
const STR: u8 = 16;
const JSON: u8 = 32;

fn type_bit(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOL,
        Value::Int(_) => INT,
        Value::Float(_) => FLOAT,
        Value::Str(_) => STR,
        Value::Json(_) => JSON,
    }
}

/// The column type of a field seen with these value types (and `ints` of its values
/// integers, `floats` not), if it gets one. Integers and floats mixed take the type
/// most values have: the others go to `_rest`, so each is written back as it came.
fn column_type(mask: u8, ints: usize, floats: usize) -> Option<DataType> {
    match mask & !NULL {
        BOOL => Some(DataType::Boolean),
        INT => Some(DataType::Int64),
        FLOAT => Some(DataType::Float64),
        m if m == INT | FLOAT && ints >= floats => Some(DataType::Int64),
        m if m == INT | FLOAT => Some(DataType::Float64),
        STR => Some(DataType::Utf8),
        _ => None,
    }
}

/// Marks a `_keys` entry (`\u{1}<style><name>`) whose value is the row time written in
/// a style of [`time_text`].
const DERIVED: char = '\u{1}';

/// Writes a time (ns) as loggers do: 0 RFC 3339 `Z` with as many fraction digits as
/// needed (0, 3, 6 or 9), 1 Python's `isoformat` in UTC with `Z` (6 digits unless
/// zero), 2 the same with `+00:00`, 3 six digits always with `Z`, 4 three digits with
/// `Z` (JavaScript), 5 nine digits with `Z`.
pub fn time_text(ns: i64, style: u8) -> String {
    use chrono::SecondsFormat;
    let Some(t) = chrono::DateTime::from_timestamp(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
    else {
        return String::new();
    };
    let micro_or_none = |z: &str| {
        if t.timestamp_subsec_micros() == 0 {
            format!("{}{z}", t.format("%Y-%m-%dT%H:%M:%S"))
        } else {
            format!("{}{z}", t.format("%Y-%m-%dT%H:%M:%S%.6f"))
        }
    };
    match style {
        0 => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        1 => micro_or_none("Z"),
        2 => micro_or_none("+00:00"),
        3 => t.to_rfc3339_opts(SecondsFormat::Micros, true),
        4 => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        _ => t.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// Something worked out once per field name, looked up by the name's pointer (names
/// are shared between events). Events mostly have the names of the one before in the
/// same places, so the name at each place last time is checked before the map.
struct ByName<V> {
    map: HashMap<*const u8, V, foldhash::fast::RandomState>,
    last: Vec<(*const u8, V)>,
}

impl<V> Default for ByName<V> {
    fn default() -> Self {
        ByName { map: HashMap::default(), last: Vec::new() }
    }
}

impl<V: Copy> ByName<V> {
    /// The value of name `k` at place `i` of an event; `make` gives it the first time.
    fn get(&mut self, i: usize, k: &Arc<str>, make: impl FnOnce() -> V) -> V {
        let p = k.as_ptr();
        if let Some(&(q, v)) = self.last.get(i) {
            if q == p {
                return v;
            }
        }
        let v = *self.map.entry(p).or_insert_with(make);
        if i < self.last.len() {
            self.last[i] = (p, v);
        } else {
            self.last.push((p, v));
        }
        v
    }
}

/// Whether a field may be derived from the row: a time field (by its name) or a level.
#[derive(Clone, Copy)]
enum Role {
    Time,
    Level,
    Other,
}

impl Role {
    fn of(k: &str) -> Role {
        if crate::jsonl::TIME_KEYS.contains(&k) {
            Role::Time
        } else if crate::jsonl::LEVEL_KEYS.contains(&k) {
            Role::Level
        } else {
            Role::Other
        }
    }
}

/// The style in which a time field's text is the row time, if it is one.
fn time_style(v: &Value, time: i64) -> Option<u8> {
    let Value::Str(s) = v else { return None };
    if s.len() < 20 {
        return None;
    }
    let t = chrono::DateTime::from_timestamp(time.div_euclid(1_000_000_000), time.rem_euclid(1_000_000_000) as u32)?;
    // Four-digit years, the usual case, told without formatting: the seconds, then the
    // fraction and zone each style writes.
    use chrono::{Datelike, Timelike};
    if !(0..=9999).contains(&t.year()) {
        return (0..6u8).find(|&style| *time_text(time, style) == **s);
    }
    let mut head = [0u8; 19];
    let mut put = |at: usize, n: u32, width: usize| {
        let mut n = n;
        for i in (0..width).rev() {
            head[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, t.year() as u32, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    head[4] = b'-';
    head[7] = b'-';
    head[10] = b'T';
    head[13] = b':';
    head[16] = b':';
    let (h, rest) = s.as_bytes().split_at(19);
    if *h != head {
        return None;
    }
    let ns = t.nanosecond();
    let mut tail = [0u8; 16];
    let tail_of = |digits: usize, zone: &[u8], tail: &mut [u8; 16]| -> usize {
        let mut at = 0;
        if digits > 0 {
            tail[0] = b'.';
            let mut n = ns / 10u32.pow(9 - digits as u32);
            for i in (0..digits).rev() {
                tail[1 + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
            at = 1 + digits;
        }
        tail[at..at + zone.len()].copy_from_slice(zone);
        at + zone.len()
    };
    let auto = if ns == 0 {
        0
    } else if ns % 1_000_000 == 0 {
        3
    } else if ns % 1_000 == 0 {
        6
    } else {
        9
    };
    let micro_or_none = if ns / 1_000 == 0 { 0 } else { 6 };
    let styles: [(usize, &[u8]); 6] =
        [(auto, b"Z"), (micro_or_none, b"Z"), (micro_or_none, b"+00:00"), (6, b"Z"), (3, b"Z"), (9, b"Z")];
    (0..6u8).find(|&style| {
        let (digits, zone) = styles[style as usize];
        let n = tail_of(digits, zone, &mut tail);
        tail[..n] == *rest
    })
}

/// The style (9) of a level field whose text is the stream's level.
const LEVEL_STYLE: u8 = 9;

fn level_style(v: &Value, level: &str) -> Option<u8> {
    let Value::Str(s) = v else { return None };
    (!level.is_empty() && **s == *level).then_some(LEVEL_STYLE)
}

/// A `_keys` entry: the field name, and the style if its value is the row time.
fn derived_key(s: &str) -> (Arc<str>, Option<u8>) {
    let mut chars = s.chars();
    if chars.next() == Some(DERIVED) {
        if let Some(d) = chars.next().and_then(|c| c.to_digit(10)) {
            return (Arc::from(chars.as_str()), Some(d as u8));
        }
    }
    (Arc::from(s), None)
}

fn labels_json(s: &Stream) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in s.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::model::write_json_str(k, &mut out);
        out.push(':');
        crate::model::write_json_str(v, &mut out);
    }
    out.push('}');
    out
}

fn column<'a, A: 'static>(b: &'a RecordBatch, name: &str) -> Option<&'a A> {
    b.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<A>())
}

/// A field column of a batch, typed.
enum FieldCol<'a> {
    Bool(&'a BooleanArray),
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Str(&'a StringArray),
}

impl FieldCol<'_> {
    fn get(&self, i: usize) -> Value {
        match self {
            FieldCol::Bool(a) if a.is_valid(i) => Value::Bool(a.value(i)),
            FieldCol::Int(a) if a.is_valid(i) => Value::Int(a.value(i)),
            FieldCol::Float(a) if a.is_valid(i) => Value::Float(a.value(i)),
            FieldCol::Str(a) if a.is_valid(i) => Value::Str(a.value(i).into()),
            _ => Value::Null,
        }
    }
}

/// The field columns of a batch, by field name.
fn field_columns(b: &RecordBatch) -> HashMap<&str, FieldCol<'_>> {
    let schema = b.schema_ref();
    let mut out = HashMap::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let Some(name) = f.name().strip_prefix('.') else { continue };
        let c = b.column(i).as_any();
        let fc = if let Some(a) = c.downcast_ref::<BooleanArray>() {
            FieldCol::Bool(a)
        } else if let Some(a) = c.downcast_ref::<Int64Array>() {
            FieldCol::Int(a)
        } else if let Some(a) = c.downcast_ref::<Float64Array>() {
            FieldCol::Float(a)
        } else if let Some(a) = c.downcast_ref::<StringArray>() {
            FieldCol::Str(a)
        } else {
            continue;
        };
        out.insert(name, fc);
    }
    out
}

impl Table for Logs {
    type Row = LogRow;
    const NAME: &'static str = "logs";
    const SIGNAL: &'static str = lantern_core::selfmon::signal::LOGS;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(fixed_fields()))
    }

    fn segment_schema(rows: &[&LogRow]) -> SchemaRef {
        // By name pointer first (names are shared between events), then merged by name.
        // Per name: rows, value types seen, integers, floats.
        type Seen<'a> = (&'a str, usize, u8, usize, usize);
        let mut slots: ByName<usize> = ByName::default();
        let mut entries: Vec<Seen> = Vec::new();
        for r in rows {
            for (i, (k, v)) in r.fields.iter().enumerate() {
                let slot = slots.get(i, k, || {
                    entries.push((&**k, 0, 0, 0, 0));
                    entries.len() - 1
                });
                let e = &mut entries[slot];
                e.1 += 1;
                e.2 |= type_bit(v);
                match v {
                    Value::Int(_) => e.3 += 1,
                    Value::Float(_) => e.4 += 1,
                    _ => {}
                }
            }
        }
        let mut seen: HashMap<&str, (usize, u8, usize, usize)> = HashMap::new();
        for (k, n, mask, ints, floats) in entries {
            let e = seen.entry(k).or_default();
            e.0 += n;
            e.1 |= mask;
            e.2 += ints;
            e.3 += floats;
        }
        let mut cols: Vec<(&str, usize, DataType)> = seen
            .into_iter()
            .filter_map(|(k, (n, mask, ints, floats))| column_type(mask, ints, floats).map(|t| (k, n, t)))
            .collect();
        cols.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        cols.truncate(MAX_FIELD_COLUMNS);
        cols.sort_by(|a, b| a.0.cmp(b.0));
        let mut fields = fixed_fields();
        fields.extend(cols.into_iter().map(|(k, _, t)| Field::new(col::field(k), t, true)));
        Arc::new(Schema::new(fields))
    }

    /// Times delta-encoded; fields with mostly distinct values
    /// (request IDs, durations) without dictionaries, which would only add indices.
    fn writer_props(
        mut props: lantern_events::parquet::file::properties::WriterPropertiesBuilder,
        schema: &SchemaRef,
        rows: &[&LogRow],
    ) -> lantern_events::parquet::file::properties::WriterPropertiesBuilder {
        use lantern_events::parquet::basic::Encoding;
        use lantern_events::parquet::schema::types::ColumnPath;
        let path = |n: &str| ColumnPath::new(vec![n.to_string()]);
        // zstd 3: level 6 saves about 1.5% of disk for a third more sealing CPU, and
        // the columns are well under `zstd -3` of the lines already.
        let zstd = lantern_events::parquet::basic::ZstdLevel::try_new(3).unwrap_or_default();
        // Pages of 4096 rows: a page is decompressed whole, and reading a few rows of a
        // row group (a page of results, a needle's rows) skips the pages around them by
        // their headers. Filters read the whole column either way. Smaller pages cost
        // about 2% of disk; larger ones made a point lookup decompress every column's
        // whole row group.
        props = props
            .set_compression(lantern_events::parquet::basic::Compression::ZSTD(zstd))
            .set_data_page_size_limit(8 << 20)
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_column_dictionary_enabled(path(col::TIME), false)
            .set_column_encoding(path(col::TIME), Encoding::DELTA_BINARY_PACKED);
        // Distinct values of each field in a sample of rows spread over the segment.
        let sample: Vec<&LogRow> = rows.iter().step_by((rows.len() / 2048).max(1)).copied().collect();
        let mut distinct: HashMap<&str, std::collections::HashSet<String>> = HashMap::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for r in &sample {
            for (k, v) in &r.fields {
                if matches!(v, Value::Str(_) | Value::Int(_)) {
                    *seen.entry(&**k).or_default() += 1;
                    distinct.entry(&**k).or_default().insert(v.text().into_owned());
                }
            }
        }
        // Statistics: only their null counts are read (to skip a row group's column of
        // nothing but nulls), so columns that are never null in a row group go without
        // (their min and max would cost a comparison per value).
        use lantern_events::parquet::file::properties::EnabledStatistics;
        for c in [col::SERVICE, col::LABELS, col::KEYS] {
            props = props.set_column_statistics_enabled(path(c), EnabledStatistics::None);
        }
        let mut present: HashMap<&str, usize> = HashMap::new();
        for r in &sample {
            for (k, _) in &r.fields {
                *present.entry(&**k).or_default() += 1;
            }
        }
        for f in schema.fields().iter() {
            let Some(name) = f.name().strip_prefix('.') else { continue };
            // Time and level fields are often the row's time or level, stored as null and
            // written back: they keep their null counts.
            if sample.len() >= 64 && present.get(name) == Some(&sample.len()) && matches!(Role::of(name), Role::Other) {
                props = props.set_column_statistics_enabled(path(f.name()), EnabledStatistics::None);
            }
            match f.data_type() {
                DataType::Float64 => {
                    props = props.set_column_dictionary_enabled(path(f.name()), false);
                }
                DataType::Utf8 | DataType::Int64 => {
                    let n = seen.get(name).copied().unwrap_or(0);
                    let d = distinct.get(name).map_or(0, |s| s.len());
                    if n >= 64 && d * 2 > n {
                        props = props.set_column_dictionary_enabled(path(f.name()), false);
                    }
                }
                _ => {}
            }
        }
        props
    }

    fn time(r: &LogRow) -> i64 {
        r.time
    }

    /// One service's events together, each level's apart, by time within them.
    fn order(a: &LogRow, b: &LogRow) -> std::cmp::Ordering {
        if Arc::ptr_eq(&a.stream, &b.stream) {
            return std::cmp::Ordering::Equal;
        }
        // By level too: a level's rows of a service are then pages of their own, which
        // a search for that level reads alone (by the pages' filters).
        a.stream.service.cmp(&b.stream.service).then_with(|| a.stream.level.cmp(&b.stream.level))
    }

    /// Rows of one stream are equal by [`Logs::order`].
    fn order_class(r: &LogRow) -> Option<usize> {
        Some(Arc::as_ptr(&r.stream) as usize)
    }

    fn keys(r: &LogRow, out: &mut Vec<u64>) {
        crate::tokens::row_keys(r, out)
    }

    /// About 0.3% false positives (with 7 probes), so an ID sought in many pages reads
    /// few besides its own; the filters take about a seventh of the segments' bytes
    /// (most keys are request IDs, one per line).
    const BLOOM_BITS_PER_KEY: usize = 12;
    const KEYS_VERSION: u32 = crate::tokens::KEYS_VERSION;
    /// The rows of a Parquet page (see `writer_props`).
    const FILTER_PAGE_ROWS: usize = PAGE_ROWS;

    fn group_keys(rows: &[&LogRow], out: &mut Vec<u64>) {
        crate::tokens::group_keys(rows, out)
    }

    fn encode_log(rows: &[LogRow], out: &mut Vec<u8>) {
        codec::encode_rows(rows, out)
    }

    fn decode_log(b: &[u8]) -> Option<Vec<LogRow>> {
        codec::decode_payload(b)
    }

    fn to_batch(schema: &SchemaRef, rows: &[&LogRow]) -> Result<RecordBatch, String> {
        let n = rows.len();
        let mut time = Int64Builder::with_capacity(n);
        let mut service = StringBuilder::with_capacity(n, n * 8);
        let mut level = StringBuilder::with_capacity(n, n * 4);
        let mut labels = StringBuilder::with_capacity(n, n * 32);
        let mut line = StringBuilder::new();
        let mut keys = StringBuilder::new();
        let mut rest = StringBuilder::new();
        let mut compact = BooleanBuilder::with_capacity(n);
        enum B {
            Bool(BooleanBuilder),
            Int(Int64Builder),
            Float(Float64Builder),
            Str(StringBuilder),
        }
        let mut index: HashMap<&str, usize, foldhash::fast::RandomState> = HashMap::default();
        // Each name's column and role.
        let mut by_name: ByName<(Option<usize>, Role)> = ByName::default();
        let mut builders: Vec<B> = Vec::new();
        for f in schema.fields().iter() {
            let Some(name) = f.name().strip_prefix('.') else { continue };
            index.insert(name, builders.len());
            builders.push(match f.data_type() {
                DataType::Boolean => B::Bool(BooleanBuilder::with_capacity(n)),
                DataType::Int64 => B::Int(Int64Builder::with_capacity(n)),
                DataType::Float64 => B::Float(Float64Builder::with_capacity(n)),
                _ => B::Str(StringBuilder::with_capacity(n, n * 8)),
            });
        }
        // Per stream: its labels as JSON, and whether a label gives its level.
        let mut labels_memo: HashMap<*const Stream, (String, bool)> = HashMap::new();
        let mut derived = String::new();
        // This event's names (by pointer) with their time styles, and the last ones written
        // to `keys_text`.
        let mut sig: Vec<(*const u8, Option<u8>)> = Vec::new();
        let mut last_sig: Vec<(*const u8, Option<u8>)> = Vec::new();
        let mut filled = vec![false; builders.len()];
        let mut keys_text = String::new();
        let mut rest_text = String::new();
        for r in rows {
            time.append_value(r.time);
            service.append_value(&r.stream.service);
            // The level is in `_labels` when a label names it: stored once.
            let (lj, level_labelled) = labels_memo.entry(Arc::as_ptr(&r.stream)).or_insert_with(|| {
                (labels_json(&r.stream), r.stream.label("level").is_some_and(|l| l == &*r.stream.level))
            });
            if *level_labelled {
                level.append_null();
            } else {
                level.append_value(&r.stream.level);
            }
            labels.append_value(lj);
            line.append_option(r.line.as_deref());
            compact.append_option((r.line.is_none() && r.compact).then_some(true));
            filled.iter_mut().for_each(|f| *f = false);
            if r.fields.is_empty() && r.line.is_some() {
                keys.append_null();
                rest.append_null();
            } else {
                rest_text.clear();
                sig.clear();
                for (i, (k, v)) in r.fields.iter().enumerate() {
                    // Names are shared between events: look a name up by its pointer,
                    // by its text only the first time.
                    let (col, role) = by_name.get(i, k, || (index.get(&**k).copied(), Role::of(k)));
                    // A time field that `_time` gives back exactly, or a level that
                    // `_level` does, is not stored again.
                    let style = match role {
                        Role::Time => time_style(v, r.time),
                        Role::Level => level_style(v, &r.stream.level),
                        Role::Other => None,
                    };
                    sig.push((k.as_ptr(), style));
                    if style.is_some() {
                        continue;
                    }
                    let slot = col.filter(|&c| !filled[c]);
                    match (slot.map(|c| (c, &mut builders[c])), v) {
                        (Some((_, B::Bool(b))), Value::Bool(x)) => b.append_value(*x),
                        (Some((_, B::Int(b))), Value::Int(x)) => b.append_value(*x),
                        (Some((_, B::Float(b))), Value::Float(x)) => b.append_value(*x),
                        (Some((_, B::Str(b))), Value::Str(x)) => b.append_value(x),
                        (Some(_), Value::Null) => {}
                        _ => {
                            rest_text.push(if rest_text.is_empty() { '{' } else { ',' });
                            crate::model::write_json_str(k, &mut rest_text);
                            rest_text.push(':');
                            v.write_json(&mut rest_text);
                            continue;
                        }
                    }
                    if let Some(c) = slot {
                        filled[c] = true;
                    }
                }
                // Events mostly have the keys of the one before: written once.
                if sig != last_sig || keys_text.is_empty() {
                    keys_text.clear();
                    keys_text.push('[');
                    for (i, ((k, _), (_, style))) in r.fields.iter().zip(&sig).enumerate() {
                        if i > 0 {
                            keys_text.push(',');
                        }
                        match style {
                            Some(style) => {
                                derived.clear();
                                derived.push(DERIVED);
                                derived.push(char::from(b'0' + style));
                                derived.push_str(k);
                                crate::model::write_json_str(&derived, &mut keys_text);
                            }
                            None => crate::model::write_json_str(k, &mut keys_text),
                        }
                    }
                    keys_text.push(']');
                    std::mem::swap(&mut sig, &mut last_sig);
                }
                keys.append_value(&keys_text);
                if rest_text.is_empty() {
                    rest.append_null();
                } else {
                    rest_text.push('}');
                    rest.append_value(&rest_text);
                }
            }
            for (c, b) in builders.iter_mut().enumerate() {
                if !filled[c] {
                    match b {
                        B::Bool(b) => b.append_null(),
                        B::Int(b) => b.append_null(),
                        B::Float(b) => b.append_null(),
                        B::Str(b) => b.append_null(),
                    }
                }
            }
        }
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(time.finish()),
            Arc::new(service.finish()),
            Arc::new(level.finish()),
            Arc::new(labels.finish()),
            Arc::new(line.finish()),
            Arc::new(keys.finish()),
            Arc::new(rest.finish()),
            Arc::new(compact.finish()),
        ];
        for b in builders {
            cols.push(match b {
                B::Bool(mut b) => Arc::new(b.finish()),
                B::Int(mut b) => Arc::new(b.finish()),
                B::Float(mut b) => Arc::new(b.finish()),
                B::Str(mut b) => Arc::new(b.finish()),
            });
        }
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<LogRow>, String> {
        let missing = |n: &str| format!("column {n} is missing or has the wrong type");
        let time = column::<Int64Array>(b, col::TIME).ok_or_else(|| missing(col::TIME))?;
        let labels = column::<StringArray>(b, col::LABELS).ok_or_else(|| missing(col::LABELS))?;
        let levels = column::<StringArray>(b, col::LEVEL).ok_or_else(|| missing(col::LEVEL))?;
        let compact = column::<BooleanArray>(b, col::COMPACT);
        let line = column::<StringArray>(b, col::LINE);
        let keys = column::<StringArray>(b, col::KEYS);
        let rest = column::<StringArray>(b, col::REST);
        let fields = field_columns(b);
        let mut streams: HashMap<(&str, &str), Arc<Stream>> = HashMap::new();
        // Field names of a `_keys` value, each with its time style if derived.
        type Order = Arc<[(Arc<str>, Option<u8>)]>;
        let mut names: HashMap<&str, Order> = HashMap::new();
        let mut out = Vec::with_capacity(b.num_rows());
        for i in 0..b.num_rows() {
            let (lt, level) = (labels.value(i), levels.value(i));
            let stream = match streams.get(&(lt, level)) {
                Some(s) => s.clone(),
                None => {
                    let m: Vec<(String, String)> =
                        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(lt)
                            .map_err(|e| format!("labels {lt:?}: {e}"))?
                            .into_iter()
                            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                            .collect();
                    let s = Arc::new(Stream::with_level(m, level));
                    streams.insert((lt, level), s.clone());
                    s
                }
            };
            let text = line.filter(|l| l.is_valid(i)).map(|l| Box::<str>::from(l.value(i)));
            let mut row_fields = Vec::new();
            if let Some(kt) = keys.filter(|k| k.is_valid(i)).map(|k| k.value(i)) {
                let order = match names.get(kt) {
                    Some(o) => o.clone(),
                    None => {
                        let v: Vec<String> = serde_json::from_str(kt).map_err(|e| format!("keys {kt:?}: {e}"))?;
                        let o: Order = v.iter().map(|s| derived_key(s)).collect();
                        names.insert(kt, o.clone());
                        o
                    }
                };
                let rest_map: Option<serde_json::Map<String, serde_json::Value>> = rest
                    .filter(|r| r.is_valid(i))
                    .map(|r| serde_json::from_str(r.value(i)).map_err(|e| format!("rest fields: {e}")))
                    .transpose()?;
                row_fields.reserve(order.len());
                for (k, derived) in order.iter() {
                    if let Some(style) = derived {
                        let v = if *style == LEVEL_STYLE {
                            Value::Str(stream.level.as_ref().into())
                        } else {
                            Value::Str(time_text(time.value(i), *style).into())
                        };
                        row_fields.push((k.clone(), v));
                        continue;
                    }
                    let v = match rest_map.as_ref().and_then(|m| m.get(&**k)) {
                        Some(v) => Value::from_json(v),
                        None => fields.get(&**k).map_or(Value::Null, |c| c.get(i)),
                    };
                    row_fields.push((k.clone(), v));
                }
            }
            let compact = compact.is_some_and(|c| c.is_valid(i) && c.value(i));
            out.push(LogRow { time: time.value(i), stream, line: text, fields: row_fields, compact });
        }
        Ok(out)
    }

    /// Rows per stream: `{"streams": [[labels as JSON, level when no label gives it,
    /// rows], …]}`, so counting queries take a group lying wholly in their range
    /// without reading it.
    fn summarize_group(rows: &[&LogRow]) -> Option<serde_json::Value> {
        let mut counts: HashMap<*const Stream, (&Stream, u64)> = HashMap::new();
        for r in rows {
            counts.entry(Arc::as_ptr(&r.stream)).or_insert((&r.stream, 0)).1 += 1;
        }
        let mut by_text: std::collections::BTreeMap<(String, String), u64> = std::collections::BTreeMap::new();
        for (s, n) in counts.into_values() {
            let level = if s.label("level").is_some() { String::new() } else { s.level.to_string() };
            *by_text.entry((labels_json(s), level)).or_default() += n;
        }
        let streams: Vec<serde_json::Value> =
            by_text.into_iter().map(|((l, lv), n)| serde_json::json!([l, lv, n])).collect();
        Some(serde_json::json!({ "streams": streams }))
    }

    /// The segment's streams (label sets as JSON objects), for label and series lookups.
    fn summarize(rows: &[&LogRow]) -> serde_json::Value {
        let mut seen: HashMap<*const Stream, ()> = HashMap::new();
        let mut streams: Vec<String> = Vec::new();
        for r in rows {
            if seen.insert(Arc::as_ptr(&r.stream), ()).is_none() {
                streams.push(labels_json(&r.stream));
            }
        }
        streams.sort();
        streams.dedup();
        serde_json::json!({ "streams": streams })
    }
}

/// A stream from its labels as `_labels` and summaries hold them (a JSON object).
pub fn stream_of_json(text: &str) -> Option<Stream> {
    let m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    Some(Stream::new(m.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The style found without formatting is the first style whose text is the field's.
    #[test]
    fn time_styles_are_told_as_formatting_tells_them() {
        let base = 1_765_000_000_123_456_789i64;
        let mut times = vec![0, -1, base, i64::MAX - 2_000_000_000, i64::MIN + 2_000_000_000];
        for frac in [0, 1, 999, 1_000, 120_000, 123_000, 1_000_000, 5_000_000, 123_456_000, 123_456_789, 999_999_999] {
            times.push(base - base.rem_euclid(1_000_000_000) + frac);
        }
        for &t in &times {
            for style in 0..6u8 {
                for shift in [0i64, 1, 1_000, 1_000_000_000] {
                    let text = time_text(t + shift, style);
                    let want = (0..6u8).find(|&st| time_text(t, st) == text).filter(|_| text.len() >= 20);
                    assert_eq!(time_style(&Value::Str(text.as_str().into()), t), want, "{t} {style} {shift} {text}");
                }
            }
        }
        assert_eq!(time_style(&Value::Str("2025-12-06T05:46:40.123456789Z".into()), base), Some(0));
        assert_eq!(time_style(&Value::Str("2025-12-06 05:46:40.123456789Z".into()), base), None);
        assert_eq!(time_style(&Value::Int(base), base), None);
    }
}
