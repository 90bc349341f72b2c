//! Inserts-stream wire: insert_request (line 1) → (engine) → ack_encoder.

pub mod ack_encoder;
pub mod insert_request;
