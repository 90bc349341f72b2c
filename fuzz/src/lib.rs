//! Fuzz targets for Sluice's decoders (see `README.md`). The targets in `fuzz_targets/` are
//! one line each; what they check lives in [`checks`] (SQL text and request bodies) and
//! [`record_checks`] (rows, keys and log records) and [`kalamdb_checks`] (KalamDB's topic
//! statements and consume/ack bodies), so that a normal `cargo test`
//! (`tests/fuzz_regressions.rs`) replays kept crash inputs through the same code.

pub mod checks;
pub mod kalamdb_checks;
pub mod record_checks;
