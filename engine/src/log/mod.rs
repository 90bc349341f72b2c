//! The partitioned, durable log: Kafka's data model behind three traits, and the embedded
//! implementation that stores it in local segment files.
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
//! Everything above `log` uses only [`LogStore`], [`TopicLog`] and [`PartitionCursor`]
//! (whose contracts `api` documents), so a Kafka-backed log (rdkafka) sits beside
//! `embedded` as an equal, in a folder of its own.
//!
//! Modules:
//! - `api`: records, offsets, partitions, start positions, and the three traits.
//! - `partitioner`: Kafka's default partitioner (murmur2 of the key bytes).
//! - `embedded`: the embedded backend — segment files with a CRC per record, a writer thread
//!   per partition with group commit, recovery of torn tails, cursors, and the small
//!   checksummed journal the catalog and persistent queries keep their progress in.

mod api;
mod embedded;
mod partitioner;

pub use api::{
    AppendTicket, FsyncPolicy, LogStore, Offset, PartitionCursor, PartitionId, Record,
    StartPosition, StoredRecord, TopicInfo, TopicLog, TOPIC_PARTITIONS_MAX,
};
pub use embedded::{
    validate_topic_name, EmbeddedLog, EmbeddedTopic, Journal, LogConfig, PartitionStats,
    APPEND_QUEUE_BYTES_MAX, APPEND_QUEUE_DEPTH_MAX, APPEND_REQUEST_BYTES_MAX,
    COMMIT_BATCH_BYTES_MAX, COMMIT_BATCH_RECORDS_MAX, INDEX_INTERVAL_BYTES,
    JOURNAL_ENTRY_BYTES_MAX, READ_CHUNK_BYTES, RECORD_BYTES_MAX, SEGMENT_BYTES_LIMIT,
    SEGMENT_BYTES_MAX, TOPIC_NAME_CHARS_MAX,
};
pub use partitioner::{murmur2, partition_for_key, to_positive, KeylessSpreader};
