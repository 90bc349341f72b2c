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
//!  shared:      framing::line_splitter (NDJSON rows), value_json (SQL values as JSON)
//! ```
//!
//! Modules:
//! - `ksqldb`: ksqlDB's HTTP API: inserts, queries, statements, PRINT, errors, `Accept`.
//! - `rest_proxy`: the raw-record face in Confluent REST Proxy v2 shapes (`/topics`).
//! - `framing`: row framings several faces share (newline-delimited rows).
//! - `json_body`: JSON request bodies checked as UTF-8 objects before any face decodes them.
//! - `value_json`: SQL values rendered as JSON the way query results show them.
//! - `error`: the one error type (request bytes that do not decode).
//! - `limits`: request and row size limits.
//!
//! DeltaStream, KalamDB, Foundry and Roe each get a folder beside `ksqldb`.
//!
//! Non-goals: sockets, HTTP framing (the `server` crate), engine semantics.

pub mod error;
pub mod framing;
mod json_body;
pub mod ksqldb;
pub mod limits;
pub mod rest_proxy;
pub mod value_json;

pub use error::ProtocolError;
