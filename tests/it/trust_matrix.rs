//! Every profile × every chain → the expected verdict, and agreement with
//! rustls' own WebPkiServerVerifier wherever no distrust policy applies.

use crate::common;

use std::sync::Arc;

use chainstorm::pki::ChainKind;
use chainstorm::trust::{ChainVerifier, VerifyFailure};
use common::{name_for, pki, profile, verdict};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::RootCertStore;
use rustls_pki_types::UnixTime;

/// Profiles of the matrix, in README order (`system` and `pem:` depend on the
/// machine and a file; they are tested separately).
const PROFILES: [&str; 14] = [
    "legacy-only",
    "ats-rsa-only",
    "ats-ecc-only",
    "starfield-only",
    "starfield-class2-only",
    "dual",
    "jdk-8u212",
    "jdk-8u212-no-distrust",
    "jdk-8u202",
    "chrome-66",
    "chrome-70",
    "firefox-60",
    "firefox-64",
    "webpki-roots",
];

/// The chains of this matrix: the endpoint's and the broken variants. The
/// rotated and Class 2 chains are the device-model matrix's
/// (`device_models.rs`).
/// (The first nine of `ChainKind::ALL`.)
const CHAINS: &[ChainKind] = ChainKind::ALL.split_at(9).0;

/// Expected verdict per (profile, chain), chains in [`CHAINS`] order.
fn expected(profile: &str) -> [&'static str; 9] {
    const U: &str = "unknown_issuer";
    // The broken leaves are ATS RSA leaves: validity is checked on the leaf
    // before any issuer is looked for, so expired / not-yet-valid show up
    // even for profiles that would not find the issuer.
    const BROKEN_UNTRUSTED: [&str; 5] = ["expired", "not_yet_valid", U, U, U];
    let tail_trusted = ["expired", "not_yet_valid", "name_mismatch", U, U];
    let head: [&str; 4] = match profile {
        "legacy-only" => ["ok", U, U, U],
        "ats-rsa-only" => [U, "ok", "ok", U],
        "ats-ecc-only" => [U, U, U, "ok"],
        "starfield-only" => [U, U, "ok", U],
        "starfield-class2-only" => [U, U, U, U],
        "dual" | "jdk-8u212-no-distrust" | "jdk-8u202" | "chrome-66" | "firefox-60" => {
            ["ok", "ok", "ok", "ok"]
        }
        "jdk-8u212" => ["distrusted(SYMANTEC_TLS)", "ok", "ok", "ok"],
        "chrome-70" => ["distrusted(chrome-symantec)", "ok", "ok", "ok"],
        "firefox-64" => ["distrusted(firefox-symantec)", "ok", "ok", "ok"],
        "webpki-roots" => [U, U, U, U],
        other => panic!("no expectation for {other}"),
    };
    let trusts_ats_rsa = head[1] == "ok";
    let tail = if trusts_ats_rsa {
        tail_trusted
    } else {
        BROKEN_UNTRUSTED
    };
    let mut out = [""; 9];
    out[..4].copy_from_slice(&head);
    out[4..].copy_from_slice(&tail);
    out
}

fn label(r: &Result<String, VerifyFailure>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(f) => f.cause.label(),
    }
}

/// The matrix as markdown, the way README.md shows it.
fn render_matrix() -> String {
    let mut s = String::from("| profile |");
    for &k in CHAINS {
        s.push_str(&format!(" {} |", k.name()));
    }
    s.push_str("\n|---|");
    for _ in CHAINS {
        s.push_str("---|");
    }
    s.push('\n');
    for p in PROFILES {
        let v = ChainVerifier::new(profile(p));
        s.push_str(&format!("| {p} |"));
        for &k in CHAINS {
            let chain = pki().chain(k);
            s.push_str(&format!(
                " {} |",
                label(&verdict(&v, &chain.certs, &name_for(k)))
            ));
        }
        s.push('\n');
    }
    s
}

#[test]
fn every_profile_against_every_chain() {
    let mut failures = Vec::new();
    for p in PROFILES {
        let v = ChainVerifier::new(profile(p));
        for (k, want) in CHAINS.iter().copied().zip(expected(p)) {
            let chain = pki().chain(k);
            let got = verdict(&v, &chain.certs, &name_for(k));
            if label(&got) != want {
                failures.push(format!("{p} × {}: want {want}, got {got:?}", k.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn matrix_in_readme_is_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md readable");
    let table = render_matrix();
    assert!(
        readme.contains(&table),
        "README.md's trust matrix is stale; replace it with:\n{table}"
    );
}

#[test]
fn valid_chains_end_at_the_expected_anchor() {
    let dual = ChainVerifier::new(profile("dual"));
    let cases = [
        (
            ChainKind::Legacy,
            "VeriSign Class 3 Public Primary Certification Authority - G5",
        ),
        (ChainKind::AtsRsa, "Amazon Root CA 1"),
        // With Amazon Root CA 1 trusted, the path stops there even though the
        // cross-certificate was sent along.
        (ChainKind::AtsRsaCrossSigned, "Amazon Root CA 1"),
        (ChainKind::AtsEcc, "Amazon Root CA 3"),
    ];
    for (k, anchor) in cases {
        let got = verdict(&dual, &pki().chain(k).certs, &name_for(k)).unwrap();
        assert_eq!(got, anchor, "{}", k.name());
    }
    let sf = ChainVerifier::new(profile("starfield-only"));
    let k = ChainKind::AtsRsaCrossSigned;
    let got = verdict(&sf, &pki().chain(k).certs, &name_for(k)).unwrap();
    assert_eq!(got, "Starfield Services Root Certificate Authority - G2");
}

#[test]
fn legacy_name_in_ats_only_region_is_not_covered_by_legacy_leaf() {
    let v = ChainVerifier::new(profile("legacy-only"));
    let name = rustls_pki_types::ServerName::try_from("abc.iot.ap-south-1.amazonaws.com").unwrap();
    let got = verdict(&v, &pki().chain(ChainKind::Legacy).certs, &name);
    assert_eq!(label(&got), "name_mismatch");
}

/// Where no policy applies, our verifier must accept exactly what rustls'
/// WebPkiServerVerifier accepts, over the same chains and the same roots.
#[test]
fn agrees_with_rustls_webpki_verifier_without_policies() {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut compared = 0;
    for p in PROFILES {
        let prof = profile(p);
        if !prof.policies.is_empty() {
            continue;
        }
        let mut roots = RootCertStore::empty();
        roots.extend(prof.anchors.iter().cloned());
        let theirs = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let ours = ChainVerifier::new(prof.clone());
        for &k in CHAINS {
            let chain = pki().chain(k);
            let name = name_for(k);
            let now = UnixTime::now();
            let a = ours.verify(&chain.certs[0], &chain.certs[1..], &name, now);
            let b = theirs.verify_server_cert(&chain.certs[0], &chain.certs[1..], &name, &[], now);
            assert_eq!(
                a.is_ok(),
                b.is_ok(),
                "{p} × {}: ours {a:?} theirs {b:?}",
                k.name()
            );
            if let Err(e) = &b {
                let mapped = VerifyFailure::from_rustls(e).expect("a certificate error");
                assert_eq!(
                    mapped.cause,
                    a.unwrap_err().cause,
                    "{p} × {}: same cause",
                    k.name()
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 9 * 7, "compared {compared} cases");
}

#[test]
fn distrust_messages_use_the_clients_wording() {
    let v = ChainVerifier::new(profile("jdk-8u212"));
    let f = verdict(
        &v,
        &pki().chain(ChainKind::Legacy).certs,
        &common::legacy_name(),
    )
    .unwrap_err();
    assert_eq!(
        f.message,
        "TLS Server certificate issued after 2019-04-16 and anchored by a distrusted legacy Symantec root CA: \
         CN=VeriSign Class 3 Public Primary Certification Authority - G5, \
         OU=\"(c) 2006 VeriSign, Inc. - For authorized use only\", OU=VeriSign Trust Network, \
         O=\"VeriSign, Inc.\", C=US"
    );
    let v = ChainVerifier::new(profile("chrome-70"));
    let f = verdict(
        &v,
        &pki().chain(ChainKind::Legacy).certs,
        &common::legacy_name(),
    )
    .unwrap_err();
    assert!(
        f.message.starts_with("NET::ERR_CERT_SYMANTEC_LEGACY"),
        "{}",
        f.message
    );
}

#[test]
fn unknown_profile_and_missing_pem_are_clear_errors() {
    let e = chainstorm::trust::TrustProfile::resolve("jdk-9000", pki()).unwrap_err();
    assert!(
        e.to_string().contains("unknown trust profile \"jdk-9000\""),
        "{e}"
    );
    let e =
        chainstorm::trust::TrustProfile::resolve("pem:/nonexistent/roots.pem", pki()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/roots.pem"), "{e}");
}

#[test]
fn pem_profile_reads_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roots.pem");
    let pem = pem::encode(&pem::Pem::new(
        "CERTIFICATE",
        pki()
            .cert(chainstorm::pki::Role::AtsEccRoot)
            .as_ref()
            .to_vec(),
    ));
    std::fs::write(&path, pem).unwrap();
    let p = chainstorm::trust::TrustProfile::resolve(&format!("pem:{}", path.display()), pki())
        .unwrap();
    let v = ChainVerifier::new(Arc::new(p));
    let k = ChainKind::AtsEcc;
    assert!(verdict(&v, &pki().chain(k).certs, &name_for(k)).is_ok());
    let k = ChainKind::AtsRsa;
    assert_eq!(
        label(&verdict(&v, &pki().chain(k).certs, &name_for(k))),
        "unknown_issuer"
    );
}
