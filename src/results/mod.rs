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
pub mod wire_csv;

use std::path::{Path, PathBuf};

pub use hlog::HlogWriter;
pub use human::{render as human_summary, wire_table};
pub use summary::{
    FigureStats, KeyStats, Machine, RunPart, Summary, SummaryInputs, ThresholdResult, Totals,
    ValueUnit, Verdict, WireStats, FORMAT_VERSION,
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
    /// A results file's content is not what this version writes.
    #[error("{}{}: {what}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line, where the fault is on one.
        line: Option<usize>,
        /// What is wrong.
        what: String,
    },
    /// A summary of a results layout this version does not read.
    #[error("{}: {}", .path.display(), match .found {
        Some(n) => format!("results format {n}; this chainstorm reads format {FORMAT_VERSION} (re-run the scenario)"),
        None => "no format_version: not a chainstorm summary, or from a pre-release layout this version cannot read".to_string(),
    })]
    Layout {
        /// The file.
        path: PathBuf,
        /// The format version it carries, if any.
        found: Option<u64>,
    },
    /// A directory given to a verb is not the kind it needs.
    #[error("{}: {needs}", .path.display())]
    NotRunDir {
        /// The directory.
        path: PathBuf,
        /// What the verb needs instead.
        needs: &'static str,
    },
    /// Shard runs that do not make up one run.
    #[error("refusing to merge: {}", .problems.join("; "))]
    MergeRefused {
        /// Every problem found.
        problems: Vec<String>,
    },
    /// The scenario copied into a shard's run directory does not load.
    #[error("the shards' scenario copy: {0}")]
    Scenario(#[from] Box<crate::scenario::ScenarioError>),
    /// A plot could not be drawn.
    #[error("plotting {}: {message}", .path.display())]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// The plotting library's message.
        message: String,
    },
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
