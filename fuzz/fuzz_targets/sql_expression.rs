//! Fuzz target `sql_expression`: the invariants are in `sluice_fuzz::checks::sql_expression`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/sql_expression/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::sql_expression(data));
