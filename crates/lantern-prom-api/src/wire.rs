//! A zero-copy decoder for `prometheus.WriteRequest`: label strings are borrowed from the
//! decompressed body and samples go straight into a [`Batch`], so decoding allocates
//! per request, not per series or label. The prost types in [`crate::proto`] describe the
//! same message and are used to encode (clients, tests) and for remote read.

use lantern_core::Sample;
use lantern_tsdb::metadata::MetricMeta;
use lantern_tsdb::Batch;

/// Counts of what a request carried besides float samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extras {
    /// Exemplars decoded into the batch.
    pub exemplars: usize,
    /// Exemplars left out: labels not UTF-8 or not valid label names, or longer than
    /// 128 characters in all (OpenMetrics's limit, which Prometheus applies).
    pub invalid_exemplars: usize,
    /// Native histogram samples (not supported yet).
    pub histograms: usize,
}

/// Decodes a `WriteRequest` into `batch`, and its metric metadata into `metadata`
/// (family name and what is known of it).
pub fn decode_write_request<'a>(
    buf: &'a [u8],
    batch: &mut Batch<'a>,
    metadata: &mut Vec<(String, MetricMeta)>,
) -> Result<Extras, String> {
    let mut r = Reader { b: buf, pos: 0 };
    let mut extras = Extras::default();
    while !r.done() {
        let (field, wt) = r.key()?;
        match (field, wt) {
            (1, 2) => {
                let msg = r.bytes()?;
                decode_series(msg, batch, &mut extras)?;
            }
            (3, 2) => {
                if let Some(m) = decode_metadata(r.bytes()?)? {
                    metadata.push(m);
                }
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(extras)
}

/// A `MetricMetadata` message (type, family name, help, unit), or `None` if unusable.
fn decode_metadata(buf: &[u8]) -> Result<Option<(String, MetricMeta)>, String> {
    let mut r = Reader { b: buf, pos: 0 };
    let (mut kind, mut name, mut help, mut unit) = (0u64, "", "", "");
    while !r.done() {
        let (field, wt) = r.key()?;
        match (field, wt) {
            (1, 0) => kind = r.varint()?,
            (2, 2) => name = std::str::from_utf8(r.bytes()?).unwrap_or(""),
            (4, 2) => help = std::str::from_utf8(r.bytes()?).unwrap_or(""),
            (5, 2) => unit = std::str::from_utf8(r.bytes()?).unwrap_or(""),
            _ => r.skip(wt)?,
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    let kind = ["unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"]
        .get(kind as usize)
        .copied()
        .unwrap_or("unknown");
    Ok(Some((name.to_string(), MetricMeta { kind: kind.into(), help: help.into(), unit: unit.into() })))
}

fn decode_series<'a>(buf: &'a [u8], batch: &mut Batch<'a>, extras: &mut Extras) -> Result<(), String> {
    let mut r = Reader { b: buf, pos: 0 };
    batch.begin_series();
    while !r.done() {
        let (field, wt) = r.key()?;
        match (field, wt) {
            (1, 2) => {
                // Bytes, not str: the store checks UTF-8 only for series it does not know.
                let (name, value) = decode_label(r.bytes()?)?;
                batch.label(name, value);
            }
            (2, 2) => {
                let mut sr = Reader { b: r.bytes()?, pos: 0 };
                let (mut v, mut t) = (0f64, 0i64);
                while !sr.done() {
                    let (f, w) = sr.key()?;
                    match (f, w) {
                        (1, 1) => v = f64::from_bits(sr.fixed64()?),
                        (2, 0) => t = sr.varint()? as i64,
                        _ => sr.skip(w)?,
                    }
                }
                batch.sample(Sample::new(t, v));
            }
            (3, 2) => match decode_exemplar(r.bytes()?)? {
                Some(e) => {
                    batch.exemplar(e);
                    extras.exemplars += 1;
                }
                None => extras.invalid_exemplars += 1,
            },
            (4, 2) => {
                r.bytes()?;
                extras.histograms += 1;
            }
            _ => r.skip(wt)?,
        }
    }
    batch.end_series();
    Ok(())
}

/// A `Label` message: its name and value bytes.
fn decode_label(buf: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut r = Reader { b: buf, pos: 0 };
    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
    while !r.done() {
        let (f, w) = r.key()?;
        match (f, w) {
            (1, 2) => name = r.bytes()?,
            (2, 2) => value = r.bytes()?,
            _ => r.skip(w)?,
        }
    }
    Ok((name, value))
}

/// An exemplar message, or `None` if its labels are unusable.
fn decode_exemplar(buf: &[u8]) -> Result<Option<lantern_core::Exemplar>, String> {
    let mut r = Reader { b: buf, pos: 0 };
    let (mut labels, mut value, mut t, mut ok) = (Vec::new(), 0f64, 0i64, true);
    while !r.done() {
        let (field, wt) = r.key()?;
        match (field, wt) {
            (1, 2) => {
                let (name, val) = decode_label(r.bytes()?)?;
                match (std::str::from_utf8(name), std::str::from_utf8(val)) {
                    (Ok(n), Ok(v)) if lantern_core::labels::is_valid_label_name(n) => labels.push((n, v)),
                    _ => ok = false,
                }
            }
            (2, 1) => value = f64::from_bits(r.fixed64()?),
            (3, 0) => t = r.varint()? as i64,
            _ => r.skip(wt)?,
        }
    }
    let runes: usize = labels.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
    if !ok || runes > 128 {
        return Ok(None);
    }
    Ok(Some(lantern_core::Exemplar { labels: lantern_core::Labels::from_pairs(labels), value, t }))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, String> {
        // Most varints here (tags, lengths) are one byte.
        if let Some(&b) = self.b.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(b as u64);
            }
        }
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.b.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err("varint overflows 64 bits".into());
            }
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint is too long".into())
    }

    fn key(&mut self) -> Result<(u64, u8), String> {
        let k = self.varint()?;
        let field = k >> 3;
        if field == 0 {
            return Err("field number 0 is invalid".into());
        }
        Ok((field, (k & 7) as u8))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        let s = self.b.get(self.pos..self.pos + 8).ok_or("truncated fixed64")?;
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length is too large")?;
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let s = self.b.get(self.pos..end).ok_or("truncated length-delimited field")?;
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, wt: u8) -> Result<(), String> {
        match wt {
            0 => self.varint().map(|_| ()),
            1 => self.fixed64().map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => {
                self.b.get(self.pos..self.pos + 4).ok_or("truncated fixed32")?;
                self.pos += 4;
                Ok(())
            }
            w => Err(format!("wire type {w} is not supported")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{self, Exemplar, TimeSeries, WriteRequest};
    use proptest::prelude::*;
    use prost::Message;

    fn arb_series() -> impl Strategy<Value = TimeSeries> {
        (
            proptest::collection::vec(("[a-z_]{1,6}", "\\PC{0,6}"), 0..5),
            proptest::collection::vec((any::<i64>(), any::<u64>()), 0..5),
            proptest::collection::vec(("[0-9a-f]{32}", any::<u64>(), any::<i64>()), 0..3),
        )
            .prop_map(|(labels, samples, ex)| TimeSeries {
                labels: labels.into_iter().map(|(name, value)| proto::Label { name, value }).collect(),
                samples: samples
                    .into_iter()
                    .map(|(t, v)| proto::Sample { value: f64::from_bits(v), timestamp: t })
                    .collect(),
                exemplars: ex
                    .into_iter()
                    .map(|(trace, v, t)| Exemplar {
                        labels: vec![proto::Label { name: "trace_id".into(), value: trace }],
                        value: f64::from_bits(v),
                        timestamp: t,
                    })
                    .collect(),
                histograms: vec![],
            })
    }

    proptest! {
        #[test]
        fn agrees_with_prost(series in proptest::collection::vec(arb_series(), 0..6)) {
            let buf = WriteRequest { timeseries: series.clone(), metadata: vec![] }.encode_to_vec();
            let mut b = Batch::new();
            let extras = decode_write_request(&buf, &mut b, &mut Vec::new()).unwrap();
            prop_assert_eq!(b.len(), series.len());
            prop_assert_eq!(extras.exemplars, series.iter().map(|s| s.exemplars.len()).sum::<usize>());
            for (got, ts) in b.exemplars().zip(&series) {
                prop_assert_eq!(got.len(), ts.exemplars.len());
                for (a, e) in got.iter().zip(&ts.exemplars) {
                    prop_assert_eq!(a.labels.get("trace_id"), Some(e.labels[0].value.as_str()));
                    prop_assert!(a.t == e.timestamp && a.value.to_bits() == e.value.to_bits());
                }
            }
            for ((pairs, samples), ts) in b.iter().zip(&series) {
                let mut want: Vec<(&[u8], &[u8])> = ts.labels.iter().filter(|l| !l.value.is_empty()).map(|l| (l.name.as_bytes(), l.value.as_bytes())).collect();
                want.sort_by(|a, b| a.0.cmp(b.0));
                let mut got = pairs.to_vec();
                got.sort();
                want.sort();
                prop_assert_eq!(got, want);
                prop_assert_eq!(samples.len(), ts.samples.len());
                for (a, e) in samples.iter().zip(&ts.samples) {
                    prop_assert!(a.t == e.timestamp && a.v.to_bits() == e.value.to_bits());
                }
            }
        }

        #[test]
        fn garbage_is_an_error_or_a_batch_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut b = Batch::new();
            let _ = decode_write_request(&bytes, &mut b, &mut Vec::new());
        }
    }
}
