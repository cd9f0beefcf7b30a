//! Receivers: one instance per configured receiver, whose data of each signal goes to
//! every pipeline of that signal listing it.

pub mod filelog;
pub mod jaeger;
pub mod loki;
pub mod otlp;
pub mod prometheus;
