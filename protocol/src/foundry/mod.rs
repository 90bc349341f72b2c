//! Foundry's Functions API `streamingExecute` (other-faces.md §B): query functions
//! (named, versioned, typed parameters) and their SSE event union and Conjure errors.
//!
//! ```text
//!  body ─► events::StreamingExecuteRequest ─► functions::FunctionRegistry (lookup, bind)
//!     ─► (engine) ─► events::rows_event per batch … ─► [events error event]
//! ```
//!
//! - `functions`: the registry of query functions loaded from a file, parameter binding.
//! - `events`: the request, `data:` events (rows as objects), Conjure errors.

pub mod events;
pub mod functions;
