//! OTLP ingest: metrics over gRPC ([`grpc`], `:4317`) and HTTP ([`http`], `:4318`,
//! protobuf and JSON), converted to Prometheus series by [`metrics`] and stored through
//! [`ingest::MetricsIngest`] with OTLP's partial-success answers. Traces and logs arrive
//! here in later issues.

pub mod grpc;
pub mod http;
pub mod ingest;
pub mod metrics;

pub use ingest::MetricsIngest;
