//! Query execution: expressions and the push-query pipeline.
