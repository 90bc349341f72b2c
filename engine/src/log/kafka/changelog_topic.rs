//! Persistent queries' state changelogs: one compacted topic per stateful query, holding
//! every state commit as one transaction, so the node that takes the query over restores
//! the query's state from it instead of re-reading the query's sources from its origin.
//!
//! ```text
//!  open(query):  topic  <prefix><service id>query_<query id>-state-changelog
//!                (1 partition, compacted; created if missing)
//!                producer (transactional.id = <service>-state-<query>) ─► init_transactions
//!                (fences the query's last holder, aborts its open transaction)
//!  write:  begin ─► send (key, value | tombstone)… ─► commit
//!  bounds / read(from): committed records only (read_committed)
//!  reset:  delete the topic and create it empty (a query id's state starting over)
//! ```
//!
//! What the records mean (store keys, the commit marker closing each transaction) is the
//! state store's business (`state/changelog.rs`); this module moves bytes.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::admin::{Admin, INTERNAL_TOPIC_PREFIX};
use super::checkpoint_topic::CheckpointDelivery;
use super::client::{close_off_thread, kafka_error, off_runtime};
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS};
use super::partition_read::{partition_bounds, read_partition};
use super::transaction::send_in_transaction;
use crate::error::{EngineError, ErrorCode, Result};
use crate::state::RecordVisitor;

/// `transaction.timeout.ms` of a changelog writer, in milliseconds: a state commit of a
/// few hundred thousand keys is one transaction and must fit; a node that dies inside one
/// holds back the changelog's readers at most this long.
pub const CHANGELOG_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

/// How long sending one state commit's records and their delivery may take, in
/// milliseconds: within the transaction's timeout, with room for its commit.
pub const CHANGELOG_SEND_TIMEOUT_MS: u64 = 45_000;

/// How long a changelog read may wait for its next record, in milliseconds: a little
/// more than a dead writer's open transaction can hold the end back.
pub const CHANGELOG_READ_STALL_MS: u64 = CHANGELOG_TRANSACTION_TIMEOUT_MS + 5_000;

/// Largest changelog record, in bytes (the topic's `max.message.bytes`, the writer's
/// `message.max.bytes`): a state value at its limit with its key, and a record batch's
/// framing.
pub const CHANGELOG_RECORD_BYTES_MAX: usize =
    crate::state::VALUE_BYTES_MAX + crate::state::KEY_BYTES_MAX + 64 * 1024;

/// Longest Kafka topic name.
const TOPIC_NAME_BYTES_MAX: usize = 249;

/// The changelog topic of query `query_id` in service `service_id`: ksqlDB's internal
/// topic naming (`<prefix><service id>query_<query id>-…-changelog`). A query id may hold
/// characters a topic name cannot (from a quoted sink name): those become `_`, and the
/// name then ends with a hash of the id, so two ids never share a changelog.
pub fn changelog_topic_name(service_id: &str, query_id: &str) -> String {
    let clean: String = query_id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    let head = format!("{INTERNAL_TOPIC_PREFIX}{service_id}query_");
    let tail = "-state-changelog";
    let whole = format!("{head}{clean}{tail}");
    if clean == query_id && whole.len() <= TOPIC_NAME_BYTES_MAX {
        return whole;
    }
    let hash = format!(
        "-{:08x}",
        crate::log::murmur2(query_id.as_bytes()) as u32
    );
    let room = TOPIC_NAME_BYTES_MAX.saturating_sub(head.len() + hash.len() + tail.len());
    let clean: String = clean.chars().take(room).collect();
    format!("{head}{clean}{hash}{tail}")
}

/// The service's changelog topics: opens a query's, removes one.
pub struct ChangelogTopics {
    config: Arc<KafkaConfig>,
    admin: Admin,
    replicas: i32,
    in_sync: &'static str,
}

impl std::fmt::Debug for ChangelogTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangelogTopics")
            .field("service_id", &self.config.service_id)
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl ChangelogTopics {
    pub(super) fn new(config: Arc<KafkaConfig>, replicas: i32) -> Result<ChangelogTopics> {
        Ok(ChangelogTopics {
            admin: Admin::new(&config)?,
            config,
            replicas,
            in_sync: if replicas >= 3 { "2" } else { "1" },
        })
    }

    /// Query `query_id`'s changelog, its topic created if missing, with a writer that
    /// fences any other writer of it (a node that held the query before). Blocking.
    pub fn open(self: &Arc<Self>, query_id: &str) -> Result<ChangelogTopic> {
        let topic = changelog_topic_name(&self.config.service_id, query_id);
        off_runtime(|| self.ensure(&topic))?;
        let producer: BaseProducer<CheckpointDelivery> = self
            .config
            .changelog_writer(query_id)
            .create_with_context(CheckpointDelivery)
            .map_err(|e| kafka_error("creating a state changelog producer", e))?;
        off_runtime(|| producer.init_transactions(Duration::from_millis(ADMIN_TIMEOUT_MS)))
            .map_err(|e| kafka_error("starting a state changelog writer's transactions", e))?;
        Ok(ChangelogTopic {
            topics: Arc::clone(self),
            producer: Some(producer),
            topic,
        })
    }

    /// Deletes query `query_id`'s changelog (its query was terminated or dropped); a
    /// changelog that does not exist is no error. Blocking.
    pub fn remove(&self, query_id: &str) -> Result<()> {
        let topic = changelog_topic_name(&self.config.service_id, query_id);
        match off_runtime(|| self.admin.delete(&topic)) {
            Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
            other => other,
        }
    }

    fn ensure(&self, topic: &str) -> Result<()> {
        let max_bytes = CHANGELOG_RECORD_BYTES_MAX.to_string();
        self.admin.ensure_internal(
            topic,
            1,
            self.replicas,
            &[
                ("cleanup.policy", "compact"),
                ("min.insync.replicas", self.in_sync),
                ("max.message.bytes", &max_bytes),
                // Compacted often: a node taking the query over reads it from the start.
                ("segment.ms", "600000"),
                ("min.cleanable.dirty.ratio", "0.1"),
            ],
        )
    }
}

/// One query's changelog, open for writing by this node (see [`ChangelogTopics::open`]).
pub struct ChangelogTopic {
    topics: Arc<ChangelogTopics>,
    producer: Option<BaseProducer<CheckpointDelivery>>,
    topic: String,
}

impl std::fmt::Debug for ChangelogTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangelogTopic")
            .field("topic", &self.topic)
            .field("fenced", &self.producer.is_none())
            .finish()
    }
}

impl ChangelogTopic {
    pub fn name(&self) -> &str {
        &self.topic
    }

    /// Writes `records` (key, value; `None` a tombstone) in one transaction; returns once
    /// it committed. Fails for good once another node's writer of the query fenced this
    /// one. Blocking.
    pub fn write(&mut self, records: &mut dyn Iterator<Item = (&[u8], Option<&[u8]>)>) -> Result<()> {
        let producer = self.producer.as_ref().ok_or_else(|| {
            EngineError::conflict("this state changelog writer was fenced by another node")
        })?;
        let topic = self.topic.as_str();
        let records = records.map(|(key, value)| {
            let record = BaseRecord::<[u8], [u8]>::to(topic).partition(0).key(key);
            match value {
                Some(value) => record.payload(value),
                None => record,
            }
        });
        let result = off_runtime(|| {
            send_in_transaction(
                producer,
                records,
                Duration::from_millis(CHANGELOG_SEND_TIMEOUT_MS),
            )
        })
        .map_err(|e| kafka_error(&format!("state changelog {}", e.step), e.error));
        if result.is_err() {
            if let Some(producer) = self.producer.take() {
                close_off_thread(producer);
            }
        }
        result
    }

    /// The changelog's first offset and its end: every commit made before this call is
    /// below the end. Blocking.
    pub fn bounds(&self) -> Result<(u64, u64)> {
        let (low, high) = off_runtime(|| {
            partition_bounds(&self.topics.config, "changelog-end", &self.topic, 0)
        })?;
        Ok((low.max(0) as u64, high.max(0) as u64))
    }

    /// Calls `visit(key, value)` with every committed record from offset `from` to `to`
    /// (from [`ChangelogTopic::bounds`]), in order. Blocking.
    pub fn read(
        &self,
        from: u64,
        to: u64,
        visit: &mut RecordVisitor<'_>,
    ) -> Result<()> {
        let range = (
            i64::try_from(from).unwrap_or(i64::MAX),
            i64::try_from(to).unwrap_or(i64::MAX),
        );
        off_runtime(|| {
            read_partition(
                &self.topics.config,
                "changelog",
                &self.topic,
                0,
                range,
                CHANGELOG_READ_STALL_MS,
                &mut |message: &BorrowedMessage<'_>| {
                    visit(message.key().unwrap_or_default(), message.payload())
                },
            )
        })
    }

    /// Deletes the changelog's topic and creates it empty: the query's state starts over
    /// (a new query under an id an earlier attempt used). Blocking.
    pub fn reset(&mut self) -> Result<()> {
        off_runtime(|| {
            match self.topics.admin.delete(&self.topic) {
                Err(e) if e.code() != ErrorCode::NotFound => return Err(e),
                _ => {}
            }
            self.topics.ensure(&self.topic)
        })
    }
}

impl Drop for ChangelogTopic {
    fn drop(&mut self) {
        if let Some(producer) = self.producer.take() {
            close_off_thread(producer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_topic(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= TOPIC_NAME_BYTES_MAX
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }

    #[test]
    fn every_query_id_gets_a_valid_topic_of_its_own() {
        assert_eq!(
            changelog_topic_name("default_", "CTAS_COUNTS_3"),
            "_confluent-ksql-default_query_CTAS_COUNTS_3-state-changelog"
        );
        let long = "Q".repeat(400);
        let ids = [
            "CTAS_my table_1",
            "CTAS_my_table_1",
            "CSAS_naïve/../x_2",
            "CSAS_naïve_.._x_2",
            long.as_str(),
            &long[..399],
        ];
        let names: Vec<String> = ids.iter().map(|id| changelog_topic_name("svc_", id)).collect();
        for (id, name) in ids.iter().zip(&names) {
            assert!(valid_topic(name), "{id:?} -> {name:?}");
        }
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }
}
