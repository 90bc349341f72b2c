//! Query execution: the operators a planned query runs through.
//!
//! - `row_decoder`: record key/value bytes → the row expressions see.
//! - `project`: WHERE, table functions and SELECT over one row.
//! - `result_rows`: a flat batch of result rows (values, or stored JSON text copied as is).

pub(crate) mod project;
pub mod result_rows;
pub(crate) mod row_decoder;
