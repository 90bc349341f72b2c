//! Fuzz target `log_reader`: the invariants are in `sluice_fuzz::record_checks::log_reader`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/log_reader/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::record_checks::log_reader(data));
