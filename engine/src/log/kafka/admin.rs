//! Topics on the cluster: create, delete, delete records, list and describe through Kafka's
//! Admin API and metadata requests.
//!
//! The `LogStore` trait is synchronous (topic DDL is rare and ordered by the catalog), while
//! librdkafka's admin calls are futures its own polling thread resolves, and its metadata
//! calls block. Both run through `client::off_runtime`, which tells a multi-threaded tokio runtime
//! that this worker blocks, so other tasks move to other workers meanwhile.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};

use super::client::kafka_error;
use super::client::off_runtime;
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS, TOPIC_READY_TIMEOUT_MS};
use crate::error::{EngineError, Result};
use crate::log::{TopicConfig, TopicInfo};

/// How often a create or delete re-reads metadata while waiting for it to take effect.
const METADATA_RETRY_MS: u64 = 50;

/// The admin client and the metadata requests made through it.
pub(super) struct Admin {
    client: AdminClient<DefaultClientContext>,
}

impl Admin {
    pub fn new(config: &KafkaConfig) -> Result<Admin> {
        let client = config
            .admin()
            .create()
            .map_err(|e| kafka_error("creating the Kafka admin client", e))?;
        Ok(Admin { client })
    }

    fn options() -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(Duration::from_millis(ADMIN_TIMEOUT_MS)))
            .operation_timeout(Some(Duration::from_millis(ADMIN_TIMEOUT_MS)))
    }

    fn metadata(&self, topic: Option<&str>) -> Result<Metadata> {
        off_runtime(|| {
            self.client
                .inner()
                .fetch_metadata(topic, Duration::from_millis(ADMIN_TIMEOUT_MS))
        })
        .map_err(|e| kafka_error("reading the cluster's metadata", e))
    }

    /// Checks the cluster answers (at start, so a wrong bootstrap fails loudly and early).
    pub fn check_reachable(&self) -> Result<usize> {
        Ok(self.metadata(None)?.brokers().len())
    }

    /// The topic's partition count, `None` if the cluster has no such topic. A topic whose
    /// metadata shows no partitions yet (just created elsewhere) counts as missing.
    pub fn partitions(&self, name: &str) -> Result<Option<u32>> {
        let metadata = self.metadata(Some(name))?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else {
            return Ok(None);
        };
        match topic.error() {
            None => {}
            Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
                return Ok(None);
            }
            Some(e) => {
                return Err(kafka_error(
                    &format!("reading topic '{name}'"),
                    KafkaError::MetadataFetch(e.into()),
                ))
            }
        }
        let partitions = topic.partitions().len() as u32;
        Ok((partitions > 0).then_some(partitions))
    }

    /// Every topic but Kafka's and ksqlDB services' internal ones, sorted by name.
    pub fn list(&self) -> Result<Vec<TopicInfo>> {
        let metadata = self.metadata(None)?;
        let mut topics: Vec<TopicInfo> = metadata
            .topics()
            .iter()
            .filter(|t| !is_hidden(t.name()) && t.error().is_none())
            .map(|t| TopicInfo {
                name: t.name().to_owned(),
                partitions: t.partitions().len() as u32,
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// Creates the topic with the cluster's default replication factor (as ksqlDB does when
    /// no REPLICAS is given), compacted for a table's topic and with `config`'s
    /// `retention.ms` if it has one (else the broker's default, as ksqlDB leaves it), then
    /// waits until every partition has a leader: a
    /// producer or consumer started before that would see a topic without partitions.
    pub fn create(&self, name: &str, partitions: u32, config: TopicConfig) -> Result<()> {
        let count = i32::try_from(partitions).expect("partitions <= TOPIC_PARTITIONS_MAX");
        let retention = config.retention_ms.map(|ms| ms.to_string());
        let mut topic = NewTopic::new(name, count, TopicReplication::Fixed(-1));
        if config.compacted {
            topic = topic.set("cleanup.policy", "compact");
        }
        if let Some(ms) = &retention {
            topic = topic.set("retention.ms", ms);
        }
        let results =
            off_runtime(|| block_on(self.client.create_topics([&topic], &Admin::options())))
                .map_err(|e| kafka_error(&format!("creating topic '{name}'"), e))?;
        for result in results {
            if let Err((_, code)) = result {
                return Err(match code {
                    RDKafkaErrorCode::TopicAlreadyExists => {
                        EngineError::conflict(format!("Topic '{name}' already exists"))
                    }
                    RDKafkaErrorCode::InvalidTopic
                    | RDKafkaErrorCode::InvalidPartitions
                    | RDKafkaErrorCode::InvalidReplicationFactor
                    | RDKafkaErrorCode::InvalidConfig
                    | RDKafkaErrorCode::PolicyViolation => EngineError::statement(format!(
                        "Kafka refused to create topic '{name}': {code}"
                    )),
                    _ => kafka_error(
                        &format!("creating topic '{name}'"),
                        KafkaError::AdminOp(code),
                    ),
                });
            }
        }
        self.wait_for_leaders(name, partitions)
    }

    /// Creates one of the service's internal topics (the command topic) unless it exists:
    /// `replicas` copies, the given topic configs. Several nodes starting at once may race
    /// to create it; the losers find it there.
    pub fn ensure_internal(
        &self,
        name: &str,
        partitions: u32,
        replicas: i32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        if self.partitions(name)?.is_some() {
            return Ok(());
        }
        let count = i32::try_from(partitions).expect("internal topics have few partitions");
        let mut topic = NewTopic::new(name, count, TopicReplication::Fixed(replicas));
        for (key, value) in configs {
            topic = topic.set(key, value);
        }
        let results =
            off_runtime(|| block_on(self.client.create_topics([&topic], &Admin::options())))
                .map_err(|e| kafka_error(&format!("creating topic '{name}'"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(kafka_error(
                        &format!("creating topic '{name}'"),
                        KafkaError::AdminOp(code),
                    ))
                }
            }
        }
        self.wait_for_leaders(name, partitions)
    }

    fn wait_for_leaders(&self, name: &str, partitions: u32) -> Result<()> {
        let deadline = Instant::now() + Duration::from_millis(TOPIC_READY_TIMEOUT_MS);
        loop {
            let metadata = self.metadata(Some(name))?;
            let ready = metadata
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
                .is_some_and(|t| {
                    t.partitions().len() as u32 == partitions
                        && t.partitions()
                            .iter()
                            .all(|p| p.leader() >= 0 && p.error().is_none())
                });
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(EngineError::internal(format!(
                    "topic '{name}' was created but its {partitions} partitions had no leaders \
                     after {TOPIC_READY_TIMEOUT_MS} ms"
                )));
            }
            std::thread::sleep(Duration::from_millis(METADATA_RETRY_MS));
        }
    }

    /// Deletes every record of `name`'s `partitions` (Kafka's `DeleteRecords` to each
    /// partition's high watermark): the brokers move the log start offsets to the ends.
    pub fn delete_records(&self, name: &str, partitions: u32) -> Result<()> {
        let mut offsets = TopicPartitionList::new();
        for p in 0..partitions {
            let p = i32::try_from(p).map_err(|_| {
                EngineError::internal(format!("topic '{name}' has too many partitions"))
            })?;
            offsets
                .add_partition_offset(name, p, KafkaOffset::End)
                .map_err(|e| kafka_error(&format!("deleting the records of '{name}'"), e))?;
        }
        let result =
            off_runtime(|| block_on(self.client.delete_records(&offsets, &Admin::options())))
                .map_err(|e| kafka_error(&format!("deleting the records of '{name}'"), e))?;
        for element in result.elements() {
            if let Err(e) = element.error() {
                return Err(kafka_error(
                    &format!(
                        "deleting the records of '{name}' partition {}",
                        element.partition()
                    ),
                    e,
                ));
            }
        }
        Ok(())
    }

    /// Deletes the topic and waits until metadata no longer shows it, so a CREATE of the
    /// same name right after does not meet "marked for deletion".
    pub fn delete(&self, name: &str) -> Result<()> {
        let results =
            off_runtime(|| block_on(self.client.delete_topics(&[name], &Admin::options())))
                .map_err(|e| kafka_error(&format!("deleting topic '{name}'"), e))?;
        for result in results {
            if let Err((_, code)) = result {
                return Err(match code {
                    RDKafkaErrorCode::UnknownTopicOrPartition => {
                        EngineError::not_found(format!("Topic '{name}' does not exist"))
                    }
                    _ => kafka_error(
                        &format!("deleting topic '{name}'"),
                        KafkaError::AdminOp(code),
                    ),
                });
            }
        }
        let deadline = Instant::now() + Duration::from_millis(TOPIC_READY_TIMEOUT_MS);
        while self.partitions(name)?.is_some() {
            if Instant::now() >= deadline {
                return Err(EngineError::internal(format!(
                    "topic '{name}' was deleted but still shows in metadata after \
                     {TOPIC_READY_TIMEOUT_MS} ms"
                )));
            }
            std::thread::sleep(Duration::from_millis(METADATA_RETRY_MS));
        }
        Ok(())
    }
}

/// Topics SHOW TOPICS leaves out, as ksqlDB does: Kafka's own (`__consumer_offsets`,
/// `__transaction_state`) and ksqlDB services' internal ones (command topics).
fn is_hidden(name: &str) -> bool {
    name.starts_with("__") || name.starts_with(INTERNAL_TOPIC_PREFIX)
}

/// ksqlDB's prefix of a service's internal topics (`_confluent-ksql-<service id>…`).
pub(super) const INTERNAL_TOPIC_PREFIX: &str = "_confluent-ksql-";

/// Wakes the thread blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits for a future on this thread. Only for futures that something else drives: the
/// admin client's results are sent by its own polling thread, so no executor is needed.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
