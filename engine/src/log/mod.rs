//! The partitioned, durable log: Kafka's data model stored in local segment files.
//!
//! ```text
//!  append(partition, records) ──► bounded queue ──► partition writer thread
//!                                                   │ write batch to active segment
//!                                                   │ one fsync for the whole batch (group commit)
//!                                                   │ publish committed end offset + wake readers
//!                                                   ▼
//!  AppendTicket resolves (first offset)     PartitionCursor::read (pread, never blocks writer)
//! ```
//!
//! The layers above only use [`LogStore`], [`TopicLog`] and [`PartitionCursor`], so a
//! Kafka-backed log (rdkafka) can replace the embedded one without changing them.
//!
//! Modules:
//! - `partitioner`: Kafka's default partitioner (murmur2 of the key bytes).
//! - `record`: the on-disk record framing with a CRC per record.
//! - `segment`: one segment file plus its sparse offset index.
//! - `recovery`: scanning segments on open, truncating a torn tail.
//! - `partition`: one partition's writer thread (group commit) and committed end offset.
//! - `cursor`: a reader tailing one partition.
//! - `embedded`: the `LogStore` over a data directory.
//! - `journal`: a small checksummed append-only file for the catalog's commands.
//! - `tests`: end-to-end tests (append, group commit, recovery at every cut, restart, delete).
//!
//! On disk (`embedded`): `<dir>/topics/<topic>/topic.meta` and
//! `<dir>/topics/<topic>/<partition>/<base offset:020>.{log,index}`; each record is
//! `length crc offset timestamp key value headers` (see `record`).

use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;

mod cursor;
mod embedded;
mod journal;
mod partition;
mod partitioner;
mod record;
mod recovery;
mod segment;
#[cfg(test)]
mod tests;

pub use embedded::{
    validate_topic_name, EmbeddedLog, EmbeddedTopic, PartitionStats, TOPIC_NAME_CHARS_MAX,
};
pub use journal::{Journal, JOURNAL_ENTRY_BYTES_MAX};
pub use partition::{
    APPEND_QUEUE_BYTES_MAX, APPEND_QUEUE_DEPTH_MAX, APPEND_REQUEST_BYTES_MAX,
    COMMIT_BATCH_BYTES_MAX, COMMIT_BATCH_RECORDS_MAX,
};
pub use partitioner::{murmur2, partition_for_key, to_positive, KeylessSpreader};
pub use record::RECORD_BYTES_MAX;
pub use segment::{INDEX_INTERVAL_BYTES, READ_CHUNK_BYTES, SEGMENT_BYTES_LIMIT};

/// Default size at which a partition rolls to a new segment file, in bytes.
///
/// Kafka's `log.segment.bytes` default (1 GiB): few files per partition, and recovery (which
/// scans the last segment) reads at most this much per partition.
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// Most partitions a topic may have.
///
/// Each partition has its own writer thread (and fsync stream); 256 keeps a topic's threads
/// within what one machine schedules well. Kafka has no fixed limit, ksqlDB users rarely
/// exceed a few dozen.
pub const TOPIC_PARTITIONS_MAX: u32 = 256;

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

/// Offset of a record within its partition, as in Kafka (0-based, contiguous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

/// Partition number within a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId(pub u32);

/// A record as Kafka stores it: key and value bytes in the stream's formats, a timestamp,
/// headers. `None` key/value mean Kafka null (a null value is a tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub timestamp_ms: i64,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// A record read back with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub partition: PartitionId,
    pub offset: Offset,
    pub record: Record,
}

/// When a partition writer calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every batch is fsynced before its appends resolve (group commit). Durable; the default.
    Always,
    /// Batches resolve once written; fsync runs at most every `n` ms. A crash can lose the
    /// last interval of acked rows.
    IntervalMs(u64),
    /// Never fsync explicitly (benchmarks, tests that do not crash).
    Never,
}

/// Where a new cursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    Earliest,
    /// The committed end at the time the cursor is created.
    Latest,
    At(Offset),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
}

/// Resolves when an append is durable (per the fsync policy) with the offset of the first
/// record appended; the rest follow contiguously.
pub type AppendTicket = tokio::sync::oneshot::Receiver<Result<Offset>>;

/// The set of topics.
pub trait LogStore: Send + Sync {
    /// Creates a topic; `Conflict` if it exists.
    fn create_topic(&self, name: &str, partitions: u32) -> Result<Arc<dyn TopicLog>>;
    /// Deletes a topic and its data; `NotFound` if missing.
    fn delete_topic(&self, name: &str) -> Result<()>;
    fn topic(&self, name: &str) -> Option<Arc<dyn TopicLog>>;
    fn list_topics(&self) -> Vec<TopicInfo>;
}

/// One topic: N partitions.
pub trait TopicLog: Send + Sync {
    fn name(&self) -> &str;
    fn partition_count(&self) -> u32;
    /// Queues `records` for append to `partition`. Waits (async) only when the partition's
    /// bounded queue is full. Records queued by one caller keep their order.
    fn append(
        &self,
        partition: PartitionId,
        records: Vec<Record>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<AppendTicket>> + Send + '_>>;
    /// Committed (durable, readable) end offset of a partition: the next offset to be written.
    fn end_offset(&self, partition: PartitionId) -> Offset;
    /// First offset still stored.
    fn start_offset(&self, partition: PartitionId) -> Offset;
    fn cursor(
        &self,
        partition: PartitionId,
        start: StartPosition,
    ) -> Result<Box<dyn PartitionCursor>>;
    /// Notified after any partition's committed end advances (and when the topic is deleted).
    fn data_ready(&self) -> Arc<tokio::sync::Notify>;
    /// True once the topic was deleted; cursors then end.
    fn is_deleted(&self) -> bool;
}

/// Reads one partition's committed records in offset order. Never blocks the writer.
pub trait PartitionCursor: Send {
    fn partition(&self) -> PartitionId;
    /// The next offset this cursor will return.
    fn position(&self) -> Offset;
    /// Appends up to `max_records` committed records to `out` without waiting; returns how
    /// many were added (0 when caught up).
    fn read(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize>;
    /// The reader is about to wait for data: drop any read-ahead it holds, so an idle cursor
    /// costs a few words. The next `read` reads from the log again.
    fn release_buffers(&mut self);
    /// Moves the cursor to `offset` (clamped into the stored, committed range), as a Kafka
    /// consumer's `seek` does: the next `read` starts there.
    fn seek_to(&mut self, offset: Offset);
}
