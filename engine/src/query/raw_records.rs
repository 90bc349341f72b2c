//! Raw record access: produce pre-keyed records to a topic and read them back, with no
//! stream schema in between (the REST-proxy face in `protocol::topics`).
//!
//! ```text
//!  produce: records ─► partition (explicit | murmur2(key) | spread) ─► log append per partition ─► offsets
//!  read:    cursor(partition, offset) ─► up to `limit` committed records, up to the end it had
//! ```

use std::sync::LazyLock;

use crate::error::{EngineError, Result};
use crate::log::{
    partition_for_key, read_to, KeylessSpreader, Offset, PartitionId, Record, StartPosition,
    StoredRecord, TopicLog,
};

/// Spreads keyless raw records over partitions. One for the process, so single-record
/// requests do not all land on partition 0.
static KEYLESS: LazyLock<KeylessSpreader> = LazyLock::new(KeylessSpreader::new);

/// One record to produce; `partition: None` lets the key choose (Kafka's default
/// partitioner), or spreads a keyless record.
#[derive(Debug, Clone, PartialEq)]
pub struct ProduceRecord {
    pub partition: Option<u32>,
    pub record: Record,
}

/// Where one produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    pub partition: PartitionId,
    pub offset: Offset,
}

/// The partition a record goes to, or `NotFound` for an explicit partition the topic lacks.
pub fn choose_partition(topic: &dyn TopicLog, record: &ProduceRecord) -> Result<PartitionId> {
    let partitions = topic.partition_count();
    match (record.partition, &record.record.key) {
        (Some(p), _) if p < partitions => Ok(PartitionId(p)),
        (Some(p), _) => Err(EngineError::not_found(format!(
            "Partition {p} of topic '{}' does not exist",
            topic.name()
        ))),
        (None, Some(key)) => Ok(partition_for_key(key, partitions)),
        (None, None) => Ok(KEYLESS.next_partition(partitions)),
    }
}

/// Appends `records` (one append per partition, each partition's records in request
/// order) and resolves once all are durable, with each record's position in request order.
pub async fn produce(topic: &dyn TopicLog, records: Vec<ProduceRecord>) -> Result<Vec<Produced>> {
    let partitions = records
        .iter()
        .map(|r| choose_partition(topic, r))
        .collect::<Result<Vec<_>>>()?;
    // Group by partition, remembering each record's index within its partition's batch.
    let mut batches: Vec<(PartitionId, Vec<Record>)> = Vec::new();
    let mut slots = Vec::with_capacity(records.len());
    for (record, partition) in records.into_iter().zip(&partitions) {
        let batch = match batches.iter().position(|(p, _)| p == partition) {
            Some(i) => i,
            None => {
                batches.push((*partition, Vec::new()));
                batches.len() - 1
            }
        };
        slots.push((batch, batches[batch].1.len() as u64));
        batches[batch].1.push(record.record);
    }
    let mut tickets = Vec::with_capacity(batches.len());
    for (partition, batch) in batches {
        tickets.push(topic.append(partition, batch).await?);
    }
    let mut first_offsets = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let first = ticket
            .await
            .map_err(|_| EngineError::internal("the partition writer stopped"))??;
        first_offsets.push(first);
    }
    Ok(slots
        .into_iter()
        .zip(partitions)
        .map(|((batch, index), partition)| Produced {
            partition,
            offset: Offset(first_offsets[batch].0 + index),
        })
        .collect())
}

/// Up to `limit` committed records of `partition` from `offset` (clamped into the stored
/// range, as a Kafka consumer seeking out of range would be): every record stored up to the
/// end the partition had when the read began, waiting (bounded) only for records a Kafka
/// fetch still has in flight, never for new ones.
pub async fn read(
    topic: &dyn TopicLog,
    partition: u32,
    offset: Offset,
    limit: usize,
) -> Result<Vec<StoredRecord>> {
    if partition >= topic.partition_count() {
        return Err(EngineError::not_found(format!(
            "Partition {partition} of topic '{}' does not exist",
            topic.name()
        )));
    }
    let end = topic.end_offset(PartitionId(partition));
    let mut cursor = topic.cursor(PartitionId(partition), StartPosition::At(offset))?;
    let mut out = Vec::with_capacity(limit.min(1024));
    read_to(topic, cursor.as_mut(), end, &mut out, limit).await?;
    Ok(out)
}
