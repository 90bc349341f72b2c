//! DeltaStream's REST API v2 (`/v2/statements`, `/v2/statements/{id}`, `/v2/version`):
//! request decoding, its SQL spellings, its result and error bodies, its SQLSTATE codes.
//!
//! ```text
//!  body (JSON | multipart `request`) ─► statement_request ─► statement_split ─► dialect
//!     ─► (engine via the server's task registry) ─► cells (strings) ─► result_set (200/202)
//! ```
//!
//! - `statement_request`: `StatementRequest`, from JSON or a form's `request` part, and
//!   its `attachments` parts.
//! - `dialect`: DeltaStream's `LIST`/`USE`/`TERMINATE QUERY`/`CHANGELOG`/WITH keys → ksqlDB;
//!   `CREATE|DROP FUNCTION_SOURCE|DESCRIPTOR_SOURCE` (kept files, no engine statement).
//! - `cells`: column type names and every cell as a string or null.
//! - `result_set`: `ResultSet`, `StatementStatus`, `{message, traceID}`, `Version`.
//! - `sql_state`: the SQLSTATE codes and the one mapping from engine errors.

pub mod cells;
pub mod dialect;
pub mod result_set;
pub mod sql_state;
pub mod statement_request;
