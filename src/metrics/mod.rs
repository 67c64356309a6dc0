//! Measurement vocabulary and recording, shared by every layer that measures
//! or classifies: phases, series keys, the failure taxonomy, per-worker
//! recorders, the aggregate and the snapshots the UI and results read.
//! Knows nothing of the engine, the endpoint or the UI.

mod failure;
mod phase;
mod recorder;
mod snapshot;
mod taxonomy;

pub use failure::{alert_label, dial_cause, FailPhase, Failure, FailureKey, FailureStat};
pub use phase::{EndpointKind, Phase, SeriesKey};
pub use recorder::{histogram, Aggregate, Counts, IntervalData, LocalRecorder, MAX_NANOS};
pub use snapshot::{BreakdownRow, FailureRow, PhaseRow, Snapshot, Stats};
pub use taxonomy::VerifyCause;
