//! cargo-fuzz target `chain_verify`: the body is `chainstorm::fuzzer::targets::chain_verify`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chainstorm::fuzzer::targets::chain_verify(data);
});
