//! Inserts-stream wire: frames_in → line_splitter → insert_request / row → ack_encoder.

pub mod ack_encoder;
pub mod insert_request;
pub mod line_splitter;
