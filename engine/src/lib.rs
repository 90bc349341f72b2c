//! # sluice-engine
//!
//! The engine owns everything below the wire: the catalog of streams and queries, the
//! ksqlDB SQL dialect, the partitioned durable log, record formats, and query execution.
//! It knows no HTTP. It does know the *record* formats (`JSON` values; `KAFKA`, `JSON` and
//! `DELIMITED` keys), because those are how data is stored in the log, exactly as Kafka
//! would store it.
//!
//! ```text
//!  faces ─► api (the facade) ─┬─ execute ─► statements ─► plan ─► catalog + command log
//!                             ├─ insert_session ─► ingest (decode, key, partition) ─► log ─► acks
//!                             ├─ start_query ─► plan ─► exec pipeline over log cursors ─► rows
//!                             ├─ change_rows ─► a pull query's rows ─► tombstones | rewritten rows
//!                             │    (headers say which change; a stream with HEADER('sluice.change')
//!                             │     reads the table's topic as its change log, deletes included)
//!                             └─ topics ─► log (raw records)
//!  persistent queries: query::persistent ─► exec pipeline ─► sink log (exactly once, checkpoints)
//!                      stateful steps (GROUP BY) ─► state store, committed with the positions
//!                      (at most once a second while busy; a restart replays the tail)
//! ```
//!
//! Modules, lowest layer first (each uses only those above it in this list):
//! - [`error`], [`limits`], `clock`, `data_dir`, [`types`]: the vocabulary; `metrics`: the
//!   lock-free latency histogram the log and the faces observe into.
//! - `sql`: the ksqlDB dialect: lexer, parser, AST, `Display` back to SQL.
//! - `log`: the partitioned durable log: traits with their contracts (`log::api`), the
//!   embedded backend (`log::embedded`), the Kafka backend with its command topic,
//!   checkpoint topic and query leases (`log::kafka`), the partitioner and the topic-name
//!   rules both backends share.
//! - `state`: state stores behind the `StateStore` trait (redb on disk, a `BTreeMap` for
//!   tests), one per stateful query, and the write-back cache operators use.
//! - `format`: record formats: `KAFKA`/`JSON`/`DELIMITED` keys, `JSON` values, inserted rows.
//! - `expr`: scalar expressions and functions: compile once, evaluate per row.
//! - `catalog`: sources (streams, tables), persistent queries, the command log trait,
//!   command statuses, the registry of running push queries.
//! - `exec`: the operators of a query pipeline (scan, filter, flat map, aggregate with its
//!   functions, windows and state, joins over their state-store tables and window buffers,
//!   limit, sinks).
//! - `plan`: SQL → logical plan → pipeline, one planner for push, pull and persistent.
//! - `query`: running queries: push/pull drivers (a pull aggregate's groups folded), PRINT,
//!   persistent queries and their checkpoints (in the data directory, or in Kafka with
//!   leases saying which node runs which query), the in-memory views of tables read from
//!   their topic, raw records.
//! - `ingest`: rows → records; insert sessions with ordered durable acks.
//! - `runtime`: the shared state (log, catalog, registries) and the backend it runs on.
//! - `statements`: `/ksql` statements: validate all in a sandbox, then apply.
//! - [`api`]: the facade every face and tool uses, re-exported at the crate root;
//!   `api::storage` is the log contract a backend plugs in through.
//!
//! Only the facade, [`error`], [`limits`] and [`types`] are public. With the `internals`
//! feature (stage benchmarks and fuzz targets only) the other modules are public too, so
//! each stage can be measured and fuzzed on its own.
//!
//! Non-goals: sockets, HTTP, API payload shapes (those live in `protocol` and `server`).

/// Declares modules that only the engine uses, public under the `internals` feature.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(dead_code, unused_imports)]
        pub(crate) mod $name;
    )*};
}

pub mod api;
pub mod error;
pub mod limits;
pub mod types;

internal_modules!(
    catalog, clock, data_dir, exec, metrics, expr, format, ingest, log, plan, query, runtime, sql,
    state, statements,
);

pub use api::codec;
pub use api::{
    Engine, EngineConfig, PartitionRange, PrintHandle, QueryHandle, QueryOutput, QueryRequest,
    QueryShape, RowChange, TopicDescription,
};
pub use catalog::{CommandStatus, Source};
pub use error::{EngineError, ErrorClass, ErrorCode, Result, SyntaxCause, SyntaxDetail};
pub use exec::operator::Flow;
pub use exec::result_rows::{CellRef, ResultRows};
pub use exec::scan::{BEFORE_HEADER, CHANGE_HEADER};
pub use ingest::session::{Ack, AckStream, InsertSession};
pub use log::{parse_kafka_setting, KafkaConfig, DEFAULT_SERVICE_ID};
pub use log::{
    FsyncPolicy, LogHealth, Offset, PartitionHealth, PartitionId, PartitionProblem, Record,
    StoredRecord, TopicInfo,
};
pub use plan::transient::{QueryKind, PULL_AGGREGATES, PULL_TABLE_FROM_TOPIC};
pub use query::persistent::QueryProgress;
pub use query::raw_records::{ProduceRecord, Produced};
pub use query::transient::EndReason;
pub use sql::ast::SourceKind;
pub use sql::parse_type;
pub use statements::{
    KsqlError, Outcome, QueryDescription, QuerySummary, QueryType, SourceDetail, StatementResult,
};
