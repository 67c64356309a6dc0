//! Client TLS: one `ClientConfig` per distinct (profile, versions, key
//! offer, ALPN, mTLS) shared by every device using it, with the timed
//! verifier; per-device client certificates are picked from the calling
//! task (like the validation probe), so sharing costs nothing.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};

use super::EngineError;
use crate::trust::{ChainVerifier, TimedVerifier, TrustProfile};

tokio::task_local! {
    /// The client certificate of the device whose handshake this task runs.
    static DEVICE_CERT: Option<Arc<CertifiedKey>>;
}

/// Runs `fut` with `cert` as the client certificate any [`DeviceCertResolver`] offers.
pub async fn with_device_cert<F: std::future::Future>(
    cert: Option<Arc<CertifiedKey>>,
    fut: F,
) -> F::Output {
    DEVICE_CERT.scope(cert, fut).await
}

/// Offers the current task's device certificate.
#[derive(Debug)]
pub struct DeviceCertResolver;

impl ResolvesClientCert for DeviceCertResolver {
    fn resolve(&self, _hints: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        DEVICE_CERT
            .try_with(|c| c.clone())
            .ok()
            .flatten()
            .filter(|c| c.key.choose_scheme(schemes).is_some())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// What makes two devices' TLS configurations differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Trust profile name.
    pub profile: String,
    /// Offer TLS 1.3.
    pub tls13: bool,
    /// Offer TLS 1.2.
    pub tls12: bool,
    /// Offer only ECDSA signature schemes.
    pub ecdsa_only: bool,
    /// ALPN to offer.
    pub alpn: Option<String>,
    /// Present a device certificate.
    pub mtls: bool,
}

/// The configurations of a run, built before it starts.
#[derive(Default)]
pub struct ClientConfigs {
    configs: HashMap<ClientKey, (Arc<ClientConfig>, Arc<TrustProfile>)>,
}

fn provider(ecdsa_only: bool) -> CryptoProvider {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    // AES-128-GCM with SHA-256 first, as embedded TLS stacks typically order
    // them: SHA-256 runs on the CPU's SHA extensions, while the SHA-384 of
    // rustls' default first choice (AES-256-GCM-SHA384) has no hardware path
    // here and cost ~13 % of the client's CPU in a profile.
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 1,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 2,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 3,
        _ => 4,
    });
    if ecdsa_only {
        // A device with an EC-only stack advertises only ECDSA schemes,
        // which makes the ATS endpoint pick its ECC chain.
        static ALGS: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm] = &[
            webpki::aws_lc_rs::ECDSA_P256_SHA256,
            webpki::aws_lc_rs::ECDSA_P384_SHA384,
        ];
        static MAP: &[(
            SignatureScheme,
            &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
        )] = &[
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[webpki::aws_lc_rs::ECDSA_P256_SHA256],
            ),
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[webpki::aws_lc_rs::ECDSA_P384_SHA384],
            ),
        ];
        p.signature_verification_algorithms = rustls::crypto::WebPkiSupportedAlgorithms {
            all: ALGS,
            mapping: MAP,
        };
    }
    p
}

impl ClientConfigs {
    /// The configuration for `key`, built on first use with `profile`.
    pub fn get_or_build(
        &mut self,
        key: &ClientKey,
        profile: impl FnOnce() -> Result<TrustProfile, EngineError>,
    ) -> Result<(Arc<ClientConfig>, Arc<TrustProfile>), EngineError> {
        if let Some(c) = self.configs.get(key) {
            return Ok(c.clone());
        }
        let profile = Arc::new(profile()?);
        let p = Arc::new(provider(key.ecdsa_only));
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            key.tls13.then_some(&rustls::version::TLS13),
            key.tls12.then_some(&rustls::version::TLS12),
        ]
        .into_iter()
        .flatten()
        .collect();
        let verifier = Arc::new(TimedVerifier::new(Arc::new(
            ChainVerifier::new_with_provider(profile.clone(), &p),
        )));
        let b = ClientConfig::builder_with_provider(p)
            .with_protocol_versions(&versions)
            .map_err(|e| EngineError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut cfg = if key.mtls {
            b.with_client_cert_resolver(Arc::new(DeviceCertResolver))
        } else {
            b.with_no_client_auth()
        };
        if let Some(a) = &key.alpn {
            cfg.alpn_protocols = vec![a.as_bytes().to_vec()];
        }
        // SSLKEYLOGFILE, when set, receives the session keys so a capture
        // can be decrypted in Wireshark/tshark; unset, this does nothing.
        cfg.key_log = Arc::new(rustls::KeyLogFile::new());
        let out = (Arc::new(cfg), profile);
        self.configs.insert(key.clone(), out.clone());
        Ok(out)
    }

    /// Distinct configurations built.
    pub fn len(&self) -> usize {
        self.configs.len()
    }

    /// True when none was built.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }
}
