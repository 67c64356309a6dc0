//! Chrome keys on SPKI anywhere in the verified path, so a cross-signed
//! certificate carrying a distrusted key is caught even when the anchor is
//! another root; the JDK keys on the anchor only and is not.

use crate::common;

use std::sync::Arc;

use chainstorm::pki::{describe_cert, ChainKind, Role};
use chainstorm::trust::{fingerprint, ChainVerifier, DistrustPolicy, TrustProfile, Window};
use common::{ats_name, pki, profile, verdict};

fn with_policy(base: &str, policy: DistrustPolicy) -> ChainVerifier {
    let p = TrustProfile {
        policies: vec![policy],
        ..(*profile(base)).clone()
    };
    ChainVerifier::new(Arc::new(p))
}

#[test]
fn spki_rule_catches_a_cross_signed_key_the_anchor_rule_misses() {
    // Pretend Amazon Root CA 1's key were a distrusted one.
    let ca1_spki = describe_cert(pki().cert(Role::AtsRsaRoot).as_ref())
        .unwrap()
        .spki_sha256;
    let ca1_fp = describe_cert(pki().cert(Role::AtsRsaRoot).as_ref())
        .unwrap()
        .sha256;
    let chain = pki().chain(ChainKind::AtsRsaCrossSigned);

    // Starfield-only device: the path is leaf → M01 → CA1 (cross) → Starfield.
    let chrome = with_policy(
        "starfield-only",
        DistrustPolicy::chrome_symantec(Window::All, vec![fingerprint(&ca1_spki)]),
    );
    let f = verdict(&chrome, &chain.certs, &ats_name()).unwrap_err();
    assert_eq!(f.cause.label(), "distrusted(chrome-symantec)");
    assert!(f.message.contains(&ca1_spki), "{}", f.message);

    let jdk = with_policy(
        "starfield-only",
        DistrustPolicy::jdk_symantec_tls(&[fingerprint(&ca1_fp)], &[]),
    );
    assert!(verdict(&jdk, &chain.certs, &ats_name()).is_ok());
}

#[test]
fn early_window_only_rejects_old_leaves() {
    // chrome-66 and firefox-60 accept the recently issued legacy leaf ...
    for p in ["chrome-66", "firefox-60"] {
        let v = ChainVerifier::new(profile(p));
        let served = pki().chain(ChainKind::Legacy);
        assert!(
            verdict(&v, &served.certs, &common::legacy_name()).is_ok(),
            "{p}"
        );
    }
    // ... and the 2016 rule rejects a leaf issued before 2016-06-01.
    let spec = chainstorm::pki::LeafSpec {
        common_name: "*.iot.us-east-1.amazonaws.com".into(),
        organization: None,
        dns_names: vec!["*.iot.us-east-1.amazonaws.com".into()],
        not_before: time::macros::datetime!(2016-05-31 12:00:00 UTC),
        not_after: time::macros::datetime!(2036-01-01 00:00:00 UTC),
    };
    let mut old = pki()
        .issue_leaf(
            Role::LegacyIntermediate,
            &spec,
            chainstorm::pki::spec::KeyKind::EcP256,
        )
        .unwrap();
    old.certs.push(pki().cert(Role::LegacyIntermediate).clone());
    for (p, policy) in [
        ("chrome-66", "chrome-symantec"),
        ("firefox-60", "firefox-symantec"),
    ] {
        let v = ChainVerifier::new(profile(p));
        let f = verdict(&v, &old.certs, &common::legacy_name()).unwrap_err();
        assert_eq!(f.cause.label(), format!("distrusted({policy})"), "{p}");
    }
}
