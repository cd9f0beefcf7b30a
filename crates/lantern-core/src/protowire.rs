//! The protobuf wire reader over borrowed bytes: fields come out as numbers or as slices
//! of the request, so decoding allocates nothing for strings and bytes. The OTLP views
//! (`lantern-otlp-wire`) and the remote-write decoder (`lantern-prom-api`) are built on
//! it.

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl DecodeError {
    fn new(m: impl Into<String>) -> Self {
        Self(m.into())
    }
}

/// One field's value as the wire carries it.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (fixed64, sfixed64, double).
    I64(u64),
    /// Wire type 2 (strings, bytes, messages, packed repeated fields).
    Len(&'a [u8]),
    /// Wire type 5 (fixed32, sfixed32, float).
    I32(u32),
}

/// Reads fields one after another.
pub struct Reader<'a> {
    buf: &'a [u8],
}

#[inline]
fn varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    crate::varint::read_uvarint(buf).ok_or_else(|| DecodeError::new("truncated varint or one past 64 bits"))
}

impl<'a> Reader<'a> {
    /// A reader over one message's bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Whether the message has no more fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next field number and value, or `None` at the end of the message.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<(u32, Field<'a>)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = varint(&mut self.buf)?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::new(format!("invalid field number {tag}")));
        }
        let tag = tag as u32;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut self.buf)?),
            1 => {
                let Some((b, rest)) = self.buf.split_first_chunk::<8>() else {
                    return Err(DecodeError::new(format!("field {tag}: truncated 64-bit value")));
                };
                self.buf = rest;
                Field::I64(u64::from_le_bytes(*b))
            }
            2 => {
                let n = varint(&mut self.buf)?;
                if n > self.buf.len() as u64 {
                    return Err(DecodeError::new(format!(
                        "field {tag}: length {n} runs past the end of the message ({} bytes left)",
                        self.buf.len()
                    )));
                }
                let (b, rest) = self.buf.split_at(n as usize);
                self.buf = rest;
                Field::Len(b)
            }
            5 => {
                let Some((b, rest)) = self.buf.split_first_chunk::<4>() else {
                    return Err(DecodeError::new(format!("field {tag}: truncated 32-bit value")));
                };
                self.buf = rest;
                Field::I32(u32::from_le_bytes(*b))
            }
            w => return Err(DecodeError::new(format!("field {tag}: unsupported wire type {w}"))),
        };
        Ok(Some((tag, field)))
    }
}

fn wrong(tag: u32, want: &str) -> DecodeError {
    DecodeError::new(format!("field {tag}: wrong wire type, want {want}"))
}

impl<'a> Field<'a> {
    /// A varint (uint32/64, int32/64, bool, enum).
    pub fn varint(self, tag: u32) -> Result<u64, DecodeError> {
        match self {
            Field::Varint(v) => Ok(v),
            _ => Err(wrong(tag, "varint")),
        }
    }

    /// A zigzag-encoded `sint32`.
    pub fn sint32(self, tag: u32) -> Result<i32, DecodeError> {
        Ok(crate::varint::unzigzag(u64::from(self.varint(tag)? as u32)) as i32)
    }

    /// A fixed64 / sfixed64 / double's bits.
    pub fn fixed64(self, tag: u32) -> Result<u64, DecodeError> {
        match self {
            Field::I64(v) => Ok(v),
            _ => Err(wrong(tag, "64-bit")),
        }
    }

    /// A double.
    pub fn double(self, tag: u32) -> Result<f64, DecodeError> {
        self.fixed64(tag).map(f64::from_bits)
    }

    /// Length-delimited bytes (bytes, an embedded message, a packed field).
    pub fn bytes(self, tag: u32) -> Result<&'a [u8], DecodeError> {
        match self {
            Field::Len(b) => Ok(b),
            _ => Err(wrong(tag, "length-delimited")),
        }
    }

    /// A string, checked to be UTF-8.
    pub fn str(self, tag: u32) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(tag)?)
            .map_err(|e| DecodeError::new(format!("field {tag}: string is not valid UTF-8: {e}")))
    }

    /// A repeated fixed64/double field, packed or not: calls `f` with each value's bits.
    pub fn each_fixed64(self, tag: u32, mut f: impl FnMut(u64)) -> Result<(), DecodeError> {
        match self {
            Field::I64(v) => f(v),
            Field::Len(b) => {
                if b.len() % 8 != 0 {
                    return Err(DecodeError::new(format!("field {tag}: packed 64-bit values of {} bytes", b.len())));
                }
                for c in b.chunks_exact(8) {
                    f(u64::from_le_bytes(c.try_into().unwrap_or_default()));
                }
            }
            _ => return Err(wrong(tag, "64-bit or packed")),
        }
        Ok(())
    }

    /// A repeated varint field, packed or not.
    pub fn each_varint(self, tag: u32, mut f: impl FnMut(u64)) -> Result<(), DecodeError> {
        match self {
            Field::Varint(v) => f(v),
            Field::Len(mut b) => {
                while !b.is_empty() {
                    f(varint(&mut b)?);
                }
            }
            _ => return Err(wrong(tag, "varint or packed")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type_and_refuses_truncation() {
        // field 1 varint 300, field 2 fixed64 7, field 3 "hi", field 4 fixed32 9
        let buf = [0x08, 0xac, 0x02, 0x11, 7, 0, 0, 0, 0, 0, 0, 0, 0x1a, 2, b'h', b'i', 0x25, 9, 0, 0, 0];
        let mut r = Reader::new(&buf);
        let (t, f) = r.next().unwrap().unwrap();
        assert_eq!((t, f.varint(t).unwrap()), (1, 300));
        let (t, f) = r.next().unwrap().unwrap();
        assert_eq!((t, f.fixed64(t).unwrap()), (2, 7));
        let (t, f) = r.next().unwrap().unwrap();
        assert_eq!((t, f.str(t).unwrap()), (3, "hi"));
        assert!(f.varint(t).unwrap_err().0.contains("wrong wire type"));
        let (t, f) = r.next().unwrap().unwrap();
        assert!(matches!((t, f), (4, Field::I32(9))));
        assert!(r.next().unwrap().is_none());

        let e = Reader::new(&[0x1a, 5, b'a']).next().unwrap_err();
        assert!(e.0.contains("runs past the end"), "{e}");
        assert!(Reader::new(&[0x08, 0x80]).next().is_err());
        assert!(Reader::new(&[0x0b]).next().unwrap_err().0.contains("wire type 3"));
        let (t, f) = Reader::new(&[0x1a, 2, 0xff, 0xfe]).next().unwrap().unwrap();
        assert!(f.str(t).unwrap_err().0.contains("UTF-8"));
        // sint32 zigzag: 3 → -2
        assert_eq!(Field::Varint(3).sint32(1).unwrap(), -2);
        let mut got = Vec::new();
        Field::Len(&[1, 0x80, 1]).each_varint(1, |v| got.push(v)).unwrap();
        assert_eq!(got, [1, 128]);
    }
}
