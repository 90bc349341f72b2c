//! Fuzz targets for Sluice's decoders (see `README.md`). The targets in `fuzz_targets/` are
//! one line each; what they check lives in [`checks`], so that a normal `cargo test`
//! (`tests/fuzz_regressions.rs`) replays kept crash inputs through the same code.

pub mod checks;
