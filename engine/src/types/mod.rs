//! The engine's data vocabulary: SQL types, runtime values, schemas.

pub mod schema;
pub mod sql_type;
pub mod temporal;
pub mod value;

pub use schema::{Column, ColumnKind, Schema};
pub use sql_type::{SqlType, StructField};
pub use value::{Decimal, Value};
