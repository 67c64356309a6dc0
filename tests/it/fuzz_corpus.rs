//! Replays the committed cargo-fuzz seed corpora (`fuzz/corpus/<target>/`)
//! through the same library functions the fuzz targets call, so a corpus
//! entry that once crashed a target stays fixed under plain `cargo test`.

use std::path::Path;

use chainstorm::fuzzer::targets::{self, Stage};

fn corpus(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// A target's name and body.
type Target = (&'static str, fn(&[u8]));

#[test]
fn every_corpus_replays_without_a_panic() {
    let runs: [Target; 6] = [
        ("server_handshake", |d| {
            targets::server_handshake(d);
        }),
        ("mqtt_decode", targets::mqtt_decode),
        ("chain_verify", targets::chain_verify),
        ("scenario_parse", targets::scenario_parse),
        ("clienthello_roundtrip", targets::clienthello_roundtrip),
        ("record_count", targets::record_count),
    ];
    for (name, f) in runs {
        let n = targets::replay_dir(&corpus(name), f).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(n >= 4, "{name}: only {n} corpus files");
    }
}

#[test]
fn real_client_hellos_reach_the_server_flight() {
    // ClientHellos a real rustls client sent: the endpoint-configured server
    // routes them and answers; a hello for an unknown account does not route.
    for f in ["rustls-ats", "rustls-legacy", "rustls-alpn"] {
        let bytes = std::fs::read(corpus("server_handshake").join(f)).unwrap();
        assert_eq!(
            targets::server_handshake(&bytes),
            Stage::ServerFlight,
            "{f}"
        );
    }
    let truncated = std::fs::read(corpus("server_handshake").join("truncate")).unwrap();
    assert_eq!(targets::server_handshake(&truncated), Stage::NoHello);
    let other =
        chainstorm::fuzzer::hello::ClientHello::valid("example.com", [1; 32], [2; 32]).encode();
    assert_eq!(targets::server_handshake(&other), Stage::Unrouted);
}
