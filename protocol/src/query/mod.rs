//! Query wire: query_request → (engine) → result_encoder.

pub mod query_progress;
pub mod query_request;
pub mod result_encoder;
