//! Prometheus's PromQL test-script format (`load`, `clear`, `eval` with `expect` lines,
//! as described in `../shared/promqltest/FORMAT.md`), parsed into [`Command`]s. The
//! PromQL engine's conformance runner executes them; this crate only reads the scripts.
//! Pure: no I/O, no engine.

mod expand;
mod points;
mod script;

pub use expand::{almost_equal, has_histograms, load_samples, EPSILON};
pub use points::{parse_points, Point};
pub use script::{
    parse_script, parse_series_labels, Command, Eval, EvalKind, Expect, ExpectKind, Expected, SeriesSpec, TextMatch,
};

/// Where Prometheus's test scripts are: `LANTERN_PROMQLTEST_DIR`, else
/// `../shared/promqltest/testdata` beside the repository. Runners that find nothing
/// there say loudly that the suite was skipped.
pub fn suite_dir() -> std::path::PathBuf {
    std::env::var_os("LANTERN_PROMQLTEST_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/promqltest/testdata")
    })
}

/// A script that does not parse, with the line it failed on.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct Error {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
