//! Trust profiles: a root store plus zero or more distrust policies, named
//! after the clients they imitate.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use super::anchors::{fingerprint, AnchorFamily, AnchorInfo};
use super::policy::{DistrustPolicy, Window};
use super::TrustError;
use crate::pki::spec::{dates, real};
use crate::pki::{PkiBundle, Role};

/// A named trust store and its distrust policies.
#[derive(Clone, Debug)]
pub struct TrustProfile {
    /// Name as scenarios and the CLI spell it.
    pub name: String,
    /// One line on what it imitates.
    pub description: String,
    /// Anchors in the order webpki tries them.
    pub anchors: Vec<TrustAnchor<'static>>,
    /// Facts per anchor, same order as `anchors`.
    pub anchor_info: Vec<AnchorInfo>,
    /// Policies applied to every verified path.
    pub policies: Vec<DistrustPolicy>,
    /// `danger-accept-any`: certificate verification is OFF. Exists only by
    /// that explicit name, and results are stamped with it.
    pub accept_any: bool,
}

/// The one profile that switches verification off.
pub const DANGER_ACCEPT_ANY: &str = "danger-accept-any";

/// The built-in profile names, with their descriptions.
pub const BUILTIN: &[(&str, &str)] = &[
    ("legacy-only", "device with only VeriSign G5 compiled in"),
    ("ats-rsa-only", "device with only Amazon Root CA 1"),
    ("ats-ecc-only", "device with only Amazon Root CA 3"),
    (
        "starfield-only",
        "device with only Starfield Services Root G2",
    ),
    (
        "starfield-class2-only",
        "device with only the 2004 Starfield Class 2 root (reaches Amazon through two cross-certificates)",
    ),
    (
        "dual",
        "device holding VeriSign G5, Amazon Root CA 1 and 3, Starfield G2",
    ),
    (
        "jdk-8u212",
        "Java 8u212+ (also 7u221+, 11.0.3+): dual store + SYMANTEC_TLS",
    ),
    (
        "jdk-8u212-no-distrust",
        "Java 8u212+ with jdk.security.caDistrustPolicies emptied (the workaround)",
    ),
    (
        "jdk-8u202",
        "Java 8u202: dual store, before SYMANTEC_TLS existed",
    ),
    (
        "chrome-66",
        "Chrome 66: dual store, Symantec leaves issued before 2016-06-01 distrusted",
    ),
    (
        "chrome-70",
        "Chrome 70: dual store, every Symantec chain distrusted (SPKI anywhere)",
    ),
    (
        "firefox-60",
        "Firefox 60: dual store, Symantec leaves issued before 2016-06-01 distrusted",
    ),
    (
        "firefox-64",
        "Firefox 64: dual store, every chain under a Symantec root distrusted",
    ),
    (
        "webpki-roots",
        "Mozilla's root set (webpki-roots), for real endpoints",
    ),
    (
        "system",
        "the operating system's root store, for real endpoints",
    ),
];

/// Which trust profile a device uses: one of [`BUILTIN`] by name, or every
/// certificate of a PEM bundle (`pem:PATH` in scenarios and on the command
/// line).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileRef {
    /// A built-in profile (or an unknown name, refused when it is loaded).
    Named(String),
    /// A PEM bundle, its path already resolved.
    Pem(PathBuf),
}

impl ProfileRef {
    /// The usage line `pem:PATH` stands for in listings.
    pub const PEM_USAGE: (&'static str, &'static str) =
        ("pem:PATH", "every certificate of a PEM bundle");

    /// Reads `NAME` or `pem:PATH`. A relative PATH is taken against `base`
    /// (a scenario's directory: paths in a scenario are relative to it), or
    /// against the working directory when `base` is `None` (the command line).
    pub fn parse(s: &str, base: Option<&Path>) -> ProfileRef {
        match s.strip_prefix("pem:") {
            Some(p) => {
                let p = Path::new(p);
                ProfileRef::Pem(match base {
                    Some(b) if p.is_relative() => b.join(p),
                    _ => p.to_path_buf(),
                })
            }
            None => ProfileRef::Named(s.to_string()),
        }
    }

    /// Whether this names a built-in profile.
    pub fn is_builtin(&self) -> bool {
        matches!(self, ProfileRef::Named(n) if BUILTIN.iter().any(|(k, _)| k == n))
    }
}

impl std::fmt::Display for ProfileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileRef::Named(n) => f.write_str(n),
            ProfileRef::Pem(p) => write!(f, "pem:{}", p.display()),
        }
    }
}

/// The mock roots and the families they imitate.
fn mock_families(pki: &PkiBundle) -> Vec<(AnchorFamily, [u8; 32])> {
    [
        (AnchorFamily::Legacy, Role::LegacyRoot),
        (AnchorFamily::AtsRsa, Role::AtsRsaRoot),
        (AnchorFamily::AtsEcc, Role::AtsEccRoot),
        (AnchorFamily::Starfield, Role::StarfieldRoot),
        (AnchorFamily::Starfield, Role::StarfieldClass2Root),
    ]
    .into_iter()
    .map(|(f, r)| (f, super::anchors::sha256(pki.cert(r).as_ref())))
    .collect()
}

/// The certificates of a `pem:` trust bundle: a readable file (not a
/// directory) with at least one well-formed CERTIFICATE block. Scenario
/// loading calls it too, so a bad bundle is refused before a run starts.
pub fn read_pem_bundle(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let bad = |reason: String| TrustError::BadPem {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return Err(bad("is a directory, not a PEM file".into()));
    }
    let bytes = std::fs::read(path).map_err(|source| TrustError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(bad("holds no certificate (no CERTIFICATE block)".into()));
    }
    Ok(certs)
}

impl TrustProfile {
    /// A profile from explicit root certificates and policies.
    pub fn from_roots(
        name: &str,
        description: &str,
        roots: &[CertificateDer<'_>],
        policies: Vec<DistrustPolicy>,
        mock: &[(AnchorFamily, [u8; 32])],
    ) -> Result<TrustProfile, TrustError> {
        let mut anchors = Vec::with_capacity(roots.len());
        let mut anchor_info = Vec::with_capacity(roots.len());
        for der in roots {
            let (a, i) = AnchorInfo::from_cert(der, mock)?;
            anchors.push(a);
            anchor_info.push(i);
        }
        Ok(TrustProfile {
            name: name.to_string(),
            description: description.to_string(),
            anchors,
            anchor_info,
            policies,
            accept_any: false,
        })
    }

    /// Resolves a profile name as the command line spells it (`pem:PATH`
    /// relative to the working directory) against a mock PKI.
    pub fn resolve(name: &str, pki: &PkiBundle) -> Result<TrustProfile, TrustError> {
        Self::load(&ProfileRef::parse(name, None), pki)
    }

    /// Loads a profile against a mock PKI: a PEM bundle reads its file,
    /// `system` the OS store.
    pub fn load(r: &ProfileRef, pki: &PkiBundle) -> Result<TrustProfile, TrustError> {
        let mock = mock_families(pki);
        let name = match r {
            ProfileRef::Pem(path) => {
                return Self::from_pem_file(&r.to_string(), path.clone(), &mock)
            }
            ProfileRef::Named(n) => n.as_str(),
        };
        let cert = |r: Role| pki.cert(r).clone();
        let dual = [
            cert(Role::LegacyRoot),
            cert(Role::AtsRsaRoot),
            cert(Role::AtsEccRoot),
            cert(Role::StarfieldRoot),
        ];
        let describe = |n: &str| {
            BUILTIN
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, d)| *d)
                .unwrap_or("")
        };
        let mock_legacy_fp = mock[0].1;
        let mock_legacy_spki =
            super::anchors::sha256(x509_spki(pki.cert(Role::LegacyRoot).as_ref())?.as_slice());
        let chrome_spkis = vec![fingerprint(real::VERISIGN_G5_SPKI_SHA256), mock_legacy_spki];
        let (roots, policies): (Vec<CertificateDer<'static>>, Vec<DistrustPolicy>) = match name {
            "legacy-only" => (vec![cert(Role::LegacyRoot)], vec![]),
            "ats-rsa-only" => (vec![cert(Role::AtsRsaRoot)], vec![]),
            "ats-ecc-only" => (vec![cert(Role::AtsEccRoot)], vec![]),
            "starfield-only" => (vec![cert(Role::StarfieldRoot)], vec![]),
            "starfield-class2-only" => (vec![cert(Role::StarfieldClass2Root)], vec![]),
            "dual" | "jdk-8u212-no-distrust" | "jdk-8u202" => (dual.to_vec(), vec![]),
            "jdk-8u212" => (
                dual.to_vec(),
                vec![DistrustPolicy::jdk_symantec_tls(&[mock_legacy_fp], &[])],
            ),
            "chrome-66" => (
                dual.to_vec(),
                vec![DistrustPolicy::chrome_symantec(
                    Window::IssuedBefore(dates::BROWSER_EARLY_CUTOFF),
                    chrome_spkis,
                )],
            ),
            "chrome-70" => (
                dual.to_vec(),
                vec![DistrustPolicy::chrome_symantec(Window::All, chrome_spkis)],
            ),
            "firefox-60" => (
                dual.to_vec(),
                vec![DistrustPolicy::firefox_symantec(Window::IssuedBefore(
                    dates::BROWSER_EARLY_CUTOFF,
                ))],
            ),
            "firefox-64" => (
                dual.to_vec(),
                vec![DistrustPolicy::firefox_symantec(Window::All)],
            ),
            "webpki-roots" => return Ok(Self::webpki_roots()),
            DANGER_ACCEPT_ANY => {
                return Ok(TrustProfile {
                    name: DANGER_ACCEPT_ANY.into(),
                    description:
                        "certificate verification OFF (explicit name only; stamped on results)"
                            .into(),
                    anchors: vec![],
                    anchor_info: vec![],
                    policies: vec![],
                    accept_any: true,
                })
            }
            "system" => return Self::system(&mock),
            other => {
                return Err(TrustError::UnknownProfile {
                    name: other.to_string(),
                    known: BUILTIN
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        };
        Self::from_roots(name, describe(name), &roots, policies, &mock)
    }

    fn webpki_roots() -> TrustProfile {
        let anchors: Vec<TrustAnchor<'static>> = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        let anchor_info = anchors.iter().map(AnchorInfo::from_anchor).collect();
        TrustProfile {
            name: "webpki-roots".into(),
            description: "Mozilla's root set (webpki-roots), for real endpoints".into(),
            anchors,
            anchor_info,
            policies: vec![],
            accept_any: false,
        }
    }

    fn system(mock: &[(AnchorFamily, [u8; 32])]) -> Result<TrustProfile, TrustError> {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            let why = found
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no certificates found".into());
            return Err(TrustError::SystemStore(why));
        }
        // A system store can hold certificates webpki refuses as anchors
        // (e.g. v1 oddities); skip those rather than fail the whole store.
        let mut anchors = Vec::new();
        let mut anchor_info = Vec::new();
        for der in &found.certs {
            if let Ok((a, i)) = AnchorInfo::from_cert(der, mock) {
                anchors.push(a);
                anchor_info.push(i);
            }
        }
        Ok(TrustProfile {
            name: "system".into(),
            description: "the operating system's root store".into(),
            anchors,
            anchor_info,
            policies: vec![],
            accept_any: false,
        })
    }

    fn from_pem_file(
        name: &str,
        path: PathBuf,
        mock: &[(AnchorFamily, [u8; 32])],
    ) -> Result<TrustProfile, TrustError> {
        let certs = read_pem_bundle(&path)?;
        Self::from_roots(
            name,
            &format!("roots from {}", path.display()),
            &certs,
            vec![],
            mock,
        )
    }

    /// Anchor names, for `chainstorm profiles`.
    pub fn anchor_names(&self) -> Vec<String> {
        self.anchor_info
            .iter()
            .map(|a| a.display_name().to_string())
            .collect()
    }
}

fn x509_spki(der: &[u8]) -> Result<Vec<u8>, TrustError> {
    use x509_parser::prelude::*;
    let (_, c) =
        X509Certificate::from_der(der).map_err(|e| TrustError::BadCertificate(e.to_string()))?;
    Ok(c.public_key().raw.to_vec())
}
