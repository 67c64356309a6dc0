//! Distrust policies: data plus one small function ([`DistrustPolicy::check`]).
//!
//! A policy runs on a path that already verified, as the JDK and browsers do
//! after path building. Adding the JDK's ENTRUST_TLS or CAMERFIRMA_TLS is a
//! new constructor with its fingerprints and cut-off date.

use ::time::Date;

use super::anchors::{fingerprint, sha256, AnchorInfo};
use super::der;
use crate::pki::spec::dates;

/// The 16 roots of the JDK's SYMANTEC_TLS policy, SHA-256 of the certificate
/// (OpenJDK `sun/security/validator/SymantecTLSPolicy.java`).
pub const JDK_SYMANTEC_ROOTS: [&str; 16] = [
    "FF856A2D251DCD88D36656F450126798CFABAADE40799C722DE4D2B5DB36A73A", // GeoTrust Global CA
    "37D51006C512EAAB626421F1EC8C92013FC5F82AE98EE533EB4619B8DEB4D06C", // GeoTrust Primary CA
    "5EDB7AC43B82A06A8761E8D7BE4979EBF2611F7DD79BF91C1C6B566A219ED766", // GeoTrust Primary CA - G2
    "B478B812250DF878635C2AA7EC7D155EAA625EE82916E2CD294361886CD1FBD4", // GeoTrust Primary CA - G3
    "A0459B9F63B22559F5FA5D4C6DB3F9F72FF19342033578F073BF1D1B46CBB912", // GeoTrust Universal CA
    "8D722F81A9C113C0791DF136A2966DB26C950A971DB46B4199F4EA54B78BFB9F", // thawte Primary Root CA
    "A4310D50AF18A6447190372A86AFAF8B951FFB431D837F1E5688B45971ED1557", // thawte Primary Root CA - G2
    "4B03F45807AD70F21BFC2CAE71C9FDE4604C064CF5FFB686BAE5DBAAD7FDD34C", // thawte Primary Root CA - G3
    "3F9F27D583204B9E09C8A3D2066C4B57D3A2479C3693650880505698105DBCE9", // Thawte Premium Server CA
    "3A43E220FE7F3EA9653D1E21742EAC2B75C20FD8980305BC502CAF8C2D9B41A1", // VeriSign Class 2 G2
    "A4B6B3996FC2F306B3FD8681BD63413D8C5009CC4FA329C2CCF0E2FA1B140305", // VeriSign Class 3
    "83CE3C1229688A593D485F81973C0F9195431EDA37CC5E36430E79C7A888638B", // VeriSign Class 3 G2
    "EB04CF5EB1F39AFA762F2BB120F296CBA520C1B97DB1589565B81CB9A17B7244", // VeriSign Class 3 G3
    "69DDD7EA90BB57C93E135DC85EA6FCD5480B603239BDC454FC758B2A26CF7F79", // VeriSign Class 3 G4
    "9ACFAB7E43C8D880D06B262A94DEEEE4B4659989C3D0CAF19BAF6405E41AB7DF", // VeriSign Class 3 G5
    "2399561127A57125DE8CEFEA610DDF2FA078B5C8067F4E828290BFB860E84B3C", // VeriSign Universal Root
];

/// The JDK's exempt sub-CAs (certificate SHA-256, subject CN), each
/// distrusted only for leaves issued after 2019-12-31.
pub const JDK_SYMANTEC_EXEMPT_SUBCAS: [(&str, &str); 2] = [
    (
        "AC2B922ECFD5E01711772FEA8ED372DE9D1E2245FCE3F57A9CDBEC77296A424B",
        "Apple IST CA 2 - G1",
    ),
    (
        "A4FE7C7F15155F3F0AEF7AAA83CF6E06DEB97CA3F909DF920AC1490882D488ED",
        "Apple IST CA 8 - G1",
    ),
];

/// A sub-CA directly under the anchor with its own cut-off date (the JDK's
/// exempt Apple sub-CAs). The JDK matches on the certificate's SHA-256; the
/// CN is only a cheap pre-filter so that ordinary paths are never hashed.
#[derive(Clone, Debug)]
pub struct ExemptSubCa {
    /// SHA-256 of the sub-CA certificate.
    pub sha256: [u8; 32],
    /// Its subject CN.
    pub common_name: String,
    /// Leaves issued after this UTC date are distrusted.
    pub cutoff: Date,
}

/// Root CNs Firefox treats as Symantec roots. Firefox keys on the root's
/// subject; these are the CNs of the Symantec-operated roots it shipped.
pub const FIREFOX_SYMANTEC_ROOT_CNS: [&str; 11] = [
    "GeoTrust Global CA",
    "GeoTrust Primary Certification Authority",
    "GeoTrust Primary Certification Authority - G2",
    "GeoTrust Primary Certification Authority - G3",
    "GeoTrust Universal CA",
    "thawte Primary Root CA",
    "thawte Primary Root CA - G2",
    "thawte Primary Root CA - G3",
    "VeriSign Class 3 Public Primary Certification Authority - G4",
    "VeriSign Class 3 Public Primary Certification Authority - G5",
    "VeriSign Universal Root Certification Authority",
];

/// What makes a path subject to the policy.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// The JDK: SHA-256 of the anchor certificate is in the set.
    AnchorCertSha256(Vec<[u8; 32]>),
    /// Chrome: the SPKI SHA-256 of any certificate on the verified path
    /// (anchor included) is in the set, which also catches cross-signs.
    PathSpkiSha256(Vec<[u8; 32]>),
    /// Firefox: the anchor's subject CN is one of these.
    AnchorCommonName(Vec<String>),
}

/// Which leaves a matched path distrusts, by the leaf's notBefore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// notBefore, as a UTC calendar date, is after this date.
    IssuedAfter(Date),
    /// notBefore is before midnight UTC of this date.
    IssuedBefore(Date),
    /// Every leaf.
    All,
}

/// How the rejection reads, imitating the client's own wording.
#[derive(Clone, Debug)]
pub enum Wording {
    /// `ValidatorException` text of the JDK, with the CA family name
    /// ("Symantec", "Entrust", ...).
    Jdk(String),
    /// Chrome's net error.
    Chrome,
    /// Firefox's error code.
    Firefox,
}

/// One distrust policy.
#[derive(Clone, Debug)]
pub struct DistrustPolicy {
    /// Name as results print it, e.g. `SYMANTEC_TLS` or `chrome-symantec`.
    pub name: String,
    /// One line for `chainstorm profiles`.
    pub description: String,
    /// When the policy applies.
    pub matcher: Matcher,
    /// Which leaves it rejects.
    pub window: Window,
    /// JDK: sub-CAs directly under the anchor with their own cut-off date
    /// (replaces the window's date).
    pub exempt_sub_cas: Vec<ExemptSubCa>,
    /// Browsers: SPKI SHA-256 of exempt intermediates (independently operated
    /// sub-CAs); a path through one is not distrusted.
    pub spki_exceptions: Vec<[u8; 32]>,
    /// Message style.
    pub wording: Wording,
}

/// A rejection by a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Distrust {
    /// The policy's name.
    pub policy: String,
    /// Readable message in the client's wording.
    pub message: String,
}

/// The verified path as policies see it: leaf first, anchor last.
pub struct PathView<'a> {
    /// The leaf certificate's DER.
    pub leaf: &'a [u8],
    /// Intermediates' DER, from the leaf towards the anchor.
    pub intermediates: &'a [&'a [u8]],
    /// The anchor the path ended at.
    pub anchor: &'a AnchorInfo,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn spki_sha256_of(cert: &[u8]) -> Option<[u8; 32]> {
    der::tbs(cert).map(|t| sha256(t.spki))
}

impl DistrustPolicy {
    /// The JDK's SYMANTEC_TLS policy (8u212, 7u221, 11.0.3 and later).
    /// `extra_roots` adds anchors to the 16 real ones (the mock VeriSign G5),
    /// `extra_exempt` adds sub-CAs with their own cut-off.
    pub fn jdk_symantec_tls(extra_roots: &[[u8; 32]], extra_exempt: &[ExemptSubCa]) -> Self {
        let mut roots: Vec<[u8; 32]> = JDK_SYMANTEC_ROOTS.iter().map(|h| fingerprint(h)).collect();
        roots.extend_from_slice(extra_roots);
        let mut exempt: Vec<ExemptSubCa> = JDK_SYMANTEC_EXEMPT_SUBCAS
            .iter()
            .map(|(h, cn)| ExemptSubCa {
                sha256: fingerprint(h),
                common_name: cn.to_string(),
                cutoff: dates::JDK_APPLE_SUBCA_CUTOFF,
            })
            .collect();
        exempt.extend_from_slice(extra_exempt);
        DistrustPolicy {
            name: "SYMANTEC_TLS".into(),
            description: "JDK: leaf issued after 2019-04-16 (UTC date) under a Symantec anchor"
                .into(),
            matcher: Matcher::AnchorCertSha256(roots),
            window: Window::IssuedAfter(dates::JDK_SYMANTEC_CUTOFF),
            exempt_sub_cas: exempt,
            spki_exceptions: Vec::new(),
            wording: Wording::Jdk("Symantec".into()),
        }
    }

    /// Chrome's legacy-Symantec rule, keyed on SPKI anywhere in the path.
    /// Chrome 66: `Window::IssuedBefore(2016-06-01)`; Chrome 70: `Window::All`.
    /// `spkis` is the list of Symantec SPKI hashes (the real G5 plus the mock).
    pub fn chrome_symantec(window: Window, spkis: Vec<[u8; 32]>) -> Self {
        DistrustPolicy {
            name: "chrome-symantec".into(),
            description: match window {
                Window::All => "Chrome 70: any Symantec SPKI on the path".into(),
                _ => {
                    "Chrome 66: Symantec SPKI on the path and leaf issued before 2016-06-01".into()
                }
            },
            matcher: Matcher::PathSpkiSha256(spkis),
            window,
            exempt_sub_cas: Vec::new(),
            spki_exceptions: Vec::new(),
            wording: Wording::Chrome,
        }
    }

    /// Firefox's rule, keyed on the root's subject.
    /// Firefox 60: `Window::IssuedBefore(2016-06-01)`; Firefox 64: `Window::All`.
    pub fn firefox_symantec(window: Window) -> Self {
        DistrustPolicy {
            name: "firefox-symantec".into(),
            description: match window {
                Window::All => "Firefox 64: anchor is a Symantec root".into(),
                _ => "Firefox 60: Symantec anchor and leaf issued before 2016-06-01".into(),
            },
            matcher: Matcher::AnchorCommonName(
                FIREFOX_SYMANTEC_ROOT_CNS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            window,
            exempt_sub_cas: Vec::new(),
            spki_exceptions: Vec::new(),
            wording: Wording::Firefox,
        }
    }

    /// Checks a verified path. Cheap when the path does not match: the
    /// anchor's hashes were computed when the profile was built.
    pub fn check(&self, path: &PathView<'_>) -> Result<(), Distrust> {
        let matched_spki = match &self.matcher {
            Matcher::AnchorCertSha256(set) => match &path.anchor.cert_sha256 {
                Some(fp) if set.contains(fp) => None,
                _ => return Ok(()),
            },
            Matcher::AnchorCommonName(set) => match &path.anchor.common_name {
                Some(cn) if set.iter().any(|s| s == cn) => None,
                _ => return Ok(()),
            },
            Matcher::PathSpkiSha256(set) => {
                let anchor = path.anchor.spki_sha256;
                let hit = std::iter::once(Some(anchor))
                    .chain(path.intermediates.iter().map(|d| spki_sha256_of(d)))
                    .chain(std::iter::once(spki_sha256_of(path.leaf)))
                    .flatten()
                    .find(|h| set.contains(h));
                match hit {
                    Some(h) => Some(h),
                    None => return Ok(()),
                }
            }
        };
        if !self.spki_exceptions.is_empty()
            && path
                .intermediates
                .iter()
                .filter_map(|d| spki_sha256_of(d))
                .any(|h| self.spki_exceptions.contains(&h))
        {
            return Ok(());
        }
        // The JDK looks at the certificate directly under the anchor.
        let window = path
            .intermediates
            .last()
            .and_then(|d| self.exempt_sub_ca(d))
            .map(|e| Window::IssuedAfter(e.cutoff))
            .unwrap_or(self.window);
        let Some(nb) = der::tbs(path.leaf).and_then(|t| t.not_before_date()) else {
            return Err(self.reject(path, window, matched_spki, "unparsable notBefore"));
        };
        let distrusted = match window {
            Window::IssuedAfter(d) => nb > d,
            Window::IssuedBefore(d) => nb < d,
            Window::All => true,
        };
        if distrusted {
            Err(self.reject(path, window, matched_spki, ""))
        } else {
            Ok(())
        }
    }

    /// The exempt sub-CA `cert` is, if any. Hashes the certificate only when
    /// its subject carries an exempt CN.
    fn exempt_sub_ca(&self, cert: &[u8]) -> Option<&ExemptSubCa> {
        if self.exempt_sub_cas.is_empty() {
            return None;
        }
        let subject = der::tbs(cert)?.subject;
        let mut candidates = self
            .exempt_sub_cas
            .iter()
            .filter(|e| contains(subject, e.common_name.as_bytes()))
            .peekable();
        candidates.peek()?;
        let fp = sha256(cert);
        candidates.find(|e| e.sha256 == fp)
    }

    fn reject(
        &self,
        path: &PathView<'_>,
        window: Window,
        spki: Option<[u8; 32]>,
        note: &str,
    ) -> Distrust {
        let message = match &self.wording {
            Wording::Jdk(family) => {
                let date = match window {
                    Window::IssuedAfter(d) | Window::IssuedBefore(d) => d.to_string(),
                    Window::All => "any date".into(),
                };
                format!(
                    "TLS Server certificate issued after {date} and anchored by a distrusted legacy {family} root CA: {}",
                    path.anchor.jdk_subject
                )
            }
            Wording::Chrome => format!(
                "NET::ERR_CERT_SYMANTEC_LEGACY: path contains legacy Symantec key (SPKI SHA-256 {})",
                spki.map(hex::encode).unwrap_or_default()
            ),
            Wording::Firefox => format!(
                "MOZILLA_PKIX_ERROR_ADDITIONAL_POLICY_CONSTRAINT_FAILED: anchored by distrusted Symantec root {}",
                path.anchor.display_name()
            ),
        };
        Distrust {
            policy: self.name.clone(),
            message: if note.is_empty() {
                message
            } else {
                format!("{message} ({note})")
            },
        }
    }
}
