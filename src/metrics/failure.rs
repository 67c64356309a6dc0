//! Failures: phase × cause, counted per fleet group and endpoint, with the
//! first sample message kept for display.

use serde::{Deserialize, Serialize};

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
        }
    }
}

/// A failure as an attempt reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Phase.
    pub phase: FailPhase,
    /// Cause label in the taxonomy, e.g. `refused`, `alert_received(unknown_ca)`,
    /// `distrusted(SYMANTEC_TLS)`, `connack(0x9f)`.
    pub cause: String,
    /// A readable message for this occurrence.
    pub message: String,
}

/// The key failures are counted under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureKey {
    /// Phase.
    pub phase: FailPhase,
    /// Cause.
    pub cause: String,
    /// Fleet group index.
    pub group: u16,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
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

/// The label of a TLS alert the peer sent: `alert_received(<description>)`,
/// the same in the load engine and the fuzzer.
pub fn alert_label(d: rustls::AlertDescription) -> String {
    format!("alert_received({})", format!("{d:?}").to_ascii_lowercase())
}

/// Classifies an I/O error of the TCP connect.
pub fn dial_cause(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "refused",
        K::ConnectionReset => "reset",
        K::TimedOut => "timeout",
        K::AddrNotAvailable | K::AddrInUse => "addr_unavailable",
        _ if e.raw_os_error() == Some(24) || e.raw_os_error() == Some(23) => "fd_exhausted",
        _ => "other",
    }
}
