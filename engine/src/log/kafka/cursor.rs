//! A reader of one partition: from the topic's tail window when its position is inside it,
//! otherwise through a private catch-up consumer until it reaches the window.
//!
//! ```text
//!  read(): position < tail.first ──► catch-up consumer (poll, never waits) ──┐
//!          position ≥ tail.first ──► copy records ≥ position from the tail   │
//!                         ▲                                                  │
//!                         └──────── reaches tail.first: consumer closed ─────┘
//! ```
//!
//! `read` never waits. It can return 0 while a catch-up fetch is in flight, not only when
//! caught up; the data then arrives with a `data_ready` notification (the catch-up
//! consumer's queue wakes it, and the fetcher wakes catch-up cursors every poll), so
//! callers wait on `data_ready` and read again, as with every backend.
//!
//! A catch-up consumer is closed on a thread of its own: librdkafka's close blocks, and
//! cursors are dropped on async workers.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};

use super::client::{close_off_thread, kafka_error, LogContext};
use super::config::CATCH_UP_QUEUE_KBYTES;
use super::shared::TopicShared;
use super::tail::to_stored;
use crate::error::{EngineError, Result};
use crate::log::{Offset, PartitionCursor, PartitionId, StartPosition, StoredRecord};

/// Reads one partition's committed records in offset order.
pub(super) struct KafkaCursor {
    shared: Arc<TopicShared>,
    partition: PartitionId,
    /// The next offset to return.
    next: Offset,
    catch_up: Option<BaseConsumer<LogContext>>,
}

impl KafkaCursor {
    /// A cursor at `start`; `At` is clamped into the stored range, as a Kafka consumer with
    /// an out-of-range position resets to the nearest end.
    pub fn new(
        shared: Arc<TopicShared>,
        partition: PartitionId,
        start: StartPosition,
    ) -> KafkaCursor {
        let first = shared.start_offset(partition);
        let end = shared.end_offset(partition);
        let next = match start {
            StartPosition::Earliest => first,
            StartPosition::Latest => end,
            StartPosition::At(offset) => offset.clamp(first, end),
        };
        shared.reader_opened();
        KafkaCursor {
            shared,
            partition,
            next,
            catch_up: None,
        }
    }

    fn start_catch_up(&mut self) -> Result<()> {
        let mut consumer: BaseConsumer<LogContext> = self
            .shared
            .config
            .reader("reader", CATCH_UP_QUEUE_KBYTES)
            .create_with_context(LogContext)
            .map_err(|e| kafka_error("creating a Kafka consumer", e))?;
        let ready = self.shared.data_ready.clone();
        consumer.set_nonempty_callback(move || ready.notify_waiters());
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(
                &self.shared.name,
                self.partition.0 as i32,
                KafkaOffset::Offset(self.next.0 as i64),
            )
            .map_err(|e| kafka_error("assigning a partition", e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error("assigning a partition", e))?;
        self.shared.catch_up_started();
        self.catch_up = Some(consumer);
        Ok(())
    }

    fn end_catch_up(&mut self) {
        if let Some(consumer) = self.catch_up.take() {
            self.shared.catch_up_ended();
            close_off_thread(consumer);
        }
    }

    /// Reads from the catch-up consumer while the position is before the tail window.
    /// Returns `false` when the cursor must wait (nothing fetched yet).
    fn read_catch_up(
        &mut self,
        out: &mut Vec<StoredRecord>,
        max_records: usize,
        added: &mut usize,
    ) -> Result<bool> {
        while *added < max_records {
            let tail_first = self.tail_first();
            if self.next.0 >= tail_first {
                self.end_catch_up();
                return Ok(true);
            }
            if self.catch_up.is_none() {
                self.start_catch_up()?;
            }
            let consumer = self.catch_up.as_ref().expect("started above");
            match consumer.poll(Duration::ZERO) {
                None => match position(consumer, &self.shared.name, self.partition) {
                    // Past offsets that hold no record for this reader: go on from there.
                    Some(at) if at > self.next.0 => self.next = Offset(at),
                    _ => return Ok(false),
                },
                Some(Ok(message)) => {
                    let stored = to_stored(&message);
                    if stored.offset < self.next {
                        continue; // before a seek's target
                    }
                    self.next = Offset(stored.offset.0 + 1);
                    out.push(stored);
                    *added += 1;
                }
                Some(Err(error)) => {
                    // librdkafka retries fetch errors itself; report and let the caller wait.
                    tracing::warn!(topic = %self.shared.name, partition = self.partition.0,
                        %error, "Kafka fetch error");
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn tail_first(&self) -> u64 {
        self.shared.tails[self.partition.0 as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first
    }
}

impl PartitionCursor for KafkaCursor {
    fn partition(&self) -> PartitionId {
        self.partition
    }

    fn position(&self) -> Offset {
        self.next
    }

    fn read(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize> {
        if self
            .shared
            .deleted
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(EngineError::not_found(format!(
                "topic '{}' was deleted",
                self.shared.name
            )));
        }
        let mut added = 0;
        if !self.read_catch_up(out, max_records, &mut added)? || added == max_records {
            return Ok(added);
        }
        let tail = self.shared.tails[self.partition.0 as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.next.0 < tail.first {
            // The window moved past us between the check and now: catch up next time.
            return Ok(added);
        }
        let from = tail.records.partition_point(|r| r.offset < self.next);
        let take = (max_records - added).min(tail.records.len() - from);
        for stored in tail.records.range(from..from + take) {
            // Invariant: offsets go forward (they may skip: transaction markers, compaction).
            debug_assert!(stored.offset >= self.next);
            out.push(stored.clone());
            self.next = Offset(stored.offset.0 + 1);
        }
        added += take;
        if from + take == tail.records.len() && self.next.0 < tail.next {
            // Read everything the fetcher has: its position also covers offsets that hold
            // no record (transaction markers), which a reader must get past.
            self.next = Offset(tail.next);
        }
        Ok(added)
    }

    fn seek_to(&mut self, offset: Offset) {
        let first = self.shared.start_offset(self.partition);
        let end = self.shared.end_offset(self.partition);
        self.next = offset.clamp(first, end);
        // A new catch-up consumer starts at the new position if one is needed.
        self.end_catch_up();
    }

    /// Holds nothing between reads from the tail; a catch-up consumer keeps its (bounded)
    /// prefetch, since reopening it would cost a connection per wait.
    fn release_buffers(&mut self) {}
}

impl Drop for KafkaCursor {
    fn drop(&mut self) {
        self.end_catch_up();
        self.shared.reader_closed();
    }
}

/// `consumer`'s position in `partition` of `topic`. A read_committed consumer steps over
/// offsets that hold no record for it (each transaction's commit or abort marker, aborted
/// batches) without returning anything, so its position can be past the last record it
/// returned; see `fetcher::skip_to_positions`.
fn position(consumer: &BaseConsumer<LogContext>, topic: &str, partition: PartitionId) -> Option<u64> {
    let positions = consumer.position().ok()?;
    let elem = positions.find_partition(topic, partition.0 as i32)?;
    match elem.offset() {
        KafkaOffset::Offset(at) => u64::try_from(at).ok(),
        _ => None,
    }
}
