//! Reading one partition of an internal topic (the checkpoint topic, a state changelog)
//! from an offset to the end it had when the read began, committed records only.
//!
//! ```text
//!  bounds: a read_uncommitted probe's watermarks (low, high): every transaction committed
//!          before the call has its records below `high`
//!  read(from, high): assign at `from` ─► poll until the position reaches `high`
//!                    (read_committed skips aborted records and transaction markers)
//! ```

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};

use super::client::{close_off_thread, kafka_error, LogContext};
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS, CATCH_UP_QUEUE_KBYTES};
use crate::error::{EngineError, Result};

/// How long one poll of a partition read waits, in milliseconds.
const READ_POLL_MS: u64 = 50;

/// The partition's first offset and its high watermark, as a read_uncommitted reader sees
/// them: the records of transactions committed before this call are below the second;
/// read_committed then reads up to it once their markers are written. Blocking.
pub(super) fn partition_bounds(
    config: &KafkaConfig,
    role: &str,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64)> {
    let mut probe = config.reader(role, CATCH_UP_QUEUE_KBYTES);
    probe.set("isolation.level", "read_uncommitted");
    let probe: BaseConsumer<LogContext> = probe
        .create_with_context(LogContext)
        .map_err(|e| kafka_error(&format!("creating a reader of '{topic}'"), e))?;
    let bounds = probe
        .fetch_watermarks(topic, partition, Duration::from_millis(ADMIN_TIMEOUT_MS))
        .map_err(|e| kafka_error(&format!("reading the end of '{topic}'"), e));
    close_off_thread(probe);
    bounds
}

/// Calls `visit` with every committed record of `topic`'s `partition` from `from` up to
/// `high` (from [`partition_bounds`]), in offset order. Fails if no record arrives for
/// `stall_ms` milliseconds before the end is reached (a dead writer's open transaction
/// holds the end back at most its transaction timeout). Blocking.
pub(super) fn read_partition(
    config: &KafkaConfig,
    role: &str,
    topic: &str,
    partition: i32,
    (from, high): (i64, i64),
    stall_ms: u64,
    visit: &mut dyn FnMut(&BorrowedMessage<'_>) -> Result<()>,
) -> Result<()> {
    if from >= high {
        return Ok(());
    }
    let reader: BaseConsumer<LogContext> = config
        .reader(role, CATCH_UP_QUEUE_KBYTES)
        .create_with_context(LogContext)
        .map_err(|e| kafka_error(&format!("creating a reader of '{topic}'"), e))?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, KafkaOffset::Offset(from))
        .and_then(|()| reader.assign(&assignment))
        .map_err(|e| kafka_error(&format!("assigning '{topic}' partition {partition}"), e))?;
    let position = |reader: &BaseConsumer<LogContext>| {
        let list = reader.position().ok()?;
        match list.find_partition(topic, partition)?.offset() {
            KafkaOffset::Offset(o) => Some(o),
            _ => None,
        }
    };
    let stall = Duration::from_millis(stall_ms);
    let mut deadline = Instant::now() + stall;
    let result = loop {
        if position(&reader).unwrap_or(from) >= high {
            break Ok(());
        }
        if Instant::now() >= deadline {
            break Err(EngineError::internal(format!(
                "'{topic}' partition {partition} was not read to its end: nothing came for \
                 {stall_ms} ms"
            )));
        }
        match reader.poll(Duration::from_millis(READ_POLL_MS)) {
            None => {}
            Some(Ok(message)) => {
                deadline = Instant::now() + stall;
                if let Err(e) = visit(&message) {
                    break Err(e);
                }
                if message.offset() + 1 >= high {
                    break Ok(());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) => {}
            Some(Err(e)) => break Err(kafka_error(&format!("reading '{topic}'"), e)),
        }
    };
    close_off_thread(reader);
    result
}
