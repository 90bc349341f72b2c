//! Reading a partition up to a known end, for callers that must see every record stored
//! when they started (raw record reads, a SOURCE table rebuilt for a pull query).
//!
//! A cursor's `read` never waits, and on Kafka it returns 0 while a fetch is in flight, not
//! only at the end: "0 records" cannot end such a read. This waits on the topic's
//! `data_ready` until the cursor reaches the end, the caller has enough records, or a
//! bounded wait runs out.

use std::time::Duration;

use tokio::time::Instant;

use super::api::{Offset, PartitionCursor, StoredRecord, TopicLog};
use crate::error::Result;

/// How long a read up to a known end waits for records in flight, in milliseconds.
///
/// On the embedded log the records are there at once; on Kafka a catch-up consumer
/// connects and fetches first (tens of milliseconds, a few hundred on a loaded machine or
/// right after a leader moved). Past this the read returns what it has, as a Kafka
/// consumer's bounded poll would: a caller that needs the rest reads on from there.
pub const READ_TO_END_WAIT_MS: u64 = 5_000;

/// Appends records from `cursor` to `out` until its position reaches `end`, `out` holds
/// `limit` records, the topic is deleted, or `READ_TO_END_WAIT_MS` passed without the end
/// being reached. Returns whether the end was reached.
pub async fn read_to(
    topic: &dyn TopicLog,
    cursor: &mut dyn PartitionCursor,
    end: Offset,
    out: &mut Vec<StoredRecord>,
    limit: usize,
) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_millis(READ_TO_END_WAIT_MS);
    let ready = topic.data_ready();
    loop {
        if cursor.position() >= end {
            return Ok(true);
        }
        if out.len() >= limit || topic.is_deleted() {
            return Ok(false);
        }
        // Interest is registered before the read, so records arriving between the read
        // and the wait still wake it.
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if cursor.read(out, limit - out.len())? > 0 {
            continue;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::debug!(topic = topic.name(), partition = cursor.partition().0,
                position = cursor.position().0, end = end.0,
                "read to the end gave up waiting for records");
            return Ok(cursor.position() >= end);
        }
    }
}
