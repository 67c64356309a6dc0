//! `chainstorm probe`: one real handshake per trust profile against an
//! endpoint, reporting who would connect, with which chain, anchor, version
//! and suite, and what validation cost; optionally weighted by a fleet.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::mqtt::{self, Connect, Packet, Protocol};
use crate::pki::{describe_cert, CertSummary, PkiBundle};
use crate::trust::{
    with_probe, ChainVerifier, TimedVerifier, TrustProfile, ValidationProbe, VerifyFailure,
};

/// Records the chain the server presented, then verifies with the timed verifier.
#[derive(Debug)]
struct Capture {
    inner: TimedVerifier,
    seen: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
            s.push(end_entity.clone().into_owned());
            s.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Always offers the one client certificate.
#[derive(Debug)]
struct FixedCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedCert {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.key.choose_scheme(schemes).map(|_| self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// What to probe.
#[derive(Clone)]
pub struct ProbeTarget {
    /// Address.
    pub addr: SocketAddr,
    /// SNI.
    pub sni: String,
    /// ALPN to offer.
    pub alpn: Option<String>,
    /// MQTT CONNECT after the handshake.
    pub mqtt: Option<Protocol>,
    /// Client id for MQTT (and CN of a minted client certificate).
    pub client_id: String,
    /// Client certificate.
    pub client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
    /// Per-step timeout.
    pub timeout: Duration,
}

/// One profile's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    /// Trust profile.
    pub profile: String,
    /// Handshake (and CONNACK, if asked) succeeded.
    pub accepted: bool,
    /// Failure cause in the taxonomy, e.g. `verify/distrusted(SYMANTEC_TLS)`.
    pub cause: Option<String>,
    /// Failure message.
    pub message: Option<String>,
    /// The chain the server presented, leaf first.
    pub chain: Vec<CertSummary>,
    /// The anchor the chain validated to.
    pub anchor: Option<String>,
    /// TLS version.
    pub tls_version: Option<String>,
    /// Cipher suite.
    pub cipher_suite: Option<String>,
    /// ALPN negotiated.
    pub alpn: Option<String>,
    /// TCP connect to handshake complete, µs.
    pub handshake_us: Option<f64>,
    /// Chain validation inside the verifier, µs.
    pub validation_us: Option<f64>,
    /// CONNACK code, when MQTT was asked for.
    pub connack: Option<u8>,
}

/// Probes one profile.
pub async fn probe_one(t: &ProbeTarget, profile: Arc<TrustProfile>) -> ProbeResult {
    let name = profile.name.clone();
    let mut r = ProbeResult {
        profile: name,
        accepted: false,
        cause: None,
        message: None,
        chain: Vec::new(),
        anchor: None,
        tls_version: None,
        cipher_suite: None,
        alpn: None,
        handshake_us: None,
        validation_us: None,
        connack: None,
    };
    let verifier = Arc::new(Capture {
        inner: TimedVerifier::new(Arc::new(ChainVerifier::new(profile.clone()))),
        seen: Mutex::new(Vec::new()),
    });
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("default versions")
    .dangerous()
    .with_custom_certificate_verifier(verifier.clone());
    let mut cfg = match &t.client_cert {
        Some(ck) => b.with_client_cert_resolver(Arc::new(FixedCert(ck.clone()))),
        None => b.with_no_client_auth(),
    };
    if let Some(a) = &t.alpn {
        cfg.alpn_protocols = vec![a.as_bytes().to_vec()];
    }
    // SSLKEYLOGFILE, when set, gets the session keys (for Wireshark/tshark).
    cfg.key_log = Arc::new(rustls::KeyLogFile::new());
    let fail = |r: &mut ProbeResult, cause: String, msg: String| {
        r.cause = Some(cause);
        r.message = Some(msg);
    };
    let tcp = match tokio::time::timeout(t.timeout, TcpStream::connect(t.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            fail(
                &mut r,
                format!("dial/{}", crate::metrics::dial_cause(&e)),
                e.to_string(),
            );
            return r;
        }
        Err(_) => {
            fail(&mut r, "dial/timeout".into(), "connect timed out".into());
            return r;
        }
    };
    let _ = tcp.set_nodelay(true);
    let Ok(server_name) = ServerName::try_from(t.sni.clone()) else {
        fail(
            &mut r,
            "input".into(),
            format!("{:?} is not a server name", t.sni),
        );
        return r;
    };
    let probe = Arc::new(ValidationProbe::default());
    let start = Instant::now();
    let hs = with_probe(
        probe.clone(),
        tokio::time::timeout(
            t.timeout,
            TlsConnector::from(Arc::new(cfg)).connect(server_name, tcp),
        ),
    )
    .await;
    if let Some(s) = probe.take() {
        r.validation_us = Some(s.nanos as f64 / 1e3);
        if let Ok((idx, _)) = s.outcome {
            r.anchor = profile
                .anchor_info
                .get(idx as usize)
                .map(|a| a.display_name().to_string());
        }
    }
    if let Ok(seen) = verifier.seen.lock() {
        r.chain = seen
            .iter()
            .filter_map(|c| describe_cert(c.as_ref()).ok())
            .collect();
    }
    let mut stream = match hs {
        Err(_) => {
            fail(&mut r, "tls/timeout".into(), "handshake timed out".into());
            return r;
        }
        Ok(Err(e)) => {
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            match inner.and_then(VerifyFailure::from_rustls) {
                Some(f) => fail(&mut r, format!("verify/{}", f.cause.label()), f.message),
                None => match inner {
                    Some(rustls::Error::AlertReceived(d)) => fail(
                        &mut r,
                        format!(
                            "tls/alert_received({})",
                            format!("{d:?}").to_ascii_lowercase()
                        ),
                        e.to_string(),
                    ),
                    _ => fail(&mut r, "tls/closed_during_handshake".into(), e.to_string()),
                },
            }
            return r;
        }
        Ok(Ok(s)) => s,
    };
    r.handshake_us = Some(start.elapsed().as_secs_f64() * 1e6);
    let conn = stream.get_ref().1;
    r.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
    r.cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));
    r.alpn = conn
        .alpn_protocol()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    match t.mqtt {
        None => r.accepted = true,
        Some(proto) => {
            let mut out = BytesMut::new();
            mqtt::encode(
                &Packet::Connect(Connect::new(proto, &t.client_id, 60)),
                proto,
                &mut out,
            );
            let mut buf = BytesMut::with_capacity(64);
            let res = tokio::time::timeout(t.timeout, async {
                stream.write_all(&out).await?;
                stream.flush().await?;
                loop {
                    if let Ok(Some(d)) = mqtt::decode(&buf, proto, 4096) {
                        return Ok::<_, std::io::Error>(Some(d.packet));
                    }
                    if stream.read_buf(&mut buf).await? == 0 {
                        return Ok(None);
                    }
                }
            })
            .await;
            match res {
                Ok(Ok(Some(Packet::ConnAck(a)))) => {
                    r.connack = Some(a.code);
                    if a.code == 0 {
                        r.accepted = true;
                    } else {
                        let name = mqtt::codes::connack_name(proto == Protocol::V5, a.code);
                        fail(
                            &mut r,
                            format!("mqtt/connack({:#04x})", a.code),
                            name.into(),
                        );
                    }
                }
                Ok(Ok(_)) => fail(
                    &mut r,
                    "mqtt/closed_before_connack".into(),
                    "no CONNACK".into(),
                ),
                Ok(Err(e)) => fail(&mut r, "mqtt/closed_before_connack".into(), e.to_string()),
                Err(_) => fail(&mut r, "mqtt/timeout".into(), "no CONNACK in time".into()),
            }
            let _ = stream.shutdown().await;
        }
    }
    r
}

/// Probes every profile in turn.
pub async fn probe_all(t: &ProbeTarget, profiles: &[Arc<TrustProfile>]) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for p in profiles {
        out.push(probe_one(t, p.clone()).await);
    }
    out
}

/// The share of a fleet that would fail: (profile, devices) weighted by the verdicts.
pub fn fleet_failure_share(fleet: &[(String, u64)], results: &[ProbeResult]) -> f64 {
    let total: u64 = fleet.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return 0.0;
    }
    let failing: u64 = fleet
        .iter()
        .filter(|(p, _)| results.iter().any(|r| &r.profile == p && !r.accepted))
        .map(|(_, n)| n)
        .sum();
    failing as f64 / total as f64
}

/// Resolves profile names against a PKI.
pub fn profiles(
    names: &[String],
    pki: &PkiBundle,
) -> Result<Vec<Arc<TrustProfile>>, crate::trust::TrustError> {
    names
        .iter()
        .map(|n| TrustProfile::resolve(n, pki).map(Arc::new))
        .collect()
}
