//! The crypto a full TLS 1.3 handshake cannot avoid, per side, with the same
//! library (aws-lc-rs) the endpoint uses: the server's one CertificateVerify
//! signature and one X25519 key exchange; the client's X25519 and signature
//! checks. README compares measured handshake rates with this floor.
//!
//! Run: `cargo bench --bench handshake_crypto`

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
    let rng = SystemRandom::new();
    let msg = [0x5au8; 130]; // a TLS 1.3 CertificateVerify input is ~130 bytes

    let rsa_der = pki.chain(ChainKind::AtsRsa).key;
    let rsa = RsaKeyPair::from_pkcs8(rsa_der.secret_der()).unwrap();
    let mut sig = vec![0u8; rsa.public_modulus_len()];
    c.bench_function("server/rsa2048_pss_sign", |b| {
        b.iter(|| {
            rsa.sign(&signature::RSA_PSS_SHA256, &rng, black_box(&msg), &mut sig)
                .unwrap()
        })
    });
    let pubkey = rsa.public_key().as_ref().to_vec();
    rsa.sign(&signature::RSA_PSS_SHA256, &rng, &msg, &mut sig)
        .unwrap();
    c.bench_function("client/rsa2048_pss_verify", |b| {
        b.iter(|| {
            signature::UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, &pubkey)
                .verify(black_box(&msg), &sig)
                .unwrap()
        })
    });

    let ec_der = pki.chain(ChainKind::AtsEcc).key;
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        ec_der.secret_der(),
    )
    .unwrap();
    c.bench_function("server/ecdsa_p256_sign", |b| {
        b.iter(|| ec.sign(&rng, black_box(&msg)).unwrap())
    });

    c.bench_function("both/x25519_keygen_and_agree", |b| {
        let peer = EphemeralPrivateKey::generate(&agreement::X25519, &rng).unwrap();
        let peer_pub = peer.compute_public_key().unwrap().as_ref().to_vec();
        b.iter(|| {
            let k = EphemeralPrivateKey::generate(&agreement::X25519, &rng).unwrap();
            let _pub = k.compute_public_key().unwrap();
            agreement::agree_ephemeral(
                k,
                UnparsedPublicKey::new(&agreement::X25519, &peer_pub),
                (),
                |s| {
                    black_box(s.len());
                    Ok(())
                },
            )
            .unwrap()
        })
    });
}

criterion_group! {
    name = handshake_crypto;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches
}
criterion_main!(handshake_crypto);
