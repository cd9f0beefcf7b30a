//! Dashboards as code, in Grafana's dashboard JSON.
//!
//! - `model.rs`: reading a dashboard (Grafana's import wrapper, the legacy `rows` shape
//!   converted to `panels` + `gridPos`), panel ids and positions filled in, the uid, and
//!   which of Lantern's signals a datasource reference means.
//! - `validate.rs`: every problem, named by its JSON path
//!   (`panels[2].targets[0].expr: …`), with template variables substituted before the
//!   PromQL or LogQL is parsed.
//! - `generated.rs`: a Service Overview dashboard per service seen in span metrics or
//!   `http_requests_total` (the four golden signals, the service's error logs and failed
//!   traces).
//! - `store.rs`: saved dashboards (one file each in the data directory, written
//!   atomically), provisioned ones (a directory, read again when it changes) and the
//!   generated ones, behind one [`Dashboards`] handle.
//! - `api.rs`: `GET|POST /api/v1/dashboards`, `GET|PUT|DELETE /api/v1/dashboards/{uid}`.

pub mod api;
pub mod generated;
pub mod model;
pub mod store;
pub mod validate;

pub use api::router;
pub use store::{Dashboards, Source, Summary};

/// What can go wrong with a dashboard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON is not a dashboard: every problem, each with its path.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// No dashboard has this uid.
    #[error("no dashboard with uid {0:?}")]
    NotFound(String),
    /// A provisioned or generated dashboard cannot be changed through the API.
    #[error("dashboard {uid:?} is {why}; save a copy under another uid to change it")]
    ReadOnly {
        /// The dashboard.
        uid: String,
        /// Where it comes from ("provisioned from FILE", "generated").
        why: String,
    },
    /// A saved dashboard already has this uid.
    #[error(
        "a dashboard with uid {0:?} exists; PUT /api/v1/dashboards/{0} (or POST with \"overwrite\": true) replaces it"
    )]
    Exists(String),
    /// Reading or writing the dashboard files failed.
    #[error("{0}")]
    Io(String),
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests;
