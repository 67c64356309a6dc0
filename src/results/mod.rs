//! Results of a run: `results/<name>-<UTC timestamp>/` with `summary.json`,
//! `latency.hlog` (HdrHistogram interval log, one tag per series),
//! `timeseries.csv` (per tick) and a copy of the scenario; threshold
//! evaluation; the human summary.

pub mod compare;
pub mod hlog;
mod human;
pub mod merge;
pub mod report;
mod summary;
mod thresholds;
pub mod timeseries;

use std::path::{Path, PathBuf};

pub use hlog::HlogWriter;
pub use human::render as human_summary;
pub use summary::{
    KeyStats, Machine, Summary, SummaryInputs, ThresholdResult, Totals, Verdict, FORMAT_VERSION,
};
pub use thresholds::evaluate;
pub use timeseries::{read_timeseries, TimeseriesRow, TimeseriesWriter};

/// Errors of the results layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    /// A results file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A results file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A results file is not in the layout this version writes.
    #[error("{0}")]
    Format(String),
    /// A histogram could not be serialized.
    #[error("serializing histograms for {path}: {message}")]
    Serialize {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

pub(crate) fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// This machine's host name, as results record it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Creates `root/<name>-<UTC timestamp>/` (with a suffix if it exists).
pub fn create_run_dir(root: &Path, name: &str) -> Result<PathBuf, ResultsError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut dir = root.join(format!("{safe}-{stamp}"));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(format!("{safe}-{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    Ok(dir)
}
