//! The timed verifier inside real rustls handshakes (client and server
//! connections driven against each other in memory): the probe reports the
//! validation time, anchor and path kind, and rejections reach the server as
//! the right TLS alert.

use crate::common;

use std::sync::Arc;

use chainstorm::metrics::Anchor;
use chainstorm::metrics::VerifyCause;
use chainstorm::pki::ChainKind;
use chainstorm::trust::{ChainVerifier, TimedVerifier, ValidationSample, VerifyFailure};
use common::{name_for, pki, profile};
use rustls::{ClientConnection, ServerConfig, ServerConnection};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Client result, server result, probe sample, and the profile used.
type Outcome = (
    Result<(), rustls::Error>,
    Result<(), rustls::Error>,
    Option<ValidationSample>,
    Arc<chainstorm::trust::TrustProfile>,
);

/// Runs one handshake; returns the client's result, the server's result and the probe sample.
fn handshake(profile_name: &str, kind: ChainKind) -> Outcome {
    let served = pki().chain(kind);
    let server_cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(served.certs.clone(), served.key.clone_key())
        .unwrap();
    let prof = profile(profile_name);
    let verifier = TimedVerifier::new(Arc::new(ChainVerifier::new(prof.clone())));
    let probe = verifier.probe();
    let client_cfg = chainstorm::client::ClientOptions::default()
        .build(Arc::new(verifier))
        .unwrap();
    let mut client = ClientConnection::new(Arc::new(client_cfg), name_for(kind)).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_cfg)).unwrap();
    let (mut c_res, mut s_res) = (Ok(()), Ok(()));
    for _ in 0..20 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
            }
            if let Err(e) = server.process_new_packets() {
                s_res = Err(e);
            }
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).unwrap();
            }
            if let Err(e) = client.process_new_packets() {
                c_res = Err(e);
            }
        }
        if c_res.is_err()
            || s_res.is_err()
            || (!client.is_handshaking() && !server.is_handshaking())
        {
            // Let the client's alert reach the server.
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            let mut rd = &buf[..];
            while !rd.is_empty() {
                if server.read_tls(&mut rd).is_err() {
                    break;
                }
            }
            if let Err(e) = server.process_new_packets() {
                s_res = Err(e);
            }
            break;
        }
    }
    (c_res, s_res, probe.take(), prof)
}

#[test]
fn successful_handshakes_report_time_anchor_and_kind() {
    for (kind, want) in [
        (ChainKind::Legacy, Anchor::LegacyRsa),
        (ChainKind::AtsRsa, Anchor::AtsRsa),
        (ChainKind::AtsEcc, Anchor::AtsEcc),
    ] {
        let (c, s, sample, prof) = handshake("dual", kind);
        assert!(c.is_ok() && s.is_ok(), "{}: {c:?} {s:?}", kind.name());
        let sample = sample.expect("the verifier ran");
        assert!(sample.nanos > 0);
        let (anchor, pk) = sample.outcome.unwrap();
        assert_eq!(pk, want);
        assert_eq!(
            prof.anchor_info[anchor as usize].family.label(),
            match want {
                Anchor::LegacyRsa => "legacy",
                Anchor::AtsRsa => "ats-rsa",
                _ => "ats-ecc",
            }
        );
    }
    let (c, _, sample, _) = handshake("starfield-only", ChainKind::AtsRsaCrossSigned);
    assert!(c.is_ok());
    assert_eq!(sample.unwrap().outcome.unwrap().1, Anchor::CrossSigned);
}

#[test]
fn jdk_rejection_travels_through_rustls() {
    let (c, s, sample, prof) = handshake("jdk-8u212", ChainKind::Legacy);
    let err = c.unwrap_err();
    let f = VerifyFailure::from_rustls(&err).expect("certificate error");
    assert_eq!(f.cause, VerifyCause::Distrusted("SYMANTEC_TLS".into()));
    assert!(f.message.contains("distrusted legacy Symantec root CA"));
    let code = sample.unwrap().outcome.unwrap_err();
    assert_eq!(
        code.cause(&prof),
        VerifyCause::Distrusted("SYMANTEC_TLS".into())
    );
    // The server learns of it through an alert.
    assert!(matches!(s, Err(rustls::Error::AlertReceived(_))), "{s:?}");
}

#[test]
fn unknown_issuer_sends_unknown_ca_alert() {
    let (c, s, sample, prof) = handshake("legacy-only", ChainKind::AtsEcc);
    let f = VerifyFailure::from_rustls(&c.unwrap_err()).unwrap();
    assert_eq!(f.cause, VerifyCause::UnknownIssuer);
    assert_eq!(
        sample.unwrap().outcome.unwrap_err().cause(&prof),
        VerifyCause::UnknownIssuer
    );
    assert_eq!(
        s.unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA)
    );
}

#[test]
fn expired_chain_sends_certificate_expired_alert() {
    let (_, s, sample, prof) = handshake("dual", ChainKind::Expired);
    assert_eq!(
        sample.unwrap().outcome.unwrap_err().cause(&prof),
        VerifyCause::Expired
    );
    assert_eq!(
        s.unwrap_err(),
        rustls::Error::AlertReceived(rustls::AlertDescription::CertificateExpired)
    );
}
