//! Fuzz target `kalamdb_live`: the invariants are in `sluice_fuzz::kalamdb_checks::kalamdb_live`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/kalamdb_live/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::kalamdb_checks::kalamdb_live(data));
