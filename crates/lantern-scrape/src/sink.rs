//! Where scraped samples go: the metrics store (`serve`), or a collector pipeline
//! (`collect`'s `prometheus` receiver). Scrape loops take a handle on each series once
//! and append through it, as the metrics store's head wants.

use lantern_core::{Exemplar, Labels, Sample};
use lantern_tsdb::metadata::MetricMeta;
use lantern_tsdb::Tsdb;

/// A series as a store knows it.
#[derive(Debug, Clone)]
pub enum Handle {
    /// The metrics store's own handle.
    Tsdb(lantern_tsdb::SeriesHandle),
    /// The series' labels (stores without handles).
    Labels(Labels),
}

/// Takes scraped samples.
pub trait ScrapeStore: Send + Sync + 'static {
    /// Now, milliseconds since the epoch (the store's clock).
    fn now_ms(&self) -> i64;
    /// A handle on the series with these labels.
    fn handle(&self, labels: &Labels) -> Result<Handle, String>;
    /// Appends samples; the positions in `rows` whose handle is no longer valid (taken
    /// again and appended again by the caller).
    fn append(&self, rows: &[(&Handle, Sample, &[Exemplar])]) -> Result<Vec<usize>, String>;
    /// The metadata of a metric family (when a target's changes).
    fn set_metadata(&self, family: &str, meta: &MetricMeta);
}

impl ScrapeStore for Tsdb {
    fn now_ms(&self) -> i64 {
        self.clock().now_ms()
    }

    fn handle(&self, labels: &Labels) -> Result<Handle, String> {
        Tsdb::handle(self, labels).map(Handle::Tsdb).map_err(|e| e.to_string())
    }

    fn append(&self, rows: &[(&Handle, Sample, &[Exemplar])]) -> Result<Vec<usize>, String> {
        let mut at = Vec::with_capacity(rows.len());
        let refs: Vec<(&lantern_tsdb::SeriesHandle, Sample, &[Exemplar])> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (h, s, ex))| match h {
                Handle::Tsdb(h) => {
                    at.push(i);
                    Some((h, *s, *ex))
                }
                Handle::Labels(_) => None,
            })
            .collect();
        let (_, gone) = self.append_handles_unsynced(&refs).map_err(|e| e.to_string())?;
        Ok(gone.into_iter().map(|k| at[k]).collect())
    }

    fn set_metadata(&self, family: &str, meta: &MetricMeta) {
        self.metadata().set(family, meta.clone());
    }
}
