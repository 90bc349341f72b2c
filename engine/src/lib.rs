//! # sluice-engine
//!
//! The engine owns everything below the wire: the catalog of streams and queries, the
//! ksqlDB SQL dialect, the partitioned durable log, record formats, and query execution.
//! It knows no HTTP. It does know the *record* formats (`JSON` values, `KAFKA` keys),
//! because those are how data is stored in the log, exactly as Kafka would store it.
//!
//! ```text
//!  ingest:  Row values ─► format (key/value bytes) ─► partitioner ─► log::append ─► ack
//!  query:   log::cursor ─► format (decode) ─► exec (filter, project, limit) ─► result rows
//! ```
//!
//! Modules:
//! - [`types`]: SQL types, runtime values, schemas, temporal text forms.
//! - [`sql`]: the ksqlDB dialect: lexer, parser, AST.
//! - [`log`]: the partitioned, durable, group-committed log behind the `LogStore` trait.
//! - [`error`]: the one error enum, classified for the API faces.
//!
//! Non-goals: sockets, HTTP, API payload shapes (those live in `protocol` and `server`).

pub mod catalog;
pub mod clock;
pub mod engine;
pub mod error;
pub mod exec;
pub mod format;
pub mod log;
pub mod sql;
pub mod statements;
pub mod types;

pub use engine::{Engine, EngineConfig};
pub use error::{EngineError, ErrorClass, Result};
