//! The engine's facade: the one small API every face (ksqlDB, REST proxy, DeltaStream,
//! KalamDB, Foundry, Roe) and every tool (bench, conformance, shell) goes through.
//!
//! ```text
//!  execute(statements)        ─► statements (validate in a sandbox, apply, command log)
//!  insert_session(target)     ─► ingest::session (decode, batch, append) ─► ordered acks
//!  start_query(sql)           ─► plan ─► query::transient (push/pull) | query::print
//!  close_query(id)            ─► the running-query registry
//!  change_rows(select, change) ─► a pull query's rows ─► tombstones | rewritten rows (faces' UPDATE/DELETE)
//!  topics: list/create/produce/read/delete ─► the log (REST-proxy face)
//!  describe: command statuses, query progress, health
//!  metrics: fsync latency, persistent queries' counters and lag, state store size
//!  storage: the log contract a backend plugs in through (embedded, Kafka)
//! ```
//!
//! Batching, partition grouping, append tickets, query limits and PRINT detection live
//! behind it, so a new face is a wire format and an error mapping, never an ingest or
//! query loop of its own.

pub mod codec;
mod engine;
pub mod metrics;
mod queries;
mod row_changes;
pub mod storage;
mod topics;

pub use engine::{Engine, EngineConfig};
pub use queries::{PrintHandle, QueryHandle, QueryOutput, QueryRequest, QueryShape};
pub use row_changes::RowChange;
pub use topics::{PartitionRange, TopicDescription};
