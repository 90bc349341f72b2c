//! Appends: one idempotent producer (acks=all) for the whole log, and the bookkeeping that
//! turns Kafka's per-record delivery reports into one [`AppendTicket`] per append.
//!
//! ```text
//!  append(p, records) ─ acquire in-flight permits (async; the backpressure)
//!                     ─ lock partition p ─ send each record to librdkafka's queue ─ unlock
//!  librdkafka ─► broker (acks=all, idempotent) ─► delivery report per record
//!             ─► producer thread: PendingAppend counts down; the last report resolves the
//!                ticket with the append's first offset and returns the permits
//! ```
//!
//! Order: librdkafka keeps each partition's queue in send order and, with idempotence,
//! retries without reordering; the partition lock keeps one append's records together in
//! that queue, so they get contiguous offsets unless another producer (another node, a
//! plain client) writes the partition between two of its batches.
//!
//! A failed append: the idempotent producer fails a record only when it gives up (message
//! timeout, a fatal error); records of the same append sent before it may still be stored.
//! The contract's "none of a failed append is readable" needs Kafka transactions (phase 2:
//! a transactional producer aborts the whole append). Until then Sluice never acks such an
//! append, so no client is told a row is stored that might not be.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tokio::sync::{oneshot, Semaphore};

use super::client::{kafka_error, off_runtime, LogContext};
use super::config::{
    KafkaConfig, ADMIN_TIMEOUT_MS, APPEND_INFLIGHT_BYTES_MAX, APPEND_INFLIGHT_RECORDS_MAX,
    RECORD_BYTES_MAX, TOPIC_READY_TIMEOUT_MS,
};
use super::shared::TopicShared;
use crate::error::{EngineError, Result};
use crate::log::{AppendTicket, Offset, PartitionId, Record, APPEND_REQUEST_BYTES_MAX};

impl ProducerContext for LogContext {
    type DeliveryOpaque = Arc<PendingAppend>;

    /// Runs on the producer's polling thread, once per record.
    fn delivery(&self, result: &DeliveryResult<'_>, pending: Arc<PendingAppend>) {
        match result {
            Ok(message) => pending.delivered(message.offset()),
            Err((error, _)) => pending.failed(1, error.to_string()),
        }
    }
}

/// Bounds on what is sent but not yet acknowledged, shared by every topic.
struct Inflight {
    records: Semaphore,
    bytes: Semaphore,
}

/// One append waiting for its records' delivery reports.
pub(super) struct PendingAppend {
    state: Mutex<AppendState>,
    inflight: Arc<Inflight>,
    topic: Arc<TopicShared>,
    partition: PartitionId,
}

struct AppendState {
    /// Records whose report has not arrived (or that were never sent, until subtracted).
    remaining: usize,
    records: usize,
    bytes: usize,
    first: i64,
    last: i64,
    error: Option<String>,
    reply: Option<oneshot::Sender<Result<Offset>>>,
}

impl PendingAppend {
    fn delivered(&self, offset: i64) {
        let mut state = self.lock();
        state.first = state.first.min(offset);
        state.last = state.last.max(offset);
        state.remaining -= 1;
        self.finish_if_done(state);
    }

    /// `count` records failed (a report with an error, or records never sent).
    fn failed(&self, count: usize, error: String) {
        let mut state = self.lock();
        state.error.get_or_insert(error);
        state.remaining -= count;
        self.finish_if_done(state);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AppendState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish_if_done(&self, mut state: std::sync::MutexGuard<'_, AppendState>) {
        if state.remaining > 0 {
            return;
        }
        let Some(reply) = state.reply.take() else {
            return;
        };
        let outcome = match state.error.take() {
            Some(error) => Err(EngineError::internal(format!(
                "Kafka did not acknowledge an append to topic '{}' partition {}: {error}",
                self.topic.name, self.partition.0
            ))),
            None => {
                // Invariant: one append's records are contiguous while this process is the
                // partition's only producer (see the module doc); another writer interleaving
                // is legal in Kafka, so it is logged, not failed.
                let span = (state.last - state.first + 1) as usize;
                if span != state.records {
                    tracing::warn!(topic = %self.topic.name, partition = self.partition.0,
                        first = state.first, last = state.last, records = state.records,
                        "an append's records are not contiguous: another producer wrote between them");
                }
                self.topic
                    .acknowledged(self.partition, Offset(state.last as u64 + 1));
                Ok(Offset(state.first as u64))
            }
        };
        self.inflight.records.add_permits(state.records);
        self.inflight.bytes.add_permits(state.bytes);
        drop(state);
        // The appender may have given up waiting (its client left); nothing to tell then.
        let _ = reply.send(outcome);
    }
}

/// How often `refresh_topic` asks again while the cluster's answer lags, in milliseconds.
const METADATA_RETRY_MS: u64 = 50;

/// The log's one producer.
pub(super) struct AppendProducer {
    producer: ThreadedProducer<LogContext>,
    inflight: Arc<Inflight>,
    closed: AtomicBool,
}

impl AppendProducer {
    pub fn new(config: &KafkaConfig) -> Result<AppendProducer> {
        let producer = config
            .producer()
            .create_with_context(LogContext)
            .map_err(|e| kafka_error("creating the Kafka producer", e))?;
        Ok(AppendProducer {
            producer,
            inflight: Arc::new(Inflight {
                records: Semaphore::new(APPEND_INFLIGHT_RECORDS_MAX),
                bytes: Semaphore::new(APPEND_INFLIGHT_BYTES_MAX),
            }),
            closed: AtomicBool::new(false),
        })
    }

    /// Sends `records` to `partition` of `topic`; the ticket resolves when Kafka has
    /// acknowledged all of them. `lock` is the partition's send lock.
    pub async fn append(
        &self,
        topic: &Arc<TopicShared>,
        partition: PartitionId,
        lock: &Mutex<()>,
        records: Vec<Record>,
    ) -> Result<AppendTicket> {
        let (reply, ticket) = oneshot::channel();
        if records.is_empty() {
            let _ = reply.send(Ok(topic.end_offset(partition)));
            return Ok(ticket);
        }
        let bytes = request_bytes(&records)?;
        if records.len() > APPEND_INFLIGHT_RECORDS_MAX {
            return Err(EngineError::bad_request(format!(
                "append of {} records exceeds the limit of {APPEND_INFLIGHT_RECORDS_MAX}",
                records.len()
            )));
        }
        let closed = |_| EngineError::internal("the Kafka log is closed");
        let record_permits = self
            .inflight
            .records
            .acquire_many(
                u32::try_from(records.len()).expect("records <= APPEND_INFLIGHT_RECORDS_MAX"),
            )
            .await
            .map_err(closed)?;
        let byte_permits = self
            .inflight
            .bytes
            .acquire_many(u32::try_from(bytes).expect("bytes <= APPEND_REQUEST_BYTES_MAX"))
            .await
            .map_err(closed)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(EngineError::internal("the Kafka log is closed"));
        }
        // From here the delivery reports return the permits.
        record_permits.forget();
        byte_permits.forget();
        let pending = Arc::new(PendingAppend {
            state: Mutex::new(AppendState {
                remaining: records.len(),
                records: records.len(),
                bytes,
                first: i64::MAX,
                last: i64::MIN,
                error: None,
                reply: Some(reply),
            }),
            inflight: self.inflight.clone(),
            topic: topic.clone(),
            partition,
        });
        let partition_number =
            i32::try_from(partition.0).expect("partitions <= TOPIC_PARTITIONS_MAX");
        // Held across the sends only (no await): one append's records stay together in the
        // partition's queue.
        let _together = lock.lock().unwrap_or_else(|p| p.into_inner());
        let total = records.len();
        for (i, record) in records.iter().enumerate() {
            let mut base: BaseRecord<'_, [u8], [u8], Arc<PendingAppend>> =
                BaseRecord::with_opaque_to(&topic.name, pending.clone())
                    .partition(partition_number)
                    .timestamp(record.timestamp_ms);
            if let Some(key) = &record.key {
                base = base.key(key.as_ref());
            }
            if let Some(value) = &record.value {
                base = base.payload(value.as_ref());
            }
            if !record.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                for (key, value) in &record.headers {
                    headers = headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    });
                }
                base = base.headers(headers);
            }
            if let Err((error, _)) = self.producer.send(base) {
                // The records before this one are queued and will report; this one and the
                // rest never will, so they are counted as failed now.
                pending.failed(total - i, error.to_string());
                break;
            }
        }
        Ok(ticket)
    }

    /// Makes the producer's view of `topic` current: until librdkafka's next periodic
    /// refresh, a producer that saw a topic deleted fails every record sent to a new topic of
    /// the same name at once ("Unknown topic"). Asks the cluster until it shows the topic
    /// with `partitions` partitions, at most `TOPIC_READY_TIMEOUT_MS`.
    pub fn refresh_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let deadline = Instant::now() + Duration::from_millis(TOPIC_READY_TIMEOUT_MS);
        loop {
            let metadata = off_runtime(|| {
                self.producer
                    .client()
                    .fetch_metadata(Some(topic), Duration::from_millis(ADMIN_TIMEOUT_MS))
            })
            .map_err(|e| kafka_error(&format!("reading the metadata of topic '{topic}'"), e))?;
            let known = metadata.topics().iter().any(|t| {
                t.name() == topic
                    && t.error().is_none()
                    && t.partitions().len() as u32 == partitions
            });
            if known {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(EngineError::internal(format!(
                    "the producer did not see topic '{topic}' with {partitions} partitions \
                     within {TOPIC_READY_TIMEOUT_MS} ms"
                )));
            }
            std::thread::sleep(Duration::from_millis(METADATA_RETRY_MS));
        }
    }

    /// Waits for what is queued to be acknowledged (or to fail), up to `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            tracing::warn!(%error, "the Kafka producer did not flush every record before closing");
        }
    }

    /// Refuses new appends; appenders waiting for permits fail.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.inflight.records.close();
        self.inflight.bytes.close();
    }
}

/// Validates sizes and returns the request's size (key + value + headers).
fn request_bytes(records: &[Record]) -> Result<usize> {
    let mut total = 0usize;
    for record in records {
        let len = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len())
            + record
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>();
        if len > RECORD_BYTES_MAX {
            return Err(EngineError::bad_request(format!(
                "record of {len} bytes exceeds the limit of {RECORD_BYTES_MAX} bytes"
            )));
        }
        total += len;
    }
    if total > APPEND_REQUEST_BYTES_MAX {
        return Err(EngineError::bad_request(format!(
            "append of {total} bytes exceeds the limit of {APPEND_REQUEST_BYTES_MAX} bytes"
        )));
    }
    Ok(total)
}
