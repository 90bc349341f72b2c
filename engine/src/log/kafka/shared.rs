//! What a topic's appends, fetcher and cursors share: the offsets this process knows, the
//! tail windows, the `data_ready` notify, and who is reading.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::config::KafkaConfig;
use super::tail::Tail;
use crate::log::{Offset, PartitionId};

/// What a topic's cursors, fetcher and pending appends share.
pub(super) struct TopicShared {
    pub name: String,
    pub config: Arc<KafkaConfig>,
    /// Per partition: the recent records the fetcher read.
    pub tails: Vec<Mutex<Tail>>,
    /// Per partition: the committed end as far as this process knows (the high watermark
    /// when opened, then the highest of the fetcher's position and acknowledged appends).
    pub ends: Vec<AtomicU64>,
    /// Per partition: the first offset stored (the low watermark when opened).
    pub starts: Vec<AtomicU64>,
    pub data_ready: Arc<Notify>,
    pub deleted: AtomicBool,
    /// Cursors reading history through their own consumer (the fetcher wakes them).
    pub catch_up_cursors: AtomicUsize,
    /// Live cursors: the fetcher fetches only while there are some.
    pub readers: AtomicUsize,
}

impl TopicShared {
    pub fn end_offset(&self, partition: PartitionId) -> Offset {
        self.ends
            .get(partition.0 as usize)
            .map_or(Offset(0), |end| Offset(end.load(Ordering::Acquire)))
    }

    pub fn start_offset(&self, partition: PartitionId) -> Offset {
        self.starts
            .get(partition.0 as usize)
            .map_or(Offset(0), |start| Offset(start.load(Ordering::Acquire)))
    }

    /// Kafka acknowledged records up to `end` (exclusive): with acks=all they are below the
    /// high watermark, so readable.
    pub fn acknowledged(&self, partition: PartitionId, end: Offset) {
        if let Some(e) = self.ends.get(partition.0 as usize) {
            e.fetch_max(end.0, Ordering::AcqRel);
        }
    }

    /// The fetcher read records up to `end` (exclusive).
    pub fn fetched(&self, partition: PartitionId, end: Offset) {
        self.acknowledged(partition, end);
    }

    pub fn has_catch_up_cursors(&self) -> bool {
        self.catch_up_cursors.load(Ordering::Acquire) > 0
    }

    pub fn has_readers(&self) -> bool {
        self.readers.load(Ordering::Acquire) > 0
    }

    pub fn reader_opened(&self) {
        self.readers.fetch_add(1, Ordering::AcqRel);
    }

    pub fn reader_closed(&self) {
        self.readers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Raises the known offsets to the cluster's watermarks.
    pub fn refresh(&self, starts: &[u64], ends: &[u64]) {
        for (known, &start) in self.starts.iter().zip(starts) {
            known.fetch_max(start, Ordering::AcqRel);
        }
        for (p, &end) in ends.iter().enumerate() {
            self.acknowledged(PartitionId(p as u32), Offset(end));
        }
    }

    pub fn catch_up_started(&self) {
        self.catch_up_cursors.fetch_add(1, Ordering::AcqRel);
    }

    pub fn catch_up_ended(&self) {
        self.catch_up_cursors.fetch_sub(1, Ordering::AcqRel);
    }
}
