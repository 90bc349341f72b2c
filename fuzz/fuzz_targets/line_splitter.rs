//! Fuzz target `line_splitter`: the invariants are in `sluice_fuzz::checks::line_splitter`, which
//! `tests/fuzz_regressions.rs` also runs on every input kept in `fuzz/regressions/line_splitter/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::checks::line_splitter(data));
