//! GROUP BY: the aggregate operator and ksqlDB's aggregate functions.
//!
//! - `udaf`: the built-in aggregate functions (init, add, undo, result).
//! - `value_codec`: values ↔ bytes for the state store.
//! - `operator`: the operator: group keys, accumulators in the state store, table undo,
//!   HAVING.

pub mod operator;
pub mod udaf;
pub(crate) mod value_codec;

pub use operator::{AggregateCall, AggregateSpec};
pub use udaf::{is_aggregate, Udaf, UdafConfig};
