//! Writes the seed corpora of the cargo-fuzz targets into `fuzz/corpus/`
//! from real artefacts: ClientHellos a real rustls client sends (plus the
//! network fuzzer's mutations of one), MQTT packets the codec encodes,
//! chains the mock PKI serves, and the shipped scenarios.
//!
//! `cargo run --example fuzz_corpus`

use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use chainstorm::fuzzer::{mqtt, mutate};
use chainstorm::mqtt::{encode, Connect, Packet, Protocol};
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}

/// The first flight of a real rustls client for `sni`.
fn client_hello(sni: &str, alpn: Option<&[u8]>) -> Vec<u8> {
    // Only the first flight is kept, so nothing is ever verified; the
    // accept-any profile keeps this example free of a PKI.
    static PROFILE: std::sync::OnceLock<Arc<chainstorm::trust::TrustProfile>> =
        std::sync::OnceLock::new();
    let profile = PROFILE.get_or_init(|| {
        let pki = PkiBundle::generate(PkiConfig::default()).expect("pki");
        let p =
            chainstorm::trust::TrustProfile::resolve(chainstorm::trust::DANGER_ACCEPT_ANY, &pki);
        Arc::new(p.expect("profile"))
    });
    let cfg = chainstorm::client::ClientOptions {
        alpn: alpn.map(|a| String::from_utf8(a.to_vec()).expect("ALPN is text")),
        ..Default::default()
    }
    .build_for_profile(profile.clone())
    .expect("config");
    let name = rustls_pki_types::ServerName::try_from(sni.to_string()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client");
    let mut out = Vec::new();
    conn.write_tls(&mut out).expect("write");
    out
}

fn main() {
    let ats = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com";
    let legacy = "a1b2c3d4e5f6g7.iot.us-east-1.amazonaws.com";
    write("server_handshake", "rustls-ats", &client_hello(ats, None));
    write(
        "server_handshake",
        "rustls-legacy",
        &client_hello(legacy, None),
    );
    write(
        "server_handshake",
        "rustls-alpn",
        &client_hello(ats, Some(b"x-amzn-mqtt-ca")),
    );
    let base = chainstorm::fuzzer::hello::ClientHello::valid(ats, [7; 32], [9; 32]);
    for op in mutate::Op::ALL {
        let m = mutate::apply(op, &base, &mut ChaCha8Rng::seed_from_u64(1));
        write("server_handshake", &op.name(), &m.bytes);
        // The round-trip target takes arbitrary bytes; mutated hellos are as
        // good a start as any.
        write(
            "clienthello_roundtrip",
            &op.name(),
            &m.bytes[..m.bytes.len().min(2_000)],
        );
    }
    for (i, p) in [Protocol::V311, Protocol::V5].into_iter().enumerate() {
        let mut out = BytesMut::new();
        encode(
            &Packet::Connect(Connect::new(p, "device-1", 30)),
            p,
            &mut out,
        );
        encode(&Packet::PingReq, p, &mut out);
        write("mqtt_decode", &format!("connect-ping-{i}"), &out);
    }
    for op in mqtt::MqttOp::ALL {
        let m = mqtt::apply(op, "device-1", &mut ChaCha8Rng::seed_from_u64(2));
        write(
            "mqtt_decode",
            &op.name(),
            &m.bytes[..m.bytes.len().min(2_000)],
        );
    }
    let pki = PkiBundle::generate(PkiConfig::default()).expect("pki");
    for kind in [
        ChainKind::Legacy,
        ChainKind::AtsRsa,
        ChainKind::AtsRsaCrossSigned,
        ChainKind::AtsEcc,
    ] {
        let mut out = Vec::new();
        for c in pki.chain(kind).certs {
            out.extend_from_slice(&(c.len() as u16).to_be_bytes());
            out.extend_from_slice(&c);
        }
        write(
            "chain_verify",
            &format!("{kind:?}").to_ascii_lowercase(),
            &out,
        );
    }
    for e in std::fs::read_dir("scenarios").expect("scenarios") {
        let p = e.expect("entry").path();
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        write(
            "scenario_parse",
            &name,
            &std::fs::read(&p).expect("scenario"),
        );
    }
    println!("corpora written to fuzz/corpus/");
}
