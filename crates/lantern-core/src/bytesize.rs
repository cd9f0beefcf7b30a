//! Byte sizes written with units: `512MB`, `1GiB`, `0` (meaning "no limit" where a
//! setting says so).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// A number of bytes, parsed from `512MB`, `1GiB`, `100KB`, `4096` or `4096B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

impl ByteSize {
    /// Parses a size; units are case-sensitive as written in the table above.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidByteSize(s.to_string());
        let t = s.trim();
        let digits = t.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = t[..digits].parse().map_err(|_| bad())?;
        let unit = t[digits..].trim();
        let mult = if unit.is_empty() { 1 } else { UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?.1 };
        n.checked_mul(mult).map(Self).ok_or_else(bad)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (u, size) in UNITS {
            if self.0 != 0 && self.0.is_multiple_of(size) {
                return write!(f, "{}{}", self.0 / size, u);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size such as 256KB, 64MiB or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> std::result::Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> std::result::Result<ByteSize, E> {
                u64::try_from(n).map(ByteSize).map_err(|_| E::custom(format!("a size cannot be negative: {n}")))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> std::result::Result<ByteSize, E> {
                Err(E::custom(format!("a size is a whole number of bytes or a number with a unit (64MB), not {n}")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<ByteSize, E> {
                ByteSize::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses a size the lenient way LogQL's byte comparisons take it: a fraction, units in
/// any case, and the one-letter forms (`K`, `M`, `G`, `T`) meaning the binary units.
pub fn parse_lenient(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let n: f64 = s[..split].parse().ok()?;
    let unit = s[split..].trim();
    let mult = if unit.is_empty() {
        1
    } else if let Some((_, size)) = UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)) {
        *size
    } else {
        let short = ["K", "M", "G", "T"].iter().position(|u| u.eq_ignore_ascii_case(unit))?;
        1u64 << (10 * (short + 1))
    };
    Some(n * mult as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(ByteSize::parse("512MB").unwrap().0, 512_000_000);
        assert_eq!(ByteSize::parse("1GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("4096").unwrap().0, 4096);
        assert_eq!(ByteSize::parse("0").unwrap().0, 0);
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert!(ByteSize::parse("MB").is_err());
        assert_eq!(ByteSize(1 << 30).to_string(), "1GiB");
    }

    #[test]
    fn lenient_sizes() {
        assert_eq!(parse_lenient("10KB"), Some(10_000.0));
        assert_eq!(parse_lenient("1.5mib"), Some(1.5 * 1048576.0));
        assert_eq!(parse_lenient("2k"), Some(2048.0));
        assert_eq!(parse_lenient("42"), Some(42.0));
        assert_eq!(parse_lenient("42 parsecs"), None);
    }
}
