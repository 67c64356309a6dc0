//! Reading certificates back: what `pki show` prints and what the
//! conformance tests compare with the real certificates' published fields.

use ::time::OffsetDateTime;
use aws_lc_rs::digest::{digest, SHA256};
use serde::Serialize;
use x509_parser::prelude::*;

use super::PkiError;

/// The facts of one certificate that matter for trust decisions.
#[derive(Clone, Debug, Serialize)]
pub struct CertSummary {
    /// Subject DN in RFC 4514 order as x509-parser prints it.
    pub subject: String,
    /// Subject CN, if any.
    pub common_name: Option<String>,
    /// Issuer DN.
    pub issuer: String,
    /// "RSA 2048", "EC P-256", ...
    pub key: String,
    /// Signature algorithm name, e.g. `sha256WithRSAEncryption`.
    pub signature: String,
    /// Validity start.
    #[serde(with = "::time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Validity end.
    #[serde(with = "::time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Uppercase hex SHA-256 of the whole certificate.
    pub sha256: String,
    /// Lowercase hex SHA-256 of the SubjectPublicKeyInfo.
    pub spki_sha256: String,
    /// `Some(pathlen)` for a CA (`None` inside = unconstrained), `None` for a leaf.
    pub ca_path_len: Option<Option<u32>>,
    /// DNS names of the SAN extension.
    pub dns_names: Vec<String>,
    /// EKU names present.
    pub ekus: Vec<String>,
}

fn sig_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.3.101.112" => "Ed25519",
        other => return other.to_string(),
    }
    .to_string()
}

/// Parses a DER certificate into a [`CertSummary`].
pub fn describe_cert(der: &[u8]) -> Result<CertSummary, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let spki = cert.public_key();
    let key = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".to_string(),
                Some("1.3.132.0.34") => "EC P-384".to_string(),
                _ => format!("EC {}", ec.key_size()),
            }
        }
        Ok(_) | Err(_) => spki.algorithm.algorithm.to_id_string(),
    };
    let mut dns_names = Vec::new();
    let mut ekus = Vec::new();
    let mut ca_path_len = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    if let GeneralName::DNSName(d) = n {
                        dns_names.push(d.to_string());
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                if e.server_auth {
                    ekus.push("serverAuth".to_string());
                }
                if e.client_auth {
                    ekus.push("clientAuth".to_string());
                }
            }
            ParsedExtension::BasicConstraints(bc) if bc.ca => {
                ca_path_len = Some(bc.path_len_constraint);
            }
            _ => {}
        }
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    Ok(CertSummary {
        subject: cert.subject().to_string(),
        common_name,
        issuer: cert.issuer().to_string(),
        key,
        signature: sig_name(&cert.signature_algorithm.algorithm.to_id_string()),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        sha256: hex::encode_upper(digest(&SHA256, der)),
        spki_sha256: hex::encode(digest(&SHA256, spki.raw)),
        ca_path_len,
        dns_names,
        ekus,
    })
}
