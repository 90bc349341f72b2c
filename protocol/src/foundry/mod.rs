//! Foundry's Functions API (other-faces.md §B): query functions (named, versioned, typed
//! parameters), their metadata, the SSE event union, execution answers and Conjure errors.
//!
//! ```text
//!  body ─► events::StreamingExecuteRequest ─► functions::FunctionRegistry (lookup, bind)
//!     ─► (engine) ─► events::rows_event per batch … ─► [events error event]
//!                  ─► events::execute_response / execution_result / ExecutionAnswer
//!  (engine's result columns) ─► metadata::query_json (GET queries/{name}, getByRid…)
//! ```
//!
//! - `functions`: the registry of query functions loaded from a file, parameter binding,
//!   rids.
//! - `events`: the requests, `data:` events (rows as objects), `execute` and async
//!   execution answers, Conjure errors.
//! - `metadata`: `functions.Query` (parameters, output type) and `getByRidBatch` bodies.

pub mod events;
pub mod functions;
pub mod metadata;
