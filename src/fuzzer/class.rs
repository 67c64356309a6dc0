//! What a target answered to one fuzz case, as a type. Labels are the ones
//! campaigns have always written (`server_hello`, `alert_received(…)`,
//! `connack(v5,0x00)`), so corpora, `classes.json` and baselines still read.

use std::fmt;

use serde::Serialize;

use crate::metrics::{Cause, DialCause, TlsCause};

/// The class of a target's answer to one case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The TCP connect failed (`dial_refused`, `dial_timeout`, …).
    Dial(DialCause),
    /// The connection was reset before an answer.
    Reset,
    /// Nothing came back within the case's timeout.
    Timeout,
    /// ClientHello layer: a ServerHello.
    ServerHello,
    /// ClientHello layer: a HelloRetryRequest (RFC 8446 4.1.3).
    HelloRetryRequest,
    /// ClientHello layer: a fatal alert, a close or bytes that are not a
    /// handshake record, in the load engine's TLS labels.
    Tls(TlsCause),
    /// ClientHello layer: a warning-level alert (kept apart from a fatal one).
    WarningAlert(u8),
    /// MQTT layer: the SNI is not a valid server name.
    BadSni,
    /// MQTT layer: the TLS handshake failed, so MQTT was never reached.
    TlsFailed(Cause),
    /// MQTT layer: the TLS handshake did not finish in time.
    TlsTimeout,
    /// MQTT layer: a CONNACK with this reason/return code.
    Connack {
        /// Decoded as MQTT 5.
        v5: bool,
        /// Reason (5) or return (3.1.1) code.
        code: u8,
    },
    /// MQTT layer: a packet other than CONNACK.
    Unexpected(&'static str),
    /// MQTT layer: closed without an answer.
    Closed,
    /// MQTT layer: part of a packet, then a close.
    PartialAnswer,
    /// MQTT layer: bytes the codec refuses.
    UndecodableAnswer,
}

impl Class {
    /// A case that waited for its whole timeout.
    pub fn is_timeout(&self) -> bool {
        *self == Class::Timeout
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::Dial(c) => write!(f, "dial_{c}"),
            Class::Reset => f.write_str("reset"),
            Class::Timeout => f.write_str("timeout"),
            Class::ServerHello => f.write_str("server_hello"),
            Class::HelloRetryRequest => f.write_str("hello_retry_request"),
            Class::Tls(c) => c.fmt(f),
            Class::WarningAlert(desc) => {
                let label = TlsCause::AlertReceived(*desc).to_string();
                write!(f, "{},warning)", label.trim_end_matches(')'))
            }
            Class::BadSni => f.write_str("bad_sni"),
            Class::TlsFailed(c) => write!(f, "tls_failed({c})"),
            Class::TlsTimeout => f.write_str("tls_timeout"),
            Class::Connack { v5, code } => {
                write!(f, "connack({},{code:#04x})", if *v5 { "v5" } else { "v3" })
            }
            Class::Unexpected(name) => write!(f, "unexpected({name})"),
            Class::Closed => f.write_str("closed"),
            Class::PartialAnswer => f.write_str("partial_answer"),
            Class::UndecodableAnswer => f.write_str("undecodable_answer"),
        }
    }
}

impl Serialize for Class {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a correct target would have answered, as a finding states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// A ServerHello (the health probe's valid ClientHello).
    ServerHello,
    /// An answer of any kind: ServerHello, alert or close.
    AnAnswer,
    /// A CONNACK or a close.
    ConnackOrClose,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::ServerHello => "server_hello",
            Expected::AnAnswer => "an answer (ServerHello, alert or close)",
            Expected::ConnackOrClose => "a CONNACK or a close",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels on disk are the ones campaigns wrote before the type.
    #[test]
    fn labels_are_unchanged() {
        let cases = [
            (Class::Dial(DialCause::Refused), "dial_refused"),
            (
                Class::Tls(TlsCause::AlertReceived(112)),
                "alert_received(unrecognisedname)",
            ),
            (
                Class::WarningAlert(0),
                "alert_received(closenotify,warning)",
            ),
            (
                Class::Connack {
                    v5: true,
                    code: 0x87,
                },
                "connack(v5,0x87)",
            ),
            (Class::Connack { v5: false, code: 5 }, "connack(v3,0x05)"),
            (Class::Unexpected("PUBLISH"), "unexpected(PUBLISH)"),
            (
                Class::TlsFailed(Cause::Tls(TlsCause::Timeout)),
                "tls_failed(timeout)",
            ),
        ];
        for (c, label) in cases {
            assert_eq!(c.to_string(), label);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{label}\""));
        }
    }
}
