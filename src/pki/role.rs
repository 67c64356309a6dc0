//! The roles of the files in a mock PKI, and the chains the endpoint serves.

use serde::{Deserialize, Serialize};

/// What one certificate (and its key, when the PKI keeps it) is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// Mock VeriSign Class 3 Public Primary Certification Authority - G5.
    LegacyRoot,
    /// Mock Symantec Class 3 Secure Server CA - G4.
    LegacyIntermediate,
    /// `*.iot.<region>.amazonaws.com` under the legacy chain.
    LegacyLeaf,
    /// Mock Amazon Root CA 1 (self-signed).
    AtsRsaRoot,
    /// Mock Amazon RSA 2048 M01.
    AtsRsaIntermediate,
    /// RSA leaf under the ATS RSA chain.
    AtsRsaLeaf,
    /// Mock Amazon Root CA 3.
    AtsEccRoot,
    /// Mock Amazon ECDSA 256 M01.
    AtsEccIntermediate,
    /// P-256 leaf under the ATS ECC chain.
    AtsEccLeaf,
    /// Mock Starfield Services Root Certificate Authority - G2.
    StarfieldRoot,
    /// Amazon Root CA 1 cross-signed by Starfield G2 (same subject and key).
    AtsRsaCrossSigned,
    /// Issues client certificates for mutual TLS.
    DeviceCa,
    /// A root that no profile trusts.
    UnknownRoot,
    /// ATS RSA leaf whose validity ended yesterday.
    ExpiredLeaf,
    /// ATS RSA leaf valid only from 30 days in the future.
    NotYetValidLeaf,
    /// ATS RSA leaf for a name no endpoint uses.
    WrongNameLeaf,
    /// Leaf with the right names, issued by the unknown root.
    UnknownCaLeaf,
    /// Mock Amazon RSA 2048 M02 (a rotated intermediate).
    AtsRsaIntermediateM02,
    /// Mock Amazon RSA 2048 M03.
    AtsRsaIntermediateM03,
    /// Mock Amazon RSA 2048 M04.
    AtsRsaIntermediateM04,
    /// RSA leaf issued by M02 (own key).
    AtsRsaLeafM02,
    /// RSA leaf issued by M03.
    AtsRsaLeafM03,
    /// RSA leaf issued by M04.
    AtsRsaLeafM04,
    /// Mock Amazon ECDSA 256 M02.
    AtsEccIntermediateM02,
    /// Mock Amazon ECDSA 256 M03.
    AtsEccIntermediateM03,
    /// Mock Amazon ECDSA 256 M04.
    AtsEccIntermediateM04,
    /// P-256 leaf issued by ECDSA M02.
    AtsEccLeafM02,
    /// P-256 leaf issued by ECDSA M03.
    AtsEccLeafM03,
    /// P-256 leaf issued by ECDSA M04.
    AtsEccLeafM04,
    /// Mock Starfield Class 2 Certification Authority (2004 root).
    StarfieldClass2Root,
    /// Starfield Services Root G2 cross-signed by the Class 2 root (same
    /// subject and key as the G2 root).
    StarfieldG2CrossSigned,
}

impl Role {
    /// Every role, in the order files are written and shown.
    pub const ALL: [Role; 31] = [
        Role::LegacyRoot,
        Role::LegacyIntermediate,
        Role::LegacyLeaf,
        Role::AtsRsaRoot,
        Role::AtsRsaIntermediate,
        Role::AtsRsaLeaf,
        Role::AtsEccRoot,
        Role::AtsEccIntermediate,
        Role::AtsEccLeaf,
        Role::StarfieldRoot,
        Role::AtsRsaCrossSigned,
        Role::DeviceCa,
        Role::UnknownRoot,
        Role::ExpiredLeaf,
        Role::NotYetValidLeaf,
        Role::WrongNameLeaf,
        Role::UnknownCaLeaf,
        Role::AtsRsaIntermediateM02,
        Role::AtsRsaIntermediateM03,
        Role::AtsRsaIntermediateM04,
        Role::AtsRsaLeafM02,
        Role::AtsRsaLeafM03,
        Role::AtsRsaLeafM04,
        Role::AtsEccIntermediateM02,
        Role::AtsEccIntermediateM03,
        Role::AtsEccIntermediateM04,
        Role::AtsEccLeafM02,
        Role::AtsEccLeafM03,
        Role::AtsEccLeafM04,
        Role::StarfieldClass2Root,
        Role::StarfieldG2CrossSigned,
    ];

    /// Stable kebab-case name, also the file stem on disk.
    pub fn name(self) -> &'static str {
        match self {
            Role::LegacyRoot => "legacy-root",
            Role::LegacyIntermediate => "legacy-intermediate",
            Role::LegacyLeaf => "legacy-leaf",
            Role::AtsRsaRoot => "ats-rsa-root",
            Role::AtsRsaIntermediate => "ats-rsa-intermediate",
            Role::AtsRsaLeaf => "ats-rsa-leaf",
            Role::AtsEccRoot => "ats-ecc-root",
            Role::AtsEccIntermediate => "ats-ecc-intermediate",
            Role::AtsEccLeaf => "ats-ecc-leaf",
            Role::StarfieldRoot => "starfield-root",
            Role::AtsRsaCrossSigned => "ats-rsa-cross-signed",
            Role::DeviceCa => "device-ca",
            Role::UnknownRoot => "unknown-root",
            Role::ExpiredLeaf => "expired-leaf",
            Role::NotYetValidLeaf => "not-yet-valid-leaf",
            Role::WrongNameLeaf => "wrong-name-leaf",
            Role::UnknownCaLeaf => "unknown-ca-leaf",
            Role::AtsRsaIntermediateM02 => "ats-rsa-intermediate-m02",
            Role::AtsRsaIntermediateM03 => "ats-rsa-intermediate-m03",
            Role::AtsRsaIntermediateM04 => "ats-rsa-intermediate-m04",
            Role::AtsRsaLeafM02 => "ats-rsa-leaf-m02",
            Role::AtsRsaLeafM03 => "ats-rsa-leaf-m03",
            Role::AtsRsaLeafM04 => "ats-rsa-leaf-m04",
            Role::AtsEccIntermediateM02 => "ats-ecc-intermediate-m02",
            Role::AtsEccIntermediateM03 => "ats-ecc-intermediate-m03",
            Role::AtsEccIntermediateM04 => "ats-ecc-intermediate-m04",
            Role::AtsEccLeafM02 => "ats-ecc-leaf-m02",
            Role::AtsEccLeafM03 => "ats-ecc-leaf-m03",
            Role::AtsEccLeafM04 => "ats-ecc-leaf-m04",
            Role::StarfieldClass2Root => "starfield-class2-root",
            Role::StarfieldG2CrossSigned => "starfield-g2-cross-signed",
        }
    }

    /// True for the self-signed roots a trust store may hold.
    pub fn is_root(self) -> bool {
        matches!(
            self,
            Role::LegacyRoot
                | Role::AtsRsaRoot
                | Role::AtsEccRoot
                | Role::StarfieldRoot
                | Role::StarfieldClass2Root
                | Role::DeviceCa
                | Role::UnknownRoot
        )
    }

    /// Whether the PKI writes this role's private key. Roots and
    /// intermediates keep theirs so more leaves can be issued later.
    /// The broken ATS leaves and the cross-certificate reuse a key of
    /// another role, so they have no key file of their own.
    pub fn has_key(self) -> bool {
        !matches!(
            self,
            Role::AtsRsaCrossSigned
                | Role::StarfieldG2CrossSigned
                | Role::ExpiredLeaf
                | Role::NotYetValidLeaf
                | Role::WrongNameLeaf
                | Role::UnknownCaLeaf
        )
    }
}

/// A chain as an endpoint presents it: leaf first, then what it sends along.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChainKind {
    /// legacy leaf + Symantec G4.
    Legacy,
    /// ATS RSA leaf + Amazon RSA 2048 M01.
    AtsRsa,
    /// ATS RSA leaf + M01 + Amazon Root CA 1 cross-signed by Starfield G2,
    /// as AWS serves it so that Starfield-only devices validate.
    AtsRsaCrossSigned,
    /// ATS ECC leaf + Amazon ECDSA 256 M01.
    AtsEcc,
    /// Expired ATS RSA leaf + M01.
    Expired,
    /// Not-yet-valid ATS RSA leaf + M01.
    NotYetValid,
    /// Wrong-name ATS RSA leaf + M01.
    WrongName,
    /// Leaf issued by a CA nobody trusts.
    UnknownCa,
    /// ATS RSA leaf alone, the intermediate left out.
    MissingIntermediate,
    /// ATS RSA chain as served, plus Starfield G2 cross-signed by the
    /// Starfield Class 2 root (for devices holding only that 2004 root).
    AtsRsaClass2,
    /// ATS RSA leaf issued by M02, M02, the Starfield cross-certificate.
    AtsRsaM02,
    /// The same under M03.
    AtsRsaM03,
    /// The same under M04.
    AtsRsaM04,
    /// ATS ECC leaf issued by ECDSA M02, then M02.
    AtsEccM02,
    /// The same under ECDSA M03.
    AtsEccM03,
    /// The same under ECDSA M04.
    AtsEccM04,
}

impl ChainKind {
    /// Every chain kind.
    pub const ALL: [ChainKind; 16] = [
        ChainKind::Legacy,
        ChainKind::AtsRsa,
        ChainKind::AtsRsaCrossSigned,
        ChainKind::AtsEcc,
        ChainKind::Expired,
        ChainKind::NotYetValid,
        ChainKind::WrongName,
        ChainKind::UnknownCa,
        ChainKind::MissingIntermediate,
        ChainKind::AtsRsaClass2,
        ChainKind::AtsRsaM02,
        ChainKind::AtsRsaM03,
        ChainKind::AtsRsaM04,
        ChainKind::AtsEccM02,
        ChainKind::AtsEccM03,
        ChainKind::AtsEccM04,
    ];

    /// Stable kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            ChainKind::Legacy => "legacy",
            ChainKind::AtsRsa => "ats-rsa",
            ChainKind::AtsRsaCrossSigned => "ats-rsa-xsign",
            ChainKind::AtsEcc => "ats-ecc",
            ChainKind::Expired => "expired",
            ChainKind::NotYetValid => "not-yet-valid",
            ChainKind::WrongName => "wrong-name",
            ChainKind::UnknownCa => "unknown-ca",
            ChainKind::MissingIntermediate => "missing-intermediate",
            ChainKind::AtsRsaClass2 => "ats-rsa-class2",
            ChainKind::AtsRsaM02 => "ats-rsa-m02",
            ChainKind::AtsRsaM03 => "ats-rsa-m03",
            ChainKind::AtsRsaM04 => "ats-rsa-m04",
            ChainKind::AtsEccM02 => "ats-ecc-m02",
            ChainKind::AtsEccM03 => "ats-ecc-m03",
            ChainKind::AtsEccM04 => "ats-ecc-m04",
        }
    }

    /// Parses a name as [`ChainKind::name`] writes it.
    pub fn from_name(s: &str) -> Option<ChainKind> {
        ChainKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The roles of the certificates sent, leaf first.
    pub fn roles(self) -> &'static [Role] {
        match self {
            ChainKind::Legacy => &[Role::LegacyLeaf, Role::LegacyIntermediate],
            ChainKind::AtsRsa => &[Role::AtsRsaLeaf, Role::AtsRsaIntermediate],
            ChainKind::AtsRsaCrossSigned => &[
                Role::AtsRsaLeaf,
                Role::AtsRsaIntermediate,
                Role::AtsRsaCrossSigned,
            ],
            ChainKind::AtsEcc => &[Role::AtsEccLeaf, Role::AtsEccIntermediate],
            ChainKind::Expired => &[Role::ExpiredLeaf, Role::AtsRsaIntermediate],
            ChainKind::NotYetValid => &[Role::NotYetValidLeaf, Role::AtsRsaIntermediate],
            ChainKind::WrongName => &[Role::WrongNameLeaf, Role::AtsRsaIntermediate],
            ChainKind::UnknownCa => &[Role::UnknownCaLeaf],
            ChainKind::MissingIntermediate => &[Role::AtsRsaLeaf],
            ChainKind::AtsRsaClass2 => &[
                Role::AtsRsaLeaf,
                Role::AtsRsaIntermediate,
                Role::AtsRsaCrossSigned,
                Role::StarfieldG2CrossSigned,
            ],
            ChainKind::AtsRsaM02 => &[
                Role::AtsRsaLeafM02,
                Role::AtsRsaIntermediateM02,
                Role::AtsRsaCrossSigned,
            ],
            ChainKind::AtsRsaM03 => &[
                Role::AtsRsaLeafM03,
                Role::AtsRsaIntermediateM03,
                Role::AtsRsaCrossSigned,
            ],
            ChainKind::AtsRsaM04 => &[
                Role::AtsRsaLeafM04,
                Role::AtsRsaIntermediateM04,
                Role::AtsRsaCrossSigned,
            ],
            ChainKind::AtsEccM02 => &[Role::AtsEccLeafM02, Role::AtsEccIntermediateM02],
            ChainKind::AtsEccM03 => &[Role::AtsEccLeafM03, Role::AtsEccIntermediateM03],
            ChainKind::AtsEccM04 => &[Role::AtsEccLeafM04, Role::AtsEccIntermediateM04],
        }
    }

    /// The role whose private key signs the handshake.
    pub fn key_role(self) -> Role {
        match self {
            // Broken ATS RSA leaves share the ATS RSA leaf's key.
            ChainKind::Legacy => Role::LegacyLeaf,
            ChainKind::AtsEcc => Role::AtsEccLeaf,
            ChainKind::AtsRsaM02 => Role::AtsRsaLeafM02,
            ChainKind::AtsRsaM03 => Role::AtsRsaLeafM03,
            ChainKind::AtsRsaM04 => Role::AtsRsaLeafM04,
            ChainKind::AtsEccM02 => Role::AtsEccLeafM02,
            ChainKind::AtsEccM03 => Role::AtsEccLeafM03,
            ChainKind::AtsEccM04 => Role::AtsEccLeafM04,
            _ => Role::AtsRsaLeaf,
        }
    }
}
