//! Request and response bodies.

pub mod frames_in;
pub mod frames_out;
