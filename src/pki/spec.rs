//! What each mock certificate imitates: names, key types and validity, copied
//! from the real certificates (as crt.sh and the CAs' repositories publish
//! them). Generation reads these
//! tables; the conformance test compares the generated certificates with them.

use time::macros::datetime;
use time::OffsetDateTime;

/// A distinguished-name attribute, in the order it is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// countryName
    C,
    /// stateOrProvinceName
    St,
    /// localityName
    L,
    /// organizationName
    O,
    /// organizationalUnitName
    Ou,
    /// commonName
    Cn,
}

/// Key algorithm and size of a certificate's subject key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// RSA with a 2048-bit modulus, signing with sha256WithRSAEncryption.
    Rsa2048,
    /// ECDSA on NIST P-256, signing with ecdsa-with-SHA256.
    EcP256,
}

impl KeyKind {
    /// Human label as `pki show` prints it.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "RSA 2048",
            KeyKind::EcP256 => "EC P-256",
        }
    }
}

/// A certificate authority the mock CA imitates.
#[derive(Debug)]
pub struct CaSpec {
    /// Subject, in encoding order.
    pub subject: &'static [(Attr, &'static str)],
    /// Subject key type.
    pub key: KeyKind,
    /// Validity start of the real certificate.
    pub not_before: OffsetDateTime,
    /// Validity end of the real certificate.
    pub not_after: OffsetDateTime,
    /// `Some(n)` for a pathLenConstraint, `None` for an unconstrained CA.
    pub path_len: Option<u8>,
    /// Whether the real certificate carries EKU serverAuth + clientAuth.
    pub eku_server_client: bool,
}

/// Mock "VeriSign Class 3 Public Primary Certification Authority - G5".
///
/// The real root is self-signed with sha1WithRSA; the mock signs itself with
/// sha256WithRSA because rcgen cannot produce SHA-1 signatures. Nothing
/// depends on it: trust anchors' self-signatures are never checked.
pub const VERISIGN_G5: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "VeriSign, Inc."),
        (Attr::Ou, "VeriSign Trust Network"),
        (
            Attr::Ou,
            "(c) 2006 VeriSign, Inc. - For authorized use only",
        ),
        (
            Attr::Cn,
            "VeriSign Class 3 Public Primary Certification Authority - G5",
        ),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2006-11-08 00:00:00 UTC),
    not_after: datetime!(2036-07-16 23:59:59 UTC),
    path_len: None,
    eku_server_client: false,
};

/// Mock "Symantec Class 3 Secure Server CA - G4". The real one expired on
/// 2023-10-30; the mock's end date is configurable and defaults to valid.
pub const SYMANTEC_G4: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Symantec Corporation"),
        (Attr::Ou, "Symantec Trust Network"),
        (Attr::Cn, "Symantec Class 3 Secure Server CA - G4"),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2013-10-31 00:00:00 UTC),
    not_after: datetime!(2023-10-30 23:59:59 UTC),
    path_len: Some(0),
    eku_server_client: true,
};

/// The real G4's end date moved ten years on, so the legacy chain validates today.
pub const SYMANTEC_G4_DEFAULT_NOT_AFTER: OffsetDateTime = datetime!(2033-10-30 23:59:59 UTC);

/// Mock "Amazon Root CA 1".
pub const AMAZON_ROOT_CA_1: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon Root CA 1"),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2015-05-26 00:00:00 UTC),
    not_after: datetime!(2038-01-17 00:00:00 UTC),
    path_len: None,
    eku_server_client: false,
};

/// Mock "Amazon RSA 2048 M01".
pub const AMAZON_RSA_M01: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon RSA 2048 M01"),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2022-08-23 22:21:28 UTC),
    not_after: datetime!(2030-08-23 22:21:28 UTC),
    path_len: Some(0),
    eku_server_client: true,
};

/// Mock "Amazon Root CA 3".
pub const AMAZON_ROOT_CA_3: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon Root CA 3"),
    ],
    key: KeyKind::EcP256,
    not_before: datetime!(2015-05-26 00:00:00 UTC),
    not_after: datetime!(2040-05-26 00:00:00 UTC),
    path_len: None,
    eku_server_client: false,
};

/// Mock "Amazon ECDSA 256 M01".
pub const AMAZON_ECDSA_M01: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon ECDSA 256 M01"),
    ],
    key: KeyKind::EcP256,
    not_before: datetime!(2022-08-23 22:24:27 UTC),
    not_after: datetime!(2030-08-23 22:24:27 UTC),
    path_len: Some(0),
    eku_server_client: true,
};

/// Mock "Amazon RSA 2048 M02" .. "M04": Amazon issues four RSA and four ECDSA
/// intermediates and rotates the one that signs an endpoint's leaf. Their
/// validity is not checked against the real certificates here (none is in
/// an installable store): the mocks take M01's.
pub const AMAZON_RSA_M02: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon RSA 2048 M02"),
    ],
    ..AMAZON_RSA_M01
};
/// Mock "Amazon RSA 2048 M03" (see [`AMAZON_RSA_M02`]).
pub const AMAZON_RSA_M03: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon RSA 2048 M03"),
    ],
    ..AMAZON_RSA_M01
};
/// Mock "Amazon RSA 2048 M04" (see [`AMAZON_RSA_M02`]).
pub const AMAZON_RSA_M04: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon RSA 2048 M04"),
    ],
    ..AMAZON_RSA_M01
};
/// Mock "Amazon ECDSA 256 M02" (see [`AMAZON_RSA_M02`]).
pub const AMAZON_ECDSA_M02: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon ECDSA 256 M02"),
    ],
    ..AMAZON_ECDSA_M01
};
/// Mock "Amazon ECDSA 256 M03" (see [`AMAZON_RSA_M02`]).
pub const AMAZON_ECDSA_M03: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon ECDSA 256 M03"),
    ],
    ..AMAZON_ECDSA_M01
};
/// Mock "Amazon ECDSA 256 M04" (see [`AMAZON_RSA_M02`]).
pub const AMAZON_ECDSA_M04: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Amazon"),
        (Attr::Cn, "Amazon ECDSA 256 M04"),
    ],
    ..AMAZON_ECDSA_M01
};

/// Mock "Starfield Class 2 Certification Authority": the 2004 root that
/// cross-signs Starfield Services Root G2, so devices holding only that old
/// root still reach Amazon. The real one has no CN (its name is the OU) and
/// runs 2004-06-29 17:39:16 to 2034-06-29 17:39:16 UTC (subject, key and
/// validity checked against Debian's ca-certificates copy by
/// `pki_conformance::mock_roots_match_the_real_roots_of_the_system_store`).
pub const STARFIELD_CLASS2: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "Starfield Technologies, Inc."),
        (Attr::Ou, "Starfield Class 2 Certification Authority"),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2004-06-29 17:39:16 UTC),
    not_after: datetime!(2034-06-29 17:39:16 UTC),
    path_len: None,
    eku_server_client: false,
};

/// Start of the Starfield Services Root G2 certificate cross-signed by the
/// Class 2 root (2009-09-02, as recalled from AWS's published
/// cross-certificate; not checked here: it is in no installable store).
pub const STARFIELD_G2_CROSS_NOT_BEFORE: OffsetDateTime = datetime!(2009-09-02 00:00:00 UTC);
/// Its end (2034-06-28 17:39:16 UTC, a day before the Class 2 root's);
/// [`crate::pki::PkiConfig::starfield_g2_cross_not_after`] overrides it.
pub const STARFIELD_G2_CROSS_NOT_AFTER: OffsetDateTime = datetime!(2034-06-28 17:39:16 UTC);

/// Mock "Starfield Services Root Certificate Authority - G2".
pub const STARFIELD_G2: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::St, "Arizona"),
        (Attr::L, "Scottsdale"),
        (Attr::O, "Starfield Technologies, Inc."),
        (
            Attr::Cn,
            "Starfield Services Root Certificate Authority - G2",
        ),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2009-09-01 00:00:00 UTC),
    not_after: datetime!(2037-12-31 23:59:59 UTC),
    path_len: None,
    eku_server_client: false,
};

/// Validity of the "Amazon Root CA 1" certificate cross-signed by Starfield G2.
pub const CROSS_SIGN_NOT_BEFORE: OffsetDateTime = datetime!(2015-05-25 12:00:00 UTC);
/// End of the cross-certificate's validity.
pub const CROSS_SIGN_NOT_AFTER: OffsetDateTime = datetime!(2037-12-31 01:00:00 UTC);

/// A CA that no profile trusts, for the "unknown CA" broken variant.
pub const UNKNOWN_ROOT: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "chainstorm test"),
        (Attr::Cn, "chainstorm Untrusted Root CA"),
    ],
    key: KeyKind::Rsa2048,
    not_before: datetime!(2020-01-01 00:00:00 UTC),
    not_after: datetime!(2045-01-01 00:00:00 UTC),
    path_len: None,
    eku_server_client: false,
};

/// The device CA that issues client certificates for mutual TLS. AWS IoT
/// accepts devices from its own CA or a registered customer CA; this mock is
/// the latter.
pub const DEVICE_CA: CaSpec = CaSpec {
    subject: &[
        (Attr::C, "US"),
        (Attr::O, "chainstorm fleet"),
        (Attr::Cn, "chainstorm Device CA"),
    ],
    key: KeyKind::EcP256,
    not_before: datetime!(2024-01-01 00:00:00 UTC),
    not_after: datetime!(2044-01-01 00:00:00 UTC),
    path_len: Some(0),
    eku_server_client: false,
};

/// Organization of the legacy leaf (the ATS leaves carry only a CN).
pub const LEGACY_LEAF_ORG: &str = "Amazon.com, Inc.";

/// Real SHA-256 fingerprints, used to recognise the real roots.
pub mod real {
    /// VeriSign Class 3 Public Primary Certification Authority - G5.
    pub const VERISIGN_G5_SHA256: &str =
        "9ACFAB7E43C8D880D06B262A94DEEEE4B4659989C3D0CAF19BAF6405E41AB7DF";
    /// SPKI SHA-256 of VeriSign G5 (Chrome's distrust list keys on this).
    pub const VERISIGN_G5_SPKI_SHA256: &str =
        "25b41b506e4930952823a6eb9f1d31def645ea38a5c6c6a96d71957e384df058";
    /// Amazon Root CA 1.
    pub const AMAZON_ROOT_CA_1_SHA256: &str =
        "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E";
    /// Amazon Root CA 3.
    pub const AMAZON_ROOT_CA_3_SHA256: &str =
        "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4";
    /// Starfield Services Root Certificate Authority - G2.
    pub const STARFIELD_G2_SHA256: &str =
        "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5";
}

/// The JDK's and browsers' cut-off dates (the JDK's `java.security`
/// SYMANTEC_TLS entry, Chrome's and Mozilla's Symantec distrust plans).
pub mod dates {
    use time::macros::date;
    use time::Date;

    /// JDK SYMANTEC_TLS: leaves issued after this UTC date are distrusted.
    pub const JDK_SYMANTEC_CUTOFF: Date = date!(2019 - 04 - 16);
    /// JDK SYMANTEC_TLS: cut-off of the exempt Apple sub-CAs.
    pub const JDK_APPLE_SUBCA_CUTOFF: Date = date!(2019 - 12 - 31);
    /// Chrome 66 / Firefox 60: leaves issued before this date are distrusted.
    pub const BROWSER_EARLY_CUTOFF: Date = date!(2016 - 06 - 01);
}

/// The spec a CA role was generated from (`None` for leaves and the
/// cross-certificate).
pub fn ca_spec(role: super::Role) -> Option<&'static CaSpec> {
    use super::Role;
    Some(match role {
        Role::LegacyRoot => &VERISIGN_G5,
        Role::LegacyIntermediate => &SYMANTEC_G4,
        Role::AtsRsaRoot => &AMAZON_ROOT_CA_1,
        Role::AtsRsaIntermediate => &AMAZON_RSA_M01,
        Role::AtsEccRoot => &AMAZON_ROOT_CA_3,
        Role::AtsEccIntermediate => &AMAZON_ECDSA_M01,
        Role::StarfieldRoot => &STARFIELD_G2,
        Role::StarfieldClass2Root => &STARFIELD_CLASS2,
        Role::AtsRsaIntermediateM02 => &AMAZON_RSA_M02,
        Role::AtsRsaIntermediateM03 => &AMAZON_RSA_M03,
        Role::AtsRsaIntermediateM04 => &AMAZON_RSA_M04,
        Role::AtsEccIntermediateM02 => &AMAZON_ECDSA_M02,
        Role::AtsEccIntermediateM03 => &AMAZON_ECDSA_M03,
        Role::AtsEccIntermediateM04 => &AMAZON_ECDSA_M04,
        Role::DeviceCa => &DEVICE_CA,
        Role::UnknownRoot => &UNKNOWN_ROOT,
        _ => return None,
    })
}
