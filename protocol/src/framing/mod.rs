//! Framings several faces share.
//!
//! - `line_splitter`: newline-delimited rows out of a body however it is chunked.

pub mod line_splitter;
