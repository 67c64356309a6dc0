//! Trust anchors with the facts distrust policies key on, computed once when
//! a profile is built so that verification never hashes an anchor.

use aws_lc_rs::digest::{digest, SHA256};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use x509_parser::prelude::*;

use super::TrustError;
use crate::pki::spec::real;

/// Which family a trust anchor belongs to, mock or real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnchorFamily {
    /// VeriSign Class 3 Public Primary Certification Authority - G5.
    Legacy,
    /// Amazon Root CA 1.
    AtsRsa,
    /// Amazon Root CA 3.
    AtsEcc,
    /// Starfield Services Root Certificate Authority - G2.
    Starfield,
    /// Any other root.
    Other,
}

impl AnchorFamily {
    /// Short label: `legacy`, `ats-rsa`, `ats-ecc`, `starfield`, `other`.
    pub fn label(self) -> &'static str {
        match self {
            AnchorFamily::Legacy => "legacy",
            AnchorFamily::AtsRsa => "ats-rsa",
            AnchorFamily::AtsEcc => "ats-ecc",
            AnchorFamily::Starfield => "starfield",
            AnchorFamily::Other => "other",
        }
    }
}

/// One trust anchor and what policies need to know about it.
#[derive(Clone, Debug)]
pub struct AnchorInfo {
    /// Family, for per-anchor metrics and chain kinds.
    pub family: AnchorFamily,
    /// Subject CN, if any.
    pub common_name: Option<String>,
    /// Subject as the JDK's `X500Principal.toString()` prints it.
    pub jdk_subject: String,
    /// SHA-256 of the anchor certificate; unknown for anchors that come
    /// without their certificate (webpki-roots).
    pub cert_sha256: Option<[u8; 32]>,
    /// SHA-256 of the anchor's SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Decodes a 64-digit hex fingerprint (either case).
pub fn fingerprint(hex_str: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out).expect("fingerprint constants are 64 hex digits");
    out
}

/// Wraps DER contents in a SEQUENCE header (webpki stores the subject and
/// SPKI of an anchor without it).
pub(crate) fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 4);
    out.push(0x30);
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// Formats a name the way `javax.security.auth.x500.X500Principal` does:
/// most specific attribute first, values with special characters quoted.
pub fn jdk_name(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter().collect::<Vec<_>>().into_iter().rev() {
        for atv in rdn.iter() {
            let key = match atv.attr_type().to_id_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                "1.2.840.113549.1.9.1" => "EMAILADDRESS".to_string(),
                other => format!("OID.{other}"),
            };
            let value = atv.as_str().unwrap_or("?");
            let quoted = if value.contains([',', '+', '=', '"', '\\', '<', '>', '#', ';']) {
                format!("\"{value}\"")
            } else {
                value.to_string()
            };
            parts.push(format!("{key}={quoted}"));
        }
    }
    parts.join(", ")
}

fn family_of(cert_sha256: Option<&[u8; 32]>, mock: &[(AnchorFamily, [u8; 32])]) -> AnchorFamily {
    let Some(fp) = cert_sha256 else {
        return AnchorFamily::Other;
    };
    if let Some((f, _)) = mock.iter().find(|(_, m)| m == fp) {
        return *f;
    }
    let real = [
        (AnchorFamily::Legacy, real::VERISIGN_G5_SHA256),
        (AnchorFamily::AtsRsa, real::AMAZON_ROOT_CA_1_SHA256),
        (AnchorFamily::AtsEcc, real::AMAZON_ROOT_CA_3_SHA256),
        (AnchorFamily::Starfield, real::STARFIELD_G2_SHA256),
    ];
    real.iter()
        .find(|(_, hex)| &fingerprint(hex) == fp)
        .map(|(f, _)| *f)
        .unwrap_or(AnchorFamily::Other)
}

impl AnchorInfo {
    /// Builds the anchor and its facts from a root certificate.
    /// `mock` maps the mock roots' fingerprints to their families.
    pub fn from_cert(
        der: &CertificateDer<'_>,
        mock: &[(AnchorFamily, [u8; 32])],
    ) -> Result<(TrustAnchor<'static>, AnchorInfo), TrustError> {
        let anchor = webpki::anchor_from_trusted_cert(der)
            .map_err(|e| TrustError::BadCertificate(format!("not a usable trust anchor: {e:?}")))?
            .to_owned();
        let (_, cert) = X509Certificate::from_der(der.as_ref())
            .map_err(|e| TrustError::BadCertificate(e.to_string()))?;
        let cert_sha256 = sha256(der.as_ref());
        let info = AnchorInfo {
            family: family_of(Some(&cert_sha256), mock),
            common_name: common_name(cert.subject()),
            jdk_subject: jdk_name(cert.subject()),
            cert_sha256: Some(cert_sha256),
            spki_sha256: sha256(cert.public_key().raw),
        };
        Ok((anchor, info))
    }

    /// Builds the facts for an anchor that comes without its certificate.
    pub fn from_anchor(anchor: &TrustAnchor<'_>) -> AnchorInfo {
        let subject = wrap_sequence(anchor.subject.as_ref());
        let name = X509Name::from_der(&subject).ok().map(|(_, n)| n);
        AnchorInfo {
            family: AnchorFamily::Other,
            common_name: name.as_ref().and_then(common_name),
            jdk_subject: name.as_ref().map(jdk_name).unwrap_or_default(),
            cert_sha256: None,
            spki_sha256: sha256(&wrap_sequence(anchor.subject_public_key_info.as_ref())),
        }
    }

    /// A short display name: the CN, else the JDK-style subject.
    pub fn display_name(&self) -> &str {
        self.common_name.as_deref().unwrap_or(&self.jdk_subject)
    }
}

fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}
