//! The XOR chunk: delta-of-delta timestamps, XOR floats (Gorilla, as in Prometheus).

use lantern_core::varint;

use crate::bits::{write_bit, write_bits, BitReader};
use crate::{Error, Result};

/// Leading-zero window marker meaning "no window chosen yet".
const NO_WINDOW: u8 = 0xff;

/// Builds one chunk sample by sample. Timestamps must strictly increase; the caller
/// (the head) checks that before appending.
#[derive(Debug, Clone)]
pub struct XorAppender {
    buf: Vec<u8>,
    /// Bits still free in the last byte of `buf` (kept here, beside the other small
    /// fields, so the appender is 56 bytes: one per series in the head).
    free: u8,
    num: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// An empty chunk (allocates nothing until the first sample).
    pub fn new() -> Self {
        Self { buf: Vec::new(), free: 0, num: 0, t: 0, t_delta: 0, v: 0, leading: NO_WINDOW, trailing: 0 }
    }

    /// Number of samples appended.
    pub fn len(&self) -> usize {
        self.num as usize
    }

    /// Whether no sample was appended.
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// Timestamp of the last sample appended (meaningless when empty).
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Value of the last sample appended (meaningless when empty).
    pub fn last_v(&self) -> f64 {
        f64::from_bits(self.v)
    }

    /// Encoded size so far.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The chunk's bytes so far (valid to decode at any time).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends one sample. A chunk holds at most `u16::MAX` samples; the caller cuts
    /// chunks far below that.
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(self.num < u16::MAX, "chunk is full");
        let vb = v.to_bits();
        match self.num {
            0 => {
                // Room for the sample count, then the first sample.
                self.bits(0, 16);
                self.varint(t);
                self.bits(vb, 64);
            }
            1 => {
                self.t_delta = t.wrapping_sub(self.t);
                self.varint(self.t_delta);
                self.write_value(vb);
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let dod = delta.wrapping_sub(self.t_delta);
                self.write_dod(dod);
                self.t_delta = delta;
                self.write_value(vb);
            }
        }
        self.t = t;
        self.v = vb;
        self.num += 1;
        self.buf[0..2].copy_from_slice(&self.num.to_be_bytes());
    }

    /// The finished chunk's bytes (a valid empty chunk when nothing was appended).
    pub fn into_bytes(self) -> Vec<u8> {
        if self.num == 0 {
            return vec![0, 0];
        }
        self.buf
    }

    #[inline]
    fn bit(&mut self, b: bool) {
        write_bit(&mut self.buf, &mut self.free, b);
    }

    #[inline]
    fn bits(&mut self, v: u64, n: u32) {
        write_bits(&mut self.buf, &mut self.free, v, n);
    }

    fn varint(&mut self, v: i64) {
        let mut b = [0u8; varint::MAX_LEN];
        let n = varint::encode_uvarint(varint::zigzag(v), &mut b);
        for &byte in &b[..n] {
            self.bits(u64::from(byte), 8);
        }
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.bit(false);
        } else if fits(dod, 14) {
            self.bits(0b10, 2);
            self.bits(dod as u64, 14);
        } else if fits(dod, 17) {
            self.bits(0b110, 3);
            self.bits(dod as u64, 17);
        } else if fits(dod, 20) {
            self.bits(0b1110, 4);
            self.bits(dod as u64, 20);
        } else {
            self.bits(0b1111, 4);
            self.bits(dod as u64, 64);
        }
    }

    fn write_value(&mut self, vb: u64) {
        let xor = vb ^ self.v;
        if xor == 0 {
            self.bit(false);
            return;
        }
        self.bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            self.bit(false);
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            self.bits(xor >> self.trailing, sig);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            self.bit(true);
            self.bits(leading as u64, 5);
            let sig = 64 - leading as u32 - trailing as u32;
            // 64 significant bits are written as 0 in six bits.
            self.bits((sig & 63) as u64, 6);
            self.bits(xor >> trailing, sig);
        }
    }
}

/// Whether `x` fits the `n`-bit bucket (the range Prometheus uses).
fn fits(x: i64, n: u32) -> bool {
    -((1i64 << (n - 1)) - 1) <= x && x <= 1i64 << (n - 1)
}

/// Sign-extends an `n`-bit bucket value.
fn unbucket(v: u64, n: u32) -> i64 {
    if n == 64 {
        return v as i64;
    }
    if v > 1u64 << (n - 1) {
        v as i64 - (1i64 << n)
    } else {
        v as i64
    }
}

fn read_varint(r: &mut BitReader<'_>) -> Option<i64> {
    varint::decode_uvarint(|| r.read_byte()).map(varint::unzigzag)
}

/// Iterates over a chunk's samples.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    total: usize,
    read: usize,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
    failed: bool,
}

impl<'a> ChunkIter<'a> {
    /// Starts reading `bytes` (as produced by [`XorAppender`]).
    pub fn new(bytes: &'a [u8]) -> Self {
        let total = if bytes.len() >= 2 { u16::from_be_bytes([bytes[0], bytes[1]]) as usize } else { 0 };
        Self {
            r: BitReader::new(bytes, 2),
            total,
            read: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
            failed: bytes.len() < 2,
        }
    }

    /// Number of samples the chunk announces.
    pub fn len_hint(&self) -> usize {
        self.total
    }

    fn step(&mut self) -> Option<(i64, f64)> {
        match self.read {
            0 => {
                self.t = read_varint(&mut self.r)?;
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.t_delta = read_varint(&mut self.r)?;
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
            _ => {
                // Up to four 1 bits (ended by a 0 unless there are four), then 0, 14, 17,
                // 20 or 64 bits of delta-of-delta: all but the last fit one 64-bit peek.
                let w = self.r.peek64();
                let prefix = (!w).leading_zeros().min(4);
                let dod = match prefix {
                    0 => {
                        self.r.skip(1)?;
                        0
                    }
                    1..=3 => {
                        let n = [14, 17, 20][prefix as usize - 1];
                        self.r.skip(prefix + 1 + n)?;
                        unbucket((w << (prefix + 1)) >> (64 - n), n)
                    }
                    _ => {
                        self.r.skip(4)?;
                        self.r.read_bits(64)? as i64
                    }
                };
                self.t_delta = self.t_delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
        }
        self.read += 1;
        Some((self.t, f64::from_bits(self.v)))
    }

    fn read_value(&mut self) -> Option<()> {
        // Control bits: 0 = same value, 10 = same window, 11 = new window (5 bits of
        // leading zeros, 6 of significant bits). Usually one 64-bit peek holds it all.
        let w = self.r.peek64();
        let control = w >> 62;
        if control < 2 {
            return self.r.skip(1);
        }
        let mut header = 2;
        if control == 3 {
            self.leading = ((w << 2) >> 59) as u8;
            let mut sig = ((w << 7) >> 58) as u8;
            if sig == 0 {
                sig = 64;
            }
            self.trailing = 64u8.checked_sub(self.leading)?.checked_sub(sig)?;
            header = 13;
        }
        let sig = 64 - self.leading as u32 - self.trailing as u32;
        let bits = if header + sig <= 57 {
            self.r.skip(header + sig)?;
            (w << header) >> (64 - sig)
        } else {
            self.r.skip(header)?;
            self.r.read_bits(sig)?
        };
        self.v ^= bits.checked_shl(self.trailing as u32).unwrap_or(0);
        Some(())
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Result<(i64, f64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.read >= self.total {
            return None;
        }
        match self.step() {
            Some(s) => Some(Ok(s)),
            None => {
                self.failed = true;
                Some(Err(Error::Truncated { expected: self.total, decoded: self.read }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{decode, encode};
    use proptest::prelude::*;

    fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    #[test]
    fn regular_scrape_compresses_well() {
        let s: Vec<(i64, f64)> = (0..120).map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64)).collect();
        let b = encode(&s);
        assert!(same(&decode(&b).unwrap(), &s));
        assert!(b.len() < 120 * 3, "{} bytes", b.len());
    }

    #[test]
    fn staleness_nan_bits_survive() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let s = vec![(1, 1.0), (2, stale), (3, f64::NAN), (4, f64::INFINITY), (5, -0.0)];
        assert!(same(&decode(&encode(&s)).unwrap(), &s));
    }

    #[test]
    fn truncated_chunk_is_an_error_not_a_panic() {
        let s: Vec<(i64, f64)> = (0..50).map(|i| (i * 1000, i as f64 * 1.5)).collect();
        let b = encode(&s);
        for cut in 0..b.len() {
            let _ = decode(&b[..cut]);
        }
        assert!(decode(&b[..b.len() / 2]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(start in -1_000_000_000_000i64..2_000_000_000_000i64,
                      steps in proptest::collection::vec((1i64..10_000_000_000i64, any::<u64>()), 0..300)) {
            let mut t = start;
            let mut s = Vec::new();
            for (d, vb) in steps {
                t += d;
                s.push((t, f64::from_bits(vb)));
            }
            prop_assert!(same(&decode(&encode(&s)).unwrap(), &s));
        }

        /// Scrape-like data: steady intervals with jitter, repeated values, counters and
        /// decimals, which take the short encodings (every dod bucket, both value windows).
        #[test]
        fn round_trip_scrape_like(start in 0i64..2_000_000_000_000i64,
                                  steps in proptest::collection::vec((0i64..4, -600_000i64..600_000, 0u8..4, 0u32..1000), 0..300)) {
            let (mut t, mut v) = (start, 0.0f64);
            let mut s = Vec::new();
            for (kind, jitter, vk, inc) in steps {
                t += (15_000 + match kind { 0 => 0, 1 => jitter % 8, 2 => jitter % 60_000, _ => jitter }).max(1);
                v = match vk { 0 => v, 1 => v + inc as f64, 2 => v + inc as f64 / 100.0, _ => (inc as f64).sqrt() };
                s.push((t, v));
            }
            prop_assert!(same(&decode(&encode(&s)).unwrap(), &s));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
