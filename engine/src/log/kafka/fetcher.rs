//! One background consumer per topic, tailing every partition into a bounded in-memory
//! window (the "tail") that all of the topic's cursors read from.
//!
//! ```text
//!  fetcher thread: poll(FETCH_POLL_MS) ─► record ─► tails[p].push (evict oldest beyond
//!                  the window) ─► after each batch: data_ready.notify_waiters()
//!  cursor.read:    tails[p] covers position? copy out (Bytes clones, no copy of data)
//!                  position before the window? a private catch-up consumer (cursor.rs)
//! ```
//!
//! Any number of push queries on a topic cost one Kafka consumer, and a waiting query holds
//! nothing: the window belongs to the topic. The fetcher fetches only while the topic has
//! cursors, from the partitions' known ends when it (re)starts, so a query from `Latest` is
//! served from memory; a query from `Earliest` (or one that fell further behind than the
//! window) reads history through its own consumer until it reaches the window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};

use super::client::{kafka_error, LogContext};
use super::config::{KafkaConfig, FETCHER_QUEUE_KBYTES};
use super::shared::TopicShared;
use super::tail::to_stored;
use crate::error::Result;
use crate::log::{Offset, PartitionId};

/// How long the fetcher waits in one poll, in milliseconds: how fast it notices a stop, and
/// how often it wakes catch-up cursors when any exist.
pub const FETCH_POLL_MS: u64 = 50;

/// Most records the fetcher moves into the tails before it wakes readers.
///
/// Readers see a busy partition's records in batches of this size at most (latency), and
/// each wake-up pays for at least this many (efficiency): 1,024 is ~1 ms of records at
/// 1M rows/s.
pub const FETCH_BATCH_RECORDS_MAX: usize = 1024;

/// The running fetcher of one topic.
pub(super) struct Fetcher {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Fetcher {
    /// The consumer a fetcher runs on (it also reads the topic's watermarks first).
    pub fn consumer(config: &KafkaConfig) -> Result<BaseConsumer<LogContext>> {
        config
            .reader("fetcher", FETCHER_QUEUE_KBYTES)
            .create_with_context(LogContext)
            .map_err(|e| kafka_error("creating a Kafka consumer", e))
    }

    /// Starts the fetcher thread. It fetches only while the topic has cursors (see `run`).
    pub fn start(
        consumer: Arc<BaseConsumer<LogContext>>,
        shared: Arc<TopicShared>,
    ) -> Result<Fetcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("kafka-fetch-{}", shared.name))
                .spawn(move || run(&consumer, &shared, &stop))?
        };
        Ok(Fetcher {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Tells the thread to stop; it closes its consumer (a blocking call) on its own.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Stops the thread and waits for it (never on an async worker: see `off_runtime`).
    pub fn join(&self) {
        self.stop();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("a Kafka fetcher thread panicked");
            }
        }
    }
}

/// Resumes fetching every partition at the topic's known end, with the windows restarted
/// empty there: what was written while nobody read is history (catch-up consumers read it),
/// not something to pull through the window.
fn resume(consumer: &BaseConsumer<LogContext>, shared: &TopicShared) -> Result<()> {
    let mut assignment = TopicPartitionList::new();
    for (p, tail) in shared.tails.iter().enumerate() {
        let at = shared.end_offset(PartitionId(p as u32)).0;
        tail.lock().unwrap_or_else(|e| e.into_inner()).reset(at);
        assignment
            .add_partition_offset(&shared.name, p as i32, KafkaOffset::Offset(at as i64))
            .map_err(|e| kafka_error("assigning partitions", e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| kafka_error("assigning partitions", e))
}

/// Moves each partition's window end up to the consumer's position where that is past the
/// last record read, and returns whether any moved. A read_committed consumer steps over
/// offsets that hold no record for it (each transaction's commit or abort marker, aborted
/// batches) without returning anything; its position is past them. Without this, readers
/// of a topic written in transactions (ksqlDB's exactly-once queries, any transactional
/// producer) would stop one offset short of the partition's end and never be caught up.
fn skip_to_positions(consumer: &BaseConsumer<LogContext>, shared: &TopicShared) -> bool {
    let Ok(positions) = consumer.position() else {
        return false;
    };
    let mut moved = false;
    for elem in positions.elements_for_topic(&shared.name) {
        let (Ok(p), KafkaOffset::Offset(at)) = (usize::try_from(elem.partition()), elem.offset())
        else {
            continue;
        };
        let (Some(tail), Ok(at)) = (shared.tails.get(p), u64::try_from(at)) else {
            continue;
        };
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if at > tail.next {
            tail.skip_to(at);
            drop(tail);
            shared.fetched(PartitionId(p as u32), Offset(at));
            moved = true;
        }
    }
    moved
}

/// The fetcher thread. It fetches only while the topic has cursors: a topic that is only
/// written (ingest with no push query) costs no consumer traffic and no copies.
fn run(consumer: &BaseConsumer<LogContext>, shared: &TopicShared, stop: &AtomicBool) {
    let poll = Duration::from_millis(FETCH_POLL_MS);
    let mut fetching = false;
    while !stop.load(Ordering::Acquire) {
        let wanted = shared.has_readers();
        if wanted && !fetching {
            match resume(consumer, shared) {
                Ok(()) => {
                    fetching = true;
                    // Cursors that read the old window and wait must look again: the one
                    // before the new window now reads through a catch-up consumer.
                    shared.data_ready.notify_waiters();
                }
                Err(error) => {
                    tracing::warn!(topic = %shared.name, %error, "could not resume fetching");
                    std::thread::sleep(poll);
                    continue;
                }
            }
        } else if !wanted && fetching {
            if let Err(error) = consumer.unassign() {
                tracing::warn!(topic = %shared.name, %error, "could not pause fetching");
            }
            fetching = false;
        }
        let mut moved = 0;
        let mut failed = false;
        let mut drained = false;
        let mut timeout = poll;
        while moved < FETCH_BATCH_RECORDS_MAX {
            match consumer.poll(timeout) {
                None => {
                    drained = true;
                    break;
                }
                Some(Ok(message)) => {
                    let stored = to_stored(&message);
                    let p = stored.partition.0 as usize;
                    let Some(tail) = shared.tails.get(p) else {
                        continue; // a partition added behind our back (phase 2)
                    };
                    let end = stored.offset.0 + 1;
                    tail.lock().unwrap_or_else(|e| e.into_inner()).push(stored);
                    shared.fetched(PartitionId(p as u32), Offset(end));
                    moved += 1;
                }
                Some(Err(error)) => {
                    tracing::warn!(topic = %shared.name, %error, "Kafka fetch error");
                    failed = true;
                    break;
                }
            }
            timeout = Duration::ZERO;
        }
        let skipped = fetching && drained && skip_to_positions(consumer, shared);
        if moved > 0 || skipped || shared.has_catch_up_cursors() {
            shared.data_ready.notify_waiters();
        }
        if failed {
            // librdkafka retries by itself; this only keeps a persistent error from spinning.
            std::thread::sleep(poll);
        }
    }
    tracing::debug!(topic = %shared.name, "fetcher stopped");
}
