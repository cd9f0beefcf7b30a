//! OTLP ingest: metrics over gRPC ([`grpc`], `:4317`) and HTTP ([`http`], `:4318`,
//! protobuf and JSON), converted to Prometheus series by [`metrics`] and stored through
//! [`ingest::MetricsIngest`] with OTLP's partial-success answers; traces the same way
//! into the span store ([`traces::TraceIngest`]), and logs into the log store
//! ([`logs::LogIngest`]).

pub mod grpc;
pub mod http;
pub mod ingest;
pub mod logs;
pub mod metrics;
pub mod traces;

pub use ingest::MetricsIngest;
pub use logs::LogIngest;
pub use traces::TraceIngest;
