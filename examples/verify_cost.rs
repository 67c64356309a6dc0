//! Runs one kind of chain validation in a loop, for instruction counting
//! under callgrind (wall time on a shared 2-core machine is too noisy to
//! resolve a few percent; instruction counts are exact and repeatable).
//!
//! `scripts/verifier_overhead.sh` drives it; by hand:
//! `cargo run --release --example verify_cost -- PKI_DIR MODE PROFILE CHAIN N`
//! with MODE = bare (webpki path building + name check, what rustls does),
//! timed (our TimedVerifier: the same plus policies, timing and the probe)
//! or raw (only the signature verifications the path needs).

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;

use chainstorm::pki::{ChainKind, PkiBundle};
use chainstorm::trust::{ChainVerifier, TimedVerifier, TrustProfile};
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

#[inline(never)]
fn measured_bare(
    p: &TrustProfile,
    certs: &[CertificateDer<'static>],
    name: &ServerName<'_>,
    n: u32,
) {
    let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
    for _ in 0..n {
        let ee = webpki::EndEntityCert::try_from(&certs[0]).unwrap();
        let r = ee.verify_for_usage(
            algs.all,
            &p.anchors,
            &certs[1..],
            UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        );
        let _ = black_box(r.map(|_| ee.verify_is_valid_for_subject_name(name)));
    }
}

#[inline(never)]
fn measured_timed(
    v: &TimedVerifier,
    certs: &[CertificateDer<'static>],
    name: &ServerName<'_>,
    n: u32,
) {
    let probe = v.probe();
    for _ in 0..n {
        let _ = black_box(v.verify_server_cert(&certs[0], &certs[1..], name, &[], UnixTime::now()));
        black_box(probe.take());
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, mode, profile, chain, n] = &args[..] else {
        eprintln!("usage: verify_cost PKI_DIR bare|timed PROFILE CHAIN N");
        return ExitCode::from(2);
    };
    let pki = PkiBundle::load(std::path::Path::new(dir)).expect("PKI directory loads");
    let kind = ChainKind::from_name(chain).expect("known chain kind");
    let n: u32 = n.parse().expect("N is a number");
    let p = Arc::new(TrustProfile::resolve(profile, &pki).expect("known profile"));
    let certs = pki.chain(kind).certs;
    let host = if kind == ChainKind::Legacy {
        "a1b2c3.iot.us-east-1.amazonaws.com"
    } else {
        "a1b2c3-ats.iot.us-east-1.amazonaws.com"
    };
    let name = ServerName::try_from(host).unwrap();
    match mode.as_str() {
        "bare" => measured_bare(&p, &certs, &name, n),
        "timed" => {
            let v = TimedVerifier::new(Arc::new(ChainVerifier::new(p)));
            measured_timed(&v, &certs, &name, n)
        }
        other => {
            eprintln!("unknown mode {other}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
