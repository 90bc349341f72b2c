//! The embedded log backend: topics stored in a local data directory.
//!
//! ```text
//!  <dir>/topics/<topic>/topic.meta                  "partitions=N\n" + configs, written durably last
//!  <dir>/topics/<topic>/<partition>/<base>.log       segments: length crc offset timestamp key value headers
//!  <dir>/topics/<topic>/<partition>/<base>.index     sparse offset index (written when sealed)
//!  <dir>/topics/<topic>/<partition>/recovery-point   last position known fsynced
//! ```
//!
//! Modules, in data-path order:
//! - `log_store`: [`EmbeddedLog`] and [`EmbeddedTopic`], the `LogStore`/`TopicLog` over a
//!   data directory (topic metadata, create, delete, open, node partition limit, health).
//! - `partition`: one partition's bounded queue, committed end offset and health.
//! - `pool`: the fixed pool of writer threads every partition's turns run on, and timers.
//! - `writer`: a partition's turn: group commit, segment rolls, undoing a failed write,
//!   retrying after a failure (a full disk).
//! - `retention`: a topic's `retention.ms`: expired segments deleted, oldest first.
//! - `record`: the on-disk record framing with a CRC per record.
//! - `segment`: one segment file plus its sparse offset index; scanning and resyncing past
//!   damage.
//! - `files`: the file-descriptor budget (segment files opened on demand, LRU).
//! - `checkpoint`: the per-partition recovery point.
//! - `recovery`: scanning segments on open: torn tails cut, corruption skipped and reported.
//! - `cursor`: a reader tailing one partition.
//! - `journal`: a small checksummed append-only file for the catalog's commands and
//!   persistent queries' checkpoints.
//! - `fuzzing`: the record and segment readers on fuzzer-made bytes (`internals` only).
//! - `tests`: end-to-end tests (append, group commit, recovery at every cut, restart, delete,
//!   corruption, failing writes, many partitions).
//!
//! A crash mid-append leaves a record-exact prefix of the append (records are written in
//! order and recovery truncates, after the recovery point, at the first record that fails its
//! CRC): the embedded checkpoint store of persistent queries relies on exactly this (see
//! `TopicLog`'s contract).

mod checkpoint;
mod cursor;
mod files;
#[cfg(feature = "internals")]
pub mod fuzzing;
mod journal;
mod log_store;
mod partition;
mod pool;
mod record;
mod recovery;
mod retention;
mod segment;
mod shared;
#[cfg(test)]
mod tests;
mod writer;

pub use checkpoint::{RECOVERY_POINT_SYNC_INTERVAL_MS, RECOVERY_POINT_WRITE_INTERVAL_MS};
pub use files::{default_open_files_max, OPEN_FILES_DEFAULT_MAX, OPEN_FILES_MIN};
pub use journal::{Journal, JOURNAL_ENTRY_BYTES_MAX};
pub use log_store::{
    EmbeddedLog, EmbeddedTopic, PartitionStats,
};
pub use shared::{
    APPEND_QUEUE_BYTES_MAX, APPEND_QUEUE_DEPTH_MAX, APPEND_REQUEST_BYTES_MAX,
    COMMIT_BATCH_BYTES_MAX, COMMIT_BATCH_RECORDS_MAX, DAMAGED_RANGES_MAX,
};
pub use pool::{WRITER_THREADS_DEFAULT, WRITER_THREADS_MAX};
pub use record::RECORD_BYTES_MAX;
pub use retention::RETENTION_CHECK_INTERVAL_MS;
pub use segment::{INDEX_INTERVAL_BYTES, READ_CHUNK_BYTES, SEGMENT_BYTES_LIMIT};
pub use writer::{RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MIN_MS};

use crate::limits::PARTITIONS_PER_NODE_MAX;
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
    /// larger append still gets a segment of its own). At most `SEGMENT_BYTES_LIMIT`.
    pub segment_bytes_max: u64,
    /// Threads that write every partition, in `1..=WRITER_THREADS_MAX`.
    pub writer_threads: usize,
    /// Segment and recovery-point files kept open at most (see `files`).
    pub open_files_max: usize,
    /// Partitions the node serves at most, over all topics: creating a topic past it fails
    /// with `ResourceLimit`.
    pub partitions_max: u32,
    /// How often a partition of a topic with retention looks for expired segments.
    pub retention_check_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            fsync: FsyncPolicy::Always,
            segment_bytes_max: SEGMENT_BYTES_MAX,
            writer_threads: WRITER_THREADS_DEFAULT,
            open_files_max: default_open_files_max(),
            partitions_max: PARTITIONS_PER_NODE_MAX,
            retention_check_interval_ms: RETENTION_CHECK_INTERVAL_MS,
        }
    }
}
