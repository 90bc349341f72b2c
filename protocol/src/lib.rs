//! # sluice-protocol
//!
//! Turns bytes into engine types and back for every API face. Does no I/O: the server
//! feeds it request bytes and writes what it returns. One folder per face, each with its
//! request decoders, response encoders and the one mapping from engine errors to its
//! error bodies.
//!
//! ```text
//!  ksqlDB:      body ─► ksqldb::{ingest,query,statement} request ─► (engine) ─► encoders ─► body
//!  REST proxy:  body ─► rest_proxy::produce_request ─► (engine) ─► produce_response / records
//!  DeltaStream: body ─► deltastream::statement_request ─► dialect ─► (engine) ─► result_set
//!  KalamDB:     body ─► kalamdb::sql_request ($n bound) ─► dialect ─► (engine) ─► envelope
//!               consume/ack body ─► kalamdb::topics ─► (server: groups, engine) ─► topics bodies
//!  shared:      framing::line_splitter (NDJSON rows), value_json (SQL values as JSON)
//! ```
//!
//! Modules:
//! - `ksqldb`: ksqlDB's HTTP API: inserts, queries, statements, PRINT, errors, `Accept`.
//! - `rest_proxy`: the raw-record face in Confluent REST Proxy v2 shapes (`/topics`).
//! - `deltastream`: DeltaStream's REST API v2 (`/v2/statements`, polling, paging, the
//!   function/descriptor sources `/v2/download` serves).
//! - `roe`: Roe AI's database query tasks (`/v1/database/query/…`, `/v1/tables/query/…`).
//! - `foundry`: Foundry's query functions over `streamingExecute` (SSE, Conjure errors).
//! - `kalamdb`: KalamDB's SQL API (`/v1/api/sql`, `$n` parameters, namespaces, envelopes)
//!   and its topics (topic statements, consume/ack bodies, route SQL).
//! - `statement_table`: a statement's outcome as a plain table (DeltaStream, Roe).
//! - `framing`: framings several faces share (newline-delimited rows, multipart forms).
//! - `json_body`: JSON request bodies checked as UTF-8 objects before any face decodes them.
//! - `value_json`: SQL values rendered as JSON the way query results show them.
//! - `statement_split`: where statements end (a `;` outside quotes and comments).
//! - `error`: the one error type (request bytes that do not decode).
//! - `limits`: request and row size limits.
//!
//!
//! Non-goals: sockets, HTTP framing (the `server` crate), engine semantics.

pub mod deltastream;
pub mod error;
pub mod foundry;
pub mod framing;
mod json_body;
pub mod kalamdb;
pub mod ksqldb;
pub mod limits;
pub mod rest_proxy;
pub mod roe;
pub mod statement_split;
pub mod statement_table;
pub mod value_json;

pub use error::ProtocolError;
