//! Framings several faces share.
//!
//! - `line_splitter`: newline-delimited rows out of a body however it is chunked.
//! - `multipart`: the parts of a `multipart/form-data` body (DeltaStream, KalamDB).

pub mod line_splitter;
pub mod multipart;
