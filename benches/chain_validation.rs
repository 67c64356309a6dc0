//! Chain-validation cost per chain type and per trust profile, next to the
//! raw signature verifications each path needs and to bare webpki path
//! building, so README can show validation / raw-signature work and the
//! verifier's own overhead (policy + timing).
//!
//! Run: `cargo bench --bench chain_validation`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig, Role};
use chainstorm::trust::{ChainVerifier, TimedVerifier, TrustProfile};
use criterion::{criterion_group, criterion_main, Criterion};
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::*;

/// (signed certificate, issuer certificate) pairs whose signatures a path needs.
fn signature_pairs(pki: &PkiBundle, kind: ChainKind) -> Vec<(Role, Role)> {
    match kind {
        ChainKind::Legacy => vec![
            (Role::LegacyLeaf, Role::LegacyIntermediate),
            (Role::LegacyIntermediate, Role::LegacyRoot),
        ],
        ChainKind::AtsRsa => vec![
            (Role::AtsRsaLeaf, Role::AtsRsaIntermediate),
            (Role::AtsRsaIntermediate, Role::AtsRsaRoot),
        ],
        ChainKind::AtsEcc => vec![
            (Role::AtsEccLeaf, Role::AtsEccIntermediate),
            (Role::AtsEccIntermediate, Role::AtsEccRoot),
        ],
        ChainKind::AtsRsaCrossSigned => vec![
            (Role::AtsRsaLeaf, Role::AtsRsaIntermediate),
            (Role::AtsRsaIntermediate, Role::AtsRsaCrossSigned),
            (Role::AtsRsaCrossSigned, Role::StarfieldRoot),
        ],
        other => {
            let _ = pki;
            panic!("no signature plan for {}", other.name())
        }
    }
}

/// Pre-parsed (algorithm, public key, message, signature) for one signature.
struct RawSig {
    alg: &'static dyn VerificationAlgorithm,
    key: Vec<u8>,
    tbs: Vec<u8>,
    sig: Vec<u8>,
}

fn raw_sig(pki: &PkiBundle, signed: Role, issuer: Role) -> RawSig {
    let (_, c) = X509Certificate::from_der(pki.cert(signed).as_ref()).unwrap();
    let (_, i) = X509Certificate::from_der(pki.cert(issuer).as_ref()).unwrap();
    let alg: &'static dyn VerificationAlgorithm =
        match c.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "1.2.840.10045.4.3.2" => &signature::ECDSA_P256_SHA256_ASN1,
            o => panic!("unexpected signature algorithm {o}"),
        };
    RawSig {
        alg,
        key: i.public_key().subject_public_key.data.to_vec(),
        tbs: c.tbs_certificate.as_ref().to_vec(),
        sig: c.signature_value.data.to_vec(),
    }
}

fn name_for(kind: ChainKind) -> ServerName<'static> {
    let host = match kind {
        ChainKind::Legacy => "a1b2c3.iot.us-east-1.amazonaws.com",
        _ => "a1b2c3-ats.iot.us-east-1.amazonaws.com",
    };
    ServerName::try_from(host).unwrap()
}

/// (chain, profile whose store validates it without any policy)
const CHAINS: [(ChainKind, &str); 4] = [
    (ChainKind::Legacy, "legacy-only"),
    (ChainKind::AtsRsa, "ats-rsa-only"),
    (ChainKind::AtsEcc, "ats-ecc-only"),
    (ChainKind::AtsRsaCrossSigned, "starfield-only"),
];

fn benches(c: &mut Criterion) {
    let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
    let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;

    // Raw signature work of each path.
    let mut g = c.benchmark_group("raw_signatures");
    for (kind, _) in CHAINS {
        let sigs: Vec<RawSig> = signature_pairs(&pki, kind)
            .into_iter()
            .map(|(s, i)| raw_sig(&pki, s, i))
            .collect();
        g.bench_function(kind.name(), |b| {
            b.iter(|| {
                for s in &sigs {
                    UnparsedPublicKey::new(s.alg, &s.key)
                        .verify(black_box(&s.tbs), black_box(&s.sig))
                        .unwrap();
                }
            })
        });
    }
    g.finish();

    // Bare webpki: path building + name check, no policy, no timing.
    let mut g = c.benchmark_group("bare_webpki");
    for (kind, prof) in CHAINS {
        let p = TrustProfile::resolve(prof, &pki).unwrap();
        let served = pki.chain(kind);
        let name = name_for(kind);
        g.bench_function(kind.name(), |b| {
            b.iter(|| {
                let ee = webpki::EndEntityCert::try_from(&served.certs[0]).unwrap();
                ee.verify_for_usage(
                    algs.all,
                    &p.anchors,
                    &served.certs[1..],
                    UnixTime::now(),
                    webpki::KeyUsage::server_auth(),
                    None,
                    None,
                )
                .unwrap();
                ee.verify_is_valid_for_subject_name(&name).unwrap();
            })
        });
    }
    g.finish();

    // The timed verifier as rustls calls it, per chain and per profile.
    let mut g = c.benchmark_group("timed_verifier");
    let mut cases: Vec<(ChainKind, &str)> = CHAINS.to_vec();
    for prof in ["dual", "jdk-8u212", "chrome-70", "firefox-64"] {
        cases.push((ChainKind::AtsRsa, prof));
        cases.push((ChainKind::Legacy, prof));
    }
    for (kind, prof) in cases {
        let p = Arc::new(TrustProfile::resolve(prof, &pki).unwrap());
        let v = TimedVerifier::new(Arc::new(ChainVerifier::new(p)));
        let probe = v.probe();
        let served = pki.chain(kind);
        let name = name_for(kind);
        let inter: Vec<CertificateDer<'static>> = served.certs[1..].to_vec();
        g.bench_function(format!("{prof}/{}", kind.name()), |b| {
            b.iter(|| {
                // Rejections (jdk-8u212 / chrome-70 / firefox-64 on legacy)
                // are measured too: they are what those devices pay.
                let _ = black_box(v.verify_server_cert(
                    &served.certs[0],
                    &inter,
                    &name,
                    &[],
                    UnixTime::now(),
                ));
                black_box(probe.take());
            })
        });
    }
    g.finish();

    // Minting device certificates (P-256 key + ECDSA signature).
    let mut g = c.benchmark_group("device_ca");
    let ca = pki.device_ca();
    let mut n = 0u64;
    g.bench_function("mint", |b| {
        b.iter(|| {
            n += 1;
            black_box(ca.mint(&format!("device-{n}")).unwrap())
        })
    });
    g.finish();
}

criterion_group! {
    name = chain_validation;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(chain_validation);
