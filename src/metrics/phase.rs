//! What is measured: phases, endpoint kinds and the key of a latency series.

use serde::{Deserialize, Serialize};

/// A measured phase; every latency is recorded in nanoseconds from the
/// monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// TCP connect, SYN to established.
    TcpConnect,
    /// First flight sent to handshake complete.
    TlsHandshake,
    /// Inside the verifier, per verification.
    ChainValidation,
    /// CONNECT sent to CONNACK read.
    MqttConnack,
    /// Intended start to connected (coordinated-omission corrected).
    ConnectTotal,
    /// Actual start to connected (what a closed-loop tool would report).
    ServiceTime,
    /// How late the attempt started after its intended start.
    SchedulerLag,
}

impl Phase {
    /// Every phase, in display order.
    pub const ALL: [Phase; 7] = [
        Phase::TcpConnect,
        Phase::TlsHandshake,
        Phase::ChainValidation,
        Phase::MqttConnack,
        Phase::ConnectTotal,
        Phase::ServiceTime,
        Phase::SchedulerLag,
    ];

    /// snake_case name, as thresholds and results spell it.
    pub fn label(self) -> &'static str {
        match self {
            Phase::TcpConnect => "tcp_connect",
            Phase::TlsHandshake => "tls_handshake",
            Phase::ChainValidation => "chain_validation",
            Phase::MqttConnack => "mqtt_connack",
            Phase::ConnectTotal => "connect_total",
            Phase::ServiceTime => "service_time",
            Phase::SchedulerLag => "scheduler_lag",
        }
    }

    /// Parses a label.
    pub fn from_label(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.label() == s)
    }
}

/// Which endpoint an attempt talked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointKind {
    /// The VeriSign-chained endpoint.
    Legacy,
    /// The ATS endpoint, RSA chain.
    AtsRsa,
    /// The ATS endpoint, ECC chain.
    AtsEcc,
    /// The ATS endpoint, chain not known (the attempt failed before it).
    Ats,
    /// A target that is neither (external, custom names).
    Custom,
}

impl EndpointKind {
    /// Every kind.
    pub const ALL: [EndpointKind; 5] = [
        EndpointKind::Legacy,
        EndpointKind::AtsRsa,
        EndpointKind::AtsEcc,
        EndpointKind::Ats,
        EndpointKind::Custom,
    ];

    /// The kind with this label.
    pub fn from_label(s: &str) -> Option<EndpointKind> {
        EndpointKind::ALL.into_iter().find(|e| e.label() == s)
    }

    /// Label: `legacy`, `ats-rsa`, `ats-ecc`, `ats`, `custom`.
    pub fn label(self) -> &'static str {
        match self {
            EndpointKind::Legacy => "legacy",
            EndpointKind::AtsRsa => "ats-rsa",
            EndpointKind::AtsEcc => "ats-ecc",
            EndpointKind::Ats => "ats",
            EndpointKind::Custom => "custom",
        }
    }
}

/// The key of one latency series: phase × fleet group × endpoint kind, and
/// for chain validation the matched anchor's path kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// Phase.
    pub phase: Phase,
    /// Fleet group index.
    pub group: u16,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
    /// Path kind of the matched anchor (chain validation only).
    pub anchor: Option<Anchor>,
}

/// Where a validated chain ended, as a chain-validation series is labelled:
/// the verified path's kind, or `rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Anchor {
    /// Ended at VeriSign G5.
    LegacyRsa,
    /// Ended at Amazon Root CA 1.
    AtsRsa,
    /// Ended at Amazon Root CA 3.
    AtsEcc,
    /// Ended at Starfield G2 through the Amazon Root CA 1 cross-certificate.
    CrossSigned,
    /// Ended anywhere else.
    Other,
    /// The verifier rejected the chain.
    Rejected,
}

impl Anchor {
    /// Every anchor label a series can carry.
    pub const ALL: [Anchor; 6] = [
        Anchor::LegacyRsa,
        Anchor::AtsRsa,
        Anchor::AtsEcc,
        Anchor::CrossSigned,
        Anchor::Other,
        Anchor::Rejected,
    ];

    /// Label, as results, tags and metrics spell it.
    pub fn label(self) -> &'static str {
        match self {
            Anchor::LegacyRsa => "legacy-rsa",
            Anchor::AtsRsa => "ats-rsa",
            Anchor::AtsEcc => "ats-ecc",
            Anchor::CrossSigned => "cross-signed",
            Anchor::Other => "other",
            Anchor::Rejected => "rejected",
        }
    }

    /// Parses a label.
    pub fn from_label(s: &str) -> Option<Anchor> {
        Anchor::ALL.into_iter().find(|a| a.label() == s)
    }
}

// `pad`, not `write_str`, so table columns (`{:<10}`) apply to labels.
impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.label())
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.label())
    }
}

impl std::fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.label())
    }
}

impl SeriesKey {
    /// Parses a tag written by [`SeriesKey::tag`]; `groups` maps names to indexes.
    pub fn from_tag(tag: &str, groups: &[String]) -> Option<SeriesKey> {
        let parts: Vec<&str> = tag.split('/').collect();
        if !(3..=4).contains(&parts.len()) {
            return None;
        }
        Some(SeriesKey {
            phase: Phase::from_label(parts[0])?,
            group: u16::try_from(groups.iter().position(|g| g == parts[1])?).ok()?,
            endpoint: EndpointKind::from_label(parts[2])?,
            anchor: match parts.get(3) {
                Some(a) => Some(Anchor::from_label(a)?),
                None => None,
            },
        })
    }

    /// A tag for interval logs: `phase/group/endpoint[/anchor]`, group by name.
    pub fn tag(&self, groups: &[String]) -> String {
        let g = groups
            .get(self.group as usize)
            .map(String::as_str)
            .unwrap_or("?");
        match self.anchor {
            Some(a) => format!("{}/{g}/{}/{a}", self.phase.label(), self.endpoint.label()),
            None => format!("{}/{g}/{}", self.phase.label(), self.endpoint.label()),
        }
    }
}
