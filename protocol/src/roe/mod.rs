//! Roe AI's database query API (`/v1/database/query/…` and `/v1/tables/query/…`,
//! other-faces.md §D): the request,
//! the per-statement result objects with ClickHouse-style summaries and type names, the
//! async worksheet-query, status and result bodies, and `{"detail": …}` errors.
//!
//! ```text
//!  body ─► query_request ─► (engine via the server's task registry) ─► results (per statement)
//! ```
//!
//! - `query_request`: `{"query", "worksheet_id"?, "use_admin"?, "organization_id"?}`.
//! - `results`: statement results, worksheet query, status and result bodies, errors.
//! - `table_query`: the `/v1/tables/query/` variant (the current SDK's): request, 202 and
//!   result bodies.

pub mod query_request;
pub mod results;
pub mod table_query;
