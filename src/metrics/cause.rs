//! The failure taxonomy, phase × cause, as types: one enum per phase and
//! [`Cause`] over them. `Display` prints the labels results have always
//! carried (`refused`, `alert_received(unknownca)`, `connack(0x05)`), and
//! [`Cause::parse`] reads them back, so summaries stay compatible.

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Why the TCP connect failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DialCause {
    /// RST in answer to SYN.
    Refused,
    /// Reset while connecting.
    Reset,
    /// No answer in time.
    Timeout,
    /// No local port or address left.
    AddrUnavailable,
    /// The process or system ran out of file descriptors.
    FdExhausted,
    /// Any other I/O error.
    Other,
}

/// Why the TLS handshake failed (not the certificate: see [`VerifyCause`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsCause {
    /// The peer sent this alert (the TLS alert description code).
    AlertReceived(u8),
    /// The peer closed the connection before the handshake completed.
    ClosedDuringHandshake,
    /// The peer reset the connection during the handshake.
    Reset,
    /// The handshake did not complete in time.
    Timeout,
    /// The peer sent something the client could not accept.
    ProtocolError,
    /// The server's Certificate message is larger than the device's TLS
    /// input buffer (mbedTLS `MBEDTLS_SSL_IN_CONTENT_LEN`): the device
    /// drops the record. Sizes in bytes.
    RecordExceedsDeviceBuffer {
        /// Certificate handshake message, header included.
        message: u32,
        /// The device's input buffer.
        buffer: u32,
    },
    /// A handshake_failure alert to a device whose model restricts its
    /// suites, groups or schemes: nothing it offers matches the server.
    NoSharedCipherSuite,
}

/// Which certificate of the verified path a device pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinTarget {
    /// The server's own certificate.
    Leaf,
    /// The certificate that issued the leaf.
    Intermediate,
    /// The trust anchor the path ends at.
    Root,
}

impl PinTarget {
    /// `leaf`, `intermediate`, `root`.
    pub fn label(self) -> &'static str {
        match self {
            PinTarget::Leaf => "leaf",
            PinTarget::Intermediate => "intermediate",
            PinTarget::Root => "root",
        }
    }

    /// Parses [`PinTarget::label`].
    pub fn parse(s: &str) -> Option<PinTarget> {
        [PinTarget::Leaf, PinTarget::Intermediate, PinTarget::Root]
            .into_iter()
            .find(|t| t.label() == s)
    }
}

/// Why certificate-chain validation rejected a server chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VerifyCause {
    /// No path from the leaf to any anchor of the trust store.
    UnknownIssuer,
    /// A certificate on the path is past its notAfter.
    Expired,
    /// A certificate on the path is before its notBefore.
    NotYetValid,
    /// The leaf does not cover the server name.
    NameMismatch,
    /// A signature on the path does not verify.
    BadSignature,
    /// A path was found but a distrust policy rejected it; holds the policy name.
    Distrusted(String),
    /// The device builds its path from the server's certificates first and
    /// does not retry (OpenSSL <= 1.0.2 without alternative chains, wolfSSL
    /// without `WOLFSSL_ALT_CERT_CHAINS`): the served chain ran into a
    /// cross-certificate whose issuer it does not hold, although a shorter
    /// path to one of its anchors existed.
    UnknownIssuerNoAltChains,
    /// A certificate is not valid yet at the device's own clock (unset or
    /// skewed), shown with the date that clock reads.
    NotYetValidAtClock(time::Date),
    /// A certificate has expired at the device's own clock.
    ExpiredAtClock(time::Date),
    /// The path verified, but the pinned key is not the one on it.
    PinMismatch(PinTarget),
    /// Anything else (malformed certificate, unsupported algorithm, ...).
    Other,
}

/// Why MQTT CONNECT did not end in an accepting CONNACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MqttCause {
    /// The broker refused with this CONNACK code.
    Connack(u8),
    /// The connection closed before a CONNACK arrived.
    ClosedBeforeConnack,
    /// The connection was reset before a CONNACK arrived.
    Reset,
    /// No CONNACK in time.
    Timeout,
    /// Something other than a well-formed CONNACK arrived.
    ProtocolError,
}

/// Why a connected session ended before the device meant it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HoldCause {
    /// No PINGRESP within half the keep alive.
    KeepaliveTimeout,
    /// The server closed the connection (or sent DISCONNECT).
    ClosedByServer,
    /// The connection was reset.
    Reset,
    /// A bug in chainstorm ended the device task after its attempt had
    /// succeeded (while holding or between attempts).
    Internal,
}

/// A failure cause in any phase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// TCP connect.
    Dial(DialCause),
    /// TLS handshake.
    Tls(TlsCause),
    /// Chain validation.
    Verify(VerifyCause),
    /// MQTT CONNECT/CONNACK.
    Mqtt(MqttCause),
    /// While connected.
    Hold(HoldCause),
    /// A bug in chainstorm itself (a device task panicked).
    Internal,
}

impl Cause {
    /// The phase this cause belongs to.
    pub fn phase(&self) -> FailPhase {
        match self {
            Cause::Dial(_) => FailPhase::Dial,
            Cause::Tls(_) => FailPhase::Tls,
            Cause::Verify(_) => FailPhase::Verify,
            Cause::Mqtt(_) => FailPhase::Mqtt,
            Cause::Hold(_) => FailPhase::Hold,
            Cause::Internal => FailPhase::Internal,
        }
    }

    /// Reads a cause back from its phase and label, as results store them.
    pub fn parse(phase: FailPhase, label: &str) -> Option<Cause> {
        Some(match phase {
            FailPhase::Dial => Cause::Dial(DialCause::parse(label)?),
            FailPhase::Tls => Cause::Tls(TlsCause::parse(label)?),
            FailPhase::Verify => Cause::Verify(VerifyCause::parse(label)?),
            FailPhase::Mqtt => Cause::Mqtt(MqttCause::parse(label)?),
            FailPhase::Hold => Cause::Hold(HoldCause::parse(label)?),
            FailPhase::Internal => (label == "internal").then_some(Cause::Internal)?,
        })
    }

    /// `phase/cause`, as the probe and fuzzer print it.
    pub fn qualified(&self) -> String {
        format!("{}/{self}", self.phase().label())
    }

    /// Reads a `phase/cause` label written by [`Cause::qualified`].
    pub fn parse_qualified(s: &str) -> Option<Cause> {
        let (phase, label) = s.split_once('/')?;
        Cause::parse(FailPhase::from_label(phase)?, label)
    }
}

/// Serde for a [`Cause`] stored as its `phase/cause` label
/// (`#[serde(with = "crate::metrics::qualified_cause")]`).
pub mod qualified_cause {
    use super::Cause;

    /// Writes `phase/cause`.
    pub fn serialize<S: serde::Serializer>(c: &Cause, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&c.qualified())
    }

    /// Reads `phase/cause`; an unknown label is an error naming it.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Cause, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        Cause::parse_qualified(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown cause {s:?}")))
    }
}

impl DialCause {
    const ALL: [DialCause; 6] = [
        DialCause::Refused,
        DialCause::Reset,
        DialCause::Timeout,
        DialCause::AddrUnavailable,
        DialCause::FdExhausted,
        DialCause::Other,
    ];

    /// Classifies an I/O error of the TCP connect.
    pub fn of(e: &std::io::Error) -> DialCause {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => DialCause::Refused,
            K::ConnectionReset => DialCause::Reset,
            K::TimedOut => DialCause::Timeout,
            K::AddrNotAvailable | K::AddrInUse => DialCause::AddrUnavailable,
            // EMFILE and ENFILE: the process or the system is out of descriptors.
            _ if matches!(e.raw_os_error(), Some(23 | 24)) => DialCause::FdExhausted,
            _ => DialCause::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            DialCause::Refused => "refused",
            DialCause::Reset => "reset",
            DialCause::Timeout => "timeout",
            DialCause::AddrUnavailable => "addr_unavailable",
            DialCause::FdExhausted => "fd_exhausted",
            DialCause::Other => "other",
        }
    }

    fn parse(s: &str) -> Option<DialCause> {
        DialCause::ALL.into_iter().find(|c| c.label() == s)
    }
}

/// The name of a TLS alert code as results have always spelt it: rustls'
/// description in lowercase (`unknownca`, `handshakefailure`,
/// `unknown(0xNN)` for codes rustls does not name).
pub fn alert_name(code: u8) -> String {
    match rustls::AlertDescription::from(code) {
        rustls::AlertDescription::Unknown(c) => format!("unknown({c:#04x})"),
        d => format!("{d:?}").to_ascii_lowercase(),
    }
}

impl TlsCause {
    fn parse(s: &str) -> Option<TlsCause> {
        Some(match s {
            "closed_during_handshake" => TlsCause::ClosedDuringHandshake,
            "reset" => TlsCause::Reset,
            "timeout" => TlsCause::Timeout,
            "protocol_error" => TlsCause::ProtocolError,
            "no_shared_cipher_suite" => TlsCause::NoSharedCipherSuite,
            _ if s.starts_with("record_exceeds_device_buffer(") => {
                let inner = s
                    .strip_prefix("record_exceeds_device_buffer(certificate ")?
                    .strip_suffix(" B)")?;
                let (m, b) = inner.split_once(" B > ")?;
                TlsCause::RecordExceedsDeviceBuffer {
                    message: parse_grouped(m)?,
                    buffer: parse_grouped(b)?,
                }
            }
            _ => {
                let name = s.strip_prefix("alert_received(")?.strip_suffix(')')?;
                let code = (0..=255u8).find(|c| alert_name(*c) == name)?;
                TlsCause::AlertReceived(code)
            }
        })
    }
}

impl VerifyCause {
    fn parse(s: &str) -> Option<VerifyCause> {
        Some(match s {
            "unknown_issuer" => VerifyCause::UnknownIssuer,
            "expired" => VerifyCause::Expired,
            "not_yet_valid" => VerifyCause::NotYetValid,
            "name_mismatch" => VerifyCause::NameMismatch,
            "bad_signature" => VerifyCause::BadSignature,
            "other" => VerifyCause::Other,
            "unknown_issuer(via cross-sign, no alternative chains)" => {
                VerifyCause::UnknownIssuerNoAltChains
            }
            _ => {
                let (head, arg) = s.strip_suffix(')')?.split_once('(')?;
                let clock = || {
                    let d = arg.strip_prefix("device clock ")?;
                    time::Date::parse(d, &time::format_description::well_known::Iso8601::DATE).ok()
                };
                match head {
                    "distrusted" => VerifyCause::Distrusted(arg.to_string()),
                    "not_yet_valid" => VerifyCause::NotYetValidAtClock(clock()?),
                    "expired" => VerifyCause::ExpiredAtClock(clock()?),
                    "pin_mismatch" => VerifyCause::PinMismatch(PinTarget::parse(arg)?),
                    _ => return None,
                }
            }
        })
    }

    /// The label used in tables, results and the matrix: `unknown_issuer`,
    /// `distrusted(SYMANTEC_TLS)`, ...
    pub fn label(&self) -> String {
        self.to_string()
    }
}

/// `4,734` -> 4734.
fn parse_grouped(s: &str) -> Option<u32> {
    s.replace(',', "").parse().ok()
}

/// 4734 -> `4,734`, as device logs and the causes write sizes.
fn grouped(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn parse_code(s: &str) -> Option<u8> {
    u8::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

impl MqttCause {
    fn parse(s: &str) -> Option<MqttCause> {
        Some(match s {
            "closed_before_connack" => MqttCause::ClosedBeforeConnack,
            "reset" => MqttCause::Reset,
            "timeout" => MqttCause::Timeout,
            "protocol_error" => MqttCause::ProtocolError,
            _ => MqttCause::Connack(parse_code(s.strip_prefix("connack(")?.strip_suffix(')')?)?),
        })
    }
}

impl HoldCause {
    fn parse(s: &str) -> Option<HoldCause> {
        Some(match s {
            "keepalive_timeout" => HoldCause::KeepaliveTimeout,
            "closed_by_server" => HoldCause::ClosedByServer,
            "reset" => HoldCause::Reset,
            "internal" => HoldCause::Internal,
            _ => return None,
        })
    }
}

impl fmt::Display for DialCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl fmt::Display for TlsCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsCause::AlertReceived(c) => write!(f, "alert_received({})", alert_name(*c)),
            TlsCause::ClosedDuringHandshake => f.write_str("closed_during_handshake"),
            TlsCause::Reset => f.write_str("reset"),
            TlsCause::Timeout => f.write_str("timeout"),
            TlsCause::ProtocolError => f.write_str("protocol_error"),
            TlsCause::RecordExceedsDeviceBuffer { message, buffer } => write!(
                f,
                "record_exceeds_device_buffer(certificate {} B > {} B)",
                grouped(*message),
                grouped(*buffer)
            ),
            TlsCause::NoSharedCipherSuite => f.write_str("no_shared_cipher_suite"),
        }
    }
}

impl fmt::Display for VerifyCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyCause::UnknownIssuer => f.write_str("unknown_issuer"),
            VerifyCause::Expired => f.write_str("expired"),
            VerifyCause::NotYetValid => f.write_str("not_yet_valid"),
            VerifyCause::NameMismatch => f.write_str("name_mismatch"),
            VerifyCause::BadSignature => f.write_str("bad_signature"),
            VerifyCause::Distrusted(p) => write!(f, "distrusted({p})"),
            VerifyCause::UnknownIssuerNoAltChains => {
                f.write_str("unknown_issuer(via cross-sign, no alternative chains)")
            }
            VerifyCause::NotYetValidAtClock(d) => write!(f, "not_yet_valid(device clock {d})"),
            VerifyCause::ExpiredAtClock(d) => write!(f, "expired(device clock {d})"),
            VerifyCause::PinMismatch(t) => write!(f, "pin_mismatch({})", t.label()),
            VerifyCause::Other => f.write_str("other"),
        }
    }
}

impl fmt::Display for MqttCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqttCause::Connack(c) => write!(f, "connack({c:#04x})"),
            MqttCause::ClosedBeforeConnack => f.write_str("closed_before_connack"),
            MqttCause::Reset => f.write_str("reset"),
            MqttCause::Timeout => f.write_str("timeout"),
            MqttCause::ProtocolError => f.write_str("protocol_error"),
        }
    }
}

impl fmt::Display for HoldCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HoldCause::KeepaliveTimeout => "keepalive_timeout",
            HoldCause::ClosedByServer => "closed_by_server",
            HoldCause::Reset => "reset",
            HoldCause::Internal => "internal",
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Dial(c) => c.fmt(f),
            Cause::Tls(c) => c.fmt(f),
            Cause::Verify(c) => c.fmt(f),
            Cause::Mqtt(c) => c.fmt(f),
            Cause::Hold(c) => c.fmt(f),
            Cause::Internal => f.write_str("internal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_design_taxonomy() {
        assert_eq!(VerifyCause::UnknownIssuer.label(), "unknown_issuer");
        assert_eq!(VerifyCause::NotYetValid.label(), "not_yet_valid");
        assert_eq!(
            VerifyCause::Distrusted("SYMANTEC_TLS".into()).to_string(),
            "distrusted(SYMANTEC_TLS)"
        );
        assert_eq!(
            Cause::Tls(TlsCause::AlertReceived(48)).to_string(),
            "alert_received(unknownca)"
        );
        assert_eq!(
            Cause::Tls(TlsCause::AlertReceived(40)).to_string(),
            "alert_received(handshakefailure)"
        );
        assert_eq!(
            Cause::Mqtt(MqttCause::Connack(5)).to_string(),
            "connack(0x05)"
        );
        assert_eq!(
            Cause::Dial(DialCause::AddrUnavailable).qualified(),
            "dial/addr_unavailable"
        );
        // The words a device model's failures are reported in.
        assert_eq!(
            Cause::Tls(TlsCause::RecordExceedsDeviceBuffer {
                message: 4734,
                buffer: 4096
            })
            .qualified(),
            "tls/record_exceeds_device_buffer(certificate 4,734 B > 4,096 B)"
        );
        assert_eq!(
            Cause::Verify(VerifyCause::NotYetValidAtClock(time::macros::date!(
                1970 - 01 - 01
            )))
            .qualified(),
            "verify/not_yet_valid(device clock 1970-01-01)"
        );
        assert_eq!(
            VerifyCause::PinMismatch(PinTarget::Intermediate).label(),
            "pin_mismatch(intermediate)"
        );
    }

    #[test]
    fn every_label_parses_back() {
        let all = [
            Cause::Dial(DialCause::FdExhausted),
            Cause::Dial(DialCause::Other),
            Cause::Tls(TlsCause::AlertReceived(48)),
            Cause::Tls(TlsCause::AlertReceived(0xfe)),
            Cause::Tls(TlsCause::ClosedDuringHandshake),
            Cause::Verify(VerifyCause::Distrusted("CHROME_SYMANTEC".into())),
            Cause::Verify(VerifyCause::Expired),
            Cause::Mqtt(MqttCause::Connack(0x9f)),
            Cause::Mqtt(MqttCause::ClosedBeforeConnack),
            Cause::Hold(HoldCause::KeepaliveTimeout),
            Cause::Internal,
            Cause::Verify(VerifyCause::UnknownIssuerNoAltChains),
            Cause::Verify(VerifyCause::NotYetValidAtClock(time::macros::date!(
                1970 - 01 - 01
            ))),
            Cause::Verify(VerifyCause::ExpiredAtClock(time::macros::date!(
                2041 - 12 - 01
            ))),
            Cause::Verify(VerifyCause::PinMismatch(PinTarget::Intermediate)),
            Cause::Tls(TlsCause::RecordExceedsDeviceBuffer {
                message: 4734,
                buffer: 4096,
            }),
            Cause::Tls(TlsCause::NoSharedCipherSuite),
        ];
        for c in all {
            assert_eq!(
                Cause::parse(c.phase(), &c.to_string()),
                Some(c.clone()),
                "{c}"
            );
        }
        assert_eq!(Cause::parse(FailPhase::Hold, "refused"), None);
        assert_eq!(Cause::parse(FailPhase::Mqtt, "connack(zz)"), None);
    }
}
