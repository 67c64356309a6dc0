//! cargo-fuzz target `record_count`: the body is `chainstorm::fuzzer::targets::record_count`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    chainstorm::fuzzer::targets::record_count(data);
});
