//! The metrics store as the PromQL engine's [`Storage`]: each selector is one store
//! read, run from the blocking thread a query or rule evaluates on (never from an
//! async task). The Prometheus query API and the rule engine both read through it.

use std::sync::Arc;

use lantern_core::{Labels, Matcher, Sample};
use lantern_promql::Storage;

use crate::Tsdb;

/// The store, read with a runtime handle.
pub struct TsdbStorage {
    db: Arc<Tsdb>,
    rt: tokio::runtime::Handle,
}

impl TsdbStorage {
    /// The store, read with `rt`.
    pub fn new(db: Arc<Tsdb>, rt: tokio::runtime::Handle) -> Self {
        Self { db, rt }
    }
}

impl Storage for TsdbStorage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> lantern_promql::Result<Vec<(Labels, Vec<Sample>)>> {
        self.rt
            .block_on(self.db.select(matchers, mint, maxt))
            .map_err(|e| lantern_promql::Error::Storage(e.to_string()))
    }

    fn select_last(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> lantern_promql::Result<Vec<(Labels, Sample)>> {
        self.rt
            .block_on(self.db.select_last(matchers, mint, maxt))
            .map_err(|e| lantern_promql::Error::Storage(e.to_string()))
    }
}
