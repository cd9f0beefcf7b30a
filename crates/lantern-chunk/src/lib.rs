//! Compressed chunks of float samples, the unit the metrics store keeps in memory and
//! writes to blocks.
//!
//! The encoding is the Gorilla scheme Prometheus uses: delta-of-delta timestamps in
//! variable-width buckets and XOR-compressed floats. Pure code: no I/O, no async.
//! A chunk's bytes start with a big-endian `u16` sample count, so a chunk read back from
//! a file knows its length in samples. Sealed blocks use the [`packed`] encoding instead,
//! which a general-purpose compressor squeezes further.

mod bits;
pub mod packed;
mod xor;

pub use xor::{ChunkIter, XorAppender};

/// Errors from decoding a chunk that came from a file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The bytes end before the sample count says they should.
    #[error("chunk is truncated: expected {expected} samples, decoded {decoded}")]
    Truncated {
        /// Samples the header announced.
        expected: usize,
        /// Samples decoded before the bytes ran out.
        decoded: usize,
    },
    /// A chunk's bytes do not decode.
    #[error("chunk is corrupt: {0}")]
    Corrupt(&'static str),
}

/// Result alias of the chunk crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Decodes every sample of a chunk into `(timestamp, value)` pairs.
pub fn decode(bytes: &[u8]) -> Result<Vec<(i64, f64)>> {
    let it = ChunkIter::new(bytes);
    let expected = it.len_hint();
    let mut out = Vec::with_capacity(expected);
    for s in it {
        out.push(s?);
    }
    Ok(out)
}

/// Encodes samples (timestamps strictly increasing) into one chunk.
pub fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut a = XorAppender::new();
    for &(t, v) in samples {
        a.append(t, v);
    }
    a.into_bytes()
}
