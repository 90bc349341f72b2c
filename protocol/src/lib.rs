//! # sluice-protocol
//!
//! Turns bytes into engine types and back for every API face. Does no I/O: the server
//! feeds it request bytes and writes what it returns.
//!
//! ```text
//!  inserts-stream: DATA ─► ingest::line_splitter ─► insert_request (line 1) / rows ─► ingest::ack_encoder
//!  query-stream:   body ─► query::query_request ─► (engine) ─► query::result_encoder ─► DATA
//!  ksql:           body ─► statement::ksql_request ─► (engine) ─► statement::entities
//!  PRINT:          (engine records) ─► query::print_encoder ─► text lines
//!  topics:         body ─► topics::produce_request ─► (engine) ─► topics::produce_response
//! ```
//!
//! Modules:
//! - `media_type`: `Accept` negotiation for the streaming endpoints.
//! - `error_body`: ksqlDB error bodies and the one mapping from engine errors to them.
//! - `ingest`, `query`, `statement`: per-endpoint request decoders and response encoders.
//! - `value_json`: SQL values rendered as JSON the way ksqlDB's query results show them.
//! - `topics`: the raw-record face (Confluent REST Proxy v2 shapes) and its error bodies.
//! - `info`: `/info`, `/healthcheck`, `/status` bodies.
//! - `limits`: request and row size limits.
//!
//! Non-goals: sockets, HTTP framing (the `server` crate), engine semantics.

pub mod error;
pub mod error_body;
pub mod info;
pub mod ingest;
pub mod limits;
pub mod media_type;
pub mod query;
pub mod statement;
pub mod topics;
pub mod value_json;

pub use error::ProtocolError;
