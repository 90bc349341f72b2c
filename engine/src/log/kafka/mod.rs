//! The Kafka backend: the log's three traits over a Kafka cluster, through librdkafka
//! (`rdkafka`). Topics are Kafka topics and records are Kafka records, byte for byte: what
//! Sluice appends is what any Kafka client (or ksqlDB) reads, and the other way round.
//!
//! ```text
//!  create/delete/list ─► admin (Admin API, metadata; waits for leaders / for deletion)
//!  append ─► producer (one idempotent acks=all producer; ticket after every record's ack)
//!  cluster ─► fetcher (one consumer per topic, read_committed) ─► tail window per partition
//!                                                               └► data_ready
//!  cursor.read ─► tail window, or a private catch-up consumer for older offsets
//! ```
//!
//! Modules, one concern each:
//! - `config`: [`KafkaConfig`] (bootstrap, service id, librdkafka settings) and the
//!   settings each client kind needs for the log's contract.
//! - `client`: what every librdkafka client shares (logging context, errors, blocking calls).
//! - `admin`: topic create/delete/list/describe through the Admin API.
//! - `producer`: appends and their tickets.
//! - `topic`: [`KafkaTopic`], the `TopicLog`.
//! - `shared`: what a topic's appends, fetcher and cursors share (known offsets, windows).
//! - `tail`: one partition's bounded window of recent records.
//! - `fetcher`: the per-topic background consumer filling the windows.
//! - `cursor`: the `PartitionCursor`.
//! - `command_topic`: the catalog's command log in the service's command topic, its
//!   writers ordered by a shared `transactional.id`.
//! - `checkpoint_topic`: persistent queries' checkpoints in the service's checkpoint topic,
//!   each query's writer transactional under its own id (a new holder fences the old).
//! - `changelog_topic`: each stateful persistent query's state changelog, one compacted
//!   topic written a transaction per state commit, read back by the node taking it over.
//! - `partition_read`: reading one partition of an internal topic to its end (the
//!   checkpoint topic, changelogs).
//! - `leases`: which node runs which persistent query, through a consumer group.
//! - `transaction`: one transaction of a transactional producer (the command and
//!   checkpoint topics' writes, state commits).
//!
//! How the contract maps onto Kafka (see `api`): an ack is Kafka's acks=all acknowledgement
//! (every in-sync replica has the record, so it is below the high watermark and readable);
//! readers use `read_committed`; order per partition is librdkafka's queue order, kept by
//! idempotence across retries. Two differences until phase 2 brings transactions: a failed
//! append may leave a prefix of its records stored (never acked), and an append's records
//! are contiguous only while this process is the partition's only producer.
//!
//! The catalog's command topic has its own reader and writer (`command_topic`), not this
//! log's: its writes are transactions, fenced between nodes. Persistent queries keep their
//! checkpoints in the checkpoint topic and run where the lease group puts them
//! (`checkpoint_topic`, `leases`); their sink records still go through the shared producer,
//! and their state commits go to a changelog topic each (`changelog_topic`).

mod admin;
mod changelog_topic;
mod checkpoint_topic;
mod client;
mod command_topic;
mod config;
mod cursor;
mod fetcher;
mod leases;
mod partition_read;
mod producer;
mod shared;
mod tail;
mod transaction;
mod topic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use changelog_topic::{
    changelog_topic_name, ChangelogTopic, ChangelogTopics, CHANGELOG_READ_STALL_MS,
    CHANGELOG_RECORD_BYTES_MAX, CHANGELOG_SEND_TIMEOUT_MS, CHANGELOG_TRANSACTION_TIMEOUT_MS,
};
pub use checkpoint_topic::{
    checkpoint_topic_name, CheckpointTopic, CheckpointWriter, CHECKPOINT_PARTITIONS,
    CHECKPOINT_READ_TIMEOUT_MS, CHECKPOINT_TRANSACTION_TIMEOUT_MS,
};
pub use command_topic::{
    command_topic_name, KafkaCommandLog, COMMAND_BUFFER_MAX, COMMAND_CATCH_UP_TIMEOUT_MS,
    COMMAND_TRANSACTION_TIMEOUT_MS,
};
pub use config::{
    parse_setting, KafkaConfig, ADMIN_TIMEOUT_MS, APPEND_INFLIGHT_BYTES_MAX,
    APPEND_INFLIGHT_RECORDS_MAX, CATCH_UP_QUEUE_KBYTES, DEFAULT_SERVICE_ID, FETCHER_QUEUE_KBYTES,
    FETCH_QUEUE_BACKOFF_MS, MESSAGE_TIMEOUT_MS, RECORD_BYTES_MAX as KAFKA_RECORD_BYTES_MAX,
    LEASE_SESSION_TIMEOUT_MS, RESERVED_SETTINGS, TOPIC_READY_TIMEOUT_MS,
};
pub use leases::{lease_topic_name, GroupLeases, LeaseBusy, LEASE_REVOKE_WAIT_MS};
pub use fetcher::{FETCH_BATCH_RECORDS_MAX, FETCH_POLL_MS};
pub use tail::{PARTITION_TAIL_BYTES_MIN, TOPIC_TAIL_BYTES_MAX};
pub use topic::KafkaTopic;

use self::admin::Admin;
use self::client::off_runtime;
use self::producer::AppendProducer;
use crate::error::{EngineError, Result};
use crate::log::topic_name::validate_new_topic;
use crate::log::{LogStore, TopicConfig, TopicInfo, TopicLog};

/// How long closing the log waits for unacknowledged appends, in milliseconds.
///
/// Their clients were not acked and will retry; this only avoids dropping records Kafka is
/// about to acknowledge.
pub const CLOSE_FLUSH_TIMEOUT_MS: u64 = 10_000;

/// Most copies of the command topic, in brokers: ksqlDB's production advice (three
/// replicas, two in sync) where the cluster has the brokers for it, fewer on a smaller one.
pub const COMMAND_TOPIC_REPLICAS_MAX: usize = 3;

/// The Kafka log: a [`LogStore`] over a cluster.
pub struct KafkaLog {
    config: Arc<KafkaConfig>,
    admin: Admin,
    producer: Arc<AppendProducer>,
    /// Brokers the cluster had when the log opened.
    brokers: usize,
    /// Topics this process has opened (each with its fetcher). Held across a topic's
    /// create, open or delete, which must not race each other in this process.
    topics: Mutex<HashMap<String, Arc<KafkaTopic>>>,
}

impl KafkaLog {
    /// Connects to the cluster (failing if it does not answer within
    /// `ADMIN_TIMEOUT_MS`) and starts the producer. Topics are opened when first used.
    pub fn open(config: KafkaConfig) -> Result<Arc<KafkaLog>> {
        config.validate()?;
        let admin = Admin::new(&config)?;
        let brokers = admin.check_reachable()?;
        let producer = Arc::new(AppendProducer::new(&config)?);
        tracing::info!(bootstrap = %config.bootstrap, service_id = %config.service_id, brokers,
            "connected to Kafka");
        Ok(Arc::new(KafkaLog {
            config: Arc::new(config),
            admin,
            producer,
            brokers,
            topics: Mutex::new(HashMap::new()),
        }))
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// The service's command log: creates the command topic if the service has none yet
    /// (one partition, kept forever, replicated on up to `COMMAND_TOPIC_REPLICAS_MAX`
    /// brokers) and starts reading it from its first command.
    pub fn open_command_log(&self, node_id: String) -> Result<KafkaCommandLog> {
        let topic = command_topic_name(&self.config.service_id);
        let replicas = self.brokers.clamp(1, COMMAND_TOPIC_REPLICAS_MAX);
        let in_sync = if replicas >= 3 { "2" } else { "1" };
        self.admin.ensure_internal(
            &topic,
            1,
            i32::try_from(replicas).expect("at most COMMAND_TOPIC_REPLICAS_MAX"),
            &[
                ("retention.ms", "-1"),
                ("cleanup.policy", "delete"),
                ("min.insync.replicas", in_sync),
            ],
        )?;
        tracing::info!(%topic, replicas, %node_id, "reading the command topic");
        KafkaCommandLog::open(self.config.clone(), node_id)
    }

    /// The service's persistent-query checkpoints and this node's membership in its lease
    /// group: creates the checkpoint topic (compacted) and the lease topic (empty) if the
    /// service has none yet, each with `CHECKPOINT_PARTITIONS` partitions.
    pub fn open_query_leases(&self) -> Result<(CheckpointTopic, GroupLeases)> {
        let replicas = self.brokers.clamp(1, COMMAND_TOPIC_REPLICAS_MAX);
        let in_sync = if replicas >= 3 { "2" } else { "1" };
        let replicas = i32::try_from(replicas).expect("at most COMMAND_TOPIC_REPLICAS_MAX");
        let checkpoints = CheckpointTopic::new(self.config.as_ref().clone());
        self.admin.ensure_internal(
            checkpoints.name(),
            CHECKPOINT_PARTITIONS,
            replicas,
            &[
                ("cleanup.policy", "compact"),
                ("min.insync.replicas", in_sync),
                // Compacted often: a node taking a query over reads its partition from the
                // start.
                ("segment.ms", "600000"),
                ("min.cleanable.dirty.ratio", "0.1"),
            ],
        )?;
        self.admin.ensure_internal(
            &lease_topic_name(&self.config.service_id),
            CHECKPOINT_PARTITIONS,
            replicas,
            &[("min.insync.replicas", in_sync)],
        )?;
        let leases = GroupLeases::join(&self.config)?;
        Ok((checkpoints, leases))
    }

    /// The service's state changelog topics (created per query as queries open them), on
    /// as many brokers as the command topic.
    pub fn open_changelogs(&self) -> Result<Arc<ChangelogTopics>> {
        let replicas = self.brokers.clamp(1, COMMAND_TOPIC_REPLICAS_MAX);
        let replicas = i32::try_from(replicas).expect("at most COMMAND_TOPIC_REPLICAS_MAX");
        Ok(Arc::new(ChangelogTopics::new(self.config.clone(), replicas)?))
    }

    fn lock_topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<KafkaTopic>>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The topic, opening it if the cluster has it. A handle whose topic was deleted (by
    /// this process, or found gone) is not served again: the cluster is asked afresh, since
    /// a topic of the same name may have been created since.
    pub fn kafka_topic(&self, name: &str) -> Result<Option<Arc<KafkaTopic>>> {
        let mut topics = self.lock_topics();
        if let Some(topic) = topics.get(name) {
            if !topic.is_deleted() {
                return Ok(Some(topic.clone()));
            }
            topics.remove(name);
        }
        let Some(partitions) = self.admin.partitions(name)? else {
            return Ok(None);
        };
        let topic = Arc::new(KafkaTopic::open(
            name,
            partitions,
            self.config.clone(),
            self.producer.clone(),
        )?);
        topics.insert(name.to_owned(), topic.clone());
        Ok(Some(topic))
    }
}

impl LogStore for KafkaLog {
    fn create_topic_with(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<dyn TopicLog>> {
        validate_new_topic(name, partitions)?;
        let mut topics = self.lock_topics();
        if let Some(open) = topics.get(name) {
            // The handle may outlive its topic: deleted by another node or by any Kafka
            // client (`kafka-topics --delete`). The cluster says which.
            if !open.is_deleted() && self.admin.partitions(name)?.is_some() {
                return Err(EngineError::conflict(format!(
                    "Topic '{name}' already exists"
                )));
            }
            tracing::info!(topic = %name, "the topic was deleted elsewhere; letting go of it");
            if let Some(stale) = topics.remove(name) {
                stale.mark_deleted();
            }
        }
        self.admin.create(name, partitions, config)?;
        let topic = Arc::new(KafkaTopic::open(
            name,
            partitions,
            self.config.clone(),
            self.producer.clone(),
        )?);
        tracing::info!(topic = %name, partitions, "created Kafka topic");
        topics.insert(name.to_owned(), topic.clone());
        Ok(topic)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        let mut topics = self.lock_topics();
        self.admin.delete(name)?;
        if let Some(topic) = topics.remove(name) {
            topic.mark_deleted();
        }
        tracing::info!(topic = %name, "deleted Kafka topic");
        Ok(())
    }

    fn delete_records(&self, name: &str) -> Result<()> {
        let topic = self
            .kafka_topic(name)?
            .ok_or_else(|| EngineError::not_found(format!("Topic '{name}' does not exist")))?;
        self.admin.delete_records(name, topic.partition_count())?;
        // The new start offsets, for this node's readers and pull queries.
        topic.refresh_ends()?;
        tracing::info!(topic = %name, "deleted every record of the Kafka topic");
        Ok(())
    }

    fn forget_deleted_topic(&self, name: &str) {
        if let Some(topic) = self.lock_topics().remove(name) {
            topic.mark_deleted();
            tracing::info!(topic = %name, "another node deleted the topic; its readers here end");
        }
    }

    fn topic(&self, name: &str) -> Option<Arc<dyn TopicLog>> {
        match self.kafka_topic(name) {
            Ok(topic) => topic.map(|t| t as Arc<dyn TopicLog>),
            Err(error) => {
                tracing::warn!(topic = %name, %error, "could not open a Kafka topic");
                None
            }
        }
    }

    fn list_topics(&self) -> Vec<TopicInfo> {
        match self.admin.list() {
            Ok(list) => list,
            Err(error) => {
                tracing::warn!(%error, "could not list Kafka topics; listing the open ones");
                let mut list: Vec<TopicInfo> = self
                    .lock_topics()
                    .values()
                    .map(|t| TopicInfo {
                        name: t.name().to_owned(),
                        partitions: t.partition_count(),
                    })
                    .collect();
                list.sort_by(|a, b| a.name.cmp(&b.name));
                list
            }
        }
    }
}

impl Drop for KafkaLog {
    /// Refuses new appends, waits a bounded time for Kafka to acknowledge queued ones, and
    /// stops every fetcher.
    fn drop(&mut self) {
        self.producer.close();
        off_runtime(|| {
            self.producer
                .flush(Duration::from_millis(CLOSE_FLUSH_TIMEOUT_MS))
        });
        for topic in self.lock_topics().values() {
            topic.close();
        }
    }
}
