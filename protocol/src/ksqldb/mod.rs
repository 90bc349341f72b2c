//! The ksqlDB face: ksqlDB's HTTP API, byte for byte (ksqldb-api.md).
//!
//! ```text
//!  /inserts-stream: line 1 ─► ingest::insert_request; rows ─► (engine) ─► ingest::ack_encoder
//!  /query-stream, /query: query::query_request ─► (engine) ─► query::result_encoder | print_encoder
//!  /ksql: statement::ksql_request ─► (engine) ─► statement::entities
//!  errors: errors (the one mapping from engine error codes to ksqlDB error bodies)
//! ```
//!
//! - `errors`: ksqlDB's error bodies and the one exhaustive mapping from engine codes.
//! - `media_type`: `Accept` negotiation for the streaming endpoints.
//! - `ingest`, `query`, `statement`: per-endpoint request decoders and response encoders.
//! - `info`: `/info`, `/healthcheck`, `/status` bodies.

pub mod errors;
pub mod info;
pub mod ingest;
pub mod media_type;
pub mod query;
pub mod statement;
