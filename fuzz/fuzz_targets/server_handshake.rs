//! cargo-fuzz target `server_handshake`: the body is `chainstorm::fuzzer::targets::server_handshake`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chainstorm::fuzzer::targets::server_handshake(data);
});
