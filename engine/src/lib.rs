//! # sluice-engine
//!
//! The engine owns everything below the wire: the catalog of streams and queries, the
//! ksqlDB SQL dialect, the partitioned durable log, record formats, and query execution.
//! It knows no HTTP. It does know the *record* formats (`JSON` values, `KAFKA` keys),
//! because those are how data is stored in the log, exactly as Kafka would store it.
//!
//! ```text
//!  ingest:      row values ─► format (key/value bytes) ─► partitioner ─► log::append ─► ack
//!  push/pull:   log::cursor ─► exec::row_decoder ─► exec::project (WHERE, SELECT) ─► rows
//!  persistent:  log::cursor ─► row_decoder ─► project ─► format ─► sink log::append
//!               (intent / commit journal per query: exactly-once across crashes)
//! ```
//!
//! Modules:
//! - [`engine`]: the `Engine` handle: opens the log, replays the catalog, starts queries.
//! - [`catalog`]: sources (streams, tables) and the registry of running queries.
//! - [`statements`]: `/ksql` statements: validate all in a sandbox, then apply.
//! - [`exec`]: expressions and functions, ingest, query planning and execution,
//!   persistent queries, PRINT and raw records.
//! - [`format`](mod@format): record formats: `KAFKA`/`JSON` keys, `JSON` values, value coercion.
//! - [`sql`]: the ksqlDB dialect: lexer, parser, AST, `Display` back to SQL.
//! - [`log`]: the partitioned, durable, group-committed log behind the `LogStore` trait,
//!   and the journal the catalog and persistent queries use.
//! - [`types`]: SQL types, runtime values, schemas, temporal text forms.
//! - [`clock`]: wall-clock time behind a handle tests can control.
//! - [`data_dir`]: the data directory's layout; client-chosen names → safe file names.
//! - [`error`]: the one error enum, classified for the API faces.
//! - [`limits`]: what one request may ask (identifier length, statements, response size).
//!
//! Non-goals: sockets, HTTP, API payload shapes (those live in `protocol` and `server`).

pub mod catalog;
pub mod clock;
pub mod data_dir;
pub mod engine;
pub mod error;
pub mod exec;
pub mod expr;
pub mod format;
pub mod ingest;
pub mod limits;
pub mod log;
pub mod plan;
pub mod query;
pub mod sql;
pub mod statements;
pub mod types;

pub use engine::{Engine, EngineConfig};
pub use error::{EngineError, ErrorClass, ErrorCode, Result, SyntaxCause, SyntaxDetail};
