//! Query execution: expressions, ingest (rows → records) and running queries.
//!
//! - `expr`: compile and evaluate scalar expressions.
//! - `ingest`: build a record (key/value bytes, partition, timestamp) from row values.
//! - `query_plan`: bind a SELECT to its source; header names and types.
//! - `query_stream`: cursor → decode → filter → project → limit.

pub mod expr;
pub mod ingest;
pub mod query_plan;
pub mod query_stream;
