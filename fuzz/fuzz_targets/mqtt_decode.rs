//! cargo-fuzz target `mqtt_decode`: the body is `chainstorm::fuzzer::targets::mqtt_decode`,
//! which `cargo test` also runs over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = chainstorm::fuzzer::targets::mqtt_decode(data);
});
