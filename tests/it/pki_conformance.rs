//! The mock certificates carry the names, key types, signature algorithms,
//! constraints and validity of the real ones (their published fields), and the
//! PKI survives a write / load round trip.

use crate::common;

use chainstorm::pki::{describe_cert, ChainKind, PkiBundle, PkiConfig, Role};
use common::pki;

/// (role, subject, issuer CN, key, signature, notBefore date, notAfter date, CA pathlen)
/// written from the real certificates' published fields, not from the
/// generator's tables.
#[allow(clippy::type_complexity)]
const EXPECTED: &[(Role, &str, &str, &str, &str, &str, &str, Option<Option<u32>>)] = &[
    (
        Role::LegacyRoot,
        "C=US, O=VeriSign, Inc., OU=VeriSign Trust Network, OU=(c) 2006 VeriSign, Inc. - For authorized use only, CN=VeriSign Class 3 Public Primary Certification Authority - G5",
        "VeriSign Class 3 Public Primary Certification Authority - G5",
        "RSA 2048",
        // The real root is sha1WithRSA; anchors' self-signatures are not checked.
        "sha256WithRSAEncryption",
        "2006-11-08",
        "2036-07-16",
        Some(None),
    ),
    (
        Role::LegacyIntermediate,
        "C=US, O=Symantec Corporation, OU=Symantec Trust Network, CN=Symantec Class 3 Secure Server CA - G4",
        "VeriSign Class 3 Public Primary Certification Authority - G5",
        "RSA 2048",
        "sha256WithRSAEncryption",
        "2013-10-31",
        // Real: 2023-10-30; the default moves it so the chain validates.
        "2033-10-30",
        Some(Some(0)),
    ),
    (
        Role::AtsRsaRoot,
        "C=US, O=Amazon, CN=Amazon Root CA 1",
        "Amazon Root CA 1",
        "RSA 2048",
        "sha256WithRSAEncryption",
        "2015-05-26",
        "2038-01-17",
        Some(None),
    ),
    (
        Role::AtsRsaIntermediate,
        "C=US, O=Amazon, CN=Amazon RSA 2048 M01",
        "Amazon Root CA 1",
        "RSA 2048",
        "sha256WithRSAEncryption",
        "2022-08-23",
        "2030-08-23",
        Some(Some(0)),
    ),
    (
        Role::AtsEccRoot,
        "C=US, O=Amazon, CN=Amazon Root CA 3",
        "Amazon Root CA 3",
        "EC P-256",
        "ecdsa-with-SHA256",
        "2015-05-26",
        "2040-05-26",
        Some(None),
    ),
    (
        Role::AtsEccIntermediate,
        "C=US, O=Amazon, CN=Amazon ECDSA 256 M01",
        "Amazon Root CA 3",
        "EC P-256",
        "ecdsa-with-SHA256",
        "2022-08-23",
        "2030-08-23",
        Some(Some(0)),
    ),
    (
        Role::StarfieldRoot,
        "C=US, ST=Arizona, L=Scottsdale, O=Starfield Technologies, Inc., CN=Starfield Services Root Certificate Authority - G2",
        "Starfield Services Root Certificate Authority - G2",
        "RSA 2048",
        "sha256WithRSAEncryption",
        "2009-09-01",
        "2037-12-31",
        Some(None),
    ),
    (
        Role::AtsRsaCrossSigned,
        "C=US, O=Amazon, CN=Amazon Root CA 1",
        "Starfield Services Root Certificate Authority - G2",
        "RSA 2048",
        "sha256WithRSAEncryption",
        "2015-05-25",
        "2037-12-31",
        Some(None),
    ),
];

#[test]
fn certificates_match_the_real_ones() {
    for (role, subject, issuer_cn, key, sig, nb, na, ca) in EXPECTED {
        let s = describe_cert(pki().cert(*role).as_ref()).unwrap();
        let r = role.name();
        assert_eq!(&s.subject, subject, "{r} subject");
        assert!(
            s.issuer.ends_with(&format!("CN={issuer_cn}")),
            "{r} issuer {}",
            s.issuer
        );
        assert_eq!(&s.key, key, "{r} key");
        assert_eq!(&s.signature, sig, "{r} signature");
        assert_eq!(s.not_before.date().to_string(), *nb, "{r} notBefore");
        assert_eq!(s.not_after.date().to_string(), *na, "{r} notAfter");
        assert_eq!(&s.ca_path_len, ca, "{r} basic constraints");
    }
}

#[test]
fn intermediates_carry_server_and_client_auth() {
    for role in [
        Role::AtsRsaIntermediate,
        Role::AtsEccIntermediate,
        Role::LegacyIntermediate,
    ] {
        let s = describe_cert(pki().cert(role).as_ref()).unwrap();
        assert_eq!(s.ekus, ["serverAuth", "clientAuth"], "{}", role.name());
    }
}

#[test]
fn cross_sign_shares_subject_and_key_with_amazon_root_ca_1() {
    let root = describe_cert(pki().cert(Role::AtsRsaRoot).as_ref()).unwrap();
    let cross = describe_cert(pki().cert(Role::AtsRsaCrossSigned).as_ref()).unwrap();
    assert_eq!(root.subject, cross.subject);
    assert_eq!(root.spki_sha256, cross.spki_sha256);
    assert_ne!(root.sha256, cross.sha256);
}

#[test]
fn leaves_cover_the_right_regions() {
    let legacy = describe_cert(pki().cert(Role::LegacyLeaf).as_ref()).unwrap();
    assert_eq!(
        legacy.common_name.as_deref(),
        Some("*.iot.us-east-1.amazonaws.com")
    );
    assert!(legacy.subject.contains("O=Amazon.com, Inc."));
    assert!(legacy
        .dns_names
        .contains(&"*.iot.eu-west-1.amazonaws.com".to_string()));
    assert!(legacy
        .dns_names
        .contains(&"*.iot.cn-north-1.amazonaws.com.cn".to_string()));
    assert!(!legacy
        .dns_names
        .contains(&"*.iot.ap-south-1.amazonaws.com".to_string()));
    // Renewed after the JDK cut-off, as the real ones are.
    assert!(legacy.not_before.date() > time::macros::date!(2019 - 04 - 16));
    let ats = describe_cert(pki().cert(Role::AtsEccLeaf).as_ref()).unwrap();
    assert_eq!(ats.key, "EC P-256");
    assert!(ats
        .dns_names
        .contains(&"*.iot.ap-south-1.amazonaws.com".to_string()));
    assert!(ats
        .dns_names
        .contains(&"*.iot.us-gov-west-1.amazonaws.com".to_string()));
}

#[test]
fn write_load_round_trip_and_key_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let manifest = pki().write_to(dir.path()).unwrap();
    assert_eq!(manifest.files.len(), Role::ALL.len());
    for f in &manifest.files {
        if let Some(k) = &f.key {
            let mode = std::fs::metadata(dir.path().join(k))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{k}");
        }
        let mode = std::fs::metadata(dir.path().join(&f.cert))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0o044, "{} is world-readable", f.cert);
    }
    let loaded = PkiBundle::load(dir.path()).unwrap();
    for role in Role::ALL {
        assert_eq!(loaded.cert(role), pki().cert(role), "{}", role.name());
    }
    for k in ChainKind::ALL {
        assert_eq!(
            loaded.chain(k).key.secret_der(),
            pki().chain(k).key.secret_der()
        );
    }
    // A loaded PKI can still mint device certificates that chain to its CA.
    let id = loaded.device_ca().mint("thing-0001").unwrap();
    let s = describe_cert(id.cert.as_ref()).unwrap();
    assert_eq!(s.common_name.as_deref(), Some("thing-0001"));
    assert_eq!(
        s.issuer,
        describe_cert(loaded.cert(Role::DeviceCa).as_ref())
            .unwrap()
            .subject
    );
    assert_eq!(s.ekus, ["clientAuth"]);
}

#[test]
fn cache_is_reused_for_same_config_and_replaced_for_another() {
    let dir = tempfile::tempdir().unwrap();
    pki().write_to(dir.path()).unwrap();
    let (b, cached) = PkiBundle::load_or_generate(dir.path(), &PkiConfig::default()).unwrap();
    assert!(cached);
    assert_eq!(b.cert(Role::AtsRsaLeaf), pki().cert(Role::AtsRsaLeaf));
    let other = PkiConfig {
        primary_region: "eu-west-1".into(),
        ..PkiConfig::default()
    };
    let (b2, cached) = PkiBundle::load_or_generate(dir.path(), &other).unwrap();
    assert!(!cached);
    let s = describe_cert(b2.cert(Role::AtsRsaLeaf).as_ref()).unwrap();
    assert_eq!(
        s.common_name.as_deref(),
        Some("*.iot.eu-west-1.amazonaws.com")
    );
}

#[test]
fn corrupt_manifest_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), "{\"format\": 1,").unwrap();
    let e = PkiBundle::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("line 1"), "{e}");
    let e = PkiBundle::load(&dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing/manifest.json"), "{e}");
}

/// The mock roots carry the real roots' subject, key type and validity, and
/// `spec::real` the real fingerprints: compared with the certificates of
/// Debian's ca-certificates (Mozilla's root store), which no one here wrote.
/// (VeriSign G5 has left that store; the cross-certificates and the M0x
/// intermediates are in none.)
#[test]
fn mock_roots_match_the_real_roots_of_the_system_store() {
    use chainstorm::pki::spec::real;
    let dir = std::path::Path::new("/etc/ssl/certs");
    let cases = [
        (
            Role::AtsRsaRoot,
            "Amazon_Root_CA_1.pem",
            Some(real::AMAZON_ROOT_CA_1_SHA256),
        ),
        (
            Role::AtsEccRoot,
            "Amazon_Root_CA_3.pem",
            Some(real::AMAZON_ROOT_CA_3_SHA256),
        ),
        (
            Role::StarfieldRoot,
            "Starfield_Services_Root_Certificate_Authority_-_G2.pem",
            Some(real::STARFIELD_G2_SHA256),
        ),
        (Role::StarfieldClass2Root, "Starfield_Class_2_CA.pem", None),
    ];
    for (role, file, fingerprint) in cases {
        let path = dir.join(file);
        let text = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{} (apt-get install ca-certificates): {e}", path.display())
        });
        let real_cert = describe_cert(pem::parse(&text).unwrap().contents()).unwrap();
        let mock = describe_cert(pki().cert(role).as_ref()).unwrap();
        assert_eq!(mock.subject, real_cert.subject, "{}", role.name());
        assert_eq!(mock.key, real_cert.key, "{}", role.name());
        assert_eq!(mock.not_before, real_cert.not_before, "{}", role.name());
        assert_eq!(mock.not_after, real_cert.not_after, "{}", role.name());
        if let Some(fp) = fingerprint {
            assert_eq!(real_cert.sha256, fp, "{}", role.name());
        }
    }
}
