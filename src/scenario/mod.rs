//! Scenarios: the TOML schema, loading with file:line:col errors, threshold
//! rules, and the seeded [`Plan`] derived from a scenario.

mod check;
mod fleet;
mod link;
mod load;
mod plan;
pub mod schema;
pub mod thresholds;
mod types;

use std::path::PathBuf;

pub use check::line_col;
pub use load::{load, parse};
pub use plan::{
    arrival_offsets, expected_arrivals, planned_concurrency, rate_at, render_client_id, BadShard,
    DevicePlan, Plan, Shard,
};
pub use thresholds::{Metric, Op, Threshold};
pub use types::{ArrivalSpec, Group, MigrationSpec, Scenario, Target};

/// Errors of the scenario layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A parse or value error at a position.
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong and what was expected.
        message: String,
    },
}
