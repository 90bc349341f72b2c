//! KalamDB's HTTP API (`/v1/api/sql`, `/health`, other-faces.md §C), as its 0.4/0.5 line
//! (the one the `kalam-client` crate speaks) puts it on the wire.
//!
//! ```text
//!  body ─► sql_request (sql, $n params bound as literals) ─► dialect (namespaces, DDL)
//!       ─► (engine via the server's statement runner) ─► envelope (results | error, took)
//! ```
//!
//! - `sql_request`: `{"sql", "params"?, "namespace_id"?}` and `$n` parameter binding.
//! - `dialect`: KalamDB's spellings (namespaces, `CREATE … TABLE`, `TEXT`) mapped onto the
//!   ksqlDB dialect the engine runs.
//! - `column_defaults`: column `DEFAULT`s, kept by the face and added to `INSERT`s.
//! - `dml`: `UPDATE` and `DELETE` as the pull query whose rows they change.
//! - `order_by`: `ORDER BY` and `OFFSET` in SELECTs, split off for the face to apply.
//! - `sql_tokens`: the SQL tokens `dialect` and `column_defaults` rewrite statements with.
//! - `envelope`: the success and error envelopes, `data_type` names, error codes.
//! - `files`: FILE columns: the cell an upload becomes, `FILE('name')` placeholders, the
//!   download path's parts and the upload limits.
//! - `auth_body`: setup/login requests, login/refresh/me responses, auth-route errors.
//! - `live`: live queries over `/v1/ws`: client messages, the live `SELECT` shape, `_seq`,
//!   and the server's frames (auth, ack, initial batches, changes, errors).
//! - `wire`: the serialization and compression a `/v1/ws` client negotiated (JSON or
//!   MessagePack, gzip for large frames), frame encoding and MessagePack client messages.
//! - `topic_statement`: the topic statements (`CREATE/DROP/CLEAR/ALTER TOPIC`, `CONSUME`,
//!   `ACK`) parsed for the face to run.
//! - `topics`: the consume/ack bodies, the topic error envelope, and the persistent query a
//!   route becomes.
//! - `user_statement`: `CREATE/ALTER/DROP USER`, parsed for the face to run on its users.
//! - `shared_access`: SHARED tables' access levels, and which SHARED tables a statement
//!   reads and writes.
//! - `user_scope`: USER tables: the hidden owner column, and each statement scoped to the
//!   signed-in user's rows (or refused when it cannot be).

pub mod auth_body;
pub mod column_defaults;
pub mod dialect;
pub mod dml;
pub mod envelope;
pub mod files;
pub mod live;
pub mod order_by;
pub mod shared_access;
pub mod sql_request;
pub mod sql_tokens;
pub mod topic_statement;
pub mod topics;
pub mod user_scope;
pub mod user_statement;
pub mod wire;
