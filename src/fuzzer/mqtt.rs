//! MQTT CONNECT mutations, sent after a real TLS handshake: the fuzzer's
//! second layer. Each case starts from a valid CONNECT (3.1.1 or 5.0) in the
//! MQTT codec's raw form and breaks one thing; the answer is classified as a
//! CONNACK code (`connack(v5,0x84)`), a clean close, a reset or a timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, RngCore};
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Class;
use crate::client::handshake_failure;
use crate::metrics::DialCause;
use crate::mqtt::raw::{LengthField, RawPacket};
use crate::mqtt::{decode, Connect, Packet, Protocol, DEFAULT_MAX_REMAINING};

/// The CONNECT operators, in a fixed order (the seed picks by index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MqttOp {
    /// A valid CONNECT: the control (must get CONNACK accepted).
    Valid,
    /// Remaining length off by ±N.
    RemainingLength,
    /// A 5-byte (invalid) remaining-length encoding.
    RemainingLengthFiveBytes,
    /// Protocol name other than "MQTT".
    ProtocolName,
    /// Protocol level other than 4 or 5.
    ProtocolLevel,
    /// The reserved CONNECT flag set.
    ReservedFlag,
    /// Fixed-header flags other than 0.
    HeaderFlags,
    /// A client id of 20 KiB.
    OversizedClientId,
    /// 5.0 property bytes replaced by garbage.
    GarbageProperties,
    /// Two CONNECTs on one connection.
    DuplicateConnect,
}

impl MqttOp {
    /// Every operator.
    pub const ALL: [MqttOp; 10] = [
        MqttOp::Valid,
        MqttOp::RemainingLength,
        MqttOp::RemainingLengthFiveBytes,
        MqttOp::ProtocolName,
        MqttOp::ProtocolLevel,
        MqttOp::ReservedFlag,
        MqttOp::HeaderFlags,
        MqttOp::OversizedClientId,
        MqttOp::GarbageProperties,
        MqttOp::DuplicateConnect,
    ];

    /// snake_case name, prefixed `mqtt_` so it never collides with a TLS op.
    pub fn name(self) -> String {
        let n = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!("mqtt_{n}")
    }
}

/// A mutated CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttMutated {
    /// Operator.
    pub op: MqttOp,
    /// The protocol version the CONNECT speaks.
    pub protocol: Protocol,
    /// What changed.
    pub detail: String,
    /// Bytes to send after the handshake.
    pub bytes: Vec<u8>,
}

/// Offset of the byte after the protocol name (the level) in a CONNECT body.
const LEVEL_AT: usize = 6;

/// Applies `op` to a valid CONNECT for `client_id`.
pub fn apply(op: MqttOp, client_id: &str, rng: &mut impl RngCore) -> MqttMutated {
    let protocol = if rng.gen_bool(0.5) {
        Protocol::V5
    } else {
        Protocol::V311
    };
    let v = if protocol == Protocol::V5 {
        "5.0"
    } else {
        "3.1.1"
    };
    let connect = |id: &str| Packet::Connect(Connect::new(protocol, id, 30));
    let mut raw = RawPacket::from_packet(&connect(client_id), protocol);
    let detail;
    match op {
        MqttOp::Valid => detail = format!("{v} valid CONNECT"),
        MqttOp::RemainingLength => {
            let d: i64 = if rng.gen_bool(0.5) {
                -rng.gen_range(1..=8)
            } else {
                rng.gen_range(1..=8)
            };
            raw = raw.with_length_delta(d);
            detail = format!("{v} remaining length {d:+}");
        }
        MqttOp::RemainingLengthFiveBytes => {
            raw.length = LengthField::Bytes(vec![0xff, 0xff, 0xff, 0xff, 0x7f]);
            detail = format!("{v} 5-byte remaining length");
        }
        MqttOp::ProtocolName => {
            // Same length, so only the name is wrong.
            let name: &[u8] = [b"MQTs".as_slice(), b"mqtt", b"MQIs"][rng.gen_range(0..3)];
            raw.body[2..6].copy_from_slice(name);
            detail = format!("{v} protocol name {:?}", String::from_utf8_lossy(name));
        }
        MqttOp::ProtocolLevel => {
            let level = [0u8, 3, 6, 0xff][rng.gen_range(0..4)];
            raw.body[LEVEL_AT] = level;
            detail = format!("{v} protocol level {level}");
        }
        MqttOp::ReservedFlag => {
            raw.body[LEVEL_AT + 1] |= 1;
            detail = format!("{v} reserved flag set");
        }
        MqttOp::HeaderFlags => {
            let f = rng.gen_range(1..16);
            raw = raw.with_flags(f);
            detail = format!("{v} fixed-header flags {f:#x}");
        }
        MqttOp::OversizedClientId => {
            let id: String = std::iter::repeat_n('d', 20_000).collect();
            raw = RawPacket::from_packet(&connect(&id), protocol);
            detail = format!("{v} client id of 20000 bytes");
        }
        MqttOp::GarbageProperties => {
            // 3.1.1 has no properties; these bytes land where 5.0 keeps them.
            raw = RawPacket::from_packet(
                &Packet::Connect(Connect::new(Protocol::V5, client_id, 30)),
                Protocol::V5,
            );
            let n = rng.gen_range(1..40u8);
            let garbage: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            // Body: name(6) level(1) flags(1) keepalive(2) props-len(1) ...
            let at = LEVEL_AT + 4;
            raw.body[at] = n;
            raw.body.splice(at + 1..at + 1, garbage);
            detail = format!("5.0 {n} bytes of garbage properties");
        }
        MqttOp::DuplicateConnect => {
            let one = raw.to_bytes();
            let mut two = one.clone();
            two.extend_from_slice(&one);
            return MqttMutated {
                op,
                protocol,
                detail: format!("{v} CONNECT twice"),
                bytes: two,
            };
        }
    }
    MqttMutated {
        op,
        // Garbage properties are 5.0 bytes whatever the coin said.
        protocol: if op == MqttOp::GarbageProperties {
            Protocol::V5
        } else {
            protocol
        },
        detail,
        bytes: raw.to_bytes(),
    }
}

/// Classifies what the broker answered after the CONNECT.
pub fn classify_answer(buf: &[u8], v5_hint: bool) -> Class {
    let protocol = if v5_hint {
        Protocol::V5
    } else {
        Protocol::V311
    };
    match decode(buf, protocol, DEFAULT_MAX_REMAINING) {
        Ok(Some(d)) => match d.packet {
            Packet::ConnAck(a) => Class::Connack {
                v5: v5_hint,
                code: a.code,
            },
            other => Class::Unexpected(other.name()),
        },
        Ok(None) if buf.is_empty() => Class::Closed,
        Ok(None) => Class::PartialAnswer,
        Err(_) => Class::UndecodableAnswer,
    }
}

/// Does a TLS handshake with `config`, sends `bytes`, classifies the answer.
/// A failed handshake is a class of its own (`tls_failed(…)`): the MQTT
/// layer was never reached.
pub async fn send_and_classify(
    addr: SocketAddr,
    sni: &str,
    config: Arc<rustls::ClientConfig>,
    bytes: &[u8],
    v5: bool,
    timeout: Duration,
) -> Class {
    let deadline = tokio::time::Instant::now() + timeout;
    let Ok(name) = ServerName::try_from(sni.to_string()) else {
        return Class::BadSni;
    };
    let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Class::Dial(DialCause::of(&e)),
        Err(_) => return Class::Dial(DialCause::Timeout),
    };
    let _ = tcp.set_nodelay(true);
    let connect = crate::transport::ClientTls::connect(config, name, tcp);
    let mut tls = match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Class::TlsFailed(handshake_failure(&e, false).0),
        Err(_) => return Class::TlsTimeout,
    };
    if tls.write_all(bytes).await.is_err() {
        return Class::Closed;
    }
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        match tokio::time::timeout_at(deadline, tls.read(&mut chunk)).await {
            Err(_) => {
                return if buf.is_empty() {
                    Class::Timeout
                } else {
                    classify_answer(&buf, v5)
                }
            }
            Ok(Ok(0)) => return classify_answer(&buf, v5),
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Ok(Some(_)) = decode(&buf, Protocol::V5, DEFAULT_MAX_REMAINING) {
                    return classify_answer(&buf, v5);
                }
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Class::Reset,
            Ok(Err(_)) => return classify_answer(&buf, v5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Decoded;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Decodes with the codec: only the control decodes as a valid CONNECT.
    #[test]
    fn mutations_break_what_they_claim() {
        for seed in 0..50 {
            for op in MqttOp::ALL {
                let m = apply(op, "dev-1", &mut ChaCha8Rng::seed_from_u64(seed));
                assert_eq!(
                    m,
                    apply(op, "dev-1", &mut ChaCha8Rng::seed_from_u64(seed)),
                    "deterministic"
                );
                assert!(
                    m.detail.starts_with("5.0 ") || m.detail.starts_with("3.1.1 "),
                    "{}",
                    m.detail
                );
                let p = m.protocol;
                let v5 = p == Protocol::V5;
                assert_eq!(m.detail.starts_with("5.0 "), v5, "{}", m.detail);
                let decoded = decode(&m.bytes, p, DEFAULT_MAX_REMAINING);
                match op {
                    MqttOp::Valid | MqttOp::DuplicateConnect => {
                        let d = decoded.expect("valid").expect("complete");
                        assert!(matches!(d.packet, Packet::Connect(_)));
                    }
                    MqttOp::OversizedClientId => {
                        let Ok(Some(d)) = decoded else {
                            panic!("{op:?}")
                        };
                        let Packet::Connect(c) = d.packet else {
                            panic!()
                        };
                        assert_eq!(c.client_id.len(), 20_000);
                    }
                    MqttOp::ProtocolLevel | MqttOp::ProtocolName | MqttOp::ReservedFlag => {
                        // The codec keeps these raw for the server to judge;
                        // the bytes must differ from the valid CONNECT.
                        let valid =
                            apply(MqttOp::Valid, "dev-1", &mut ChaCha8Rng::seed_from_u64(seed));
                        assert_eq!(m.bytes.len(), valid.bytes.len());
                        assert_ne!(m.bytes, valid.bytes, "{op:?}");
                    }
                    _ => assert!(
                        !matches!(decoded, Ok(Some(Decoded { len, .. })) if len == m.bytes.len()),
                        "{op:?} decodes cleanly"
                    ),
                }
            }
        }
    }
}
