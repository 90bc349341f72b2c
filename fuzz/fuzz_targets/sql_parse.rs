//! Fuzz target `sql_parse`: the invariants are in `sluice_fuzz::checks::sql_parse`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/sql_parse/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::sql_parse(data));
