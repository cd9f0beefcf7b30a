//! Write-ahead-log records and their byte encoding (pure code).
//!
//! Every record starts with a type byte. Integers are LEB128 varints, signed ones
//! zig-zag encoded; floats are 8 little-endian bytes so NaN payloads survive.

use lantern_core::{Label, Labels};

use crate::{Error, Result};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const CHECKPOINT: u8 = 3;
const EXEMPLARS: u8 = 4;
const LABELED_EXEMPLARS: u8 = 5;

/// An exemplar addressed by series reference, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct RefExemplar {
    /// The head's series reference.
    pub series: u64,
    /// The exemplar.
    pub exemplar: lantern_core::Exemplar,
}

/// A sample addressed by series reference, as logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The head's series reference.
    pub series: u64,
    /// Milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One logical WAL record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series and their references.
    Series(Vec<(u64, Labels)>),
    /// Samples for series logged earlier.
    Samples(Vec<RefSample>),
    /// Head of a checkpoint file: samples older than `floor` in segments before
    /// `first_segment` are in blocks already.
    Checkpoint {
        /// Every sample below this time, logged before `first_segment`, is persisted.
        floor: i64,
        /// The first segment written after the checkpoint's cut.
        first_segment: u64,
    },
    /// Exemplars for series logged earlier.
    Exemplars(Vec<RefExemplar>),
    /// Exemplars with their series' labels (in checkpoints: the series may have left
    /// the head).
    LabeledExemplars(Vec<(Labels, lantern_core::Exemplar)>),
}

impl Record {
    /// Appends the encoded record to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Record::Series(series) => {
                buf.push(SERIES);
                put_uvarint(buf, series.len() as u64);
                for (r, ls) in series {
                    put_uvarint(buf, *r);
                    put_uvarint(buf, ls.len() as u64);
                    for l in ls {
                        put_str(buf, &l.name);
                        put_str(buf, &l.value);
                    }
                }
            }
            Record::Samples(samples) => {
                buf.push(SAMPLES);
                put_uvarint(buf, samples.len() as u64);
                let (mut pr, mut pt) = (0i64, 0i64);
                for s in samples {
                    put_varint(buf, (s.series as i64).wrapping_sub(pr));
                    put_varint(buf, s.t.wrapping_sub(pt));
                    buf.extend_from_slice(&s.v.to_bits().to_le_bytes());
                    pr = s.series as i64;
                    pt = s.t;
                }
            }
            Record::Checkpoint { floor, first_segment } => {
                buf.push(CHECKPOINT);
                put_varint(buf, *floor);
                put_uvarint(buf, *first_segment);
            }
            Record::Exemplars(v) => {
                buf.push(EXEMPLARS);
                put_uvarint(buf, v.len() as u64);
                for e in v {
                    put_uvarint(buf, e.series);
                    put_exemplar(buf, &e.exemplar);
                }
            }
            Record::LabeledExemplars(v) => {
                buf.push(LABELED_EXEMPLARS);
                put_uvarint(buf, v.len() as u64);
                for (labels, e) in v {
                    put_labels(buf, labels);
                    put_exemplar(buf, e);
                }
            }
        }
    }

    /// Decodes one record from exactly `b`.
    pub fn decode(b: &[u8]) -> Result<Record> {
        let mut d = Decoder { b, pos: 0 };
        let rec = match d.byte()? {
            SERIES => {
                let n = d.length()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let r = d.uvarint()?;
                    let nl = d.length()?;
                    let mut ls = Vec::with_capacity(nl.min(256));
                    for _ in 0..nl {
                        let name = d.str()?;
                        let value = d.str()?;
                        ls.push(Label::new(name, value));
                    }
                    v.push((r, Labels::from_pairs(ls.into_iter().map(|l| (l.name, l.value)))));
                }
                Record::Series(v)
            }
            SAMPLES => {
                let n = d.length()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                let (mut pr, mut pt) = (0i64, 0i64);
                for _ in 0..n {
                    pr = pr.wrapping_add(d.varint()?);
                    pt = pt.wrapping_add(d.varint()?);
                    let vb = d.u64_le()?;
                    v.push(RefSample { series: pr as u64, t: pt, v: f64::from_bits(vb) });
                }
                Record::Samples(v)
            }
            CHECKPOINT => Record::Checkpoint { floor: d.varint()?, first_segment: d.uvarint()? },
            EXEMPLARS => {
                let n = d.length()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let series = d.uvarint()?;
                    v.push(RefExemplar { series, exemplar: get_exemplar(&mut d)? });
                }
                Record::Exemplars(v)
            }
            LABELED_EXEMPLARS => {
                let n = d.length()?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let labels = get_labels(&mut d)?;
                    v.push((labels, get_exemplar(&mut d)?));
                }
                Record::LabeledExemplars(v)
            }
            t => return Err(Error::Corrupt(format!("unknown wal record type {t}"))),
        };
        if d.pos != b.len() {
            return Err(Error::Corrupt(format!("wal record has {} trailing bytes", b.len() - d.pos)));
        }
        Ok(rec)
    }
}

fn put_labels(buf: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(buf, labels.len() as u64);
    for l in labels {
        put_str(buf, &l.name);
        put_str(buf, &l.value);
    }
}

fn get_labels(d: &mut Decoder<'_>) -> Result<Labels> {
    let nl = d.length()?;
    let mut ls = Vec::with_capacity(nl.min(256));
    for _ in 0..nl {
        let name = d.str()?;
        let value = d.str()?;
        ls.push((name, value));
    }
    Ok(Labels::from_pairs(ls))
}

fn put_exemplar(buf: &mut Vec<u8>, e: &lantern_core::Exemplar) {
    put_varint(buf, e.t);
    buf.extend_from_slice(&e.value.to_bits().to_le_bytes());
    put_labels(buf, &e.labels);
}

fn get_exemplar(d: &mut Decoder<'_>) -> Result<lantern_core::Exemplar> {
    let t = d.varint()?;
    let value = f64::from_bits(d.u64_le()?);
    Ok(lantern_core::Exemplar { labels: get_labels(d)?, value, t })
}

pub use lantern_core::varint::{put_uvarint, put_varint};

/// Appends a length-prefixed string.
pub fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Reads the encodings above from a byte slice; every read is bounds-checked.
pub struct Decoder<'a> {
    /// The bytes.
    pub b: &'a [u8],
    /// Read position.
    pub pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn short() -> Error {
        Error::Corrupt("record is truncated".into())
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8> {
        let v = *self.b.get(self.pos).ok_or_else(Self::short)?;
        self.pos += 1;
        Ok(v)
    }

    /// An unsigned varint.
    pub fn uvarint(&mut self) -> Result<u64> {
        if self.pos >= self.b.len() {
            return Err(Self::short());
        }
        lantern_core::varint::uvarint_at(self.b, &mut self.pos)
            .ok_or_else(|| Error::Corrupt("varint is truncated or too long".into()))
    }

    /// A length that must fit in the remaining bytes (guards allocations).
    pub fn length(&mut self) -> Result<usize> {
        let n = self.uvarint()?;
        if n > (self.b.len() - self.pos) as u64 {
            return Err(Self::short());
        }
        Ok(n as usize)
    }

    /// A zig-zag signed varint.
    pub fn varint(&mut self) -> Result<i64> {
        Ok(lantern_core::varint::unzigzag(self.uvarint()?))
    }

    /// Eight little-endian bytes.
    pub fn u64_le(&mut self) -> Result<u64> {
        let s = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(Self::short)?;
        let s = self.b.get(self.pos..end).ok_or_else(Self::short)?;
        self.pos = end;
        Ok(s)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str> {
        let n = self.length()?;
        let s = self.bytes(n)?;
        std::str::from_utf8(s).map_err(|_| Error::Corrupt("string is not utf-8".into()))
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.pos == self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn series_and_checkpoint_round_trip() {
        let r = Record::Series(vec![(7, Labels::from_pairs([("__name__", "up"), ("job", "a")]))]);
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(Record::decode(&b).unwrap(), r);
        let c = Record::Checkpoint { floor: -5, first_segment: 9 };
        let mut b = Vec::new();
        c.encode(&mut b);
        assert_eq!(Record::decode(&b).unwrap(), c);
        let e = Record::Exemplars(vec![RefExemplar {
            series: 3,
            exemplar: lantern_core::Exemplar {
                labels: Labels::from_pairs([("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]),
                value: 0.25,
                t: 1_700_000_000_123,
            },
        }]);
        let mut b = Vec::new();
        e.encode(&mut b);
        assert_eq!(Record::decode(&b).unwrap(), e);
        let Record::Exemplars(v) = e else { unreachable!() };
        let l = Record::LabeledExemplars(vec![(Labels::from_pairs([("__name__", "h_bucket")]), v[0].exemplar.clone())]);
        let mut b = Vec::new();
        l.encode(&mut b);
        assert_eq!(Record::decode(&b).unwrap(), l);
    }

    proptest! {
        #[test]
        fn samples_round_trip(v in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 0..100)) {
            let samples: Vec<RefSample> = v.iter().map(|&(s, t, vb)| RefSample { series: s, t, v: f64::from_bits(vb) }).collect();
            let mut b = Vec::new();
            Record::Samples(samples.clone()).encode(&mut b);
            match Record::decode(&b).unwrap() {
                Record::Samples(got) => {
                    prop_assert_eq!(got.len(), samples.len());
                    for (a, e) in got.iter().zip(&samples) {
                        prop_assert!(a.series == e.series && a.t == e.t && a.v.to_bits() == e.v.to_bits());
                    }
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Record::decode(&b);
        }
    }
}
