//! Running queries: transient (push and pull) queries, PRINT, persistent queries, raw
//! records of the REST-proxy face.
//!
//! - `transient`: cursor → decode → filter → project → limit, in batches for a response.
//! - `group_fold`: a pull query over an aggregate: the last row of each group.
//! - `materialized`: a table's current rows (its store, or its view) for pull queries.
//! - `table_view`: tables read from their topic, kept as the latest row per key and caught
//!   up by each pull query.
//! - `shared_batches`: result batches identical push queries share (read and decode once).
//! - `shared_decode`: decoded records push queries with different plans on one source
//!   share (decode once, filter and project per query).
//! - `print`: PRINT: tail a topic's raw records (INTERVAL, LIMIT).
//! - `persistent`: persistent queries: registry, runner, checkpoints.
//! - `raw_records`: produce pre-keyed records and read them back.

pub(crate) mod group_fold;
pub(crate) mod materialized;
pub mod persistent;
pub mod print;
pub mod raw_records;
pub mod shared_batches;
pub mod shared_decode;
pub(crate) mod table_view;
pub mod transient;
