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

    #[inline]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    #[inline]
    pub(crate) fn read_bits(&mut self, mut n: u32) -> Option<u64> {
        let mut v = 0u64;
        while n > 0 {
            let byte = *self.buf.get(self.pos / 8)? as u64;
            let avail = 8 - (self.pos % 8) as u32;
            let take = n.min(avail);
            let shifted = (byte >> (avail - take)) & ((1u64 << take) - 1);
            v = if take == 64 { shifted } else { (v << take) | shifted };
            self.pos += take as usize;
            n -= take;
        }
        Some(v)
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
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bits(4), Some(0b1011));
        assert_eq!(r.read_bits(64), Some(u64::MAX));
        assert_eq!(r.read_bits(14), Some(0x1234));
    }
}
