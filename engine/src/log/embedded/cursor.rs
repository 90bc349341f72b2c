//! A reader tailing one partition.
//!
//! The cursor reads segment files with positioned reads (`pread`) into a chunk of up to
//! `READ_CHUNK_BYTES`, freezes it, and slices records out of it as `Bytes` (no copy). It takes
//! no lock the writer holds for long: the segment list's read lock only when it seeks or
//! crosses into the next segment, a segment index's read lock only when it seeks.
//!
//! It never returns a record at or past the partition's published end offset (loaded with
//! Acquire; the writer stores it with Release after writing, fsyncing and storing the
//! segment's committed bytes), so a half-written or not-yet-durable record is never exposed.
//!
//! `read` never waits. When it returns 0 the caller waits on the topic's `data_ready` notify,
//! and must register for the notification *before* checking, or an append that lands between
//! the check and the wait is missed (`Notify::notify_waiters` only wakes registered waiters):
//!
//! ```ignore
//! let ready = topic.data_ready();
//! loop {
//!     let notified = ready.notified();
//!     tokio::pin!(notified);
//!     notified.as_mut().enable();          // 1. register
//!     if cursor.read(&mut out, 500)? == 0 { // 2. check (an error ends a deleted topic)
//!         notified.await;                  // 3. wait; an append after 1 wakes us
//!         continue;
//!     }
//!     // ... hand `out` on ...
//! }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::partition::PartitionShared;
use super::record::{self, Decoded};
use super::segment::Segment;
use crate::error::{EngineError, Result};
use crate::log::{Offset, PartitionCursor, PartitionId, StartPosition, StoredRecord};

/// What cursors share with their topic.
#[derive(Debug)]
pub(crate) struct TopicState {
    pub name: String,
    /// Set (Release) when the topic is deleted; cursors then fail with `NotFound`.
    pub deleted: AtomicBool,
}

/// Reads one partition's committed records in offset order.
pub(crate) struct EmbeddedCursor {
    partition: Arc<PartitionShared>,
    topic: Arc<TopicState>,
    /// The segment being read and its place in the segment list; `None` until the first read
    /// seeks (so a cursor at `Latest` costs nothing until data arrives).
    segment: Option<(usize, Arc<Segment>)>,
    /// File position of the record at `next` (or, while `seeking`, of a record before it).
    position: u64,
    /// The next offset to return.
    next: Offset,
    /// After a seek, records before `next` are skipped; afterwards that would be a bug.
    seeking: bool,
    /// The last chunk read, covering `[chunk_start, chunk_start + chunk.len())`.
    chunk: Bytes,
    chunk_start: u64,
}

impl EmbeddedCursor {
    /// A cursor at `start`. `At` is clamped into `[start offset, end offset]`, as a Kafka
    /// consumer with an out-of-range position resets to the nearest end.
    pub fn new(
        partition: Arc<PartitionShared>,
        topic: Arc<TopicState>,
        start: StartPosition,
    ) -> EmbeddedCursor {
        let first = partition.start_offset;
        let end = Offset(partition.end_offset.load(Ordering::Acquire));
        let next = match start {
            StartPosition::Earliest => first,
            StartPosition::Latest => end,
            StartPosition::At(offset) => offset.clamp(first, end),
        };
        EmbeddedCursor {
            partition,
            topic,
            segment: None,
            position: 0,
            next,
            seeking: true,
            chunk: Bytes::new(),
            chunk_start: 0,
        }
    }

    /// Finds the segment holding `next` and the index position at or before it.
    fn seek(&mut self) -> (usize, Arc<Segment>) {
        let segments = self
            .partition
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let i = segments
            .partition_point(|s| s.base <= self.next)
            .saturating_sub(1);
        let segment = segments[i].clone();
        drop(segments);
        self.position = segment.position_for(self.next);
        self.seeking = true;
        self.chunk = Bytes::new();
        self.segment = Some((i, segment.clone()));
        (i, segment)
    }

    fn corrupt(&self, what: String) -> EngineError {
        EngineError::corrupt(format!(
            "topic '{}' partition {}: {what}",
            self.topic.name, self.partition.id.0
        ))
    }

    /// Moves to the segment after `i`, which must start at `next`.
    fn next_segment(&mut self, i: usize) -> Result<()> {
        let segments = self
            .partition
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let Some(segment) = segments.get(i + 1).cloned() else {
            drop(segments);
            return Err(self.corrupt(format!(
                "committed offset {} is past the last segment",
                self.next.0
            )));
        };
        drop(segments);
        if segment.base != self.next {
            return Err(self.corrupt(format!(
                "segment starts at offset {} but the previous one ended at {}",
                segment.base.0, self.next.0
            )));
        }
        self.segment = Some((i + 1, segment));
        self.position = 0;
        self.chunk = Bytes::new();
        Ok(())
    }
}

impl PartitionCursor for EmbeddedCursor {
    fn partition(&self) -> PartitionId {
        self.partition.id
    }

    fn position(&self) -> Offset {
        self.next
    }

    fn read(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize> {
        if self.topic.deleted.load(Ordering::Acquire) {
            return Err(EngineError::not_found(format!(
                "topic '{}' was deleted",
                self.topic.name
            )));
        }
        let end = self.partition.end_offset.load(Ordering::Acquire);
        let mut added = 0;
        while added < max_records && self.next.0 < end {
            let (i, segment) = match &self.segment {
                Some((i, segment)) => (*i, segment.clone()),
                None => self.seek(),
            };
            let committed = segment.committed_bytes.load(Ordering::Acquire);
            if self.position >= committed {
                self.next_segment(i)?;
                continue;
            }
            let chunk_end = self.chunk_start + self.chunk.len() as u64;
            if self.position < self.chunk_start || self.position >= chunk_end {
                self.chunk = segment.read_chunk(self.position, committed)?;
                self.chunk_start = self.position;
            }
            let at = (self.position - self.chunk_start) as usize;
            match record::decode(&self.chunk.slice(at..)) {
                Decoded::Record {
                    offset,
                    record,
                    frame_bytes,
                } => {
                    if offset.0 >= end {
                        break; // written, but not yet committed
                    }
                    if offset < self.next && self.seeking {
                        self.position += frame_bytes as u64;
                        continue;
                    }
                    // Invariant: offsets come back contiguous and increasing.
                    if offset != self.next {
                        return Err(self.corrupt(format!(
                            "read offset {} where {} was expected",
                            offset.0, self.next.0
                        )));
                    }
                    self.seeking = false;
                    out.push(StoredRecord {
                        partition: self.partition.id,
                        offset,
                        record,
                    });
                    self.next = Offset(offset.0 + 1);
                    self.position += frame_bytes as u64;
                    added += 1;
                }
                Decoded::NeedMore if at > 0 => {
                    self.chunk = Bytes::new(); // the frame continues past this chunk: reread
                }
                Decoded::NeedMore => {
                    return Err(self.corrupt(format!(
                        "committed bytes end inside the frame at byte {}",
                        self.position
                    )));
                }
                Decoded::Corrupt(reason) => {
                    return Err(self.corrupt(format!("at byte {}: {reason}", self.position)));
                }
            }
        }
        Ok(added)
    }

    fn seek_to(&mut self, offset: Offset) {
        let first = self.partition.start_offset;
        let end = Offset(self.partition.end_offset.load(Ordering::Acquire));
        self.next = offset.clamp(first, end);
        // The next read finds the segment and the index position again.
        self.segment = None;
        self.position = 0;
        self.seeking = true;
        self.chunk = Bytes::new();
        self.chunk_start = 0;
    }

    fn release_buffers(&mut self) {
        // A caught-up cursor has consumed its chunk (it ends at the committed bytes of the
        // read that filled it), so nothing is lost; at worst the next read rereads a frame.
        self.chunk = Bytes::new();
    }
}
