//! The rule engine in the server: [`manager::RuleManager`] evaluates rule groups
//! (PromQL over the metrics store, LogQL over the log store) on schedule, writes
//! recording rules and `ALERTS` series, reloads, and sends alerts through
//! [`notify::Notifier`] to Alertmanagers and webhooks; [`slo`] computes SLO state;
//! [`api`] serves the rules, alerts, notifiers and SLO APIs. The rule formats and the
//! evaluation itself are in `lantern-rules` (pure).

pub mod api;
pub mod config;
pub mod error;
pub mod manager;
pub mod notify;
pub mod slo;

pub use api::router;
pub use config::AlertingConfig;
pub use error::Error;
pub use manager::{Options, RuleManager};
pub use notify::Notifier;
