//! Query wire: query_request → (engine) → result_encoder, or print_encoder for PRINT.

pub mod print_encoder;
pub mod query_progress;
pub mod query_request;
pub mod result_encoder;
