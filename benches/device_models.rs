//! What the device models add to chain validation: each path builder (and
//! a model with pins and an input buffer) next to the verifier as rustls
//! runs it (webpki's own search), on the chains where the builders differ.
//! README quotes the ratios; the models must stay within 10 % of it.
//!
//! Run: `cargo bench --bench device_models`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chainstorm::model::DeviceModel;
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use chainstorm::trust::{ChainVerifier, PathBuilder, TrustProfile, ValidationRules};
use criterion::{criterion_group, criterion_main, Criterion};
use rustls_pki_types::{ServerName, UnixTime};

fn bench(c: &mut Criterion) {
    let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
    let name = ServerName::try_from("a1b2c3-ats.iot.us-east-1.amazonaws.com").unwrap();
    let now = UnixTime::now();
    // (chain, store): the cross-signed chain to a device holding only
    // Amazon Root CA 1 (the builders take different paths), the same
    // chain to a Starfield-only device (all take the cross-certificate),
    // and the ECC chain.
    let cases = [
        (ChainKind::AtsRsaCrossSigned, "ats-rsa-only"),
        (ChainKind::AtsRsaCrossSigned, "starfield-only"),
        (ChainKind::AtsEcc, "ats-ecc-only"),
    ];
    let pinned = DeviceModel::named("pinned-m01").rules(&pki);
    let esp32 = DeviceModel::named("esp32-mbedtls-4k").rules(&pki);
    for (kind, store) in cases {
        let profile = Arc::new(TrustProfile::resolve(store, &pki).unwrap());
        let served = pki.chain(kind);
        let mut g = c.benchmark_group(format!("model_{}_{store}", kind.name()));
        let mut run = |label: &str, rules: ValidationRules| {
            let v = ChainVerifier::new(profile.clone()).with_rules(rules);
            g.bench_function(label, |b| {
                b.iter(|| {
                    let r = v.check_input_buffer(&served.certs[0], &served.certs[1..]);
                    let _ = black_box(r);
                    black_box(v.verify(&served.certs[0], &served.certs[1..], &name, now))
                })
            });
        };
        run("webpki (rustls as is)", ValidationRules::default());
        for b in PathBuilder::ALL.into_iter().skip(1) {
            run(
                b.name(),
                ValidationRules {
                    builder: b,
                    ..ValidationRules::default()
                },
            );
        }
        if store == "ats-rsa-only" {
            run(
                "pinned-m01 (trusted-first + intermediate pin)",
                pinned.clone(),
            );
            run(
                "esp32-mbedtls-4k (trusted-first + 4 KiB buffer)",
                esp32.clone(),
            );
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
