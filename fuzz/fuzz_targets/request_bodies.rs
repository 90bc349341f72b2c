//! Fuzz target `request_bodies`: the invariants are in `sluice_fuzz::checks::request_bodies`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/request_bodies/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::request_bodies(data));
