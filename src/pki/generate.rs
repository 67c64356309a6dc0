//! Building certificates with rcgen from the specs in [`super::spec`].

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::OffsetDateTime;

use super::spec::{Attr, CaSpec, KeyKind};
use super::PkiError;

/// OID of organizationalUnitName. rcgen keeps one value per attribute type,
/// so a second OU (VeriSign G5 has two) is written through a custom type
/// with the same OID, which encodes identically.
const OU_OID: [u64; 4] = [2, 5, 4, 11];

/// Builds a distinguished name in the given order.
pub(crate) fn distinguished_name(subject: &[(Attr, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    let mut seen_ou = false;
    for &(attr, value) in subject {
        let ty = match attr {
            Attr::C => DnType::CountryName,
            Attr::St => DnType::StateOrProvinceName,
            Attr::L => DnType::LocalityName,
            Attr::O => DnType::OrganizationName,
            Attr::Ou if seen_ou => DnType::CustomDnType(OU_OID.to_vec()),
            Attr::Ou => {
                seen_ou = true;
                DnType::OrganizationalUnitName
            }
            Attr::Cn => DnType::CommonName,
        };
        let value = match attr {
            // Real certificates encode the country as PrintableString.
            Attr::C => DnValue::PrintableString(value.try_into().expect("country is printable")),
            _ => DnValue::Utf8String(value.to_string()),
        };
        dn.push(ty, value);
    }
    dn
}

/// Generates a fresh key of the given kind.
pub(crate) fn new_key(kind: KeyKind, role: &str) -> Result<KeyPair, PkiError> {
    let alg = match kind {
        KeyKind::Rsa2048 => &PKCS_RSA_SHA256,
        KeyKind::EcP256 => &PKCS_ECDSA_P256_SHA256,
    };
    KeyPair::generate_for(alg).map_err(|source| PkiError::Generate {
        role: role.to_string(),
        source,
    })
}

/// A random positive 16-byte serial number, as public CAs use.
pub(crate) fn random_serial() -> SerialNumber {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("system RNG available");
    // Keep the DER INTEGER positive and minimally encoded.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

/// Parameters for a CA certificate as the spec describes it.
pub(crate) fn ca_params(spec: &CaSpec, not_after: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = distinguished_name(spec.subject);
    p.not_before = spec.not_before;
    p.not_after = not_after;
    p.serial_number = Some(random_serial());
    p.is_ca = IsCa::Ca(match spec.path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    if spec.eku_server_client {
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
    }
    p.use_authority_key_identifier_extension = spec.path_len.is_some();
    p
}

/// What a server leaf looks like.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    /// Subject CN, e.g. `*.iot.us-east-1.amazonaws.com`.
    pub common_name: String,
    /// Subject O, when the real certificate has one.
    pub organization: Option<String>,
    /// DNS names in the SAN extension.
    pub dns_names: Vec<String>,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

/// Parameters for a TLS server leaf issued by the CA named `issuer_tag`
/// (used in its AIA and CRL URLs).
pub(crate) fn leaf_params(
    spec: &LeafSpec,
    key: KeyKind,
    issuer_tag: &str,
) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(org) = &spec.organization {
        dn.push(DnType::OrganizationName, org.as_str());
    }
    dn.push(DnType::CommonName, spec.common_name.as_str());
    p.distinguished_name = dn;
    p.not_before = spec.not_before;
    p.not_after = spec.not_after;
    p.serial_number = Some(random_serial());
    // BasicConstraints comes as a custom extension in strict DER (see
    // `extensions`): NoCa keeps rcgen from writing its own.
    p.is_ca = IsCa::NoCa;
    p.custom_extensions = super::extensions::leaf_extensions(issuer_tag);
    p.crl_distribution_points = super::extensions::leaf_crl(issuer_tag);
    p.key_usages = match key {
        KeyKind::Rsa2048 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
        KeyKind::EcP256 => vec![KeyUsagePurpose::DigitalSignature],
    };
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    for name in &spec.dns_names {
        let ia5 = name
            .as_str()
            .try_into()
            .map_err(|source| PkiError::Generate {
                role: format!("leaf name {name}"),
                source,
            })?;
        p.subject_alt_names.push(SanType::DnsName(ia5));
    }
    Ok(p)
}

/// Parameters for a device (client) certificate: CN = the client id.
pub(crate) fn device_params(
    client_id: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, client_id);
    p.distinguished_name = dn;
    p.not_before = not_before;
    p.not_after = not_after;
    p.serial_number = Some(random_serial());
    p.is_ca = IsCa::NoCa;
    p.custom_extensions = vec![super::extensions::end_entity_basic_constraints()];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    p
}
