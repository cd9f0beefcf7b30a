//! Logs on the event engine: [`model`] (events, streams, typed fields), [`jsonl`]
//! (JSON lines into events), [`table`] (the Parquet layout), [`tokens`] (index keys),
//! [`codec`] (log payloads), [`search`] (the seed's search syntax), [`store`]
//! (`LogStore`).

pub mod codec;
pub mod error;
pub mod files;
pub mod jsonl;
pub mod logql;
pub mod model;
pub mod multiline;
pub mod otlp;
pub mod push;
pub mod search;
pub mod store;
pub mod table;
pub mod tokens;
pub mod topk;

pub use error::{Error, Result};
pub use model::{IdFields, LogRow, Stream, Value};
pub use search::Search;
pub use store::{Cursor, Found, LogStore, Order, Rejected};

#[cfg(test)]
mod tests;
