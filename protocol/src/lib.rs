//! # sluice-protocol
//!
//! Turns bytes into engine types and back for every API face. Does no I/O.

pub mod value_json;
