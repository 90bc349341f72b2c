//! Fuzz target `row_decoder`: the invariants are in `sluice_fuzz::record_checks::row_decoder`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/row_decoder/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::record_checks::row_decoder(data));
