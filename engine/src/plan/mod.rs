//! Planning: binding a query's SQL to its sources and compiling its expressions.
//!
//! - `transient`: push and pull queries.
//! - `persistent`: persistent queries (CSAS, CTAS, INSERT INTO … SELECT) and their sinks.
//! - `table_function`: EXPLODE and CUBE_EXPLODE calls in a SELECT list.

pub mod persistent;
pub mod table_function;
pub mod transient;
