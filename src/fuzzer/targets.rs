//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs` call these
//! and nothing else), so `cargo test` can replay the committed corpora
//! through exactly the code the fuzzer runs. Each returns normally on any
//! input; a panic is the bug the fuzzer is looking for.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::hello::{ClientHello, Extension};
use crate::endpoint::routing::{choose_chain, route, Offer};
use crate::endpoint::{EndpointConfig, KeyPreference, ListenerMode, TlsConfigs};
use crate::mqtt::{decode, encode, Packet, Protocol, DEFAULT_MAX_REMAINING};
use crate::pki::{PkiBundle, PkiConfig};
use crate::trust::{ChainVerifier, TrustProfile};

/// One mock PKI per process: RSA key generation is the slow part.
fn pki() -> &'static PkiBundle {
    static PKI: OnceLock<PkiBundle> = OnceLock::new();
    PKI.get_or_init(|| PkiBundle::generate(PkiConfig::default()).expect("mock PKI generates"))
}

fn server_configs() -> &'static TlsConfigs {
    static TLS: OnceLock<TlsConfigs> = OnceLock::new();
    TLS.get_or_init(|| {
        TlsConfigs::build(
            &EndpointConfig::mqtt("127.0.0.1:0".parse().expect("addr")),
            pki(),
        )
        .expect("server configs")
    })
}

/// How far `server_handshake` got with an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// No complete ClientHello, or rustls rejected it.
    NoHello,
    /// The SNI routes nowhere (the endpoint sends unrecognised_name).
    Unrouted,
    /// rustls refused the ClientHello with this configuration.
    Refused,
    /// The server wrote its first flight and the input ended or failed later.
    ServerFlight,
}

/// `server_handshake`: bytes from a client into a rustls server configured
/// like the mock endpoint (same SNI routing and chain choice), then, if the
/// handshake could complete, the rest through the MQTT decoder.
pub fn server_handshake(data: &[u8]) -> Stage {
    let mut input = data;
    let mut acceptor = rustls::server::Acceptor::default();
    let accepted = loop {
        match acceptor.read_tls(&mut input) {
            Ok(0) | Err(_) => return Stage::NoHello,
            Ok(_) => {}
        }
        match acceptor.accept() {
            Ok(Some(a)) => break a,
            Ok(None) => continue,
            Err(_) => return Stage::NoHello,
        }
    };
    let hello = accepted.client_hello();
    let Ok(r) = route(hello.server_name(), None, true, "us-east-1") else {
        return Stage::Unrouted;
    };
    let kind = choose_chain(
        &r,
        &Offer {
            schemes: hello.signature_schemes(),
            suites: hello.cipher_suites(),
            tls13_allowed: true,
        },
        KeyPreference::default(),
        None,
    );
    let Some(config) = server_configs().get(kind, ListenerMode::Mqtt) else {
        return Stage::Refused;
    };
    let Ok(mut conn) = accepted.into_connection(config) else {
        return Stage::Refused;
    };
    let mut sink = Vec::new();
    let mut plain = Vec::new();
    loop {
        while conn.wants_write() {
            if conn.write_tls(&mut sink).is_err() {
                return Stage::Refused;
            }
        }
        match conn.read_tls(&mut input) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if conn.process_new_packets().is_err() {
            let _ = conn.write_tls(&mut sink);
            return Stage::ServerFlight;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            plain.extend_from_slice(&buf[..n]);
        }
    }
    mqtt_decode(&plain);
    // A ServerHello record starts with handshake type 22.
    if sink.first() == Some(&0x16) {
        Stage::ServerFlight
    } else {
        Stage::Refused
    }
}

/// `mqtt_decode`: the decoder on arbitrary bytes, both protocol versions;
/// whatever decodes must re-encode to bytes that decode to the same packet.
pub fn mqtt_decode(data: &[u8]) {
    for protocol in [Protocol::V311, Protocol::V5] {
        let mut rest = data;
        while let Ok(Some(d)) = decode(rest, protocol, DEFAULT_MAX_REMAINING) {
            let mut out = BytesMut::new();
            encode(&d.packet, protocol, &mut out);
            // CONNECT carries its own level; decode it in the version it names.
            let p2 = match &d.packet {
                Packet::Connect(c) => Protocol::from_level(c.level).unwrap_or(protocol),
                _ => protocol,
            };
            match decode(&out, p2, u32::MAX) {
                Ok(Some(again)) => {
                    assert_eq!(again.packet, d.packet, "re-encode changed the packet")
                }
                other => panic!(
                    "re-encoded {:?} does not decode: {other:?}",
                    d.packet.name()
                ),
            }
            rest = &rest[d.len.max(1).min(rest.len())..];
        }
    }
}

/// `record_count`: the transport's TLS record counter on arbitrary bytes
/// (what a peer sends), split at the points the first byte chooses: the
/// count never depends on the split and never exceeds one record per
/// five bytes.
pub fn record_count(data: &[u8]) {
    use crate::transport::RecordCounter;
    let Some((&step, bytes)) = data.split_first() else {
        return;
    };
    let mut whole = RecordCounter::default();
    whole.feed(bytes);
    let mut split = RecordCounter::default();
    for part in bytes.chunks(usize::from(step).max(1)) {
        split.feed(part);
    }
    assert_eq!(whole, split, "the split changed the count");
    assert!(whole.records as usize <= bytes.len() / 5 + 1);
}

/// `chain_verify`: arbitrary DER certificates (u16 length-prefixed) as a
/// served chain, through the timed verifier with the JDK and browser
/// distrust policies and plain trust stores.
pub fn chain_verify(data: &[u8]) {
    static PROFILES: OnceLock<Vec<ChainVerifier>> = OnceLock::new();
    let verifiers = PROFILES.get_or_init(|| {
        [
            "jdk-8u212",
            "chrome-70",
            "firefox-64",
            "dual",
            "ats-rsa-only",
        ]
        .iter()
        .map(|n| {
            ChainVerifier::new(Arc::new(
                TrustProfile::resolve(n, pki()).expect("builtin profile"),
            ))
        })
        .collect()
    });
    let mut certs = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && certs.len() < 6 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        certs.push(CertificateDer::from(rest[2..2 + n].to_vec()));
        rest = &rest[2 + n..];
    }
    let Some((leaf, intermediates)) = certs.split_first() else {
        return;
    };
    let name =
        ServerName::try_from("a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com").expect("name");
    for v in verifiers {
        let _ = v.verify(leaf, intermediates, &name, UnixTime::now());
    }
}

/// `scenario_parse`: arbitrary text through the scenario loader, then, for
/// a scenario that loads, plan building (bounded to 100,000 devices so a
/// run of the target stays fast). An error must name `fuzz.toml:line:col`
/// inside the text; loading and planning must never panic.
pub fn scenario_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::scenario::parse(Path::new("fuzz.toml"), &text) {
        Err(e) => {
            let e = e.to_string();
            let rest = e
                .strip_prefix("fuzz.toml:")
                .expect("every error names the file");
            let line: usize = rest
                .split(':')
                .next()
                .and_then(|l| l.parse().ok())
                .expect("and a line");
            assert!(line >= 1 && line <= text.lines().count() + 1, "{e}");
        }
        Ok(s) => {
            let devices = s.total_devices();
            if devices <= 100_000 {
                let plan = crate::scenario::Plan::build(&s);
                assert!(plan.devices.len() as u64 <= devices);
            }
        }
    }
}

/// `clienthello_roundtrip`: an `arbitrary`-built ClientHello encodes and
/// parses back to itself, at an arbitrary record fragment size.
pub fn clienthello_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(h) = arbitrary_hello(&mut u) else {
        return;
    };
    let frag = usize::from(u16::arbitrary(&mut u).unwrap_or(16_384)).max(1);
    let parsed = ClientHello::parse(&h.records(frag)).expect("a model ClientHello parses");
    assert_eq!(parsed, h);
}

fn arbitrary_hello(u: &mut Unstructured<'_>) -> arbitrary::Result<ClientHello> {
    let session_id: Vec<u8> = u
        .arbitrary_iter::<u8>()?
        .take(32)
        .collect::<Result<_, _>>()?;
    let cipher_suites: Vec<u16> = u
        .arbitrary_iter::<u16>()?
        .take(500)
        .collect::<Result<_, _>>()?;
    let compression: Vec<u8> = u
        .arbitrary_iter::<u8>()?
        .take(255)
        .collect::<Result<_, _>>()?;
    let mut extensions = Vec::new();
    let mut total = 0;
    for _ in 0..u.int_in_range(0..=20)? {
        let typ = u16::arbitrary(u)?;
        let len = u.int_in_range(0..=600)?;
        let data = u.bytes(len)?.to_vec();
        total += data.len() + 4;
        if total > 60_000 {
            break;
        }
        extensions.push(Extension { typ, data });
    }
    Ok(ClientHello {
        record_version: u16::arbitrary(u)?,
        legacy_version: u16::arbitrary(u)?,
        random: <[u8; 32]>::arbitrary(u)?,
        session_id,
        cipher_suites,
        compression,
        extensions,
    })
}

/// Runs every file of `dir` through `target` (the corpus replay of `cargo test`).
pub fn replay_dir(dir: &Path, target: fn(&[u8])) -> std::io::Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_file() {
            target(&std::fs::read(&p)?);
            n += 1;
        }
    }
    Ok(n)
}
