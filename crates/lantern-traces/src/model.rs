//! Spans as Lantern keeps them, and their making from OTLP: every field of the OTLP
//! span is kept; resource and scope are shared by the spans of one request.

use std::sync::Arc;

use lantern_otlp_wire::traces::{Kv, ResourceSpans, Value};
use serde::{Deserialize, Serialize};

/// An attribute value, typed as OTLP types it (and spelled as OTLP/JSON spells it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrValue {
    /// A string.
    StringValue(String),
    /// A boolean.
    BoolValue(bool),
    /// A 64-bit integer.
    IntValue(i64),
    /// A double.
    DoubleValue(f64),
    /// Bytes.
    BytesValue(Vec<u8>),
    /// A list.
    ArrayValue(Vec<AttrValue>),
    /// A nested map.
    KvlistValue(Vec<Attr>),
}

impl AttrValue {
    /// The value as text (for tag filters and labels): strings as they are, numbers and
    /// booleans as written, bytes in hex, lists and maps as JSON.
    pub fn text(&self) -> String {
        match self {
            AttrValue::StringValue(s) => s.clone(),
            AttrValue::BoolValue(b) => b.to_string(),
            AttrValue::IntValue(i) => i.to_string(),
            AttrValue::DoubleValue(d) => d.to_string(),
            AttrValue::BytesValue(b) => hex(b),
            AttrValue::ArrayValue(_) | AttrValue::KvlistValue(_) => self.json().to_string(),
        }
    }

    /// The value as plain JSON.
    pub fn json(&self) -> serde_json::Value {
        match self {
            AttrValue::StringValue(s) => s.clone().into(),
            AttrValue::BoolValue(b) => (*b).into(),
            AttrValue::IntValue(i) => (*i).into(),
            AttrValue::DoubleValue(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, Into::into),
            AttrValue::BytesValue(b) => hex(b).into(),
            AttrValue::ArrayValue(a) => a.iter().map(AttrValue::json).collect::<Vec<_>>().into(),
            AttrValue::KvlistValue(kv) => {
                serde_json::Value::Object(kv.iter().map(|a| (a.key.clone(), a.value.json())).collect())
            }
        }
    }
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attr {
    /// The key.
    pub key: String,
    /// The value.
    pub value: AttrValue,
}

/// Where spans come from: the resource and the instrumentation scope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Origin {
    /// `service.name` (`unknown_service` when missing, as the SDKs say).
    pub service: String,
    /// The resource's attributes (`service.name` included).
    pub resource: Vec<Attr>,
    /// The scope's name.
    pub scope_name: String,
    /// The scope's version.
    pub scope_version: String,
    /// The scope's attributes.
    pub scope_attributes: Vec<Attr>,
}

/// A span event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When (ns since the epoch).
    pub time_ns: i64,
    /// Its name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<Attr>,
    /// Attributes the SDK dropped.
    #[serde(default)]
    pub dropped_attributes: u32,
}

/// A link to another span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The linked trace, in hex.
    pub trace_id: String,
    /// The linked span, in hex.
    pub span_id: String,
    /// W3C trace state.
    #[serde(default)]
    pub trace_state: String,
    /// Attributes.
    #[serde(default)]
    pub attributes: Vec<Attr>,
    /// Attributes the SDK dropped.
    #[serde(default)]
    pub dropped_attributes: u32,
    /// Flags.
    #[serde(default)]
    pub flags: u32,
}

/// Span kinds, as OTLP numbers them.
pub const KINDS: [&str; 6] = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/// A stored span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Trace ID.
    pub trace_id: [u8; 16],
    /// Span ID.
    pub span_id: [u8; 8],
    /// Parent span ID (`None` for a root).
    pub parent_span_id: Option<[u8; 8]>,
    /// W3C trace state.
    pub trace_state: String,
    /// Flags.
    pub flags: u32,
    /// Operation name.
    pub name: String,
    /// Kind, numbered as [`KINDS`].
    pub kind: i32,
    /// Start (ns since the epoch).
    pub start_ns: i64,
    /// End (ns since the epoch).
    pub end_ns: i64,
    /// Status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Attributes.
    pub attributes: Vec<Attr>,
    /// Attributes the SDK dropped.
    pub dropped_attributes: u32,
    /// Events.
    pub events: Vec<Event>,
    /// Events the SDK dropped.
    pub dropped_events: u32,
    /// Links.
    pub links: Vec<Link>,
    /// Links the SDK dropped.
    pub dropped_links: u32,
    /// Resource and scope.
    pub origin: Arc<Origin>,
}

impl Span {
    /// Duration in nanoseconds (never negative).
    pub fn duration_ns(&self) -> i64 {
        (self.end_ns - self.start_ns).max(0)
    }

    /// The span's attribute `key`, if any.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|a| a.key == key).map(|a| &a.value)
    }
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// Bytes from hex (either case); `None` if not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A trace ID from its hex form as users write it: up to 32 hex digits (shorter ones
/// are left-padded with zeros, as Jaeger accepts 16-digit IDs).
pub fn parse_trace_id(s: &str) -> Option<[u8; 16]> {
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{s:0>32}");
    unhex(&padded)?.try_into().ok()
}

fn attr_value(v: &Value) -> Option<AttrValue> {
    Some(match *v {
        Value::Empty => return None,
        Value::Str(s) => AttrValue::StringValue(s.to_string()),
        Value::Bool(b) => AttrValue::BoolValue(b),
        Value::Int(i) => AttrValue::IntValue(i),
        Value::Double(d) => AttrValue::DoubleValue(d),
        Value::Bytes(b) => AttrValue::BytesValue(b.to_vec()),
        Value::Array(a) => AttrValue::ArrayValue(a.iter().filter_map(attr_value).collect()),
        Value::KvList(kv) => AttrValue::KvlistValue(attrs(kv)),
    })
}

/// Attributes from OTLP key-values (those without a value are left out).
pub fn attrs(kv: &[Kv]) -> Vec<Attr> {
    // Sized up front: a collected `filter_map` would grow the vector twice or three times.
    let mut out = Vec::with_capacity(kv.len());
    out.extend(kv.iter().filter_map(|a| Some(Attr { key: a.key.to_string(), value: attr_value(&a.value)? })));
    out
}

/// What a request's conversion gives: the spans, and the ones refused with reasons.
#[derive(Debug, Default)]
pub struct Converted {
    /// Valid spans.
    pub spans: Vec<Span>,
    /// Spans refused.
    pub rejected: usize,
    /// Why (the first few).
    pub errors: Vec<String>,
}

fn id<const N: usize>(b: &[u8], what: &str) -> Result<[u8; N], String> {
    let id: [u8; N] = b.try_into().map_err(|_| format!("{what} is {} bytes, want {N}", b.len()))?;
    if id == [0; N] {
        return Err(format!("{what} is all zeros"));
    }
    Ok(id)
}

/// Spans of a decoded request; spans with invalid IDs are refused, the rest kept.
pub fn convert(req: &[ResourceSpans]) -> Converted {
    let mut out = Converted::default();
    out.spans.reserve(req.iter().flat_map(|rs| rs.scopes.iter()).map(|ss| ss.items.len()).sum());
    for rs in req {
        let resource = attrs(rs.resource);
        let service = resource
            .iter()
            .find(|a| a.key == "service.name")
            .map(|a| a.value.text())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown_service".to_string());
        for ss in rs.scopes {
            let scope = ss.scope.unwrap_or_default();
            let origin = Arc::new(Origin {
                service: service.clone(),
                resource: resource.clone(),
                scope_name: scope.name.to_string(),
                scope_version: scope.version.to_string(),
                scope_attributes: attrs(scope.attributes),
            });
            for s in ss.items {
                let ids = (|| -> Result<_, String> {
                    let trace_id = id::<16>(s.trace_id, "trace_id")?;
                    let span_id = id::<8>(s.span_id, "span_id")?;
                    let parent = if s.parent_span_id.is_empty() {
                        None
                    } else {
                        Some(id::<8>(s.parent_span_id, "parent_span_id")?)
                    };
                    Ok((trace_id, span_id, parent))
                })();
                let (trace_id, span_id, parent_span_id) = match ids {
                    Ok(v) => v,
                    Err(e) => {
                        out.rejected += 1;
                        if out.errors.len() < 5 {
                            out.errors.push(format!("span {:?}: {e}", s.name));
                        }
                        continue;
                    }
                };
                out.spans.push(Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    trace_state: s.trace_state.to_string(),
                    flags: s.flags,
                    name: s.name.to_string(),
                    kind: s.kind.clamp(0, 5),
                    start_ns: s.start_time_unix_nano.min(i64::MAX as u64) as i64,
                    end_ns: s.end_time_unix_nano.min(i64::MAX as u64) as i64,
                    status_code: s.status_code.clamp(0, 2),
                    status_message: s.status_message.to_string(),
                    attributes: attrs(s.attributes),
                    dropped_attributes: s.dropped_attributes_count,
                    events: s
                        .events
                        .iter()
                        .map(|e| Event {
                            time_ns: e.time_unix_nano.min(i64::MAX as u64) as i64,
                            name: e.name.to_string(),
                            attributes: attrs(e.attributes),
                            dropped_attributes: e.dropped_attributes_count,
                        })
                        .collect(),
                    dropped_events: s.dropped_events_count,
                    links: s
                        .links
                        .iter()
                        .map(|l| Link {
                            trace_id: hex(l.trace_id),
                            span_id: hex(l.span_id),
                            trace_state: l.trace_state.to_string(),
                            attributes: attrs(l.attributes),
                            dropped_attributes: l.dropped_attributes_count,
                            flags: l.flags,
                        })
                        .collect(),
                    dropped_links: s.dropped_links_count,
                    origin: origin.clone(),
                });
            }
        }
    }
    out
}

/// Attributes as one JSON object, `{"http.method":"GET","http.status_code":200}`: half
/// the size of OTLP/JSON's key-value lists, so sealed spans scan faster, and still read
/// by any JSON tool. Strings, booleans and integers are plain JSON; a double is written
/// with a fraction or exponent (`1.0`), so it reads back as a double; what plain JSON
/// cannot tell apart is tagged as OTLP/JSON tags it: `{"bytesValue":"<hex>"}`,
/// `{"arrayValue":[…]}`, `{"kvlistValue":{…}}`, `{"doubleValue":"NaN"}`. Key order and
/// repeated keys are kept.
pub mod compact {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde_json::{json, Value};

    use super::{hex, unhex, Attr, AttrValue};

    fn to_json(v: &AttrValue) -> Value {
        match v {
            AttrValue::StringValue(s) => Value::String(s.clone()),
            AttrValue::BoolValue(b) => Value::Bool(*b),
            AttrValue::IntValue(i) => Value::from(*i),
            AttrValue::DoubleValue(d) if d.is_finite() => {
                // serde_json writes 1.0 as `1.0`: it reads back as a double.
                serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
            }
            AttrValue::DoubleValue(d) => {
                let text = if d.is_nan() {
                    "NaN"
                } else if *d > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                json!({ "doubleValue": text })
            }
            AttrValue::BytesValue(b) => json!({ "bytesValue": hex(b) }),
            AttrValue::ArrayValue(a) => json!({ "arrayValue": a.iter().map(to_json).collect::<Vec<_>>() }),
            AttrValue::KvlistValue(kv) => {
                let mut m = serde_json::Map::new();
                for a in kv {
                    m.insert(a.key.clone(), to_json(&a.value));
                }
                json!({ "kvlistValue": m })
            }
        }
    }

    fn from_json(v: Value) -> Option<AttrValue> {
        Some(match v {
            Value::Null => return None,
            Value::String(s) => AttrValue::StringValue(s),
            Value::Bool(b) => AttrValue::BoolValue(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::IntValue(i),
                None => AttrValue::DoubleValue(n.as_f64()?),
            },
            Value::Array(a) => AttrValue::ArrayValue(a.into_iter().filter_map(from_json).collect()),
            Value::Object(mut m) => {
                let (tag, inner) = m.iter_mut().next().map(|(k, v)| (k.clone(), v.take()))?;
                match (tag.as_str(), inner) {
                    ("bytesValue", Value::String(h)) => AttrValue::BytesValue(unhex(&h)?),
                    ("arrayValue", Value::Array(a)) => {
                        AttrValue::ArrayValue(a.into_iter().filter_map(from_json).collect())
                    }
                    ("kvlistValue", Value::Object(kv)) => AttrValue::KvlistValue(
                        kv.into_iter().filter_map(|(key, v)| Some(Attr { key, value: from_json(v)? })).collect(),
                    ),
                    ("doubleValue", Value::String(s)) => AttrValue::DoubleValue(match s.as_str() {
                        "Infinity" => f64::INFINITY,
                        "-Infinity" => f64::NEG_INFINITY,
                        _ => f64::NAN,
                    }),
                    _ => return None,
                }
            }
        })
    }

    /// Appends the attributes as one JSON object.
    pub fn write(attrs: &[Attr], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, a) in attrs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing JSON strings and values into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &a.key);
            out.push(b':');
            // Scalars written as their JSON values are (without building one).
            let _ = match &a.value {
                AttrValue::StringValue(s) => serde_json::to_writer(&mut *out, s),
                AttrValue::BoolValue(b) => serde_json::to_writer(&mut *out, b),
                AttrValue::IntValue(i) => serde_json::to_writer(&mut *out, i),
                AttrValue::DoubleValue(d) if d.is_finite() => serde_json::to_writer(&mut *out, d),
                v => serde_json::to_writer(&mut *out, &to_json(v)),
            };
        }
        out.push(b'}');
    }

    #[cfg(test)]
    #[test]
    fn scalars_are_written_as_their_json_values_are() {
        let values = [
            AttrValue::StringValue("a \"q\" \\ \n é".into()),
            AttrValue::BoolValue(false),
            AttrValue::IntValue(i64::MIN),
            AttrValue::DoubleValue(1.0),
            AttrValue::DoubleValue(-0.0),
            AttrValue::DoubleValue(1e300),
            AttrValue::DoubleValue(5e-324),
            AttrValue::DoubleValue(0.1 + 0.2),
            AttrValue::DoubleValue(f64::NAN),
            AttrValue::BytesValue(vec![1, 255]),
        ];
        for v in values {
            let mut got = Vec::new();
            write(&[Attr { key: "k".into(), value: v.clone() }], &mut got);
            let want = format!("{{\"k\":{}}}", serde_json::to_string(&to_json(&v)).unwrap());
            assert_eq!(String::from_utf8(got).unwrap(), want, "{v:?}");
        }
    }

    /// The attributes as text (see [`write`]).
    pub fn to_string(attrs: &[Attr]) -> String {
        let mut v = Vec::new();
        write(attrs, &mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    struct Pairs;

    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<Attr>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of attributes")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Vec<Attr>, M::Error> {
            let mut out = Vec::new();
            while let Some((key, v)) = m.next_entry::<String, Value>()? {
                if let Some(value) = from_json(v) {
                    out.push(Attr { key, value });
                }
            }
            Ok(out)
        }
    }

    /// Attributes from their text (see [`write`]).
    pub fn read(text: &str) -> Result<Vec<Attr>, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(Pairs).map_err(|e| e.to_string())
    }

    /// The texts an attribute `key` whose value reads as `value` may have inside an
    /// object [`write`] wrote (string, integer or boolean forms); `None` when the text
    /// cannot be told (a double's text may differ from its JSON).
    pub fn fragments(key: &str, value: &str) -> Option<Vec<Vec<u8>>> {
        let k = serde_json::to_string(key).ok()?;
        let mut out = vec![format!("{k}:{}", serde_json::to_string(value).ok()?).into_bytes()];
        if let Ok(i) = value.parse::<i64>() {
            out.push(format!("{k}:{i}").into_bytes());
        } else if let Ok(b) = value.parse::<bool>() {
            out.push(format!("{k}:{b}").into_bytes());
        } else if value.parse::<f64>().is_ok() {
            return None;
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_value_kind_reads_back_as_written() {
            let attrs = vec![
                Attr { key: "s".into(), value: AttrValue::StringValue("a \"quoted\" value".into()) },
                Attr { key: "i".into(), value: AttrValue::IntValue(-7) },
                Attr { key: "d".into(), value: AttrValue::DoubleValue(1.0) },
                Attr { key: "nan".into(), value: AttrValue::DoubleValue(f64::INFINITY) },
                Attr { key: "b".into(), value: AttrValue::BoolValue(true) },
                Attr { key: "bytes".into(), value: AttrValue::BytesValue(vec![0, 255]) },
                Attr {
                    key: "list".into(),
                    value: AttrValue::ArrayValue(vec![AttrValue::IntValue(1), AttrValue::StringValue("x".into())]),
                },
                Attr {
                    key: "map".into(),
                    value: AttrValue::KvlistValue(vec![Attr { key: "k".into(), value: AttrValue::BoolValue(false) }]),
                },
                Attr { key: "s".into(), value: AttrValue::StringValue("repeated keys are kept".into()) },
            ];
            let text = to_string(&attrs);
            assert!(text.starts_with(r#"{"s":"a \"quoted\" value","i":-7,"d":1.0,"#), "{text}");
            assert_eq!(read(&text).unwrap(), attrs);
            assert_eq!(read("{}").unwrap(), vec![]);
            assert!(read("[1]").is_err());
            // The search fragments are found in what was written.
            let f = fragments("i", "-7").unwrap();
            assert!(f.iter().any(|f| text.as_bytes().windows(f.len()).any(|w| w == &f[..])));
            assert!(fragments("d", "1.0").is_none());
        }
    }
}
