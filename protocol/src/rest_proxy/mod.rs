//! The raw-record face: Confluent REST Proxy v2 shapes for producing pre-keyed records and
//! reading topics back (`/topics…`). Decoders and encoders only; the server does the I/O.
//!
//! ```text
//!  POST /topics/{t}:  body ─► produce_request (binary | json embedded format) ─► (engine) ─► produce_response
//!  GET  /topics…:     (engine) ─► topic_metadata | records_response
//!  errors:            rest_error (the one mapping to `{"error_code","message"}` bodies)
//! ```

pub mod produce_request;
pub mod produce_response;
pub mod records_response;
pub mod rest_error;
pub mod topic_metadata;

/// Content type of every `/topics…` response, as REST Proxy v2 answers.
pub const REST_V2_JSON: &str = "application/vnd.kafka.v2+json";

/// Most records returned by one `GET …/records` request. A bound on one response's memory
/// (records are up to 8 MiB each in the log, but usually small); clients page with
/// `nextOffset`.
pub const READ_RECORDS_MAX: usize = 10_000;

/// Records returned when `limit` is not given.
pub const READ_RECORDS_DEFAULT: usize = 1_000;

/// Largest `POST /topics/{t}` body. Base64 inflates by 4/3, so this admits a full 16 MiB
/// append request (the log's `APPEND_REQUEST_BYTES_MAX`) plus JSON framing.
pub const PRODUCE_BODY_BYTES_MAX: usize = 24 * 1024 * 1024;
