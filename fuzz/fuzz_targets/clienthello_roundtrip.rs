//! cargo-fuzz target `clienthello_roundtrip`: the body is `chainstorm::fuzzer::targets::clienthello_roundtrip`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chainstorm::fuzzer::targets::clienthello_roundtrip(data);
});
