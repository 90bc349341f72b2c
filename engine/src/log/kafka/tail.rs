//! One partition's window of recent committed records, which the topic's fetcher fills and
//! its cursors read: bounded in bytes, oldest records evicted first.

use std::collections::VecDeque;

use bytes::Bytes;
use rdkafka::message::{BorrowedMessage, Headers, Message};

use crate::log::{Offset, PartitionId, Record, StoredRecord};

/// Record bytes the tails of one topic hold in all, shared evenly by its partitions.
///
/// Readers less than this far behind the newest records read from memory; 32 MiB is a few
/// seconds of a busy topic and bounds the memory of a topic whatever its number of readers.
pub const TOPIC_TAIL_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Least record bytes one partition's tail holds, whatever the topic's partition count.
pub const PARTITION_TAIL_BYTES_MIN: usize = 1024 * 1024;

/// Bytes a stored record costs beyond its key, value and headers (the struct, the deque
/// slot), counted so a window of empty records is bounded too.
const RECORD_OVERHEAD_BYTES: usize = 96;

/// One partition's window of recent committed records.
#[derive(Debug)]
pub(super) struct Tail {
    pub records: VecDeque<StoredRecord>,
    bytes: usize,
    bytes_max: usize,
    /// Every record the fetcher read at an offset at or after `first` is in `records`.
    pub first: u64,
    /// The fetcher's position: the next offset it reads.
    pub next: u64,
}

impl Tail {
    pub fn new(at: u64, partitions: u32) -> Tail {
        Tail {
            records: VecDeque::new(),
            bytes: 0,
            bytes_max: (TOPIC_TAIL_BYTES_MAX / partitions.max(1) as usize)
                .max(PARTITION_TAIL_BYTES_MIN),
            first: at,
            next: at,
        }
    }

    /// Forgets the window and restarts it empty at `at` (the fetcher resumes there).
    pub fn reset(&mut self, at: u64) {
        self.records.clear();
        self.bytes = 0;
        self.first = at;
        self.next = at;
    }

    /// The fetcher's consumer is at `at` with no record between the last one read and it
    /// (a transaction's commit or abort marker, an aborted batch): the window ends there.
    pub fn skip_to(&mut self, at: u64) {
        self.next = self.next.max(at);
    }

    pub fn push(&mut self, stored: StoredRecord) {
        // Invariant: the fetcher reads a partition in offset order.
        debug_assert!(stored.offset.0 >= self.next, "fetched offsets go forward");
        self.next = stored.offset.0 + 1;
        self.bytes += record_bytes(&stored.record);
        self.records.push_back(stored);
        while self.bytes > self.bytes_max {
            let Some(oldest) = self.records.pop_front() else {
                break;
            };
            self.bytes -= record_bytes(&oldest.record);
            self.first = oldest.offset.0 + 1;
        }
    }
}

fn record_bytes(record: &Record) -> usize {
    RECORD_OVERHEAD_BYTES
        + record.key.as_ref().map_or(0, Bytes::len)
        + record.value.as_ref().map_or(0, Bytes::len)
        + record
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len))
            .sum::<usize>()
}

/// A fetched message as the log's record: the bytes exactly as stored on the topic.
pub(super) fn to_stored(message: &BorrowedMessage<'_>) -> StoredRecord {
    let headers = message.headers().map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(Bytes::copy_from_slice)))
            .collect()
    });
    StoredRecord {
        partition: PartitionId(message.partition() as u32),
        offset: Offset(message.offset() as u64),
        record: Record {
            key: message.key().map(Bytes::copy_from_slice),
            value: message.payload().map(Bytes::copy_from_slice),
            // Kafka's "no timestamp" (a v0 record) is -1, as a Java consumer reports it.
            timestamp_ms: message.timestamp().to_millis().unwrap_or(-1),
            headers,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(offset: u64, value_bytes: usize) -> StoredRecord {
        StoredRecord {
            partition: PartitionId(0),
            offset: Offset(offset),
            record: Record {
                key: None,
                value: Some(Bytes::from(vec![b'v'; value_bytes])),
                timestamp_ms: 0,
                headers: Vec::new(),
            },
        }
    }

    #[test]
    fn the_window_evicts_oldest_first_and_keeps_every_record_from_first_on() {
        // 256 partitions share the topic's budget, so each gets the minimum.
        let mut tail = Tail::new(100, 256);
        assert_eq!(tail.bytes_max, PARTITION_TAIL_BYTES_MIN);
        let size = 10 * 1024;
        let per_window = PARTITION_TAIL_BYTES_MIN / (size + RECORD_OVERHEAD_BYTES);
        // Offsets with gaps (transaction markers, compaction) are fine.
        let offsets: Vec<u64> = (0..3 * per_window as u64).map(|i| 100 + i * 2).collect();
        for &offset in &offsets {
            tail.push(stored(offset, size));
            assert!(tail.bytes <= tail.bytes_max);
            assert_eq!(tail.next, offset + 1);
        }
        assert_eq!(tail.records.len(), per_window);
        let oldest = tail.records.front().expect("records").offset.0;
        assert_eq!(tail.first, oldest - 1, "just after the last evicted record");
        let kept: Vec<u64> = tail.records.iter().map(|r| r.offset.0).collect();
        assert_eq!(kept, offsets[offsets.len() - per_window..]);

        tail.reset(5_000);
        assert!(tail.records.is_empty());
        assert_eq!((tail.first, tail.next, tail.bytes), (5_000, 5_000, 0));
    }
}
