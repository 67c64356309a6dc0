//! The validated scenario: what `load` returns and every later stage (plan,
//! engine, results) reads. Nothing here parses; `load` and `fleet` build it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::schema::*;
use super::thresholds::Threshold;
use crate::model::DeviceModel;

/// A fleet group, validated.
#[derive(Clone, Debug)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Devices.
    pub devices: u64,
    /// Profile or model name as the scenario gives it (results label
    /// groups with it).
    pub profile: String,
    /// The device model: the named one (a plain profile is rustls over that
    /// store) with the scenario's `[fleet.model]` parts.
    pub model: DeviceModel,
    /// Protocol.
    pub protocol: Protocol,
    /// Endpoint before any migration.
    pub endpoint: EndpointChoice,
    /// Region.
    pub region: String,
    /// What the device offers on ATS.
    pub ats_key: AtsKey,
    /// Mutual TLS.
    pub mtls: bool,
    /// Client id template.
    pub client_id: String,
    /// Keep alive, s.
    pub keepalive_s: u16,
    /// Hold time.
    pub hold: Duration,
    /// PUBLISH per second while connected.
    pub publish_per_s: f64,
    /// The link the group's devices are on.
    pub link: crate::link::Link,
    /// Its name as results print it (`loopback`, `nb-iot`, `nb-iot+rtt_ms`, `custom`).
    pub link_name: String,
    /// Phase timeouts of the group: dial, TLS, MQTT (`[run]`'s unless set).
    pub timeouts: (Duration, Duration, Duration),
}

/// Where the devices connect.
#[derive(Debug)]
pub struct Target {
    /// Embedded or external.
    pub kind: TargetKind,
    /// Account prefix.
    pub account_prefix: String,
    /// External addresses.
    pub addresses: Vec<SocketAddr>,
    /// SNI overrides.
    pub sni_legacy: Option<String>,
    /// SNI overrides.
    pub sni_ats: Option<String>,
    /// PKI directory.
    pub pki: Option<PathBuf>,
    /// Shared client certificate and key files.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Directory of per-device certificate/key pairs.
    pub client_cert_dir: Option<PathBuf>,
    /// ALPN to offer.
    pub alpn: Option<String>,
    /// Embedded endpoint settings.
    pub endpoint: EmbeddedEndpoint,
}

/// Arrivals, validated.
#[derive(Clone, Debug)]
pub struct ArrivalSpec {
    /// Mode.
    pub mode: ArrivalMode,
    /// Rate at t = 0.
    pub start_rate: f64,
    /// (rate at end, length s).
    pub stages: Vec<(f64, f64)>,
    /// 0: no cap.
    pub max_in_flight: u64,
}

/// Migration, validated.
#[derive(Clone, Debug)]
pub struct MigrationSpec {
    /// Indices of migrating groups.
    pub groups: Vec<usize>,
    /// (at s, fraction), sorted.
    pub schedule: Vec<(f64, f64)>,
    /// Fraction flipping at each reconnect.
    pub flip_fraction: f64,
}

impl MigrationSpec {
    /// Fraction on ATS at `t` seconds.
    pub fn fraction_at(&self, t: f64) -> f64 {
        self.schedule
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map(|(_, f)| *f)
            .unwrap_or(0.0)
    }
}

/// A validated scenario.
#[derive(Debug)]
pub struct Scenario {
    /// File it came from.
    pub path: PathBuf,
    /// Its text, copied into the results.
    pub source: String,
    /// Name.
    pub name: String,
    /// Seed.
    pub seed: u64,
    /// Arrivals stop and holds end after this.
    pub duration: Duration,
    /// Time allowed to finish in-flight attempts.
    pub drain: Duration,
    /// Results root.
    pub output_dir: PathBuf,
    /// Snapshot interval.
    pub interval: Duration,
    /// Phase timeouts: dial, TLS, MQTT.
    pub timeouts: (Duration, Duration, Duration),
    /// Target.
    pub target: Target,
    /// Groups.
    pub groups: Vec<Group>,
    /// Arrivals.
    pub arrival: ArrivalSpec,
    /// Reconnects.
    pub reconnect: Reconnect,
    /// Migration.
    pub migration: Option<MigrationSpec>,
    /// Thresholds.
    pub thresholds: Vec<Threshold>,
}

impl Scenario {
    /// Devices in all groups.
    pub fn total_devices(&self) -> u64 {
        self.groups.iter().map(|g| g.devices).sum()
    }

    /// Whether any group runs with certificate verification OFF
    /// (`danger-accept-any`): the run warns and its results are stamped.
    pub fn verification_off(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.profile == crate::trust::DANGER_ACCEPT_ANY)
    }

    /// What snapshots label each group with: name, trust profile, link.
    pub fn labels(&self) -> crate::metrics::Labels {
        crate::metrics::Labels {
            groups: self.group_names(),
            profiles: self.groups.iter().map(|g| g.profile.clone()).collect(),
            links: self.groups.iter().map(|g| g.link_name.clone()).collect(),
        }
    }

    /// The groups' names, in order (series keys index into it).
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }
}

impl ArrivalSpec {
    /// The highest arrival rate the stages reach, per second (a storm has
    /// no rate: infinite).
    pub fn peak_rate(&self) -> f64 {
        match self.mode {
            ArrivalMode::Storm => f64::INFINITY,
            ArrivalMode::Rate => self
                .stages
                .iter()
                .map(|(r, _)| *r)
                .fold(self.start_rate, f64::max),
        }
    }
}
