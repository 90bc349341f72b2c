//! Fuzz target `sql_variables`: the invariants are in `sluice_fuzz::checks::sql_variables`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/sql_variables/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::sql_variables(data));
