//! The scenario file's schema (TOML). Unknown keys are errors; fields that
//! get semantic checks keep their source span for file:line:col messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::endpoint::ListenerMode;

/// A whole scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// `[run]`.
    pub run: RunSection,
    /// `[target]`.
    pub target: TargetSection,
    /// `[[fleet]]` groups.
    pub fleet: Vec<Spanned<FleetGroup>>,
    /// `[arrival]`.
    pub arrival: Arrival,
    /// `[reconnect]`.
    #[serde(default)]
    pub reconnect: Reconnect,
    /// `[migration]`.
    pub migration: Option<Migration>,
    /// `[thresholds]`: `"connect_total.p99" = "< 250ms"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Spanned<String>>,
}

/// `[run]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Name, used in the results directory.
    pub name: String,
    /// Seed of the plan and of every random choice.
    #[serde(default)]
    pub seed: u64,
    /// Seconds of arrivals; held sessions end at this time too.
    pub duration_s: Spanned<f64>,
    /// Seconds allowed for in-flight attempts after the end.
    #[serde(default = "default_drain")]
    pub drain_timeout_s: f64,
    /// Where results go (default `results`).
    #[serde(default = "default_output")]
    pub output_dir: String,
    /// Seconds between snapshots.
    #[serde(default = "default_interval")]
    pub interval_s: f64,
    /// TCP connect timeout, s.
    #[serde(default = "default_dial_timeout")]
    pub dial_timeout_s: f64,
    /// TLS handshake timeout, s.
    #[serde(default = "default_phase_timeout")]
    pub tls_timeout_s: f64,
    /// CONNECT → CONNACK timeout, s.
    #[serde(default = "default_phase_timeout")]
    pub mqtt_timeout_s: f64,
}

fn default_dial_timeout() -> f64 {
    5.0
}
fn default_phase_timeout() -> f64 {
    10.0
}

fn default_drain() -> f64 {
    5.0
}
fn default_output() -> String {
    "results".into()
}
fn default_interval() -> f64 {
    1.0
}

/// Target kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// The mock endpoint, started in this process.
    Embedded,
    /// An endpoint that is already running (e.g. `chainstorm serve`).
    External,
}

/// `[target]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// `embedded` or `external`.
    pub kind: TargetKind,
    /// Account prefix of the endpoint names.
    #[serde(default = "default_prefix")]
    pub account_prefix: String,
    /// External: addresses to connect to (spread round-robin).
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    /// External: override the SNI for the legacy endpoint (default from prefix and region).
    pub sni_legacy: Option<String>,
    /// External: override the SNI for the ATS endpoint.
    pub sni_ats: Option<String>,
    /// PKI directory (mock roots for profiles, device CA for mTLS). Default: the cache.
    pub pki: Option<String>,
    /// Client certificate PEM shared by every mTLS device (external targets).
    pub client_cert: Option<String>,
    /// Its key.
    pub client_key: Option<String>,
    /// A directory of per-device pairs `<client_id>.pem` + `<client_id>.key`
    /// (e.g. written by `chainstorm pki init --devices N`).
    pub client_cert_dir: Option<String>,
    /// ALPN to offer (e.g. `x-amzn-mqtt-ca` for port 443).
    pub alpn: Option<String>,
    /// Embedded: the endpoint's settings.
    #[serde(default)]
    pub endpoint: EmbeddedEndpoint,
}

fn default_prefix() -> String {
    "a1b2c3d4e5f6g7".into()
}

/// `[target.endpoint]` for an embedded target: its listener's semantics
/// and the endpoint's own settings type (the keys are read into it
/// directly; an unknown key is refused by it).
#[derive(Debug, Default, Deserialize)]
pub struct EmbeddedEndpoint {
    /// Listener semantics.
    #[serde(default = "default_listener")]
    pub listener: ListenerMode,
    /// TLS, faults and rotation.
    #[serde(flatten)]
    pub settings: crate::endpoint::EndpointSettings,
}

fn default_listener() -> ListenerMode {
    ListenerMode::Mqtt
}

/// What a device does after TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// TCP connect, then close: the floor of a connection's cost, for
    /// comparing what TLS adds.
    Tcp,
    /// TLS handshake, then close.
    Tls,
    /// MQTT 3.1.1.
    Mqtt311,
    /// MQTT 5.0.
    Mqtt5,
}

/// Which endpoint a group targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointChoice {
    /// `<prefix>.iot.<region>...` (VeriSign chain).
    Legacy,
    /// `<prefix>-ats.iot.<region>...`.
    Ats,
}

/// Which signature algorithms the device offers (decides RSA vs ECC on ATS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AtsKey {
    /// RSA and ECDSA.
    #[default]
    Any,
    /// ECDSA only (gets the ECC chain).
    Ecc,
}

/// A `[[fleet]]` group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGroup {
    /// Group name.
    pub name: String,
    /// Devices in the group.
    pub devices: Spanned<u64>,
    /// Trust profile or device model name (`chainstorm profiles` lists both).
    pub profile: Spanned<String>,
    /// `[fleet.model]`: parts replacing those of the named model.
    #[serde(default)]
    pub model: Option<ModelTable>,
    /// `tcp`, `tls`, `mqtt311` or `mqtt5`.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// `legacy` or `ats`.
    pub endpoint: EndpointChoice,
    /// AWS region of the endpoint name.
    #[serde(default = "default_region")]
    pub region: Spanned<String>,
    /// What the device offers on ATS.
    #[serde(default)]
    pub ats_key: AtsKey,
    /// Present a device certificate.
    #[serde(default)]
    pub mtls: bool,
    /// Client id template: `{group}`, `{index}`, `{index:06}`.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// MQTT keep alive, s.
    #[serde(default = "default_keepalive")]
    pub keepalive_s: u16,
    /// How long a connected device stays, s (0: disconnect at once; capped by the run).
    #[serde(default)]
    pub hold_s: f64,
    /// PUBLISH per second while connected.
    #[serde(default)]
    pub publish_per_s: f64,
    /// TLS versions offered: `"1.3"`, `"1.2"` (default: the model's, both
    /// for a plain profile).
    #[serde(default)]
    pub tls_versions: Option<Vec<Spanned<String>>>,
    /// The group's link: a profile name, or a `[fleet.link]` table (read
    /// and checked by `scenario::link`).
    #[serde(default)]
    pub link: Option<toml::Value>,
    /// TCP connect timeout of this group, s (default: `[run]`'s).
    #[serde(default)]
    pub dial_timeout_s: Option<f64>,
    /// TLS handshake timeout of this group, s (default: `[run]`'s).
    #[serde(default)]
    pub tls_timeout_s: Option<f64>,
    /// CONNECT to CONNACK timeout of this group, s (default: `[run]`'s).
    #[serde(default)]
    pub mqtt_timeout_s: Option<f64>,
}

/// `[fleet.model]`: device-model parts (see `chainstorm profiles`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelTable {
    /// Trust profile (root store + distrust policies).
    pub trust: Option<Spanned<String>>,
    /// `webpki`, `trusted-first`, `untrusted-first`,
    /// `untrusted-first-no-alt-chains`, `wolfssl`, `wolfssl-no-alt-chains`, `gnutls`.
    pub path_builder: Option<Spanned<String>>,
    /// TLS input buffer in bytes (512..=16384), or 0 for none.
    pub input_buffer: Option<Spanned<i64>>,
    /// `exact`, `unset`, `unset:YYYY-MM-DD`, `skew:+SECONDS`.
    pub clock: Option<Spanned<String>>,
    /// TLS 1.2 suites: `any`, `ecdhe-ecdsa`, `ecdhe-rsa`.
    pub suites: Option<Spanned<String>>,
    /// Signature schemes: `any`, `ecdsa`, `no-rsa-pss`.
    pub schemes: Option<Spanned<String>>,
    /// Key-exchange groups: `any`, `p256`.
    pub groups: Option<Spanned<String>>,
    /// Send SNI.
    pub sni: Option<bool>,
    /// Send the target's ALPN.
    pub alpn: Option<bool>,
    /// max_fragment_length offered: 512, 1024, 2048 or 4096.
    pub max_fragment_length: Option<Spanned<i64>>,
    /// Pins; replace the model's.
    pub pins: Option<Vec<PinTable>>,
}

/// One `[[fleet.model.pins]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinTable {
    /// `leaf`, `intermediate` or `root`.
    pub target: Spanned<String>,
    /// A certificate of the mock PKI whose key is pinned (e.g. `ats-rsa-intermediate`).
    pub cert: Option<Spanned<String>>,
    /// Or the SPKI SHA-256, 64 hex digits.
    pub spki_sha256: Option<Spanned<String>>,
}

fn default_protocol() -> Protocol {
    Protocol::Mqtt311
}
fn default_region() -> Spanned<String> {
    Spanned::new(0..0, "us-east-1".into())
}
fn default_client_id() -> String {
    "{group}-{index:06}".into()
}
fn default_keepalive() -> u16 {
    60
}

/// One stage of the arrival rate: linear from the previous rate to `to_rate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Rate at the end of the stage, devices/s.
    pub to_rate: Spanned<f64>,
    /// Stage length, s.
    pub over_s: Spanned<f64>,
}

/// Arrival mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalMode {
    /// Open-loop rate with stages.
    Rate,
    /// Every device at once.
    Storm,
}

/// `[arrival]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    /// `rate` or `storm`.
    pub mode: ArrivalMode,
    /// Rate at t = 0.
    #[serde(default)]
    pub start_rate: f64,
    /// Stages (rate mode).
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Most attempts in flight at once (0: no cap).
    #[serde(default)]
    pub max_in_flight: u64,
}

/// Reconnect policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReconnectPolicy {
    /// A device tries once.
    #[default]
    None,
    /// Reconnect at once.
    Immediate,
    /// Exponential backoff with full jitter.
    Backoff,
}

/// `[reconnect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconnect {
    /// Policy.
    #[serde(default)]
    pub policy: ReconnectPolicy,
    /// Backoff base, ms.
    #[serde(default = "default_base")]
    pub base_ms: f64,
    /// Backoff cap, ms.
    #[serde(default = "default_cap")]
    pub cap_ms: f64,
    /// Most attempts per device (including the first).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            policy: ReconnectPolicy::None,
            base_ms: default_base(),
            cap_ms: default_cap(),
            max_attempts: default_max_attempts(),
        }
    }
}

fn default_base() -> f64 {
    100.0
}
fn default_cap() -> f64 {
    10_000.0
}
fn default_max_attempts() -> u32 {
    20
}

/// A point of the migration schedule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationPoint {
    /// Seconds since start.
    pub at_s: f64,
    /// Fraction of the migrating groups on the ATS endpoint from then on.
    pub fraction: Spanned<f64>,
}

/// `[migration]`: phased move from the legacy to the ATS endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// Groups that migrate (default: every group on the legacy endpoint).
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Schedule, piecewise constant.
    pub schedule: Vec<MigrationPoint>,
    /// Fraction of migrating devices that switch endpoint at every reconnect
    /// (devices holding both roots, flipping back and forth).
    #[serde(default)]
    pub flip_fraction: f64,
}
