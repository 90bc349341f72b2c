//! Fuzz target `sql_type`: the invariants are in `sluice_fuzz::checks::sql_type`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/sql_type/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::sql_type(data));
