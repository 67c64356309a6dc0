//! Failures: phase × cause, counted per fleet group and endpoint, with the
//! first sample message kept for display.

use serde::{Deserialize, Serialize};

use super::cause::Cause;
use super::phase::EndpointKind;

/// The phase a failure happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailPhase {
    /// TCP connect.
    Dial,
    /// TLS handshake (not the certificate).
    Tls,
    /// Certificate-chain validation.
    Verify,
    /// MQTT CONNECT/CONNACK.
    Mqtt,
    /// While connected.
    Hold,
    /// A bug in chainstorm (a device task panicked).
    Internal,
}

impl FailPhase {
    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            FailPhase::Dial => "dial",
            FailPhase::Tls => "tls",
            FailPhase::Verify => "verify",
            FailPhase::Mqtt => "mqtt",
            FailPhase::Hold => "hold",
            FailPhase::Internal => "internal",
        }
    }

    /// Every phase, in index order.
    pub const ALL: [FailPhase; 6] = [
        FailPhase::Dial,
        FailPhase::Tls,
        FailPhase::Verify,
        FailPhase::Mqtt,
        FailPhase::Hold,
        FailPhase::Internal,
    ];

    /// The phase with this label.
    pub fn from_label(s: &str) -> Option<FailPhase> {
        FailPhase::ALL.into_iter().find(|p| p.label() == s)
    }
}

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
