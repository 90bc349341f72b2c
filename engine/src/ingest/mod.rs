//! Ingest: inserted rows → records on the right partition.
//!
//! - `inserter`: one row's key bytes, partition, value bytes and timestamp.

pub mod inserter;
