//! One classification of a failed TLS connect, so the engine, the probe and
//! the fuzzer's MQTT cases report the same cause for the same failure.

use std::io;

use crate::metrics::{Cause, TlsCause};
use crate::trust::{DeviceBufferExceeded, VerifyFailure};

/// The cause and a readable message of a failed `TlsConnector::connect`.
///
/// A certificate rejection by our verifier is a `verify` cause; an alert
/// from the peer is `alert_received(…)`; any other rustls error is a
/// `protocol_error`; an I/O error is a close, a reset or a timeout. With
/// `narrow_offer` (the device offers fewer versions, suites, schemes or
/// groups than rustls would), a handshake_failure alert means the server
/// found nothing it could complete with: `no_shared_cipher_suite`.
pub fn handshake_failure(e: &io::Error, narrow_offer: bool) -> (Cause, String) {
    if let Some(r) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        if let Some(f) = VerifyFailure::from_rustls(r) {
            return (Cause::Verify(f.cause), f.message);
        }
        if let rustls::Error::Other(rustls::OtherError(inner)) = r {
            if let Some(b) = inner.downcast_ref::<DeviceBufferExceeded>() {
                return (
                    Cause::Tls(TlsCause::RecordExceedsDeviceBuffer {
                        message: b.message,
                        buffer: b.buffer,
                    }),
                    b.to_string(),
                );
            }
        }
        return match r {
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)
                if narrow_offer =>
            {
                (
                    Cause::Tls(TlsCause::NoSharedCipherSuite),
                    "server sent alert HandshakeFailure: nothing the device offers is acceptable"
                        .into(),
                )
            }
            rustls::Error::AlertReceived(d) => (
                Cause::Tls(TlsCause::AlertReceived(u8::from(*d))),
                format!("server sent alert {d:?}"),
            ),
            other => (Cause::Tls(TlsCause::ProtocolError), other.to_string()),
        };
    }
    let cause = match e.kind() {
        io::ErrorKind::ConnectionReset => TlsCause::Reset,
        io::ErrorKind::TimedOut => TlsCause::Timeout,
        _ => TlsCause::ClosedDuringHandshake,
    };
    (Cause::Tls(cause), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::VerifyCause;

    fn wrap(r: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, r)
    }

    #[test]
    fn each_kind_of_failure_has_its_cause() {
        let cases = [
            (
                wrap(rustls::Error::AlertReceived(
                    rustls::AlertDescription::UnknownCA,
                )),
                "alert_received(unknownca)",
            ),
            (
                wrap(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                "unknown_issuer",
            ),
            (
                wrap(rustls::Error::InappropriateMessage {
                    expect_types: vec![],
                    got_type: rustls::ContentType::Heartbeat,
                }),
                "protocol_error",
            ),
            (
                io::Error::from(io::ErrorKind::UnexpectedEof),
                "closed_during_handshake",
            ),
            (io::Error::from(io::ErrorKind::ConnectionReset), "reset"),
            (io::Error::from(io::ErrorKind::TimedOut), "timeout"),
        ];
        for (e, want) in cases {
            assert_eq!(handshake_failure(&e, false).0.to_string(), want, "{e}");
        }
        // The same alert to a device with a narrowed offer.
        let alert = || {
            wrap(rustls::Error::AlertReceived(
                rustls::AlertDescription::HandshakeFailure,
            ))
        };
        assert_eq!(
            handshake_failure(&alert(), true).0,
            Cause::Tls(TlsCause::NoSharedCipherSuite)
        );
        assert_eq!(
            handshake_failure(&alert(), false).0,
            Cause::Tls(TlsCause::AlertReceived(40))
        );
        let (c, _) = handshake_failure(
            &wrap(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            )),
            false,
        );
        assert_eq!(c, Cause::Verify(VerifyCause::Expired));
    }
}
