//! A Bloom filter over 64-bit key hashes: the per-segment skip index. About 1% false
//! positives at 10 bits per key, never a false negative.

/// The filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    words: Vec<u64>,
}

const PROBES: u64 = 7;

impl Bloom {
    /// A filter sized for `keys` distinct keys (10 bits each).
    pub fn with_capacity(keys: usize) -> Self {
        Self::with_bits(keys, 10)
    }

    /// A filter of `bits_per_key` bits for each of `keys` distinct keys (10: about 1%
    /// false positives; 8: about 2%).
    pub fn with_bits(keys: usize, bits_per_key: usize) -> Self {
        let words = (keys.max(64) * bits_per_key.max(4)).div_ceil(64);
        Self { words: vec![0; words] }
    }

    /// A filter from its bytes (as [`Bloom::to_bytes`] wrote them).
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.is_empty() || !b.len().is_multiple_of(8) {
            return None;
        }
        Some(Self { words: b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect() })
    }

    /// A bit position from a hash: masked when the filter's size is a power of two (as
    /// every filter written before sizes were exact is), else reduced by
    /// multiply-shift.
    fn reduce(&self, h: u64) -> usize {
        let bits = (self.words.len() * 64) as u64;
        if bits.is_power_of_two() {
            (h & (bits - 1)) as usize
        } else {
            ((u128::from(h) * u128::from(bits)) >> 64) as usize
        }
    }

    /// The filter's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn positions(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let (h1, h2) = (key, key.rotate_left(32) | 1);
        (0..PROBES).map(move |i| self.reduce(h1.wrapping_add(i.wrapping_mul(h2))))
    }

    /// Adds a key.
    pub fn insert(&mut self, key: u64) {
        let (h1, h2) = (key, key.rotate_left(32) | 1);
        for i in 0..PROBES {
            let p = self.reduce(h1.wrapping_add(i.wrapping_mul(h2)));
            self.words[p / 64] |= 1 << (p % 64);
        }
    }

    /// False when the key was surely never added.
    pub fn may_contain(&self, key: u64) -> bool {
        self.positions(key).all(|p| self.words[p / 64] & (1 << (p % 64)) != 0)
    }

    /// Size in bytes.
    pub fn len_bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// The hash of a key made of parts (a kind tag and values), as stores and queries
/// compute it alike.
pub fn key(parts: &[&[u8]]) -> u64 {
    // One-shot hashing of the framed parts, in a stack buffer for the usual short keys
    // (sized to them: the buffer is zeroed on every call).
    let n: usize = parts.iter().map(|p| p.len() + 4).sum();
    match n {
        0..=64 => framed(parts, &mut [0u8; 64][..n]),
        65..=256 => framed(parts, &mut [0u8; 256][..n]),
        _ => framed(parts, &mut vec![0u8; n]),
    }
}

/// The hash of `parts`, each after its length, written into `buf` (exactly their size).
fn framed(parts: &[&[u8]], buf: &mut [u8]) -> u64 {
    let mut at = 0;
    for p in parts {
        buf[at..at + 4].copy_from_slice(&(p.len() as u32).to_le_bytes());
        buf[at + 4..at + 4 + p.len()].copy_from_slice(p);
        at += 4 + p.len();
    }
    xxhash_rust::xxh64::xxh64(buf, 0x6c61_6e74)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_capacity(10_000);
        for i in 0..10_000u64 {
            b.insert(key(&[b"k", &i.to_le_bytes()]));
        }
        assert!((0..10_000u64).all(|i| b.may_contain(key(&[b"k", &i.to_le_bytes()]))));
        let fp = (10_000..110_000u64).filter(|i| b.may_contain(key(&[b"k", &i.to_le_bytes()]))).count();
        assert!(fp < 3_000, "{fp} false positives of 100000");
        let back = Bloom::from_bytes(&b.to_bytes()).unwrap();
        // The same framing whatever the length (the persisted filters depend on it).
        for len in [0, 55, 56, 57, 247, 248, 249, 300] {
            let long = vec![7u8; len];
            let mut h = xxhash_rust::xxh64::Xxh64::new(0x6c61_6e74);
            for p in [&b"a"[..], &long[..]] {
                h.update(&(p.len() as u32).to_le_bytes());
                h.update(p);
            }
            assert_eq!(key(&[b"a", &long]), h.digest(), "{len}");
        }
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_eq!(back, b);
        assert!(Bloom::from_bytes(&[1, 2, 3]).is_none());
        // Sizes are exact (10 bits per key), not rounded up to a power of two; filters of
        // a power-of-two size (as older segments hold) read as they were written.
        assert_eq!(Bloom::with_capacity(10_000).len_bytes(), 12_504);
        let mut old = Bloom { words: vec![0; 256] };
        old.insert(42);
        let mask = (256 * 64 - 1) as u64;
        let (h1, h2) = (42u64, 42u64.rotate_left(32) | 1);
        for i in 0..PROBES {
            let p = (h1.wrapping_add(i.wrapping_mul(h2)) & mask) as usize;
            assert!(old.words[p / 64] & (1 << (p % 64)) != 0);
        }
    }
}
