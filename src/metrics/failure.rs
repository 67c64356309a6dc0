//! Failures: phase × cause, counted per fleet group and endpoint, with the
//! first sample message kept for display.

use serde::Serialize;

use super::cause::{Cause, FailPhase};
use super::phase::EndpointKind;

/// The key failures are counted under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureKey {
    /// Cause (which implies the phase).
    pub cause: Cause,
    /// Fleet group index.
    pub group: u16,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
}

impl FailureKey {
    /// The phase of the cause.
    pub fn phase(&self) -> FailPhase {
        self.cause.phase()
    }
}

/// Counts and first/last sightings of one failure key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureStat {
    /// Occurrences.
    pub count: u64,
    /// Milliseconds since the run started, first occurrence.
    pub first_seen_ms: u64,
    /// Milliseconds since the run started, last occurrence.
    pub last_seen_ms: u64,
    /// The first occurrence's message.
    pub sample: String,
}

impl FailureStat {
    /// Merges another stat for the same key.
    pub fn merge(&mut self, o: &FailureStat) {
        if o.first_seen_ms < self.first_seen_ms {
            self.first_seen_ms = o.first_seen_ms;
            self.sample.clone_from(&o.sample);
        }
        self.last_seen_ms = self.last_seen_ms.max(o.last_seen_ms);
        self.count += o.count;
    }
}
