//! Attributes, resources and instrumentation scopes, shared by every signal.

use bumpalo::collections::Vec as BVec;
use bumpalo::Bump;

use crate::pb::{DecodeError, Field, Reader};

/// An attribute value (`AnyValue`).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// No value set.
    Empty,
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
    /// `array_value`.
    Array(&'a [Value<'a>]),
    /// `kvlist_value`.
    KvList(&'a [Kv<'a>]),
}

/// A `KeyValue`.
#[derive(Debug, Clone, Copy)]
pub struct Kv<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: Value<'a>,
}

/// Decodes a message with `f` called for each field.
pub fn fields<'a>(
    b: &'a [u8],
    mut f: impl FnMut(u32, Field<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(b);
    while let Some((t, v)) = r.next()? {
        f(t, v)?;
    }
    Ok(())
}

/// Decodes an `AnyValue`.
pub fn any_value<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Value<'a>, DecodeError> {
    let mut out = Value::Empty;
    fields(b, |t, f| {
        out = match t {
            1 => Value::Str(f.str(t)?),
            2 => Value::Bool(f.varint(t)? != 0),
            3 => Value::Int(f.varint(t)? as i64),
            4 => Value::Double(f.double(t)?),
            5 => {
                let mut items = BVec::new_in(bump);
                fields(f.bytes(t)?, |t, f| {
                    if t == 1 {
                        items.push(any_value(f.bytes(t)?, bump)?);
                    }
                    Ok(())
                })?;
                Value::Array(items.into_bump_slice())
            }
            6 => {
                let mut items = BVec::new_in(bump);
                fields(f.bytes(t)?, |t, f| {
                    if t == 1 {
                        items.push(key_value(f.bytes(t)?, bump)?);
                    }
                    Ok(())
                })?;
                Value::KvList(items.into_bump_slice())
            }
            7 => Value::Bytes(f.bytes(t)?),
            _ => out,
        };
        Ok(())
    })?;
    Ok(out)
}

/// Decodes a `KeyValue`.
pub fn key_value<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Kv<'a>, DecodeError> {
    let mut kv = Kv { key: "", value: Value::Empty };
    fields(b, |t, f| {
        match t {
            1 => kv.key = f.str(t)?,
            2 => kv.value = any_value(f.bytes(t)?, bump)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(kv)
}

/// Pushes a `KeyValue` field onto `out`.
pub fn push_kv<'a>(out: &mut BVec<'a, Kv<'a>>, t: u32, f: Field<'a>, bump: &'a Bump) -> Result<(), DecodeError> {
    out.push(key_value(f.bytes(t)?, bump)?);
    Ok(())
}

/// A `Resource`'s attributes.
pub fn resource<'a>(b: &'a [u8], bump: &'a Bump) -> Result<&'a [Kv<'a>], DecodeError> {
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| if t == 1 { push_kv(&mut attrs, t, f, bump) } else { Ok(()) })?;
    Ok(attrs.into_bump_slice())
}

/// An `InstrumentationScope`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// `name`.
    pub name: &'a str,
    /// `version`.
    pub version: &'a str,
    /// `attributes`.
    pub attributes: &'a [Kv<'a>],
}

/// Decodes an `InstrumentationScope`.
pub fn scope<'a>(b: &'a [u8], bump: &'a Bump) -> Result<Scope<'a>, DecodeError> {
    let mut s = Scope::default();
    let mut attrs = BVec::new_in(bump);
    fields(b, |t, f| {
        match t {
            1 => s.name = f.str(t)?,
            2 => s.version = f.str(t)?,
            3 => push_kv(&mut attrs, t, f, bump)?,
            _ => {}
        }
        Ok(())
    })?;
    s.attributes = attrs.into_bump_slice();
    Ok(s)
}

/// A resource's items of one signal (`ResourceSpans`, `ResourceMetrics`,
/// `ResourceLogs`).
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a, T> {
    /// The resource's attributes.
    pub resource: &'a [Kv<'a>],
    /// The items, by instrumentation scope.
    pub scopes: &'a [Scoped<'a, T>],
}

/// A scope's items (`ScopeSpans`, `ScopeMetrics`, `ScopeLogs`).
#[derive(Debug, Clone, Copy)]
pub struct Scoped<'a, T> {
    /// `scope`, when set.
    pub scope: Option<Scope<'a>>,
    /// The spans, metrics or log records.
    pub items: &'a [T],
}

/// Decodes an export request of any signal: every signal nests its items the same
/// way (field 1: resource items; in them, 1: resource, 2: scope items; in those,
/// 1: scope, 2: an item), so only the item decoder differs.
pub fn envelope<'a, T>(
    b: &'a [u8],
    bump: &'a Bump,
    item: impl Fn(&'a [u8], &'a Bump) -> Result<T, DecodeError>,
) -> Result<&'a [Resource<'a, T>], DecodeError> {
    let mut out = BVec::new_in(bump);
    fields(b, |t, f| {
        if t != 1 {
            return Ok(());
        }
        let mut r = Resource { resource: &[], scopes: &[] };
        let mut scopes = BVec::new_in(bump);
        fields(f.bytes(t)?, |t, f| {
            match t {
                1 => r.resource = resource(f.bytes(t)?, bump)?,
                2 => {
                    let mut sc = Scoped { scope: None, items: &[] };
                    let mut items = BVec::new_in(bump);
                    fields(f.bytes(t)?, |t, f| {
                        match t {
                            1 => sc.scope = Some(scope(f.bytes(t)?, bump)?),
                            2 => items.push(item(f.bytes(t)?, bump)?),
                            _ => {}
                        }
                        Ok(())
                    })?;
                    sc.items = items.into_bump_slice();
                    scopes.push(sc);
                }
                _ => {}
            }
            Ok(())
        })?;
        r.scopes = scopes.into_bump_slice();
        out.push(r);
        Ok(())
    })?;
    Ok(out.into_bump_slice())
}
