//! `chainstorm probe`: one real handshake per trust profile or device model
//! against an endpoint, reporting who would connect, with which chain,
//! anchor, version and suite, and what validation cost; optionally weighted
//! by a fleet's groups (each with its own device model).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client::mqtt::MqttConn;
use crate::client::{handshake_failure, ClientAuth, ClientOptions};
use crate::metrics::{Cause, DialCause, MqttCause, TlsCause};
use crate::model::DeviceModel;
use crate::mqtt::Protocol;
use crate::pki::{describe_cert, CertSummary, PkiBundle};
use crate::trust::{
    with_probe, ChainVerifier, TimedVerifier, TrustError, TrustProfile, ValidationProbe,
    ValidationRules,
};

/// One kind of device to probe with: a device model's trust profile,
/// verification rules and ClientHello.
#[derive(Debug)]
pub struct ProbeDevice {
    /// Name in the results (model or profile name).
    pub label: String,
    /// Its trust profile.
    pub profile: Arc<TrustProfile>,
    /// Path builder, clock, pins, input buffer.
    pub rules: ValidationRules,
    /// What its ClientHello offers.
    pub caps: crate::client::Offer,
}

impl ProbeDevice {
    /// The device a model describes.
    pub fn from_model(m: &DeviceModel, pki: &PkiBundle) -> Result<ProbeDevice, TrustError> {
        Ok(ProbeDevice {
            label: m.name.clone(),
            profile: Arc::new(TrustProfile::load(&m.trust, pki)?),
            rules: m.rules(pki),
            caps: m.caps,
        })
    }
}

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

/// What to probe.
#[derive(Clone)]
pub struct ProbeTarget {
    /// Address.
    pub addr: SocketAddr,
    /// SNI (checked by whoever builds the target).
    pub sni: ServerName<'static>,
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
    /// Failure cause in the taxonomy; in JSON `phase/cause`, e.g.
    /// `verify/distrusted(SYMANTEC_TLS)`.
    #[serde(serialize_with = "qualified")]
    pub cause: Option<Cause>,
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

fn qualified<S: serde::Serializer>(c: &Option<Cause>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(&c.qualified()),
        None => s.serialize_none(),
    }
}

impl ProbeResult {
    fn new(device: &ProbeDevice) -> Self {
        ProbeResult {
            profile: device.label.clone(),
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
        }
    }

    fn fail(&mut self, cause: Cause, message: String) {
        if let Cause::Mqtt(MqttCause::Connack(code)) = cause {
            self.connack = Some(code);
        }
        self.cause = Some(cause);
        self.message = Some(message);
    }
}

type Tls = crate::transport::ClientTls;

/// Probes one device kind: dial → handshake (recording the presented
/// chain, anchor and validation time) → optional CONNECT/CONNACK.
pub async fn probe_one(t: &ProbeTarget, device: Arc<ProbeDevice>) -> ProbeResult {
    let mut r = ProbeResult::new(&device);
    let outcome = async {
        let tcp = dial(t).await?;
        let mut stream = handshake(t, &device, tcp, &mut r).await?;
        if t.mqtt.is_none() {
            // The client's Finished leaves with the first write: send it
            // with close_notify so the endpoint sees a completed handshake.
            let _ = stream.shutdown().await;
        }
        if let Some(proto) = t.mqtt {
            let mut conn = MqttConn::new(stream, proto);
            let res = conn
                .connect(&t.client_id, 60, tokio::time::Instant::now() + t.timeout)
                .await;
            conn.disconnect().await;
            res.map_err(|(c, m)| (Cause::Mqtt(c), m))?;
            r.connack = Some(0);
        }
        Ok::<(), (Cause, String)>(())
    }
    .await;
    match outcome {
        Ok(()) => r.accepted = true,
        Err((cause, message)) => r.fail(cause, message),
    }
    r
}

async fn dial(t: &ProbeTarget) -> Result<TcpStream, (Cause, String)> {
    match tokio::time::timeout(t.timeout, TcpStream::connect(t.addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err((Cause::Dial(DialCause::of(&e)), e.to_string())),
        Err(_) => Err((Cause::Dial(DialCause::Timeout), "connect timed out".into())),
    }
}

async fn handshake(
    t: &ProbeTarget,
    device: &ProbeDevice,
    tcp: TcpStream,
    r: &mut ProbeResult,
) -> Result<Tls, (Cause, String)> {
    let profile = &device.profile;
    let opts = ClientOptions {
        offer: device.caps,
        alpn: t.alpn.clone(),
        client_auth: match &t.client_cert {
            Some(ck) => ClientAuth::Fixed(ck.clone()),
            None => ClientAuth::None,
        },
        ..ClientOptions::default()
    };
    let core = ChainVerifier::new_with_provider(profile.clone(), &opts.provider())
        .with_rules(device.rules.clone());
    let verifier = Arc::new(Capture {
        inner: TimedVerifier::new(Arc::new(core)),
        seen: Mutex::new(Vec::new()),
    });
    let cfg = opts
        .build(verifier.clone())
        .map_err(|e| (Cause::Tls(TlsCause::ProtocolError), e.to_string()))?;
    let probe = Arc::new(ValidationProbe::default());
    let start = Instant::now();
    let hs = with_probe(
        probe.clone(),
        tokio::time::timeout(t.timeout, Tls::connect(Arc::new(cfg), t.sni.clone(), tcp)),
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
    let stream = match hs {
        Err(_) => return Err((Cause::Tls(TlsCause::Timeout), "handshake timed out".into())),
        Ok(Err(e)) => return Err(handshake_failure(&e, device.caps.narrowed())),
        Ok(Ok(s)) => s,
    };
    r.handshake_us = Some(start.elapsed().as_secs_f64() * 1e6);
    if let Some(conn) = stream.common() {
        r.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
        r.cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        r.alpn = conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned());
    }
    Ok(stream)
}

/// True when every profile that reached validation rejected the chain for
/// a bad signature: the endpoint's certificates come from another mock CA
/// than the PKI the probe used (another `pki init`), not from a broken
/// endpoint.
pub fn foreign_mock_ca(results: &[ProbeResult]) -> bool {
    use crate::metrics::VerifyCause;
    let verified: Vec<&ProbeResult> = results
        .iter()
        .filter(|r| matches!(r.cause, Some(Cause::Verify(_))) || r.accepted)
        .collect();
    !verified.is_empty()
        && verified
            .iter()
            .all(|r| r.cause == Some(Cause::Verify(VerifyCause::BadSignature)))
}

/// Probes every device kind in turn.
pub async fn probe_all(t: &ProbeTarget, profiles: &[Arc<ProbeDevice>]) -> Vec<ProbeResult> {
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

/// Resolves profile or device-model names against a PKI.
pub fn profiles(names: &[String], pki: &PkiBundle) -> Result<Vec<Arc<ProbeDevice>>, TrustError> {
    names
        .iter()
        .map(|n| ProbeDevice::from_model(&DeviceModel::named(n), pki).map(Arc::new))
        .collect()
}

/// The distinct device kinds of a fleet, with how many devices each has:
/// groups with the same model share a row; two different models under one
/// name are told apart by their group.
pub fn fleet_devices(
    groups: &[crate::scenario::Group],
    pki: &PkiBundle,
) -> Result<Vec<(Arc<ProbeDevice>, u64)>, TrustError> {
    let mut out: Vec<(DeviceModel, Arc<ProbeDevice>, u64)> = Vec::new();
    for g in groups {
        if let Some(row) = out.iter_mut().find(|(m, _, _)| *m == g.model) {
            row.2 += g.devices;
            continue;
        }
        let mut d = ProbeDevice::from_model(&g.model, pki)?;
        if out.iter().any(|(_, o, _)| o.label == d.label) {
            d.label = format!("{} ({})", d.label, g.name);
        }
        out.push((g.model.clone(), Arc::new(d), g.devices));
    }
    Ok(out.into_iter().map(|(_, d, n)| (d, n)).collect())
}
