//! What every log backend provides: Kafka's data model (topics of partitions of records
//! at offsets) and the three traits the rest of the engine reads and writes through.
//!
//! The embedded log (`super::embedded`) implements them over a data directory; a
//! Kafka-backed log implements them over a cluster. Nothing above `log` knows which one
//! it talks to. Each trait states its contract: what an ack means, what a crash leaves,
//! what order holds.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{ErrorCode, Result};
use crate::metrics::HistogramSnapshot;

/// Most partitions a topic may have.
///
/// Partitions share a fixed pool of writer threads, so this no longer bounds threads; it
/// keeps one statement from taking a large share of the node's partitions
/// ([`PARTITIONS_PER_NODE_MAX`](crate::limits::PARTITIONS_PER_NODE_MAX)). Kafka has no fixed
/// limit, ksqlDB users rarely exceed a few dozen.
pub const TOPIC_PARTITIONS_MAX: u32 = 256;

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

/// How a new topic keeps its records (Kafka's topic configs that Sluice honours).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicConfig {
    /// Kafka's `retention.ms`: records older than this may be deleted, a whole segment at a
    /// time once its newest record is that old. `None` keeps every record (the default:
    /// Sluice never deletes data nobody asked it to).
    pub retention_ms: Option<u64>,
    /// Kafka's `cleanup.policy=compact` (what ksqlDB gives a table's topic): the latest
    /// record per key is kept whatever the retention. The embedded log does not compact:
    /// it keeps every record of such a topic.
    pub compacted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
}

/// Resolves once an append is durable with the offset of its first record; the rest follow
/// contiguously. Resolves with an error if the append failed: then none of its records
/// may be acked, and (see [`TopicLog::append`]) none of them may appear later.
pub type AppendTicket = tokio::sync::oneshot::Receiver<Result<Offset>>;

/// What is wrong with one partition (see `LogStore::health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionProblem {
    /// Writes fail (a full disk, an I/O error) and appends fail fast with `error`. Nothing
    /// acked was lost and no failed append was kept; the partition retries by itself and
    /// accepts appends again once a write succeeds (for a full disk: once space is freed).
    WritesFailing { code: ErrorCode, error: String },
    /// Appends are refused until the log is reopened: the partition could not prove its
    /// files hold exactly the acked records (a failed fsync of records readers had already
    /// seen, or a failed undo of a failed append). Reads still work.
    Stopped { error: String },
    /// Records the log had made durable fail their checks (a damaged disk or file). Offsets
    /// `[start, end)` of each range cannot be read (a read that reaches them fails with
    /// `Corrupt`, then continues after them); the records around them are served and the
    /// offsets are never given to new records.
    Damaged {
        ranges: Vec<(Offset, Offset)>,
        detail: String,
    },
    /// The partition could not be opened (its files are inconsistent beyond repair): reads
    /// and appends fail with `error`.
    Unavailable { error: String },
}

impl PartitionProblem {
    /// Whether appends to the partition currently fail because of this problem.
    pub fn blocks_writes(&self) -> bool {
        !matches!(self, PartitionProblem::Damaged { .. })
    }
}

/// One problem of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionHealth {
    pub topic: String,
    pub partition: PartitionId,
    pub problem: PartitionProblem,
}

/// The log's health: every partition with a problem (a partition may appear twice, e.g.
/// damaged and failing writes). Empty means healthy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHealth {
    pub problems: Vec<PartitionHealth>,
}

impl LogHealth {
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// True when every partition accepts appends (problems, if any, are only damage).
    pub fn can_write(&self) -> bool {
        self.problems.iter().all(|p| !p.problem.blocks_writes())
    }
}

/// The set of topics.
///
/// Contract: topic creation and deletion are durable when the call returns (a restart sees
/// the topic, or does not), and a deleted topic's data is never served again.
pub trait LogStore: Send + Sync {
    /// Creates a topic; [`ErrorCode::Conflict`](crate::error::ErrorCode) if it exists,
    /// `InvalidStatement` for a name or partition count the backend refuses.
    /// The topic keeps every record ([`TopicConfig::default`]).
    fn create_topic(&self, name: &str, partitions: u32) -> Result<Arc<dyn TopicLog>> {
        self.create_topic_with(name, partitions, TopicConfig::default())
    }
    /// [`LogStore::create_topic`] with `config`. Retention is the topic's from then on, as
    /// a Kafka topic's configs are: readers behind its first stored offset move up to it.
    fn create_topic_with(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<dyn TopicLog>>;
    /// Deletes a topic and its data; `NotFound` if missing. Readers of the topic end.
    fn delete_topic(&self, name: &str) -> Result<()>;
    /// Deletes every record topic `name` holds now, as Kafka's `DeleteRecords` up to each
    /// partition's end: each partition's start offset moves to its end, readers behind it
    /// skip to it, offsets are never reused, and the topic and its config stay. Durable
    /// when it returns. `NotFound` if the topic is missing. Blocks on file or cluster I/O.
    fn delete_records(&self, name: &str) -> Result<()> {
        Err(crate::error::EngineError::unsupported(format!(
            "this log cannot delete the records of topic '{name}'"
        )))
    }
    fn topic(&self, name: &str) -> Option<Arc<dyn TopicLog>>;
    fn list_topics(&self) -> Vec<TopicInfo>;
    /// Another process sharing the log deleted topic `name` (a `DROP … DELETE TOPIC` run on
    /// another node): this process lets go of the topic as if it had deleted it itself, so
    /// its readers end and the name can be created again. Nothing to do for a log only this
    /// process writes.
    fn forget_deleted_topic(&self, _name: &str) {}
    /// What is wrong with the log now, partition by partition, for a health check to report:
    /// writes failing (and being retried), writes stopped, damaged data, partitions that
    /// could not be opened. Cheap (no I/O): a health endpoint may call it on every request.
    /// A backend that cannot tell reports healthy.
    fn health(&self) -> LogHealth {
        LogHealth::default()
    }
    /// How long the backend's own fsyncs took, for metrics; `None` if it does none (Kafka's
    /// brokers sync, not this process). Counts never go down.
    fn sync_latency(&self) -> Option<HistogramSnapshot> {
        None
    }
}

/// One topic: N partitions, each an ordered sequence of records at contiguous offsets.
///
/// Contract, per partition:
/// - **Order.** Records of one `append` call are stored contiguously, in the order given;
///   appends from one caller are stored in call order.
/// - **Acks mean durable.** An [`AppendTicket`] resolves `Ok` only once every record of
///   the append survives a crash of the process and, under [`FsyncPolicy::Always`], of the
///   machine (for Kafka: acknowledged by the in-sync replicas).
/// - **Visibility.** A record is readable by cursors (and counted by `end_offset`) only
///   once it is durable: readers never see a record that a crash could take back.
/// - **A crash mid-append** leaves, of each unresolved append, a prefix of its records (possibly
///   empty), each record whole or absent — never a torn record, never a gap, never a later
///   record without the earlier ones. Recovery never reuses an offset that was acked.
/// - **A failed append** (its ticket resolves `Err`) leaves none of its records readable,
///   now or after a restart. A failure (disk full, I/O error) makes appends fail fast until
///   the backend can write again, which it finds out by itself; [`LogStore::health`] says so
///   meanwhile.
/// - **Offsets are never reused**, not even when damaged data is found: the damaged offsets
///   stay unreadable (see [`PartitionCursor`]) and new records get offsets after them.
pub trait TopicLog: Send + Sync {
    fn name(&self) -> &str;
    fn partition_count(&self) -> u32;
    /// Queues `records` for append to `partition`. Waits (async) only when the partition's
    /// bounded queue is full: the back-pressure that slows a producer to the disk's pace.
    /// One call holds at most `APPEND_REQUEST_BYTES_MAX`
    /// bytes of records.
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
    /// Brings [`TopicLog::end_offset`] up to what the log holds now, including records
    /// other processes wrote: a backend that learns them from a background reader (Kafka)
    /// asks the cluster. The embedded log's ends are always current.
    fn refresh_ends(&self) -> Result<()> {
        Ok(())
    }
}

/// Reads one partition's committed records in offset order. Never blocks the writer.
///
/// Contract: `read` returns records with strictly increasing, contiguous offsets starting
/// at `position()`, only committed ones, and never waits; a caller waits on
/// [`TopicLog::data_ready`] and reads again. A read that reaches stored records that fail
/// their checks returns `Corrupt` naming the damaged offsets (after returning, in earlier
/// calls, every good record before them); the cursor then stands after the damage, so the
/// next read continues with the records that follow it, as a Kafka consumer seeks past a
/// corrupt batch.
pub trait PartitionCursor: Send {
    fn partition(&self) -> PartitionId;
    /// The next offset this cursor will return.
    fn position(&self) -> Offset;
    /// Appends up to `max_records` committed records to `out` without waiting; returns how
    /// many were added (0 when caught up, or, on Kafka, while a fetch is still in flight:
    /// its records then come with a `data_ready` notification, so 0 never means "gone").
    fn read(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize>;
    /// The reader is about to wait for data: drop any read-ahead it holds, so an idle cursor
    /// costs a few words. The next `read` reads from the log again.
    fn release_buffers(&mut self);
    /// Moves the cursor to `offset` (clamped into the stored, committed range), as a Kafka
    /// consumer's `seek` does: the next `read` starts there.
    fn seek_to(&mut self, offset: Offset);
}
