//! Complete TLS handshakes, client and server in one thread, in memory (no
//! sockets): per chain kind, per TLS version, full and resumed. The client
//! verifies with chainstorm's timed verifier. One iteration = one handshake,
//! so handshakes/s = 1 / time. The unavoidable crypto is measured by
//! `benches/handshake_crypto.rs`; README puts both side by side.
//!
//! Run: `cargo bench --bench handshake`

use std::sync::Arc;
use std::time::Duration;

use chainstorm::client::ClientOptions;
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use chainstorm::trust::{ChainVerifier, TimedVerifier, TrustProfile};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::server::ServerSessionMemoryCache;
use rustls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, SupportedProtocolVersion,
};

fn pump(client: &mut ClientConnection, server: &mut ServerConnection) {
    let mut buf = Vec::with_capacity(8192);
    for _ in 0..16 {
        buf.clear();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).unwrap();
        }
        server.process_new_packets().unwrap();
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
        }
        client.process_new_packets().unwrap();
        if !client.is_handshaking() && !server.is_handshaking() {
            return;
        }
    }
    panic!("handshake did not complete");
}

fn configs(
    pki: &PkiBundle,
    kind: ChainKind,
    profile: &str,
    version: &'static SupportedProtocolVersion,
    resume: bool,
) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let served = pki.chain(kind);
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(served.certs.clone(), served.key.clone_key())
        .unwrap();
    if resume {
        server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
        server.session_storage = ServerSessionMemoryCache::new(1024);
    }
    let p = Arc::new(TrustProfile::resolve(profile, pki).unwrap());
    let verifier = TimedVerifier::new(Arc::new(ChainVerifier::new(p)));
    let client = ClientOptions {
        offer: chainstorm::client::Offer {
            tls13: version.version == rustls::ProtocolVersion::TLSv1_3,
            tls12: version.version == rustls::ProtocolVersion::TLSv1_2,
            ..Default::default()
        },
        resumption: Some(if resume {
            Resumption::in_memory_sessions(64)
        } else {
            Resumption::disabled()
        }),
        ..ClientOptions::default()
    }
    .build(Arc::new(verifier))
    .unwrap();
    (Arc::new(client), Arc::new(server))
}

fn benches(c: &mut Criterion) {
    let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
    let name = ServerName::try_from("a1b2c3-ats.iot.us-east-1.amazonaws.com").unwrap();
    let legacy_name = ServerName::try_from("a1b2c3.iot.us-east-1.amazonaws.com").unwrap();
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    let kinds = [
        (ChainKind::Legacy, "legacy-only", "legacy-rsa"),
        (ChainKind::AtsRsa, "ats-rsa-only", "ats-rsa"),
        (ChainKind::AtsEcc, "ats-ecc-only", "ats-ecc"),
        (
            ChainKind::AtsRsaCrossSigned,
            "starfield-only",
            "cross-signed",
        ),
    ];
    for (kind, profile, label) in kinds {
        let sni = if kind == ChainKind::Legacy {
            &legacy_name
        } else {
            &name
        };
        for (version, vlabel) in [
            (&rustls::version::TLS13, "tls13"),
            (&rustls::version::TLS12, "tls12"),
        ] {
            for resume in [false, true] {
                let (client, server) = configs(&pki, kind, profile, version, resume);
                if resume {
                    // Prime the ticket store.
                    let mut cc = ClientConnection::new(client.clone(), sni.clone()).unwrap();
                    let mut sc = ServerConnection::new(server.clone()).unwrap();
                    pump(&mut cc, &mut sc);
                    // Deliver post-handshake tickets.
                    let mut buf = Vec::new();
                    while sc.wants_write() {
                        sc.write_tls(&mut buf).unwrap();
                    }
                    let mut rd = &buf[..];
                    while !rd.is_empty() {
                        cc.read_tls(&mut rd).unwrap();
                    }
                    cc.process_new_packets().unwrap();
                }
                let id = format!(
                    "{label}/{vlabel}/{}",
                    if resume { "resumed" } else { "full" }
                );
                g.bench_function(id, |b| {
                    b.iter(|| {
                        let mut cc = ClientConnection::new(client.clone(), sni.clone()).unwrap();
                        let mut sc = ServerConnection::new(server.clone()).unwrap();
                        pump(&mut cc, &mut sc);
                        if resume {
                            // Keep the store supplied with fresh tickets.
                            let mut buf = Vec::new();
                            while sc.wants_write() {
                                sc.write_tls(&mut buf).unwrap();
                            }
                            let mut rd = &buf[..];
                            while !rd.is_empty() {
                                cc.read_tls(&mut rd).unwrap();
                            }
                            cc.process_new_packets().unwrap();
                        }
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group! {
    name = handshake;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20);
    targets = benches
}
criterion_main!(handshake);
