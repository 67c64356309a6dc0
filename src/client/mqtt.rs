//! The client's MQTT exchange over any stream: CONNECT → CONNACK with a
//! deadline, then packets both ways while a session is held. Errors are
//! [`MqttCause`]s with a message, so the engine and the probe label the
//! same answer the same way.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use crate::metrics::MqttCause;
use crate::mqtt::{self, Connect, Packet, Protocol};

/// A failed step: the cause and a readable message.
pub type Failed = (MqttCause, String);

/// An MQTT client connection over `S` (a TLS stream, usually).
pub struct MqttConn<S> {
    /// The stream.
    pub stream: S,
    /// The protocol version spoken.
    pub proto: Protocol,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MqttConn<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S, proto: Protocol) -> Self {
        MqttConn {
            stream,
            proto,
            // A CONNACK or PINGRESP fits; larger packets grow it.
            buf: BytesMut::with_capacity(64),
        }
    }

    /// Sends CONNECT and waits for CONNACK until `deadline`. `Ok` means the
    /// broker accepted; a refusal is `Connack(code)` with the code's name.
    pub async fn connect(
        &mut self,
        client_id: &str,
        keepalive_s: u16,
        deadline: Instant,
    ) -> Result<(), Failed> {
        let connect = Packet::Connect(Connect::new(self.proto, client_id, keepalive_s));
        self.send(&connect).await?;
        let answer = match timeout_at(deadline, self.recv()).await {
            Err(_) => return Err((MqttCause::Timeout, "no CONNACK in time".into())),
            Ok(r) => r?,
        };
        match answer {
            Packet::ConnAck(a) if a.code == 0 => Ok(()),
            Packet::ConnAck(a) => {
                let name = mqtt::codes::connack_name(self.proto == Protocol::V5, a.code);
                Err((
                    MqttCause::Connack(a.code),
                    format!("CONNACK {:#04x}: {name}", a.code),
                ))
            }
            p => Err((
                MqttCause::ProtocolError,
                format!("{} instead of CONNACK", p.name()),
            )),
        }
    }

    /// Writes one packet.
    pub async fn send(&mut self, p: &Packet) -> Result<(), Failed> {
        let mut out = BytesMut::new();
        mqtt::encode(p, self.proto, &mut out);
        let closed = |e: std::io::Error| (MqttCause::ClosedBeforeConnack, e.to_string());
        self.stream.write_all(&out).await.map_err(closed)?;
        self.stream.flush().await.map_err(closed)
    }

    /// Reads one packet.
    pub async fn recv(&mut self) -> Result<Packet, Failed> {
        loop {
            match mqtt::decode(&self.buf, self.proto, mqtt::DEFAULT_MAX_REMAINING) {
                Ok(Some(d)) => {
                    let _ = self.buf.split_to(d.len);
                    return Ok(d.packet);
                }
                Ok(None) => {}
                Err(e) => return Err((MqttCause::ProtocolError, e.to_string())),
            }
            self.buf.reserve(256);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    return Err((
                        MqttCause::ClosedBeforeConnack,
                        "server closed the connection".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Err((MqttCause::Reset, e.to_string()))
                }
                Err(e) => return Err((MqttCause::ClosedBeforeConnack, e.to_string())),
            }
        }
    }

    /// Sends DISCONNECT (best effort) and shuts the stream down.
    pub async fn disconnect(&mut self) {
        let _ = self
            .send(&Packet::Disconnect(mqtt::Disconnect {
                reason: 0,
                properties: mqtt::Properties::default(),
            }))
            .await;
        let _ = self.stream.shutdown().await;
    }
}
