//! A zero-copy decoder for `prometheus.WriteRequest`: label strings are borrowed from the
//! decompressed body and samples go straight into a [`Batch`], so decoding allocates
//! per request, not per series or label. The prost types in [`crate::proto`] describe the
//! same message and are used to encode (clients, tests) and for remote read.

use lantern_core::protowire::{DecodeError, Field, Reader};
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
) -> Result<Extras, DecodeError> {
    let mut r = Reader::new(buf);
    let mut extras = Extras::default();
    while let Some((tag, f)) = r.next()? {
        match (tag, f) {
            (1, Field::Len(msg)) => decode_series(msg, batch, &mut extras)?,
            (3, Field::Len(msg)) => {
                if let Some(m) = decode_metadata(msg)? {
                    metadata.push(m);
                }
            }
            _ => {}
        }
    }
    Ok(extras)
}

/// A `MetricMetadata` message (type, family name, help, unit), or `None` if unusable.
fn decode_metadata(buf: &[u8]) -> Result<Option<(String, MetricMeta)>, DecodeError> {
    let mut r = Reader::new(buf);
    let (mut kind, mut name, mut help, mut unit) = (0u64, "", "", "");
    while let Some((tag, f)) = r.next()? {
        match (tag, f) {
            (1, Field::Varint(v)) => kind = v,
            (2, Field::Len(b)) => name = std::str::from_utf8(b).unwrap_or(""),
            (4, Field::Len(b)) => help = std::str::from_utf8(b).unwrap_or(""),
            (5, Field::Len(b)) => unit = std::str::from_utf8(b).unwrap_or(""),
            _ => {}
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

fn decode_series<'a>(buf: &'a [u8], batch: &mut Batch<'a>, extras: &mut Extras) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    batch.begin_series();
    while let Some((tag, f)) = r.next()? {
        match (tag, f) {
            (1, Field::Len(b)) => {
                // Bytes, not str: the store checks UTF-8 only for series it does not know.
                let (name, value) = decode_label(b)?;
                batch.label(name, value);
            }
            (2, Field::Len(b)) => {
                let mut sr = Reader::new(b);
                let (mut v, mut t) = (0f64, 0i64);
                while let Some((tag, f)) = sr.next()? {
                    match (tag, f) {
                        (1, Field::I64(bits)) => v = f64::from_bits(bits),
                        (2, Field::Varint(u)) => t = u as i64,
                        _ => {}
                    }
                }
                batch.sample(Sample::new(t, v));
            }
            (3, Field::Len(b)) => match decode_exemplar(b)? {
                Some(e) => {
                    batch.exemplar(e);
                    extras.exemplars += 1;
                }
                None => extras.invalid_exemplars += 1,
            },
            (4, Field::Len(_)) => extras.histograms += 1,
            _ => {}
        }
    }
    batch.end_series();
    Ok(())
}

/// A `Label` message: its name and value bytes.
#[inline]
fn decode_label(buf: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let mut r = Reader::new(buf);
    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
    while let Some((tag, f)) = r.next()? {
        match (tag, f) {
            (1, Field::Len(b)) => name = b,
            (2, Field::Len(b)) => value = b,
            _ => {}
        }
    }
    Ok((name, value))
}

/// An exemplar message, or `None` if its labels are unusable.
fn decode_exemplar(buf: &[u8]) -> Result<Option<lantern_core::Exemplar>, DecodeError> {
    let mut r = Reader::new(buf);
    let (mut labels, mut value, mut t, mut ok) = (Vec::new(), 0f64, 0i64, true);
    while let Some((tag, f)) = r.next()? {
        match (tag, f) {
            (1, Field::Len(b)) => {
                let (name, val) = decode_label(b)?;
                match (std::str::from_utf8(name), std::str::from_utf8(val)) {
                    (Ok(n), Ok(v)) if lantern_core::labels::is_valid_label_name(n) => labels.push((n, v)),
                    _ => ok = false,
                }
            }
            (2, Field::I64(bits)) => value = f64::from_bits(bits),
            (3, Field::Varint(u)) => t = u as i64,
            _ => {}
        }
    }
    let runes: usize = labels.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
    if !ok || runes > 128 {
        return Ok(None);
    }
    Ok(Some(lantern_core::Exemplar { labels: lantern_core::Labels::from_pairs(labels), value, t }))
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
