//! Fuzz target `kalamdb_topics`: the invariants are in `sluice_fuzz::kalamdb_checks`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/corpus/kalamdb_topics/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::kalamdb_checks::kalamdb_topics(data));
