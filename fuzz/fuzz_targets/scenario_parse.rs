//! cargo-fuzz target `scenario_parse`: the body is `chainstorm::fuzzer::targets::scenario_parse`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chainstorm::fuzzer::targets::scenario_parse(data);
});
