//! Every rustls `ClientConfig` is built here: protocol versions, the key
//! offer (which decides the chain an ATS endpoint serves), ALPN, the client
//! certificate resolver, the key log and the verifier. The engine keeps one
//! configuration per distinct [`ClientKey`] shared by every device using it.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, SignatureScheme};

use super::cert::DeviceCertResolver;
use super::offer::{GroupOffer, KeyOffer, Offer, SuiteOffer};
use super::ClientError;
use crate::trust::{ChainVerifier, ProfileRef, TimedVerifier, TrustProfile, ValidationRules};

/// How to build one client configuration.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// What the ClientHello offers.
    pub offer: Offer,
    /// ALPN protocol to offer (sent only when the offer sends ALPN).
    pub alpn: Option<String>,
    /// Offer a client certificate: the task's device certificate
    /// ([`super::with_device_cert`]) or this fixed one.
    pub client_auth: ClientAuth,
    /// Session resumption; `None` keeps rustls' default (an in-memory
    /// cache per configuration).
    pub resumption: Option<rustls::client::Resumption>,
    /// What the verifier applies besides the profile (a device model's
    /// path builder, clock, pins and input buffer).
    pub rules: ValidationRules,
}

/// Client authentication.
#[derive(Clone, Debug, Default)]
pub enum ClientAuth {
    /// No client certificate.
    #[default]
    None,
    /// The calling task's device certificate.
    PerDevice,
    /// One certificate for every connection.
    Fixed(Arc<rustls::sign::CertifiedKey>),
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            offer: Offer::default(),
            alpn: None,
            client_auth: ClientAuth::None,
            resumption: None,
            rules: ValidationRules::default(),
        }
    }
}

impl ClientOptions {
    /// The crypto provider these options imply (suite order, schemes).
    pub fn provider(&self) -> Arc<CryptoProvider> {
        let o = &self.offer;
        Arc::new(provider(o.schemes, o.suites, o.groups, o.tls13))
    }

    /// A configuration that verifies with the timed verifier over `profile`.
    pub fn build_for_profile(
        &self,
        profile: Arc<TrustProfile>,
    ) -> Result<ClientConfig, ClientError> {
        let p = self.provider();
        let verifier = Arc::new(TimedVerifier::new(Arc::new(
            ChainVerifier::new_with_provider(profile, &p).with_rules(self.rules.clone()),
        )));
        self.build_with_provider(p, verifier)
    }

    /// A configuration that verifies with `verifier` (a wrapper around the
    /// timed verifier, or a test's own).
    pub fn build(
        &self,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Result<ClientConfig, ClientError> {
        self.build_with_provider(self.provider(), verifier)
    }

    fn build_with_provider(
        &self,
        p: Arc<CryptoProvider>,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Result<ClientConfig, ClientError> {
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            self.offer.tls13.then_some(&rustls::version::TLS13),
            self.offer.tls12.then_some(&rustls::version::TLS12),
        ]
        .into_iter()
        .flatten()
        .collect();
        let b = ClientConfig::builder_with_provider(p)
            .with_protocol_versions(&versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut cfg = match &self.client_auth {
            ClientAuth::None => b.with_no_client_auth(),
            ClientAuth::PerDevice => {
                b.with_client_cert_resolver(Arc::new(DeviceCertResolver::default()))
            }
            ClientAuth::Fixed(ck) => {
                b.with_client_cert_resolver(Arc::new(DeviceCertResolver::fixed(ck.clone())))
            }
        };
        if let Some(a) = self.alpn.as_ref().filter(|_| self.offer.alpn) {
            cfg.alpn_protocols = vec![a.as_bytes().to_vec()];
        }
        cfg.enable_sni = self.offer.sni;
        // A held device sheds its rustls connection for the traffic keys
        // (`transport::TlsStream::shed`); rustls allows that only when asked.
        cfg.enable_secret_extraction = true;
        if let Some(r) = &self.resumption {
            cfg.resumption = r.clone();
        }
        // SSLKEYLOGFILE, when set, receives the session keys so a capture
        // can be decrypted in Wireshark/tshark; unset, this does nothing.
        cfg.key_log = Arc::new(rustls::KeyLogFile::new());
        Ok(cfg)
    }
}

/// What makes two devices' TLS configurations differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Trust profile.
    pub profile: ProfileRef,
    /// What the ClientHello offers.
    pub offer: Offer,
    /// ALPN protocol (sent when the offer sends ALPN).
    pub alpn: Option<String>,
    /// Present a device certificate.
    pub mtls: bool,
    /// The device model's verification rules.
    pub rules: ValidationRules,
}

/// The configurations of a run, built before it starts.
#[derive(Default)]
pub struct ClientConfigs {
    configs: HashMap<ClientKey, (Arc<ClientConfig>, Arc<TrustProfile>)>,
}

fn provider(
    offer: KeyOffer,
    suites: SuiteOffer,
    groups: GroupOffer,
    tls13: bool,
) -> CryptoProvider {
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
    p.cipher_suites.retain(|s| {
        // A TLS 1.2 suite's sign list holds only ECDSA schemes or only RSA ones.
        // A TLS 1.2-only stack lists no TLS 1.3 suite (rustls would, and
        // the endpoint reads the suites to pick the chain, as AWS does).
        let ecdsa = match s {
            rustls::SupportedCipherSuite::Tls13(_) => return tls13,
            rustls::SupportedCipherSuite::Tls12(t) => {
                t.sign.contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
            }
        };
        match suites {
            SuiteOffer::Any => true,
            SuiteOffer::EcdheEcdsa => ecdsa,
            SuiteOffer::EcdheRsa => !ecdsa,
        }
    });
    if groups == GroupOffer::P256 {
        p.kx_groups
            .retain(|g| g.name() == rustls::NamedGroup::secp256r1);
    }
    if offer == KeyOffer::NoRsaPss {
        p.signature_verification_algorithms = NO_PSS;
    }
    if offer == KeyOffer::EcdsaOnly {
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

/// RSA PKCS#1 v1.5 and ECDSA verification, RSA-PSS left out.
const NO_PSS: rustls::crypto::WebPkiSupportedAlgorithms = {
    use webpki::aws_lc_rs as w;
    rustls::crypto::WebPkiSupportedAlgorithms {
        all: &[
            w::ECDSA_P256_SHA256,
            w::ECDSA_P384_SHA384,
            w::RSA_PKCS1_2048_8192_SHA256,
            w::RSA_PKCS1_2048_8192_SHA384,
            w::RSA_PKCS1_2048_8192_SHA512,
        ],
        mapping: &[
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[w::ECDSA_P256_SHA256],
            ),
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[w::ECDSA_P384_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[w::RSA_PKCS1_2048_8192_SHA256],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[w::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[w::RSA_PKCS1_2048_8192_SHA512],
            ),
        ],
    }
};

impl ClientConfigs {
    /// The configuration for `key`, built on first use with `profile`.
    pub fn get_or_build<E: From<ClientError>>(
        &mut self,
        key: &ClientKey,
        profile: impl FnOnce() -> Result<TrustProfile, E>,
    ) -> Result<(Arc<ClientConfig>, Arc<TrustProfile>), E> {
        if let Some(c) = self.configs.get(key) {
            return Ok(c.clone());
        }
        let profile = Arc::new(profile()?);
        let opts = ClientOptions {
            offer: key.offer,
            alpn: key.alpn.clone(),
            client_auth: if key.mtls {
                ClientAuth::PerDevice
            } else {
                ClientAuth::None
            },
            resumption: None,
            rules: key.rules.clone(),
        };
        let cfg = opts.build_for_profile(profile.clone())?;
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
