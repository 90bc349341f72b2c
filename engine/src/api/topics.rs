//! Raw topics through the facade, for the REST-proxy face (`/topics`): list, create,
//! describe, produce pre-keyed records, read records back, delete records, delete.

use crate::error::{EngineError, ErrorCode, Result};
use crate::log::{Offset, PartitionId, StoredRecord, TopicLog};
use crate::query::raw_records::{self, ProduceRecord, Produced};

use super::engine::Engine;

/// A topic and each partition's offset range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub name: String,
    pub partitions: Vec<PartitionRange>,
}

/// The offsets a partition holds: `[start_offset, end_offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionRange {
    pub partition: u32,
    pub start_offset: u64,
    pub end_offset: u64,
}

impl Engine {
    /// Every topic's name.
    pub fn topic_names(&self) -> Vec<String> {
        self.rt
            .log
            .list_topics()
            .into_iter()
            .map(|t| t.name)
            .collect()
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<TopicDescription> {
        let topic = self.rt.log.create_topic(name, partitions)?;
        Ok(describe(topic.as_ref()))
    }

    /// A topic's partitions and offsets; `None` if there is no such topic.
    pub fn describe_topic(&self, name: &str) -> Option<TopicDescription> {
        self.rt.log.topic(name).map(|t| describe(t.as_ref()))
    }

    /// Appends `records` (each to its partition, or where its key hashes) and returns once
    /// all are durable, with their offsets.
    pub async fn produce(&self, topic: &str, records: Vec<ProduceRecord>) -> Result<Vec<Produced>> {
        let topic = self.topic(topic)?;
        raw_records::produce(topic.as_ref(), records).await
    }

    /// Deletes a topic and its data; streams over it then read nothing.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.topic(name)?;
        self.rt.log.delete_topic(name).map_err(|e| match e.code() {
            // Lost a race with another delete.
            ErrorCode::NotFound => topic_not_found(name),
            _ => e,
        })
    }

    /// Deletes every record the topic holds now (Kafka's `DeleteRecords` to the ends): its
    /// partitions' start offsets move to their ends, offsets are never reused, and the topic
    /// stays (KalamDB's `CLEAR TOPIC`). Durable when it returns; the file or cluster I/O
    /// runs off the async workers.
    pub async fn delete_records(&self, name: &str) -> Result<TopicDescription> {
        self.topic(name)?;
        let log = std::sync::Arc::clone(&self.rt.log);
        let owned = name.to_string();
        tokio::task::spawn_blocking(move || log.delete_records(&owned))
            .await
            .map_err(|e| EngineError::internal(format!("deleting records failed: {e}")))?
            .map_err(|e| match e.code() {
                ErrorCode::NotFound => topic_not_found(name),
                _ => e,
            })?;
        Ok(describe(self.topic(name)?.as_ref()))
    }

    /// Up to `limit` records of `partition` from `offset` (its start when `None`), clamped into
    /// the stored range as a Kafka consumer seeking out of range would be, and the offset
    /// after the last one returned.
    pub async fn read_records(
        &self,
        topic: &str,
        partition: u32,
        offset: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<StoredRecord>, u64)> {
        let topic = self.topic(topic)?;
        if partition >= topic.partition_count() {
            return Err(EngineError::new(
                ErrorCode::PartitionNotFound,
                format!(
                    "Partition {partition} of topic '{}' does not exist",
                    topic.name()
                ),
            ));
        }
        let start = topic.start_offset(PartitionId(partition));
        let end = topic.end_offset(PartitionId(partition));
        let from = Offset(offset.unwrap_or(start.0)).clamp(start, end);
        let records = raw_records::read(topic.as_ref(), partition, from, limit).await?;
        let next = records.last().map_or(from.0, |r| r.offset.0 + 1);
        Ok((records, next))
    }

    fn topic(&self, name: &str) -> Result<std::sync::Arc<dyn TopicLog>> {
        self.rt.log.topic(name).ok_or_else(|| topic_not_found(name))
    }
}

fn topic_not_found(name: &str) -> EngineError {
    EngineError::new(
        ErrorCode::TopicNotFound,
        format!("Topic '{name}' does not exist"),
    )
}

fn describe(topic: &dyn TopicLog) -> TopicDescription {
    TopicDescription {
        name: topic.name().to_string(),
        partitions: (0..topic.partition_count())
            .map(|p| PartitionRange {
                partition: p,
                start_offset: topic.start_offset(PartitionId(p)).0,
                end_offset: topic.end_offset(PartitionId(p)).0,
            })
            .collect(),
    }
}
