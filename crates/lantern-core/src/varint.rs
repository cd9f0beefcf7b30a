//! LEB128 varints, unsigned and zig-zag signed: the one encoder and decoder of every
//! Lantern format that writes them (WAL records, block indexes, chunks, log payloads)
//! and of the protobuf reader ([`crate::protowire`]).

/// Most bytes a 64-bit varint takes.
pub const MAX_LEN: usize = 10;

/// Zig-zag: small negative and positive numbers both become small unsigned ones.
#[inline]
pub const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub const fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Writes `u` into `out`; returns how many bytes it took.
#[inline]
pub fn encode_uvarint(mut u: u64, out: &mut [u8; MAX_LEN]) -> usize {
    let mut n = 0;
    while u >= 0x80 {
        out[n] = (u as u8) | 0x80;
        u >>= 7;
        n += 1;
    }
    out[n] = u as u8;
    n + 1
}

/// Appends an unsigned varint.
#[inline]
pub fn put_uvarint(buf: &mut Vec<u8>, u: u64) {
    let mut b = [0u8; MAX_LEN];
    let n = encode_uvarint(u, &mut b);
    buf.extend_from_slice(&b[..n]);
}

/// Appends a zig-zag signed varint.
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, zigzag(v));
}

/// Bytes [`put_uvarint`] writes for `u`.
#[inline]
pub const fn uvarint_len(u: u64) -> usize {
    let bits = 64 - u.leading_zeros() as usize;
    if bits == 0 {
        1
    } else {
        bits.div_ceil(7)
    }
}

/// Reads an unsigned varint from bytes `next` hands over one at a time; `None` when they
/// run out first or the value does not fit in 64 bits.
#[inline]
pub fn decode_uvarint(mut next: impl FnMut() -> Option<u8>) -> Option<u64> {
    let mut u = 0u64;
    for i in 0..MAX_LEN {
        let b = next()?;
        if i == MAX_LEN - 1 && b > 1 {
            return None;
        }
        u |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(u);
        }
    }
    None
}

/// Reads an unsigned varint at `*pos` in `b`, moving `pos` past it.
#[inline]
pub fn uvarint_at(b: &[u8], pos: &mut usize) -> Option<u64> {
    // Most varints (tags, lengths, small deltas) are one byte.
    if let Some(&first) = b.get(*pos) {
        if first < 0x80 {
            *pos += 1;
            return Some(u64::from(first));
        }
    }
    decode_uvarint(|| {
        let v = b.get(*pos).copied();
        *pos += 1;
        v
    })
}

/// Reads an unsigned varint from the front of `buf`, advancing it.
#[inline]
pub fn read_uvarint(buf: &mut &[u8]) -> Option<u64> {
    let mut pos = 0;
    let v = uvarint_at(buf, &mut pos)?;
    *buf = &buf[pos..];
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_and_lengths_agree(u in any::<u64>(), v in any::<i64>()) {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, u);
            prop_assert_eq!(buf.len(), uvarint_len(u));
            put_varint(&mut buf, v);
            let mut r = &buf[..];
            prop_assert_eq!(read_uvarint(&mut r), Some(u));
            prop_assert_eq!(read_uvarint(&mut r).map(unzigzag), Some(v));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn arbitrary_bytes_give_a_value_or_none(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut pos = 0;
            if let Some(u) = uvarint_at(&bytes, &mut pos) {
                let mut again = Vec::new();
                put_uvarint(&mut again, u);
                // Non-minimal encodings read back to the same value, never past 10 bytes.
                prop_assert!(pos <= MAX_LEN && pos >= again.len());
            }
        }
    }

    #[test]
    fn truncated_and_overlong_varints_are_refused() {
        assert_eq!(read_uvarint(&mut &[0x80u8][..]), None);
        assert_eq!(read_uvarint(&mut &[0xff; 10][..]), None);
        assert_eq!(
            read_uvarint(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..]),
            Some(u64::MAX)
        );
        assert_eq!(zigzag(-1), 1);
        assert_eq!(unzigzag(3), -2);
    }
}
