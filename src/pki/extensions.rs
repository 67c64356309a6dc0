//! The leaf and device certificate extensions rcgen does not write in the
//! shape real certificates have, encoded here in strict DER:
//!
//! - BasicConstraints `cA = FALSE` as an empty SEQUENCE (`30 00`): DER
//!   omits a DEFAULT value (X.690 11.5), and strict parsers (pyca/
//!   cryptography, so sslyze) refuse the explicit `30 03 01 01 00` rcgen's
//!   `IsCa::ExplicitNoCa` writes. Real Amazon leaves carry `30 00`, critical.
//! - Authority information access (OCSP responder and CA issuers URLs) and
//!   certificate policies (CA/Browser Forum domain-validated, 2.23.140.1.2.1)
//!   as an Amazon-issued leaf carries them, so scanners see the same shape.
//!
//! URLs point at hosts under `.invalid` (RFC 2606: never resolves), so a
//! client that follows them sends nothing anywhere.

use rcgen::{CrlDistributionPoint, CustomExtension};

const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
const AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
/// CA/Browser Forum Baseline Requirements, domain validated.
const POLICY_DV: &[u64] = &[2, 23, 140, 1, 2, 1];

fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(tmp.iter().rev());
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    tlv(0x06, &body)
}

/// `cA = FALSE` in DER: an empty SEQUENCE, marked critical.
pub(crate) fn end_entity_basic_constraints() -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(BASIC_CONSTRAINTS, tlv(0x30, &[]));
    e.set_criticality(true);
    e
}

fn access_description(method: &[u64], uri: &str) -> Vec<u8> {
    let mut body = oid(method);
    // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
    body.extend(tlv(0x86, uri.as_bytes()));
    tlv(0x30, &body)
}

/// Where the mock issuer `tag` would publish OCSP, its certificate and its CRL.
fn host(kind: &str, tag: &str) -> String {
    format!("http://{kind}.{tag}.chainstorm.invalid")
}

/// AIA and certificate policies of a server leaf issued by `tag`.
pub(crate) fn leaf_extensions(tag: &str) -> Vec<CustomExtension> {
    let mut aia = access_description(AD_OCSP, &host("ocsp", tag));
    aia.extend(access_description(
        AD_CA_ISSUERS,
        &format!("{}/{tag}.cer", host("crt", tag)),
    ));
    let policies = tlv(0x30, &tlv(0x30, &oid(POLICY_DV)));
    vec![
        end_entity_basic_constraints(),
        CustomExtension::from_oid_content(AUTHORITY_INFO_ACCESS, tlv(0x30, &aia)),
        CustomExtension::from_oid_content(CERTIFICATE_POLICIES, policies),
    ]
}

/// The CRL distribution point of a server leaf issued by `tag`.
pub(crate) fn leaf_crl(tag: &str) -> Vec<CrlDistributionPoint> {
    vec![CrlDistributionPoint {
        uris: vec![format!("{}/{tag}.crl", host("crl", tag))],
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_minimal_der() {
        assert_eq!(oid(&[2, 5, 29, 19]), [0x06, 0x03, 0x55, 0x1d, 0x13]);
        assert_eq!(
            oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1]),
            [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01]
        );
        assert_eq!(
            oid(&[2, 23, 140, 1, 2, 1]),
            [0x06, 0x06, 0x67, 0x81, 0x0c, 0x01, 0x02, 0x01]
        );
        assert_eq!(der_len(200), [0x81, 200]);
        assert_eq!(der_len(300), [0x82, 0x01, 0x2c]);
        assert_eq!(end_entity_basic_constraints().content(), [0x30, 0x00]);
    }
}
