//! Base types shared by every Lantern crate: label sets, samples, label matchers and
//! Prometheus-style durations and byte sizes, and metric-name conventions. No I/O, no
//! async.

pub mod bytesize;
pub mod clock;
pub mod duration;
pub mod error;
pub mod json;
pub mod labels;
pub mod matcher;
pub mod names;
pub mod protowire;
pub mod sample;
pub mod selfmon;
pub mod varint;

pub use bytesize::ByteSize;
pub use duration::PromDuration;
pub use error::{Error, Result};
pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use sample::{is_stale_nan, Exemplar, Sample, STALE_NAN};
