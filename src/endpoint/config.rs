//! Endpoint settings: listeners, SNI routing, mutual TLS, security policy,
//! MQTT limits and faults. Deserializable so a scenario's embedded target
//! can carry them.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::EndpointError;
use crate::pki::ChainKind;

/// What a listener does after the TLS handshake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerMode {
    /// Port 8883 semantics: MQTT over TLS, no ALPN required.
    #[default]
    Mqtt,
    /// Port 443 semantics: ALPN `x-amzn-mqtt-ca` required, then MQTT.
    MqttAlpn,
    /// Handshake, then close_notify: pure handshake load.
    TlsOnly,
}

impl ListenerMode {
    /// Label for output.
    pub fn label(self) -> &'static str {
        match self {
            ListenerMode::Mqtt => "mqtt (8883)",
            ListenerMode::MqttAlpn => "mqtt+alpn x-amzn-mqtt-ca (443)",
            ListenerMode::TlsOnly => "tls-only",
        }
    }
}

/// The ALPN protocol AWS IoT requires for MQTT with X.509 on port 443.
pub const ALPN_MQTT_CA: &[u8] = b"x-amzn-mqtt-ca";

/// One listening socket.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Listener semantics.
    pub mode: ListenerMode,
}

/// Client certificate requirement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsMode {
    /// No client certificate asked for.
    #[default]
    Off,
    /// Asked for, not required.
    Optional,
    /// Required and verified against the device CA.
    Required,
}

pub use super::policy::SecurityPolicy;

/// What a port-443 (ALPN) listener does with a TLS client that did not
/// offer `x-amzn-mqtt-ca`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoAlpn {
    /// Complete the handshake, then answer nothing (AWS treats it as
    /// HTTPS: devices report a timeout waiting for CONNACK).
    #[default]
    Silent,
    /// Close right after the handshake.
    Close,
}

/// Which ATS chain a client that can take either gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPreference {
    /// RSA unless the client cannot verify RSA signatures.
    #[default]
    PreferRsa,
    /// ECC whenever the client offers ECDSA P-256.
    PreferEcc,
}

/// A delay: fixed, or drawn per connection.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Delay {
    /// Always this long.
    Fixed {
        /// Milliseconds.
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound, ms.
        min_ms: f64,
        /// Upper bound, ms.
        max_ms: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean, ms.
        mean_ms: f64,
    },
}

/// Refusing CONNECTs with a chosen code.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnackRefusal {
    /// Fraction of CONNECTs refused (0..=1).
    pub rate: f64,
    /// 3.1.1 return code (default 3, server unavailable).
    #[serde(default = "default_v3_refusal")]
    pub code_v311: u8,
    /// 5.0 reason code (default 0x88, server unavailable).
    #[serde(default = "default_v5_refusal")]
    pub code_v5: u8,
}

fn default_v3_refusal() -> u8 {
    crate::mqtt::codes::V3_SERVER_UNAVAILABLE
}

fn default_v5_refusal() -> u8 {
    crate::mqtt::codes::V5_SERVER_UNAVAILABLE
}

/// A window during which the listeners are closed (connections refused).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// Seconds after the endpoint starts.
    pub after_s: f64,
    /// Seconds it lasts.
    pub duration_s: f64,
}

/// Faults, each decided per connection from the seed, so a run is repeatable.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Seed of the per-connection decisions.
    pub seed: u64,
    /// Delay before the server answers the ClientHello.
    pub handshake_delay: Option<Delay>,
    /// Delay before the CONNACK.
    pub connack_delay: Option<Delay>,
    /// Fraction of connections closed right after accept.
    pub refuse_rate: f64,
    /// Fraction reset (RST) after the ClientHello arrives.
    pub reset_rate: f64,
    /// Fraction accepted and never answered.
    pub stall_rate: f64,
    /// CONNACK refusals.
    pub connack_refusal: Option<ConnackRefusal>,
    /// Account-wide CONNECT rate limit per second (AWS: 500).
    pub account_connect_rate: Option<f64>,
    /// Per-client-id CONNECT rate limit per second (AWS: 1).
    pub client_connect_rate: Option<f64>,
    /// Serve this broken chain on ATS names instead of the real one.
    pub broken_chain: Option<ChainKind>,
    /// Scheduled outage.
    pub outage: Option<Outage>,
    /// Scheduled pause: during the window the endpoint reads ClientHellos but
    /// answers none until the window ends (a stalled server, for
    /// coordinated-omission checks).
    pub pause: Option<Outage>,
}

impl Faults {
    /// Checks rates and delays are in range.
    pub fn validate(&self) -> Result<(), EndpointError> {
        let range = |key: &'static str, value: String, allowed: &'static str| {
            Err(EndpointError::OutOfRange {
                key,
                value,
                allowed,
            })
        };
        for (key, r) in [
            ("refuse_rate", self.refuse_rate),
            ("reset_rate", self.reset_rate),
            ("stall_rate", self.stall_rate),
            (
                "connack_refusal.rate",
                self.connack_refusal.map(|c| c.rate).unwrap_or(0.0),
            ),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return range(key, r.to_string(), "0 to 1");
            }
        }
        let sum = self.refuse_rate + self.reset_rate + self.stall_rate;
        if sum > 1.0 {
            return range(
                "refuse_rate + reset_rate + stall_rate",
                sum.to_string(),
                "at most 1",
            );
        }
        for (key, r) in [
            ("account_connect_rate", self.account_connect_rate),
            ("client_connect_rate", self.client_connect_rate),
        ] {
            if let Some(r) = r {
                if !(r.is_finite() && r > 0.0 && r <= 1e6) {
                    return range(key, r.to_string(), "> 0 and <= 1000000");
                }
            }
        }
        if let Some(b) = self.broken_chain {
            if matches!(
                b,
                ChainKind::Legacy
                    | ChainKind::AtsRsa
                    | ChainKind::AtsEcc
                    | ChainKind::AtsRsaCrossSigned
            ) {
                return Err(EndpointError::NotBroken(b));
            }
        }
        // Delays up to 10 minutes; outages and pauses within a week.
        let ms_ok = |v: f64| v.is_finite() && (0.0..=600_000.0).contains(&v);
        for (key, d) in [
            ("handshake_delay", self.handshake_delay),
            ("connack_delay", self.connack_delay),
        ] {
            let Some(d) = d else { continue };
            let ok = match d {
                Delay::Fixed { ms } => ms_ok(ms),
                Delay::Uniform { min_ms, max_ms } => {
                    ms_ok(min_ms) && ms_ok(max_ms) && max_ms >= min_ms
                }
                Delay::Exponential { mean_ms } => ms_ok(mean_ms) && mean_ms > 0.0,
            };
            if !ok {
                return range(
                    key,
                    format!("{d:?}"),
                    "0 <= ms <= 600000, min_ms <= max_ms, exponential mean > 0",
                );
            }
        }
        let s_ok = |v: f64| v.is_finite() && (0.0..=604_800.0).contains(&v);
        for (key, o) in [("outage", self.outage), ("pause", self.pause)] {
            if let Some(o) = o {
                if !s_ok(o.after_s) || !s_ok(o.duration_s) {
                    return range(
                        key,
                        format!("after_s {} duration_s {}", o.after_s, o.duration_s),
                        "after_s and duration_s within 0..=604800",
                    );
                }
            }
        }
        Ok(())
    }
}

/// MQTT limits, AWS IoT Core's by default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttLimits {
    /// Longest client id accepted (AWS: 128 bytes).
    pub max_client_id: usize,
    /// Longest keep alive accepted, seconds (AWS: 1200).
    pub max_keep_alive: u16,
    /// Shortest keep alive; lower requests are raised to it (AWS: 30, unconfirmed).
    pub min_keep_alive: u16,
    /// 3.1.1 code for a keep alive above the limit (no code fits; configurable).
    pub keep_alive_code_v311: u8,
    /// 5.0 code for a keep alive above the limit.
    pub keep_alive_code_v5: u8,
    /// Largest packet accepted, bytes (AWS: 128 KiB).
    pub max_packet: u32,
    /// Seconds to wait for CONNECT after the handshake.
    pub connect_timeout_s: f64,
    /// Refuse (not authorized) a CONNECT whose client id differs from the
    /// client certificate's CN, as an AWS policy using
    /// `${iot:Connection.Thing.ThingName}` does. Only with mutual TLS.
    pub client_id_must_match_cn: bool,
    /// Longest session expiry granted, seconds (AWS: persistent sessions
    /// last 1 hour by default, raisable to 7 days); a 3.1.1 clean-session-0
    /// client gets this, a 5.0 client asking for more is told this in
    /// CONNACK.
    pub max_session_expiry_s: u32,
    /// QoS 1 messages kept per away session (oldest dropped first; AWS's
    /// own limit is not published here: unconfirmed, configurable).
    pub max_queued: usize,
    /// Retained messages (AWS supports them; off by default so the
    /// endpoint keeps no state beyond sessions). Off: CONNACK says Retain
    /// Available 0 and a 5.0 PUBLISH with retain is refused (0x9A).
    pub retain_available: bool,
}

impl Default for MqttLimits {
    fn default() -> Self {
        MqttLimits {
            max_client_id: 128,
            max_keep_alive: 1200,
            min_keep_alive: 30,
            keep_alive_code_v311: crate::mqtt::codes::V3_IDENTIFIER_REJECTED,
            keep_alive_code_v5: crate::mqtt::codes::V5_PROTOCOL_ERROR,
            max_packet: crate::mqtt::DEFAULT_MAX_REMAINING,
            connect_timeout_s: 10.0,
            client_id_must_match_cn: false,
            max_session_expiry_s: 3600,
            max_queued: 1000,
            retain_available: false,
        }
    }
}

/// What an endpoint does, whoever starts it: `serve` (from its flags) or a
/// scenario's embedded endpoint (`[target.endpoint]`, read into this type).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// Client certificates.
    #[serde(default)]
    pub mtls: MtlsMode,
    /// Versions and suites.
    #[serde(default)]
    pub security_policy: SecurityPolicy,
    /// RSA or ECC for clients that accept both.
    #[serde(default)]
    pub key_preference: KeyPreference,
    /// Session resumption (tickets and cache). AWS sends no tickets.
    #[serde(default)]
    pub resumption: bool,
    /// Faults.
    #[serde(default)]
    pub faults: Faults,
    /// Which intermediate issues the ATS leaf, per connection or by schedule.
    #[serde(default)]
    pub rotation: super::rotation::Rotation,
}

impl EndpointSettings {
    /// Checks every range (faults, rotation).
    pub fn validate(&self) -> Result<(), EndpointError> {
        self.faults.validate()?;
        self.rotation.validate()
    }
}

/// Everything the endpoint needs besides the PKI.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Listening sockets.
    pub listeners: Vec<ListenerConfig>,
    /// Account prefix of the endpoint names (`<prefix>-ats.iot.<region>...`);
    /// `None` accepts any prefix.
    pub account_prefix: Option<String>,
    /// Reject connections without SNI (AWS does).
    pub require_sni: bool,
    /// What the endpoint does (TLS, faults, rotation): the same type a
    /// scenario's `[target.endpoint]` holds.
    pub settings: EndpointSettings,
    /// MQTT limits.
    pub mqtt: MqttLimits,
    /// Seconds allowed for the TLS handshake.
    pub handshake_timeout_s: f64,
    /// Share the listening ports with other processes (SO_REUSEPORT), as the
    /// sharding scripts do; off, a second endpoint on a port fails to start
    /// instead of silently taking half of its connections.
    pub reuse_port: bool,
    /// Port 443 without the MQTT ALPN.
    pub no_alpn: NoAlpn,
}

fn default_handshake_timeout() -> f64 {
    10.0
}

impl EndpointConfig {
    /// One MQTT listener on `addr` with AWS-like defaults.
    pub fn mqtt(addr: SocketAddr) -> EndpointConfig {
        EndpointConfig {
            listeners: vec![ListenerConfig {
                addr,
                mode: ListenerMode::Mqtt,
            }],
            account_prefix: None,
            require_sni: true,
            settings: EndpointSettings::default(),
            mqtt: MqttLimits::default(),
            handshake_timeout_s: default_handshake_timeout(),
            reuse_port: false,
            no_alpn: NoAlpn::Silent,
        }
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.handshake_timeout_s)
    }
}
