//! GROUP BY: the aggregate operator and ksqlDB's aggregate functions.
//!
//! - `udaf`: the built-in aggregate functions (init, add, undo, result).
//! - `value_codec`: values ↔ bytes for the state store.
//! - `operator`: the operator: group keys, accumulators in the state store, table undo,
//!   HAVING.
//! - `window`: window definitions (tumbling, hopping, session), grace and retention.
//! - `windowed`: the windowed aggregate operator: windows per key in the state store,
//!   stream time, late records, session merges, EMIT CHANGES and EMIT FINAL.

pub mod operator;
pub mod udaf;
pub(crate) mod value_codec;
pub mod window;
pub(crate) mod windowed;

pub use operator::{AggregateCall, AggregateSpec};
pub use udaf::{is_aggregate, Udaf, UdafConfig};
pub use window::{EmitMode, WindowSpec};
