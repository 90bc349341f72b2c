//! Scalar expressions: compile (bind columns, infer types) and evaluate.
