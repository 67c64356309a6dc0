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
}

impl Role {
    /// Every role, in the order files are written and shown.
    pub const ALL: [Role; 17] = [
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
}

impl ChainKind {
    /// Every chain kind.
    pub const ALL: [ChainKind; 9] = [
        ChainKind::Legacy,
        ChainKind::AtsRsa,
        ChainKind::AtsRsaCrossSigned,
        ChainKind::AtsEcc,
        ChainKind::Expired,
        ChainKind::NotYetValid,
        ChainKind::WrongName,
        ChainKind::UnknownCa,
        ChainKind::MissingIntermediate,
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
        }
    }

    /// The role whose private key signs the handshake.
    pub fn key_role(self) -> Role {
        match self {
            // Broken ATS RSA leaves share the ATS RSA leaf's key.
            ChainKind::Legacy => Role::LegacyLeaf,
            ChainKind::AtsEcc => Role::AtsEccLeaf,
            _ => Role::AtsRsaLeaf,
        }
    }
}
