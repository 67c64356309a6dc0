//! What a client's ClientHello offers: versions, TLS 1.2 suites, signature
//! schemes, groups, SNI, ALPN and max_fragment_length. A device model holds
//! one; [`super::ClientOptions`] and [`super::ClientKey`] build rustls
//! configurations from it.

/// Which signature schemes the client offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyOffer {
    /// rustls' defaults (RSA and ECDSA).
    #[default]
    Any,
    /// Only ECDSA: an EC-only device stack, which makes an ATS endpoint
    /// pick its ECC chain.
    EcdsaOnly,
    /// RSA PKCS#1 v1.5 and ECDSA, no RSA-PSS (older mbedTLS builds without
    /// `MBEDTLS_PKCS1_V21`): TLS 1.3 with an RSA certificate is then
    /// impossible, since TLS 1.3 signs with PSS only.
    NoRsaPss,
}

/// Which TLS 1.2 cipher suites the client offers (TLS 1.3 suites are
/// always offered when TLS 1.3 is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SuiteOffer {
    /// rustls' ECDHE-ECDSA and ECDHE-RSA AEAD suites.
    #[default]
    Any,
    /// Only ECDHE-ECDSA (mbedTLS ECC-only builds).
    EcdheEcdsa,
    /// Only ECDHE-RSA.
    EcdheRsa,
}

/// Which key-exchange groups the client offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GroupOffer {
    /// rustls' defaults (X25519, P-256, P-384, and the ML-KEM hybrid).
    #[default]
    Any,
    /// Only secp256r1, as hardware-accelerated device stacks offer.
    P256,
}

/// What a device's ClientHello offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Offer {
    /// Offers TLS 1.3.
    pub tls13: bool,
    /// Offers TLS 1.2.
    pub tls12: bool,
    /// TLS 1.2 suites.
    pub suites: SuiteOffer,
    /// Signature schemes.
    pub schemes: KeyOffer,
    /// Key-exchange groups.
    pub groups: GroupOffer,
    /// Sends SNI.
    pub sni: bool,
    /// Sends the target's ALPN (when the scenario sets one).
    pub alpn: bool,
    /// max_fragment_length offered (RFC 6066: 512, 1024, 2048 or 4096).
    /// rustls cannot send the extension, and AWS IoT ignores it, so the
    /// only effect is on what the failure message says: the server's
    /// records stay full size, as they would for the real device.
    pub max_fragment_length: Option<u16>,
}

impl Offer {
    /// True when the ClientHello offers less than rustls' default (fewer
    /// versions, suites, schemes or groups).
    pub fn narrowed(&self) -> bool {
        self.suites != SuiteOffer::Any
            || self.schemes != KeyOffer::Any
            || self.groups != GroupOffer::Any
            || !(self.tls13 && self.tls12)
    }
}

impl Offer {
    /// rustls' full offer: TLS 1.3 and 1.2, every suite, scheme and group,
    /// SNI and ALPN.
    pub const ANY: Offer = Offer {
        tls13: true,
        tls12: true,
        suites: SuiteOffer::Any,
        schemes: KeyOffer::Any,
        groups: GroupOffer::Any,
        sni: true,
        alpn: true,
        max_fragment_length: None,
    };

    /// The full offer without TLS 1.3 (TLS 1.2-only stacks).
    pub const TLS12_ONLY: Offer = Offer {
        tls13: false,
        ..Offer::ANY
    };
}

impl Default for Offer {
    fn default() -> Self {
        Offer::ANY
    }
}
