//! The storage plug-in point: the log contract a backend implements (`LogStore`,
//! `TopicLog`, `PartitionCursor`, with their documented guarantees in `log::api`), the two
//! backends Sluice ships (embedded, Kafka), and the partitioner both use.
//!
//! `Engine::open_with_log` takes any `LogStore`; the binary picks the embedded log or
//! `Engine::open_on_kafka`. Tools and tests that check a backend against the contract name
//! it through here, never through the engine's internals.

pub use crate::log::{
    partition_for_key, AppendTicket, EmbeddedLog, KafkaConfig, KafkaLog, LogConfig, LogStore,
    Offset, PartitionCursor, PartitionId, Record, StartPosition, StoredRecord, TopicConfig,
    TopicLog, KAFKA_RECORD_BYTES_MAX, RECORD_BYTES_MAX,
};
