//! The service's checkpoint topic: small keyed records (persistent queries' journal
//! entries) that any node of the service can read back, written in transactions whose
//! `transactional.id` names the writer's task, so the node that takes a task over fences the
//! node it took it from.
//!
//! ```text
//!  writer(task): producer (transactional.id = <service>-<task>) ─► init_transactions
//!                (fences the task's previous writer, aborts its open transaction)
//!  write: begin ─► send (key, value | tombstone) to the key's partition ─► commit
//!  read_latest(partition, keys): read_committed from the partition's start to its end,
//!                the last value of each key (a tombstone reads as none)
//! ```
//!
//! The topic is compacted: only the last record of each key is kept in the long run, so
//! reading a partition from its start stays cheap however long the queries have run.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::transaction::send_in_transaction;
use super::admin::INTERNAL_TOPIC_PREFIX;
use super::client::{close_off_thread, kafka_error, off_runtime, LogContext};
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS};
use super::partition_read::{partition_bounds, read_partition};
use crate::error::{EngineError, Result};
use crate::log::partitioner::partition_for_key;

/// Partitions of the checkpoint topic (and of the lease topic, one lease per partition):
/// how finely the service's persistent queries spread over its nodes.
pub const CHECKPOINT_PARTITIONS: u32 = 12;

/// `transaction.timeout.ms` of a checkpoint writer, in milliseconds: a node that dies inside
/// a checkpoint's transaction holds back other readers of its partition at most this long.
pub const CHECKPOINT_TRANSACTION_TIMEOUT_MS: u64 = 10_000;

/// How long reading a checkpoint partition may wait for its next record, in milliseconds:
/// a little more than a dead writer's open transaction can hold the end back.
pub const CHECKPOINT_READ_TIMEOUT_MS: u64 = 30_000;


/// The checkpoint topic of `service_id`.
pub fn checkpoint_topic_name(service_id: &str) -> String {
    format!("{INTERNAL_TOPIC_PREFIX}{service_id}_query_checkpoints")
}

/// The service's checkpoint topic, for opening writers and reading keys back.
pub struct CheckpointTopic {
    config: KafkaConfig,
    topic: String,
}

impl CheckpointTopic {
    pub(super) fn new(config: KafkaConfig) -> CheckpointTopic {
        let topic = checkpoint_topic_name(&config.service_id);
        CheckpointTopic { config, topic }
    }

    pub fn name(&self) -> &str {
        &self.topic
    }

    /// The partition of a task named `key`: where its records go, and which lease it
    /// runs under (Kafka's default partitioner).
    pub fn partition_of(key: &[u8]) -> u32 {
        partition_for_key(key, CHECKPOINT_PARTITIONS).0
    }

    /// A writer for `task`: creating it fences any other writer of the same task, on any
    /// node, and aborts the transaction it may have left open.
    pub fn writer(&self, task: &str) -> Result<CheckpointWriter> {
        let config = self.config.checkpoint_writer(task);
        let producer: BaseProducer<CheckpointDelivery> = config
            .create_with_context(CheckpointDelivery)
            .map_err(|e| kafka_error("creating a checkpoint producer", e))?;
        off_runtime(|| producer.init_transactions(Duration::from_millis(ADMIN_TIMEOUT_MS)))
            .map_err(|e| kafka_error("starting a checkpoint writer's transactions", e))?;
        Ok(CheckpointWriter {
            producer: Some(producer),
            topic: self.topic.clone(),
        })
    }

    /// The last value of each of `keys` in `partition` (`None`: never written, or deleted),
    /// reading every committed record up to the partition's current end.
    pub fn read_latest(&self, partition: u32, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        off_runtime(|| self.read_latest_blocking(partition, keys))
    }

    fn read_latest_blocking(&self, partition: u32, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let p = i32::try_from(partition).expect("few checkpoint partitions");
        let bounds = partition_bounds(&self.config, "checkpoints-end", &self.topic, p)?;
        let mut latest: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        read_partition(
            &self.config,
            "checkpoints",
            &self.topic,
            p,
            bounds,
            CHECKPOINT_READ_TIMEOUT_MS,
            &mut |message| {
                let key = message.key().unwrap_or_default();
                if let Some(i) = keys.iter().position(|k| *k == key) {
                    latest[i] = message.payload().map(<[u8]>::to_vec);
                }
                Ok(())
            },
        )?;
        Ok(latest)
    }
}

/// A checkpoint producer's context: logs through `tracing`; a record's delivery fails its
/// transaction's commit, so the reports themselves are not needed.
pub(super) struct CheckpointDelivery;

impl rdkafka::ClientContext for CheckpointDelivery {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        rdkafka::ClientContext::log(&LogContext, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        rdkafka::ClientContext::error(&LogContext, error, reason);
    }
}

impl rdkafka::producer::ProducerContext for CheckpointDelivery {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

/// One task's checkpoint writer (see [`CheckpointTopic::writer`]).
pub struct CheckpointWriter {
    producer: Option<BaseProducer<CheckpointDelivery>>,
    topic: String,
}

impl CheckpointWriter {
    /// Writes `records` (key, value; `None` a tombstone) to `partition` in one transaction;
    /// returns once the transaction committed. Fails for good once another writer of the
    /// same task fenced this one.
    pub fn write(&mut self, partition: u32, records: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        let producer = self.producer.as_ref().ok_or_else(|| {
            EngineError::conflict("this checkpoint writer was fenced by another node")
        })?;
        let result = off_runtime(|| write_transaction(producer, &self.topic, partition, records));
        if result.is_err() {
            if let Some(producer) = self.producer.take() {
                close_off_thread(producer);
            }
        }
        result
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        if let Some(producer) = self.producer.take() {
            close_off_thread(producer);
        }
    }
}

fn write_transaction(
    producer: &BaseProducer<CheckpointDelivery>,
    topic: &str,
    partition: u32,
    records: &[(&[u8], Option<&[u8]>)],
) -> Result<()> {
    let partition = i32::try_from(partition).expect("few checkpoint partitions");
    let records = records.iter().map(|(key, value)| {
        let record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(partition)
            .key(*key);
        match value {
            Some(value) => record.payload(*value),
            None => record,
        }
    });
    send_in_transaction(producer, records, Duration::from_millis(ADMIN_TIMEOUT_MS))
        .map_err(|e| kafka_error(&format!("checkpoint {}", e.step), e.error))
}
