//! The partitioned, durable log: Kafka's data model behind three traits, and the embedded
//! implementation that stores it in local segment files.
//!
//! ```text
//!  append(partition, records) ──► partition's bounded queue ──► writer pool (fixed threads)
//!                                                   │ write batch to active segment
//!                                                   │ one fsync for the whole batch (group commit)
//!                                                   │ publish committed end offset + wake readers
//!                                                   ▼
//!  AppendTicket resolves (first offset)     PartitionCursor::read (pread, never blocks writer)
//! ```
//!
//! Everything above `log` uses only [`LogStore`], [`TopicLog`] and [`PartitionCursor`]
//! (whose contracts `api` documents), so the Kafka-backed log (rdkafka, `kafka`) sits
//! beside `embedded` as an equal, in a folder of its own.
//!
//! Modules:
//! - `api`: records, offsets, partitions, start positions, and the three traits.
//! - `partitioner`: Kafka's default partitioner (murmur2 of the key bytes).
//! - `read_to`: reading a partition up to a known end, waiting for records in flight.
//! - `topic_name`: Kafka's topic name rules and partition bounds, shared by both backends.
//! - `embedded`: the embedded backend — segment files with a CRC per record, a fixed pool of
//!   writer threads with group commit per partition, a file-descriptor budget, recovery that
//!   tells torn tails from corruption, self-healing after failed writes, cursors, and the small
//!   checksummed journal the catalog and persistent queries keep their progress in.
//! - `kafka`: the Kafka backend — topics through the Admin API, appends through one
//!   idempotent acks=all producer, a background consumer per topic feeding bounded tail
//!   windows that cursors read, catch-up consumers for older offsets; persistent queries'
//!   checkpoint topic and the consumer group that leases each query to one node.

mod api;
mod embedded;
mod kafka;
mod partitioner;
mod read_to;
mod topic_name;

/// The record and segment readers for the fuzz targets.
#[cfg(feature = "internals")]
pub use embedded::fuzzing;

pub use api::{
    AppendTicket, FsyncPolicy, LogHealth, LogStore, Offset, PartitionCursor, PartitionHealth,
    PartitionId, PartitionProblem, Record, StartPosition, StoredRecord, TopicConfig, TopicInfo,
    TopicLog,
    TOPIC_PARTITIONS_MAX,
};
pub use embedded::{
    default_open_files_max, EmbeddedLog, EmbeddedTopic, Journal, LogConfig,
    PartitionStats, APPEND_QUEUE_BYTES_MAX, APPEND_QUEUE_DEPTH_MAX, APPEND_REQUEST_BYTES_MAX,
    COMMIT_BATCH_BYTES_MAX, COMMIT_BATCH_RECORDS_MAX, DAMAGED_RANGES_MAX, INDEX_INTERVAL_BYTES,
    JOURNAL_ENTRY_BYTES_MAX, OPEN_FILES_DEFAULT_MAX, OPEN_FILES_MIN, READ_CHUNK_BYTES,
    RECORD_BYTES_MAX, RECOVERY_POINT_SYNC_INTERVAL_MS, RECOVERY_POINT_WRITE_INTERVAL_MS,
    RETENTION_CHECK_INTERVAL_MS, RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MIN_MS, SEGMENT_BYTES_LIMIT,
    SEGMENT_BYTES_MAX,
    WRITER_THREADS_DEFAULT, WRITER_THREADS_MAX,
};
pub use kafka::{
    changelog_topic_name, ChangelogTopic, ChangelogTopics, CHANGELOG_READ_STALL_MS,
    CHANGELOG_RECORD_BYTES_MAX, CHANGELOG_SEND_TIMEOUT_MS, CHANGELOG_TRANSACTION_TIMEOUT_MS,
    checkpoint_topic_name, lease_topic_name, CheckpointTopic, CheckpointWriter, GroupLeases,
    LeaseBusy, CHECKPOINT_PARTITIONS, CHECKPOINT_READ_TIMEOUT_MS,
    CHECKPOINT_TRANSACTION_TIMEOUT_MS, LEASE_REVOKE_WAIT_MS, LEASE_SESSION_TIMEOUT_MS,
    command_topic_name, parse_setting as parse_kafka_setting, KafkaCommandLog, KafkaConfig,
    KafkaLog, KafkaTopic, ADMIN_TIMEOUT_MS, COMMAND_BUFFER_MAX, COMMAND_CATCH_UP_TIMEOUT_MS,
    COMMAND_TOPIC_REPLICAS_MAX, COMMAND_TRANSACTION_TIMEOUT_MS,
    APPEND_INFLIGHT_BYTES_MAX, APPEND_INFLIGHT_RECORDS_MAX, CATCH_UP_QUEUE_KBYTES,
    CLOSE_FLUSH_TIMEOUT_MS, DEFAULT_SERVICE_ID, FETCHER_QUEUE_KBYTES, FETCH_BATCH_RECORDS_MAX,
    FETCH_POLL_MS, FETCH_QUEUE_BACKOFF_MS, KAFKA_RECORD_BYTES_MAX, MESSAGE_TIMEOUT_MS,
    PARTITION_TAIL_BYTES_MIN, RESERVED_SETTINGS, TOPIC_READY_TIMEOUT_MS, TOPIC_TAIL_BYTES_MAX,
};
pub use read_to::{read_to, READ_TO_END_WAIT_MS};
pub use topic_name::{validate_new_topic, validate_topic_name, TOPIC_NAME_CHARS_MAX};
pub use partitioner::{murmur2, partition_for_key, to_positive, KeylessSpreader};
