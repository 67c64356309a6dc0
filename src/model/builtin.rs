//! The named models: common device TLS stacks, each with the library
//! behaviour it follows and the real library the differential test
//! (`tests/it/device_models.rs`) compares it with.

use super::{DeviceModel, PinKey, PinSpec};
use crate::client::Offer;
use crate::client::{GroupOffer, SuiteOffer};
use crate::metrics::PinTarget;
use crate::pki::Role;
use crate::trust::{CheckOrder, DeviceClock, PathBuilder, ProfileRef};

/// A built-in model: its name, what it imitates, and the library it is
/// checked against.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinModel {
    /// Name scenarios use in `profile`.
    pub name: &'static str,
    /// What it imitates.
    pub imitates: &'static str,
    /// The real library the differential test runs for it, or why none.
    pub checked_against: &'static str,
    /// What it is made of.
    pub parts: Parts,
}

/// What a built-in model is made of: the library behaviour it follows.
#[derive(Clone, Copy, Debug)]
pub struct Parts {
    /// Trust profile name.
    pub trust: &'static str,
    /// Path search order.
    pub builder: PathBuilder,
    /// Which fault the library reports first (OpenSSL: path, name, dates;
    /// Go: leaf dates first; the others path, dates, name).
    pub order: CheckOrder,
    /// TLS input buffer, bytes.
    pub input_buffer: Option<u32>,
    /// The device's clock.
    pub clock: DeviceClock,
    /// ClientHello.
    pub caps: Offer,
    /// Pinned keys.
    pub pins: &'static [PinSpec],
}

/// Every built-in model.
pub const BUILTIN_MODELS: &[BuiltinModel] = &[
    BuiltinModel {
        name: "rustls",
        imitates: "rustls 0.23 + rustls-webpki: every root of the dual store, any path",
        checked_against: "rustls-webpki itself (in process)",
        parts: Parts {
            trust: "dual",
            builder: PathBuilder::Webpki,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "openssl-3",
        imitates: "OpenSSL 1.1/3.x client (gateways, Linux devices): trusted-first path building",
        checked_against: "OpenSSL 3 libcrypto, X509_verify_cert",
        parts: Parts {
            trust: "dual",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathNameDates,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "openssl-1.0.2",
        imitates: "OpenSSL 1.0.1n-1.0.2u: server's chain first, alternative-chains retry; TLS 1.2",
        checked_against: "OpenSSL 3 X509_verify_cert with X509_V_FLAG_TRUSTED_FIRST cleared",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::UntrustedFirst { alt_chains: true },
            order: CheckOrder::PathNameDates,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::TLS12_ONLY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "openssl-1.0.2-legacy",
        imitates: "OpenSSL up to 1.0.1m / 1.0.2a: server's chain first, no retry; TLS 1.2",
        checked_against: "OpenSSL 3 with X509_V_FLAG_TRUSTED_FIRST cleared and X509_V_FLAG_NO_ALT_CHAINS",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::UntrustedFirst { alt_chains: false },
            order: CheckOrder::PathNameDates,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::TLS12_ONLY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "esp32-mbedtls-4k",
        imitates: "ESP-IDF on mbedTLS 2.28, MBEDTLS_SSL_IN_CONTENT_LEN 4096, Amazon Root CA 1 only, TLS 1.2",
        checked_against: "mbedTLS 2.28 mbedtls_x509_crt_verify (paths); the 4 KiB buffer against the rule",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathDatesName,
            input_buffer: Some(4096),
            clock: DeviceClock::Exact,
            caps: Offer::TLS12_ONLY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "esp32-no-rtc",
        imitates: "the same ESP32 before SNTP answers: no battery-backed clock, reads 1970-01-01",
        checked_against: "mbedTLS 2.28 under libfaketime at 1970-01-01",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathDatesName,
            input_buffer: Some(4096),
            clock: DeviceClock::Unset(0),
            caps: Offer::TLS12_ONLY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "freertos-mbedtls",
        imitates: "FreeRTOS coreMQTT on mbedTLS with an ECC key: TLS 1.2, ECDHE-ECDSA only, P-256 only, Amazon Root CA 3",
        checked_against: "mbedTLS 2.28 mbedtls_x509_crt_verify",
        parts: Parts {
            trust: "ats-ecc-only",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer {
                    suites: SuiteOffer::EcdheEcdsa,
                    groups: GroupOffer::P256,
                    ..Offer::TLS12_ONLY
                },
            pins: &[],
        },
    },
    BuiltinModel {
        name: "wolfssl",
        imitates: "wolfSSL 5.5 built with WOLFSSL_ALT_CERT_CHAINS (Debian's build), Amazon Root CA 1 only",
        checked_against: "wolfSSL 5.5.4 (Debian) in a TLS handshake",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::Wolfssl { alt_chains: true },
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "wolfssl-strict",
        imitates: "wolfSSL from ./configure defaults (no WOLFSSL_ALT_CERT_CHAINS), Amazon Root CA 1 only",
        checked_against: "the rule in wolfSSL's ProcessPeerCerts (no such build is installable here)",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::Wolfssl { alt_chains: false },
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "go",
        imitates: "Go crypto/tls + crypto/x509 (dual store)",
        checked_against: "Go crypto/x509 Certificate.Verify",
        parts: Parts {
            trust: "dual",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::LeafDatesNamePath,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "jdk-17",
        imitates: "Java 17 PKIX with the SYMANTEC_TLS distrust policy (dual store)",
        checked_against: "Java 17 PKIX trust manager (PKIXValidator) and its TLS host name check",
        parts: Parts {
            trust: "jdk-8u212",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "gnutls",
        imitates: "GnuTLS 3.7 (Linux gateways), dual store",
        checked_against: "GnuTLS 3.7 certtool --verify",
        parts: Parts {
            trust: "dual",
            builder: PathBuilder::Gnutls,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[],
        },
    },
    BuiltinModel {
        name: "pinned-m01",
        imitates: "firmware that pins Amazon RSA 2048 M01's key (AWS warns against it): breaks when AWS rotates to M02-M04",
        checked_against: "the pin rule (no library pins); its SPKI SHA-256 equals openssl's",
        parts: Parts {
            trust: "ats-rsa-only",
            builder: PathBuilder::TrustedFirst,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::ANY,
            pins: &[PinSpec {
                    target: PinTarget::Intermediate,
                    key: PinKey::Cert(Role::AtsRsaIntermediate),
                }],
        },
    },
];

impl BuiltinModel {
    /// The model itself.
    pub fn model(&self) -> DeviceModel {
        let p = &self.parts;
        DeviceModel {
            name: self.name.to_string(),
            imitates: self.imitates.to_string(),
            trust: ProfileRef::Named(p.trust.to_string()),
            builder: p.builder,
            order: p.order,
            input_buffer: p.input_buffer,
            clock: p.clock,
            caps: p.caps,
            pins: p.pins.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_builds_and_names_a_known_profile() {
        for m in BUILTIN_MODELS {
            let model = m.model();
            assert_eq!(model.name, m.name);
            assert!(
                model.trust.is_builtin(),
                "{} uses unknown profile {}",
                m.name,
                model.trust
            );
            // No model shadows a trust profile name.
            assert!(
                !crate::trust::BUILTIN.iter().any(|(n, _)| *n == m.name),
                "{}",
                m.name
            );
        }
    }
}
