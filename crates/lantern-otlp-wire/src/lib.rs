//! OTLP protobuf read in place on `lantern_core`'s protobuf wire reader ([`pb`]);
//! [`common`] decodes attributes, resources, scopes and the envelope every export request
//! shares; [`metrics`], [`traces`] and [`logs`] decode the export requests into views whose strings and bytes borrow the request and whose
//! lists live in a per-request arena. Unknown fields are skipped as protobuf says.

pub mod common;
pub mod logs;
pub mod metrics;
pub use lantern_core::protowire as pb;
pub mod traces;

pub use pb::DecodeError;
