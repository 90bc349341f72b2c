//! Fuzz target `key_formats`: the invariants are in `sluice_fuzz::record_checks::key_formats`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/key_formats/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::record_checks::key_formats(data));
