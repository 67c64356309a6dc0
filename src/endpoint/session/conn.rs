//! The connection under a session: packets decoded from one input buffer,
//! encoded into one output buffer, and the ways a session refuses or ends.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::mqtt::{self, Packet, Properties, Protocol};

/// Why reading a packet ended.
pub(super) enum ReadEnd {
    Closed,
    Malformed,
}

/// A session's stream with its one input and one output buffer.
pub(super) struct Conn<S> {
    pub(super) stream: S,
    pub(super) buf: BytesMut,
    pub(super) out: BytesMut,
    pub(super) protocol: Protocol,
    pub(super) max_packet: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// The next packet already buffered, if complete.
    pub(super) fn buffered(&mut self) -> Result<Option<Packet>, ReadEnd> {
        match mqtt::decode(&self.buf, self.protocol, self.max_packet) {
            Ok(Some(d)) => {
                let _ = self.buf.split_to(d.len);
                Ok(Some(d.packet))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(ReadEnd::Malformed),
        }
    }

    pub(super) async fn fill(&mut self) -> Result<(), ReadEnd> {
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(1024);
        }
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Err(ReadEnd::Closed),
            Ok(_) => Ok(()),
        }
    }

    pub(super) async fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        self.encode(p);
        self.flush_out().await
    }

    /// Encodes `p` into the output buffer; its length is the packet size.
    pub(super) fn encode(&mut self, p: &Packet) -> usize {
        self.out.clear();
        mqtt::encode(p, self.protocol, &mut self.out);
        self.out.len()
    }

    /// Writes what `encode` put in the output buffer.
    pub(super) async fn flush_out(&mut self) -> std::io::Result<()> {
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await
    }

    pub(super) async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

pub(super) fn connack(code: u8, properties: Properties) -> Packet {
    Packet::ConnAck(mqtt::ConnAck {
        session_present: false,
        code,
        properties,
    })
}

/// 5.0 sessions get a DISCONNECT with a reason; 3.1.1 has none to send.
pub(super) async fn send_disconnect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    reason: u8,
) {
    if conn.protocol == Protocol::V5 {
        let p = Packet::Disconnect(mqtt::Disconnect {
            reason,
            properties: Properties::default(),
        });
        let _ = conn.send(&p).await;
    }
}

/// What the session does after a packet.
pub(super) enum Step {
    /// Read the next packet.
    Continue,
    /// The client disconnected normally.
    Disconnect,
    /// A protocol violation: the session ends.
    Violation,
}

/// Refuses a 5.0 session with `reason` (DISCONNECT, then close); a 3.1.1
/// one is just closed.
pub(super) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    reason: u8,
) -> Step {
    send_disconnect(conn, reason).await;
    Step::Violation
}
