//! A reader tailing one partition.
//!
//! The cursor reads segment files with positioned reads (`pread`) into a chunk of up to
//! `READ_CHUNK_BYTES`, freezes it, and slices records out of it as `Bytes` (no copy). It takes
//! no lock the writer holds for long: the segment list's read lock only when it seeks or
//! crosses into the next segment, a segment index's read lock only when it seeks.
//!
//! Records that fail their checks (corruption the log made durable) are reported, not
//! hidden: the read that reaches them returns `Corrupt` naming the damaged offsets, after
//! earlier reads returned every good record before them; the cursor then stands after the
//! damage (where `segment::resync` finds whole records again, or the next segment), so the
//! next read goes on. The damage is logged at ERROR once and kept for the partition's health.
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

use super::shared::PartitionShared;
use super::record::{self, Decoded};
use super::segment::{self, DamagedRange, Segment};
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
    /// While seeking: the offset of the record at `position` as far as known (the index
    /// entry's), so damage met on the way is skipped from the right place.
    scan_offset: Offset,
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
        let first = partition.start();
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
            scan_offset: next,
            chunk: Bytes::new(),
            chunk_start: 0,
        }
    }

    /// Finds the segment holding `next` and the index position at or before it.
    fn seek(&mut self) -> Result<(usize, Arc<Segment>)> {
        let segments = self
            .partition
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let i = segments
            .partition_point(|s| s.base <= self.next)
            .saturating_sub(1);
        let Some(segment) = segments.get(i).cloned() else {
            drop(segments);
            return Err(self.corrupt(format!("committed offset {} has no segment", self.next.0)));
        };
        drop(segments);
        (self.position, self.scan_offset) = segment.position_for(self.next);
        self.seeking = true;
        self.chunk = Bytes::new();
        self.segment = Some((i, segment.clone()));
        Ok((i, segment))
    }

    fn corrupt(&self, what: String) -> EngineError {
        EngineError::corrupt(format!(
            "topic '{}' partition {}: {what}",
            self.topic.name, self.partition.id.0
        ))
    }

    /// Moves to the segment after the current one (number `i` when it was found). If it
    /// starts after `next` (or there is none though `next` is below the end offset), the
    /// offsets in between are damaged, lost with the end of this segment: reported once,
    /// then skipped.
    fn next_segment(&mut self, i: usize) -> Result<()> {
        let segments = self
            .partition
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner());
        // Found by base, not by number: retention may have removed segments before it.
        let following = match &self.segment {
            Some((_, current)) => {
                let after = segments.partition_point(|s| s.base <= current.base);
                segments.get(after).cloned()
            }
            None => segments.get(i + 1).cloned(),
        };
        drop(segments);
        let resume = match &following {
            Some(segment) if segment.base < self.next => {
                return Err(self.corrupt(format!(
                    "segment starts at offset {} but the previous one ended at {}",
                    segment.base.0, self.next.0
                )));
            }
            Some(segment) => segment.base,
            // The writer publishes offsets only after their segment is listed, so these
            // offsets are in no segment: recovery found them lost.
            None => Offset(self.partition.end_offset.load(Ordering::Acquire)),
        };
        let missing = (resume > self.next).then(|| DamagedRange {
            start: self.next,
            end: resume,
            from_byte: self.position,
            to_byte: self.position,
            reason: "no segment holds these offsets".to_owned(),
        });
        if let Some(segment) = following {
            self.segment = Some((i + 1, segment));
            self.position = 0;
            self.chunk = Bytes::new();
        }
        self.scan_offset = resume;
        match missing {
            Some(range) if self.seeking && range.end <= self.next => Ok(()),
            Some(range) => Err(self.skip_damage(range, resume)),
            None => Ok(()),
        }
    }

    /// Records damage met by a read, moves past it, and returns the error this read reports.
    fn skip_damage(&mut self, range: DamagedRange, resume: Offset) -> EngineError {
        let what = format!(
            "offsets {}..{} are damaged ({}, bytes {}..{} of the segment); the cursor moved \
             past them",
            range.start.0, range.end.0, range.reason, range.from_byte, range.to_byte
        );
        if self.partition.record_damage(range) {
            tracing::error!(partition = %self.partition.name, "corrupt log: {what}");
        }
        self.next = self.next.max(resume);
        self.scan_offset = resume;
        self.seeking = false;
        self.chunk = Bytes::new();
        self.corrupt(what)
    }

    /// The frame at `position` of `segment` fails its checks: finds where records resume and
    /// skips there. Damage wholly before `next` (met while seeking) is skipped silently.
    fn resync(&mut self, segment: &Segment, committed: u64, reason: String) -> Result<()> {
        let damaged = if self.seeking {
            self.scan_offset
        } else {
            self.next
        };
        let file = segment.file()?;
        let floor = Offset(damaged.0 + 1);
        let resume = segment::resync(&file, committed, self.position, committed, floor)?;
        let (to_byte, resume_offset) = match resume {
            Some((position, offset)) => (position, offset),
            None => {
                // Nothing valid follows in this segment: skip to its end.
                let segments = self
                    .partition
                    .segments
                    .read()
                    .unwrap_or_else(|p| p.into_inner());
                let end = segments.iter().find(|s| s.base > segment.base).map_or(
                    Offset(self.partition.end_offset.load(Ordering::Acquire)),
                    |s| s.base,
                );
                (committed, end)
            }
        };
        let range = DamagedRange {
            start: damaged,
            end: resume_offset,
            from_byte: self.position,
            to_byte,
            reason,
        };
        self.position = to_byte;
        if self.seeking && resume_offset <= self.next {
            // Damage before the offset this cursor wants: not this reader's concern.
            if self.partition.record_damage(range.clone()) {
                tracing::error!(partition = %self.partition.name, first_offset = range.start.0,
                    end_offset = range.end.0, reason = %range.reason,
                    "corrupt log: damaged records found while seeking");
            }
            self.scan_offset = resume_offset;
            self.chunk = Bytes::new();
            return Ok(());
        }
        Err(self.skip_damage(range, resume_offset))
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
        self.skip_expired();
        let before = out.len();
        match self.read_stored(out, max_records) {
            // The segment being read expired meanwhile (its file is gone): what it held is
            // no longer stored, so the read goes on from the first offset that is.
            Err(_) if self.skip_expired() => {
                let room = max_records.saturating_sub(out.len() - before);
                self.read_stored(out, room)?;
                Ok(out.len() - before)
            }
            other => other,
        }
    }

    fn seek_to(&mut self, offset: Offset) {
        let first = self.partition.start();
        let end = Offset(self.partition.end_offset.load(Ordering::Acquire));
        self.next = offset.clamp(first, end);
        // The next read finds the segment and the index position again.
        self.segment = None;
        self.position = 0;
        self.seeking = true;
        self.scan_offset = self.next;
        self.chunk = Bytes::new();
        self.chunk_start = 0;
    }

    fn release_buffers(&mut self) {
        // A caught-up cursor has consumed its chunk (it ends at the committed bytes of the
        // read that filled it), so nothing is lost; at worst the next read rereads a frame.
        self.chunk = Bytes::new();
    }
}

impl EmbeddedCursor {
    /// Moves a cursor left behind the partition's start (retention deleted what it was
    /// about to read) up to the start; whether it moved.
    fn skip_expired(&mut self) -> bool {
        let first = self.partition.start();
        if self.next >= first {
            return false;
        }
        tracing::debug!(partition = %self.partition.name, from = self.next.0, to = first.0,
            "records expired before this cursor read them; skipping to the first stored");
        self.seek_to(first);
        true
    }

    /// [`PartitionCursor::read`] from where the cursor stands.
    fn read_stored(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize> {
        let end = self.partition.end_offset.load(Ordering::Acquire);
        let mut added = 0;
        while added < max_records && self.next.0 < end {
            let (i, segment) = match &self.segment {
                Some((i, segment)) => (*i, segment.clone()),
                None => self.seek()?,
            };
            let committed = segment.committed_bytes.load(Ordering::Acquire);
            if self.position >= committed {
                if added > 0 {
                    break; // report what comes next (possibly damage) on the next read
                }
                self.next_segment(i)?;
                continue;
            }
            let chunk_end = self.chunk_start + self.chunk.len() as u64;
            if self.position < self.chunk_start || self.position >= chunk_end {
                self.chunk = segment.read_chunk(self.position, committed)?;
                self.chunk_start = self.position;
            }
            let at = (self.position - self.chunk_start) as usize;
            let bad = match record::decode(&self.chunk.slice(at..)) {
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
                        self.scan_offset = Offset(offset.0 + 1);
                        continue;
                    }
                    if offset > self.next {
                        // A valid record after a gap: the offsets in between are missing.
                        let range = DamagedRange {
                            start: self.next,
                            end: offset,
                            from_byte: self.position,
                            to_byte: self.position,
                            reason: "records missing inside the segment".to_owned(),
                        };
                        if added > 0 {
                            break;
                        }
                        return Err(self.skip_damage(range, offset));
                    }
                    if offset == self.next {
                        self.seeking = false;
                        out.push(StoredRecord {
                            partition: self.partition.id,
                            offset,
                            record,
                        });
                        self.next = Offset(offset.0 + 1);
                        self.position += frame_bytes as u64;
                        added += 1;
                        continue;
                    }
                    // Invariant: offsets come back contiguous and increasing.
                    format!(
                        "read offset {} where {} was expected",
                        offset.0, self.next.0
                    )
                }
                Decoded::NeedMore if at > 0 => {
                    self.chunk = Bytes::new(); // the frame continues past this chunk: reread
                    continue;
                }
                Decoded::NeedMore => format!(
                    "committed bytes end inside the frame at byte {}",
                    self.position
                ),
                Decoded::Corrupt(reason) => reason,
            };
            if added > 0 {
                break; // hand over the good records first; the damage is the next read's
            }
            self.resync(&segment, committed, bad)?;
        }
        Ok(added)
    }
}
