//! Classifying what a server answered to a ClientHello, in the labels the
//! load engine uses for TLS failures (`alert_received(…)`,
//! `closed_during_handshake`, `reset`, `timeout`) plus the successes a
//! fuzzer sees (`server_hello`, `hello_retry_request`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Class;
use crate::metrics::{DialCause, TlsCause};

/// SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Classifies the first bytes a server sent (empty: it sent nothing).
pub fn classify_bytes(b: &[u8]) -> Class {
    match b {
        [] => Class::Tls(TlsCause::ClosedDuringHandshake),
        [0x16, _, _, _, _, 2, ..] if b.len() >= 43 && b[11..43] == HRR_RANDOM => {
            Class::HelloRetryRequest
        }
        [0x16, _, _, _, _, 2, ..] => Class::ServerHello,
        // Warning level: a class of its own, so it never merges with a fatal one.
        [0x15, _, _, _, _, 1, desc, ..] => Class::WarningAlert(*desc),
        [0x15, _, _, _, _, _, desc, ..] => Class::Tls(TlsCause::AlertReceived(*desc)),
        _ => Class::Tls(TlsCause::ProtocolError),
    }
}

/// Sends `bytes` to `addr` and classifies the answer.
pub async fn send_and_classify(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Class {
    let mut s = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Class::Dial(DialCause::of(&e)),
        Err(_) => return Class::Dial(DialCause::Timeout),
    };
    let _ = s.set_nodelay(true);
    if let Err(e) = s.write_all(bytes).await {
        return if e.kind() == std::io::ErrorKind::ConnectionReset {
            Class::Reset
        } else {
            Class::Tls(TlsCause::ClosedDuringHandshake)
        };
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + timeout;
    // Read until the record header and a few body bytes are in (enough to
    // classify), the peer closes, or the timeout.
    while got < 43 {
        match tokio::time::timeout_at(deadline, s.read(&mut buf[got..])).await {
            Err(_) => {
                return if got == 0 {
                    Class::Timeout
                } else {
                    classify_bytes(&buf[..got])
                }
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                got += n;
                if buf[0] == 0x15 && got >= 7 {
                    break;
                }
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return if got == 0 {
                    Class::Reset
                } else {
                    classify_bytes(&buf[..got])
                };
            }
            Ok(Err(_)) => break,
        }
    }
    classify_bytes(&buf[..got])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(
            classify_bytes(&[]),
            Class::Tls(TlsCause::ClosedDuringHandshake)
        );
        assert_eq!(
            classify_bytes(&[0x15, 3, 3, 0, 2, 2, 112]),
            Class::Tls(TlsCause::AlertReceived(112))
        );
        assert_eq!(
            classify_bytes(&[0x15, 3, 3, 0, 2, 1, 0]),
            Class::WarningAlert(0)
        );
        let mut sh = vec![0x16, 3, 3, 0, 90, 2, 0, 0, 86, 3, 3];
        sh.extend_from_slice(&[7; 32]);
        assert_eq!(classify_bytes(&sh), Class::ServerHello);
        let mut hrr = vec![0x16, 3, 3, 0, 90, 2, 0, 0, 86, 3, 3];
        hrr.extend_from_slice(&HRR_RANDOM);
        assert_eq!(classify_bytes(&hrr), Class::HelloRetryRequest);
        assert_eq!(
            classify_bytes(&[0x17, 3, 3]),
            Class::Tls(TlsCause::ProtocolError)
        );
    }
}
