//! Query execution: expressions, ingest (rows → records) and running queries.
//!
//! - `expr`: compile and evaluate scalar expressions.
//! - `ingest`: build a record (key/value bytes, partition, timestamp) from row values.
//! - `query_plan`: bind a SELECT to its source; header names and types.
//! - `query_stream`: cursor → decode → filter → project → limit.
//! - `print`: PRINT: tail a topic's raw records (INTERVAL, LIMIT).
//! - `raw_records`: produce pre-keyed records and read them back (the REST-proxy face).
//! - `result_rows`: a flat batch of result rows (values, or stored JSON text copied as is).
//! - `shared_batches`: result batches identical push queries share (read and decode once).
//! - `row_decoder`: record key/value bytes → the row expressions see.
//! - `timestamp_extractor`: ROWTIME from a `TIMESTAMP=` column (sources and sinks).
//! - `project`: WHERE, table functions and SELECT over one row (shared by push and
//!   persistent queries).
//! - `table_function`: EXPLODE and CUBE_EXPLODE: planning the calls and the flat map.
//! - `persistent`: persistent queries (CSAS, CTAS, INSERT INTO … SELECT): plan, sink, runner.

pub mod expr;
pub mod ingest;
pub mod persistent;
pub mod print;
pub(crate) mod project;
pub mod query_plan;
pub mod query_stream;
pub mod raw_records;
pub mod result_rows;
pub(crate) mod row_decoder;
pub mod shared_batches;
pub mod table_function;
pub(crate) mod timestamp_extractor;
