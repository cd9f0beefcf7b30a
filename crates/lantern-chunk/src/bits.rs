//! Bit-level writer and reader over a byte buffer (most significant bit first).

/// Appends one bit to `buf`; `free` counts the bits still free in its last byte (0..=7,
/// 0 meaning the next bit starts a new byte). Free functions rather than a writer type,
/// so an owner can keep `free` in its own padding.
#[inline]
pub(crate) fn write_bit(buf: &mut Vec<u8>, free: &mut u8, bit: bool) {
    if *free == 0 {
        buf.push(0);
        *free = 8;
    }
    if bit {
        let last = buf.len() - 1;
        buf[last] |= 1 << (*free - 1);
    }
    *free -= 1;
}

/// Appends the low `n` bits of `v`, most significant first (see [`write_bit`]).
#[inline]
pub(crate) fn write_bits(buf: &mut Vec<u8>, free: &mut u8, v: u64, mut n: u32) {
    debug_assert!(n <= 64);
    while n > 0 {
        if *free == 0 {
            buf.push(0);
            *free = 8;
        }
        let take = n.min(*free as u32);
        let shift = n - take;
        let chunk = ((v >> shift) & ((1u64 << take) - 1)) as u8;
        let last = buf.len() - 1;
        buf[last] |= chunk << (*free as u32 - take);
        *free -= take as u8;
        n -= take;
    }
}

/// Reads bits from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits from the start of `buf`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8], byte_pos: usize) -> Self {
        Self { buf, pos: byte_pos * 8 }
    }

    /// The next 64 bits from the current position (zeros past the end), without
    /// consuming them. Reads whole words: one load and a shift instead of a loop.
    #[inline]
    pub(crate) fn peek64(&self) -> u64 {
        let byte = self.pos / 8;
        let word = match self.buf.get(byte..byte + 8) {
            Some(w) => u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
            None => {
                let mut w = [0u8; 8];
                let tail = self.buf.get(byte..).unwrap_or_default();
                w[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(w)
            }
        };
        word << (self.pos % 8)
    }

    /// Consumes `n` bits already looked at with [`BitReader::peek64`]; `None` if that
    /// runs past the end.
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) -> Option<()> {
        let end = self.pos + n as usize;
        if end > self.buf.len() * 8 {
            return None;
        }
        self.pos = end;
        Some(())
    }

    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        match n {
            0 => Some(0),
            // A peek holds at least 57 valid bits (at most 7 are shifted out).
            1..=56 => {
                let v = self.peek64() >> (64 - n);
                self.skip(n)?;
                Some(v)
            }
            _ => {
                let hi = self.read_bits(n - 32)?;
                let lo = self.read_bits(32)?;
                Some(hi << 32 | lo)
            }
        }
    }

    pub(crate) fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|b| b as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let (mut buf, mut free) = (Vec::new(), 0u8);
        write_bit(&mut buf, &mut free, true);
        write_bits(&mut buf, &mut free, 0b1011, 4);
        write_bits(&mut buf, &mut free, u64::MAX, 64);
        write_bits(&mut buf, &mut free, 0x1234, 14);
        let mut r = BitReader::new(&buf, 0);
        assert_eq!(r.read_bits(1), Some(1));
        assert_eq!(r.read_bits(4), Some(0b1011));
        assert_eq!(r.read_bits(64), Some(u64::MAX));
        assert_eq!(r.read_bits(14), Some(0x1234));
    }
}
