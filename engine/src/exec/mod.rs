//! Query execution: expressions and the push-query pipeline.
pub mod expr;
