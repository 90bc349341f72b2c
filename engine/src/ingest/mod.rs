//! Ingest: inserted rows → records on the right partition, appended and acked in order.
//!
//! - `inserter`: one row's key bytes, partition, value bytes and timestamp.
//! - `session`: a producer's stream of rows: batching per partition, appends, ordered acks.

pub mod inserter;
pub mod session;

#[cfg(test)]
mod session_tests;
