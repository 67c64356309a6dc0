//! Measurement vocabulary and recording, shared by every layer that measures
//! or classifies: phases, series keys, the failure taxonomy, per-worker
//! recorders, the aggregate and the snapshots the UI and results read.
//! Knows nothing of the engine, the endpoint or the UI.

mod build;
mod cause;
pub mod exposition;
mod failure;
mod format;
mod phase;
mod recorder;
mod snapshot;
mod wire;

pub use build::{build as build_snapshot, Labels};
pub use cause::{
    alert_name, qualified_cause, Cause, DialCause, FailPhase, HoldCause, MqttCause, PinTarget,
    TlsCause, VerifyCause,
};
pub use failure::{FailureKey, FailureStat};
pub use format::{format_ns, format_secs};
pub use phase::{Anchor, EndpointKind, Phase, SeriesKey};
pub use recorder::{histogram, Aggregate, Counts, IntervalData, LocalRecorder, MAX_NANOS};
pub use snapshot::{BreakdownRow, FailureRow, PhaseRow, RunState, Snapshot, Stat, Stats};
pub use wire::{Figure, WireHists, WireKey, WireSample};
