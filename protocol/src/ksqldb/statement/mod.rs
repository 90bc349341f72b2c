//! `/ksql` wire: ksql_request → (engine) → entities.

pub mod entities;
pub mod ksql_request;
