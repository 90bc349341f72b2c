//! The embedded log backend: topics stored in a local data directory.
//!
//! ```text
//!  <dir>/topics/<topic>/topic.meta              "partitions=N\n", written durably last
//!  <dir>/topics/<topic>/<partition>/<base>.log   segments: length crc offset timestamp key value headers
//!  <dir>/topics/<topic>/<partition>/<base>.index sparse offset index
//! ```
//!
//! Modules, in data-path order:
//! - `log_store`: [`EmbeddedLog`] and [`EmbeddedTopic`], the `LogStore`/`TopicLog` over a
//!   data directory (topic metadata, create, delete, open).
//! - `partition`: one partition's writer thread (group commit) and committed end offset.
//! - `record`: the on-disk record framing with a CRC per record.
//! - `segment`: one segment file plus its sparse offset index.
//! - `recovery`: scanning segments on open, truncating a torn tail.
//! - `cursor`: a reader tailing one partition.
//! - `journal`: a small checksummed append-only file for the catalog's commands and
//!   persistent queries' checkpoints.
//! - `tests`: end-to-end tests (append, group commit, recovery at every cut, restart, delete).
//!
//! A crash mid-append leaves a record-exact prefix of the append (records are written in
//! order and recovery truncates at the first record that fails its CRC): the embedded
//! checkpoint store of persistent queries relies on exactly this (see `TopicLog`'s contract).

mod cursor;
mod journal;
mod log_store;
mod partition;
mod record;
mod recovery;
mod segment;
#[cfg(test)]
mod tests;

pub use journal::{Journal, JOURNAL_ENTRY_BYTES_MAX};
pub use log_store::{
    validate_topic_name, EmbeddedLog, EmbeddedTopic, PartitionStats, TOPIC_NAME_CHARS_MAX,
};
pub use partition::{
    APPEND_QUEUE_BYTES_MAX, APPEND_QUEUE_DEPTH_MAX, APPEND_REQUEST_BYTES_MAX,
    COMMIT_BATCH_BYTES_MAX, COMMIT_BATCH_RECORDS_MAX,
};
pub use record::RECORD_BYTES_MAX;
pub use segment::{INDEX_INTERVAL_BYTES, READ_CHUNK_BYTES, SEGMENT_BYTES_LIMIT};

use crate::log::FsyncPolicy;

/// Default size at which a partition rolls to a new segment file, in bytes.
///
/// Kafka's `log.segment.bytes` default (1 GiB): few files per partition, and recovery (which
/// scans the last segment) reads at most this much per partition.
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// How the embedded log stores data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub fsync: FsyncPolicy,
    /// Roll to a new segment once the active one would exceed this many bytes (a single
    /// larger record still gets a segment of its own). At most [`SEGMENT_BYTES_LIMIT`].
    pub segment_bytes_max: u64,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            fsync: FsyncPolicy::Always,
            segment_bytes_max: SEGMENT_BYTES_MAX,
        }
    }
}
