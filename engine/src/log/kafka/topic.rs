//! One Kafka topic as a [`TopicLog`]: opening it (watermarks, fetcher), appends, cursors.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::sync::Notify;

use super::client::{close_off_thread, kafka_error, off_runtime, LogContext};
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS, TOPIC_READY_TIMEOUT_MS};
use super::cursor::KafkaCursor;
use super::fetcher::Fetcher;
use super::producer::AppendProducer;
use super::shared::TopicShared;
use super::tail::Tail;
use crate::error::{EngineError, Result};
use crate::log::{
    AppendTicket, Offset, PartitionCursor, PartitionId, Record, StartPosition, TopicLog,
};

/// How long a failed watermark read waits before it is retried, in milliseconds.
const WATERMARK_RETRY_MS: u64 = 50;

/// A topic of the Kafka log.
pub struct KafkaTopic {
    shared: Arc<TopicShared>,
    producer: Arc<AppendProducer>,
    /// Per partition: held while one append's records are handed to librdkafka.
    send_locks: Vec<Mutex<()>>,
    fetcher: Fetcher,
    /// The fetcher's consumer, also used here to read watermarks (`None` once dropped).
    consumer: Option<Arc<BaseConsumer<LogContext>>>,
}

impl KafkaTopic {
    /// Opens a topic that exists on the cluster with `partitions` partitions: reads its
    /// watermarks and starts its fetcher (which fetches once the topic has cursors).
    pub(super) fn open(
        name: &str,
        partitions: u32,
        config: Arc<KafkaConfig>,
        producer: Arc<AppendProducer>,
    ) -> Result<KafkaTopic> {
        producer.refresh_topic(name, partitions)?;
        let consumer = Arc::new(Fetcher::consumer(&config)?);
        let (starts, ends) = watermarks(&consumer, name, partitions, TOPIC_READY_TIMEOUT_MS)?;
        let shared = Arc::new(TopicShared {
            name: name.to_owned(),
            tails: ends
                .iter()
                .map(|&end| Mutex::new(Tail::new(end, partitions)))
                .collect(),
            ends: ends.into_iter().map(AtomicU64::new).collect(),
            starts: starts.into_iter().map(AtomicU64::new).collect(),
            config: config.clone(),
            data_ready: Arc::new(Notify::new()),
            deleted: AtomicBool::new(false),
            catch_up_cursors: AtomicUsize::new(0),
            readers: AtomicUsize::new(0),
        });
        let fetcher = Fetcher::start(consumer.clone(), shared.clone())?;
        Ok(KafkaTopic {
            consumer: Some(consumer),
            send_locks: (0..partitions).map(|_| Mutex::new(())).collect(),
            shared,
            producer,
            fetcher,
        })
    }

    fn check_partition(&self, partition: PartitionId) -> Result<()> {
        if partition.0 as usize >= self.send_locks.len() {
            return Err(EngineError::not_found(format!(
                "topic '{}' has no partition {} (it has {})",
                self.shared.name,
                partition.0,
                self.send_locks.len()
            )));
        }
        Ok(())
    }

    fn deleted_error(&self) -> EngineError {
        EngineError::not_found(format!("topic '{}' was deleted", self.shared.name))
    }

    /// Ends the topic for its users: appends fail, cursors end, waiters wake.
    pub(super) fn mark_deleted(&self) {
        self.shared.deleted.store(true, Ordering::Release);
        self.fetcher.stop();
        self.shared.data_ready.notify_waiters();
    }

    /// Stops the fetcher and waits for its thread (the log is closing).
    pub(super) fn close(&self) {
        off_runtime(|| self.fetcher.join());
    }
}

impl Drop for KafkaTopic {
    /// The fetcher thread exits by itself within a poll; not joined here, and the consumer
    /// not closed here, since the last handle may be dropped on an async worker.
    fn drop(&mut self) {
        self.fetcher.stop();
        if let Some(consumer) = self.consumer.take() {
            close_off_thread(consumer);
        }
    }
}

/// Reads each partition's (low, high) watermarks. Right after a create, a new client's
/// metadata can lag the topic's (NotLeaderForPartition, UnknownTopicOrPartition): those
/// are retried for `retry_ms`.
fn watermarks(
    consumer: &BaseConsumer<LogContext>,
    name: &str,
    partitions: u32,
    retry_ms: u64,
) -> Result<(Vec<u64>, Vec<u64>)> {
    off_runtime(|| {
        let deadline = Instant::now() + Duration::from_millis(retry_ms);
        let mut starts = Vec::with_capacity(partitions as usize);
        let mut ends = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let (low, high) = loop {
                match consumer.fetch_watermarks(
                    name,
                    p as i32,
                    Duration::from_millis(ADMIN_TIMEOUT_MS),
                ) {
                    Ok(marks) => break marks,
                    Err(e) if Instant::now() < deadline => {
                        tracing::debug!(topic = %name, partition = p, error = %e,
                            "retrying a watermark read");
                        std::thread::sleep(Duration::from_millis(WATERMARK_RETRY_MS));
                    }
                    Err(e) => {
                        return Err(kafka_error(
                            &format!("reading the offsets of topic '{name}' partition {p}"),
                            e,
                        ))
                    }
                }
            };
            starts.push(low.max(0) as u64);
            ends.push(high.max(0) as u64);
        }
        Ok((starts, ends))
    })
}

impl TopicLog for KafkaTopic {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn partition_count(&self) -> u32 {
        self.send_locks.len() as u32
    }

    fn append(
        &self,
        partition: PartitionId,
        records: Vec<Record>,
    ) -> Pin<Box<dyn Future<Output = Result<AppendTicket>> + Send + '_>> {
        Box::pin(async move {
            if self.is_deleted() {
                return Err(self.deleted_error());
            }
            self.check_partition(partition)?;
            let lock = &self.send_locks[partition.0 as usize];
            self.producer
                .append(&self.shared, partition, lock, records)
                .await
        })
    }

    /// `Offset(0)` for a partition the topic does not have.
    fn end_offset(&self, partition: PartitionId) -> Offset {
        self.shared.end_offset(partition)
    }

    /// `Offset(0)` for a partition the topic does not have.
    fn start_offset(&self, partition: PartitionId) -> Offset {
        self.shared.start_offset(partition)
    }

    fn cursor(
        &self,
        partition: PartitionId,
        start: StartPosition,
    ) -> Result<Box<dyn PartitionCursor>> {
        if self.is_deleted() {
            return Err(self.deleted_error());
        }
        self.check_partition(partition)?;
        if !self.shared.has_readers() {
            // Nobody read the topic, so the fetcher saw no record written by others since:
            // learn the ends from the cluster, so `Latest` and a pull query's end are current.
            let consumer = self.consumer.as_ref().expect("dropped only with the topic");
            match watermarks(consumer, &self.shared.name, self.partition_count(), 0) {
                Ok((starts, ends)) => self.shared.refresh(&starts, &ends),
                Err(error) => tracing::warn!(topic = %self.shared.name, %error,
                    "could not refresh the offsets; using the last known ones"),
            }
        }
        Ok(Box::new(KafkaCursor::new(
            self.shared.clone(),
            partition,
            start,
        )))
    }

    fn data_ready(&self) -> Arc<Notify> {
        self.shared.data_ready.clone()
    }

    fn is_deleted(&self) -> bool {
        self.shared.deleted.load(Ordering::Acquire)
    }

    fn refresh_ends(&self) -> Result<()> {
        let consumer = self.consumer.as_ref().expect("dropped only with the topic");
        let (starts, ends) = watermarks(consumer, &self.shared.name, self.partition_count(), 0)?;
        self.shared.refresh(&starts, &ends);
        Ok(())
    }
}
