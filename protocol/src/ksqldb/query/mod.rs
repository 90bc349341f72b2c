//! Query wire: query_request → (engine) → result_encoder (with protobuf_rows for the
//! PROTOBUF format), or print_encoder for PRINT.

pub mod print_encoder;
pub mod protobuf_rows;
pub mod query_progress;
pub mod query_request;
pub mod result_encoder;
