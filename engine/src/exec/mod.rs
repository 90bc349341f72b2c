//! Query execution: the physical pipeline a planned query runs as.
//!
//! ```text
//!  StoredRecord ─► scan ─► filter ─► flat_map ─► limit ─► result_sink ─► ResultRows
//!                                                     └─► record_sink ─► sink Records
//! ```
//!
//! - `operator`: the `Operator` and `Terminal` traits and the `Row` that flows between them.
//! - `pipeline`: scan → operators → terminal, one record at a time.
//! - `scan` (with `row_decoder`): stored record → row (columns, then pseudo columns).
//! - `aggregate`: GROUP BY, aggregate functions and HAVING, with state in the state store.
//! - `join`: stream-table, table-table (primary and foreign key) and windowed stream-stream
//!   joins, with their state in the state store.
//! - `filter`: WHERE.
//! - `flat_map`: table functions (one row → 0..n rows).
//! - `limit`: LIMIT.
//! - `project`: how an output column is computed, with ksqlDB's NULL-on-error rule.
//! - `result_sink`: terminal of push and pull queries → `result_rows`.
//! - `record_sink`: terminal of persistent queries → sink records per partition.
//!
//! Aggregate, window and join are operators too: each a file here and a line in
//! `plan::physical`, with its state behind the state store.

pub mod aggregate;
pub(crate) mod filter;
pub(crate) mod flat_map;
pub mod join;
pub(crate) mod limit;
pub(crate) mod operator;
pub(crate) mod pipeline;
pub(crate) mod project;
pub(crate) mod record_sink;
pub mod result_rows;
pub(crate) mod result_sink;
pub(crate) mod row_decoder;
pub(crate) mod scan;
