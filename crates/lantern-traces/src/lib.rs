//! Traces: spans as OTLP sends them, kept whole ([`model`]) in the shared event engine
//! ([`table`] is the span schema), queried by trace ID and by search ([`store`]),
//! turned into RED and service-graph metrics ([`spanmetrics`]), and explained by their
//! critical path ([`critical`]).

pub mod critical;
pub mod model;
pub mod spanmetrics;
pub mod store;
pub mod table;

pub use model::Span;
pub use spanmetrics::SpanMetrics;
pub use store::{Search, TraceStore};

#[cfg(test)]
mod tests;
