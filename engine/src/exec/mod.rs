//! Query execution: expressions, ingest (rows → records) and running queries.
//!
//! - `expr`: compile and evaluate scalar expressions.
//! - `ingest`: build a record (key/value bytes, partition, timestamp) from row values.
//! - `query_plan`: bind a SELECT to its source; header names and types.
//! - `query_stream`: cursor → decode → filter → project → limit.
//! - `print`: PRINT: tail a topic's raw records (INTERVAL, LIMIT).
//! - `raw_records`: produce pre-keyed records and read them back (the REST-proxy face).

pub mod expr;
pub mod ingest;
pub mod print;
pub mod query_plan;
pub mod query_stream;
pub mod raw_records;
