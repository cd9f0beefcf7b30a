//! LogQL over the log store: [`pipeline`] compiles a log query, [`engine`] runs log
//! and metric queries.

pub mod engine;
pub mod pipeline;
mod prefilter;
mod scan;

pub use engine::{run, Answer, Params, SeriesOut, StreamOut};

#[cfg(test)]
mod tests;
