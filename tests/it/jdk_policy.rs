//! The JDK SYMANTEC_TLS policy at its boundaries, with an exempt sub-CA, with
//! the policy property emptied, and as a property over random dates.

use crate::common;

use std::sync::Arc;

use chainstorm::pki::spec::{Attr, CaSpec, KeyKind};
use chainstorm::pki::{LeafSpec, Role, ServedChain};
use chainstorm::trust::{ChainVerifier, DistrustPolicy, ExemptSubCa, TrustProfile};
use common::{legacy_name, pki, profile, verdict};
use proptest::prelude::*;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

fn legacy_leaf(not_before: OffsetDateTime) -> ServedChain {
    let spec = LeafSpec {
        common_name: "*.iot.us-east-1.amazonaws.com".into(),
        organization: Some("Amazon.com, Inc.".into()),
        dns_names: vec!["*.iot.us-east-1.amazonaws.com".into()],
        not_before,
        // Far enough that only the issue date decides.
        not_after: datetime!(2036-01-01 00:00:00 UTC),
    };
    // An EC leaf key keeps the test fast; the issuer still signs with RSA.
    let mut chain = pki()
        .issue_leaf(Role::LegacyIntermediate, &spec, KeyKind::EcP256)
        .unwrap();
    chain
        .certs
        .push(pki().cert(Role::LegacyIntermediate).clone());
    chain
}

fn jdk_verdict(v: &ChainVerifier, not_before: OffsetDateTime) -> String {
    match verdict(v, &legacy_leaf(not_before).certs, &legacy_name()) {
        Ok(_) => "ok".into(),
        Err(f) => f.cause.label(),
    }
}

#[test]
fn cutoff_is_a_utc_calendar_date() {
    let v = ChainVerifier::new(profile("jdk-8u212"));
    assert_eq!(jdk_verdict(&v, datetime!(2019-04-16 23:59:59 UTC)), "ok");
    assert_eq!(jdk_verdict(&v, datetime!(2019-04-16 00:00:00 UTC)), "ok");
    assert_eq!(
        jdk_verdict(&v, datetime!(2019-04-17 00:00:00 UTC)),
        "distrusted(SYMANTEC_TLS)"
    );
    assert_eq!(jdk_verdict(&v, datetime!(2016-01-01 00:00:00 UTC)), "ok");
}

#[test]
fn workaround_and_older_jdk_accept_the_legacy_chain() {
    for p in ["jdk-8u212-no-distrust", "jdk-8u202"] {
        let v = ChainVerifier::new(profile(p));
        assert_eq!(
            jdk_verdict(&v, datetime!(2026-01-01 00:00:00 UTC)),
            "ok",
            "{p}"
        );
        let served = pki().chain(chainstorm::pki::ChainKind::Legacy);
        assert!(verdict(&v, &served.certs, &legacy_name()).is_ok(), "{p}");
    }
}

/// The Apple sub-CAs are real certificates a mock cannot reproduce, so the
/// test registers a mock sub-CA's fingerprint as exempt, exactly as the
/// policy's data does for the real ones.
#[test]
fn exempt_sub_ca_has_its_own_cutoff() {
    const APPLE_IST: CaSpec = CaSpec {
        subject: &[
            (Attr::C, "US"),
            (Attr::O, "Apple Inc."),
            (Attr::Ou, "Certification Authority"),
            (Attr::Cn, "Apple IST CA 2 - G1"),
        ],
        key: KeyKind::EcP256,
        not_before: datetime!(2014-06-16 00:00:00 UTC),
        not_after: datetime!(2034-06-16 00:00:00 UTC),
        path_len: Some(0),
        eku_server_client: true,
    };
    let sub = pki()
        .issue_intermediate(Role::LegacyRoot, &APPLE_IST)
        .unwrap();
    let sub_fp = {
        use aws_lc_rs::digest::{digest, SHA256};
        let mut fp = [0u8; 32];
        fp.copy_from_slice(digest(&SHA256, sub.cert().as_ref()).as_ref());
        fp
    };
    let base = profile("jdk-8u212");
    let mock_root = base.anchor_info[0].cert_sha256.unwrap();
    let policy = DistrustPolicy::jdk_symantec_tls(
        &[mock_root],
        &[ExemptSubCa {
            sha256: sub_fp,
            common_name: "Apple IST CA 2 - G1".into(),
            cutoff: date!(2019 - 12 - 31),
        }],
    );
    let prof = TrustProfile {
        policies: vec![policy],
        ..(*base).clone()
    };
    let v = ChainVerifier::new(Arc::new(prof));
    let leaf = |nb| {
        sub.issue_leaf(
            &LeafSpec {
                common_name: "*.iot.us-east-1.amazonaws.com".into(),
                organization: None,
                dns_names: vec!["*.iot.us-east-1.amazonaws.com".into()],
                not_before: nb,
                not_after: datetime!(2036-01-01 00:00:00 UTC),
            },
            KeyKind::EcP256,
        )
        .unwrap()
    };
    let ok = leaf(datetime!(2019-12-31 23:00:00 UTC));
    assert!(
        verdict(&v, &ok.certs, &legacy_name()).is_ok(),
        "issued on the sub-CA cutoff day"
    );
    let after_general = leaf(datetime!(2019-06-01 00:00:00 UTC));
    assert!(
        verdict(&v, &after_general.certs, &legacy_name()).is_ok(),
        "after 2019-04-16 but before the sub-CA cutoff"
    );
    // A sub-CA with the same name but another certificate is not exempt:
    // the JDK matches the fingerprint, the CN only pre-filters.
    let impostor = pki()
        .issue_intermediate(Role::LegacyRoot, &APPLE_IST)
        .unwrap();
    let spoof = impostor
        .issue_leaf(
            &LeafSpec {
                common_name: "*.iot.us-east-1.amazonaws.com".into(),
                organization: None,
                dns_names: vec!["*.iot.us-east-1.amazonaws.com".into()],
                not_before: datetime!(2019-06-01 00:00:00 UTC),
                not_after: datetime!(2036-01-01 00:00:00 UTC),
            },
            KeyKind::EcP256,
        )
        .unwrap();
    let f = verdict(&v, &spoof.certs, &legacy_name()).unwrap_err();
    assert!(
        f.message.contains("issued after 2019-04-16"),
        "{}",
        f.message
    );
    let late = leaf(datetime!(2020-01-01 00:00:00 UTC));
    let f = verdict(&v, &late.certs, &legacy_name()).unwrap_err();
    assert_eq!(f.cause.label(), "distrusted(SYMANTEC_TLS)");
    assert!(
        f.message.contains("issued after 2019-12-31"),
        "{}",
        f.message
    );
}

#[test]
fn policy_keys_on_the_validated_anchor_not_the_sent_chain() {
    // An ATS chain under jdk-8u212 never touches a Symantec anchor.
    let v = ChainVerifier::new(profile("jdk-8u212"));
    for k in [
        chainstorm::pki::ChainKind::AtsRsa,
        chainstorm::pki::ChainKind::AtsRsaCrossSigned,
        chainstorm::pki::ChainKind::AtsEcc,
    ] {
        assert!(verdict(&v, &pki().chain(k).certs, &common::ats_name()).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// For any notBefore between 2012 and 2025 (in the past, so only the
    /// policy can reject) the verdict is exactly
    /// "UTC calendar date > 2019-04-16".
    #[test]
    fn verdict_is_date_after_cutoff(secs in 0i64..(14 * 365 * 86_400)) {
        let nb = datetime!(2012-01-01 00:00:00 UTC) + Duration::seconds(secs);
        let v = ChainVerifier::new(profile("jdk-8u212"));
        let got = jdk_verdict(&v, nb);
        let want = if nb.date() > date!(2019 - 04 - 16) { "distrusted(SYMANTEC_TLS)" } else { "ok" };
        prop_assert_eq!(got, want, "notBefore {}", nb);
    }
}
