//! Time retention of a partition's records (a topic's `retention.ms`), as Kafka's log
//! cleaner applies its `delete` policy: whole segments go, oldest first.
//!
//! ```text
//!  writer timer (every check interval) ─► sealed segments, oldest first, while the file was
//!     last written before now − retention ─► start offset moves past them (Release)
//!     ─► dropped from the partition's list ─► descriptors closed, files removed
//!  writer commit: the active segment rolls once it is older than the retention, so a
//!     partition written slowly still gets segments that can expire
//! ```
//!
//! Why a segment's age is its file's modification time: a sealed segment is never written
//! again, so that is when its newest record was appended — Kafka's fallback when records
//! carry no timestamps it trusts. Record timestamps here are the producer's (ROWTIME), and
//! one from 1970 would otherwise expire a whole segment of fresh records.
//!
//! Readers: the start offset moves first, so a cursor behind it skips to it on its next
//! read (as a Kafka consumer out of range resets to the earliest offset). A cursor in the
//! middle of a deleted segment keeps reading it while its descriptor is open; when it is
//! not, the read fails, the cursor sees it fell behind the start, and skips (see `cursor`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::segment::Segment;
use super::shared::PartitionShared;

/// How often a partition with retention looks for expired segments, in milliseconds:
/// Kafka's `log.retention.check.interval.ms` default (5 minutes).
pub const RETENTION_CHECK_INTERVAL_MS: u64 = 300_000;

/// A partition's retention and when it is next checked.
#[derive(Debug)]
pub(crate) struct Retention {
    /// Records are kept at least this long after they were written.
    pub keep: Duration,
    check_every: Duration,
    pub next_check: Instant,
}

impl Retention {
    pub fn new(keep_ms: u64, check_every_ms: u64) -> Retention {
        Retention {
            keep: Duration::from_millis(keep_ms),
            check_every: Duration::from_millis(check_every_ms.max(1)),
            // First look when the partition opens: a restart after a long stop cleans up.
            next_check: Instant::now(),
        }
    }

    pub fn due(&self, now: Instant) -> bool {
        now >= self.next_check
    }

    /// Deletes the expired segments of `shared` (never the last one, where appends go) and
    /// schedules the next check. Returns how many segments went.
    pub fn apply(&mut self, shared: &PartitionShared, durable: bool) -> usize {
        self.next_check = Instant::now() + self.check_every;
        let Some(cutoff) = SystemTime::now().checked_sub(self.keep) else {
            return 0;
        };
        let removed = drop_front(
            shared,
            |sealed| {
                sealed
                    .iter()
                    .take_while(|s| last_written(s).is_some_and(|at| at <= cutoff))
                    .count()
            },
            durable,
        );
        if removed > 0 {
            tracing::info!(partition = %shared.name, segments = removed,
                start_offset = shared.start().0, "deleted segments past their retention");
        }
        removed
    }
}

/// Deletes the first `count(sealed)` of `shared`'s sealed segments (never the last segment,
/// where appends go): the start offset moves past them first, then they leave the list and
/// their files go. Returns how many went. Retention's expiry and `DeleteRecords` (every
/// sealed segment, after a roll) both end here.
pub(crate) fn drop_front(
    shared: &PartitionShared,
    count: impl FnOnce(&[Arc<Segment>]) -> usize,
    durable: bool,
) -> usize {
    let doomed = {
        let segments = shared.segments.read().unwrap_or_else(|p| p.into_inner());
        let sealed = segments.len().saturating_sub(1);
        let n = count(&segments[..sealed]).min(sealed);
        if n == 0 {
            return 0;
        }
        // Readers learn the new start before anything they could be reading goes.
        shared
            .start_offset
            .fetch_max(segments[n].base.0, Ordering::AcqRel);
        n
    };
    let removed: Vec<Arc<Segment>> = shared
        .segments
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..doomed)
        .collect();
    let mut dir = None;
    for segment in &removed {
        segment.close_file();
        for path in [&segment.log_path, &segment.index_path] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(partition = %shared.name, path = %path.display(),
                    error = %e, "a deleted segment's file could not be removed"),
            }
        }
        dir = segment.log_path.parent().map(|d| d.to_owned());
    }
    if let (true, Some(dir)) = (durable, dir) {
        // The removals survive a crash; if not, recovery finds the old segments again and
        // the next check (or a repeated delete) removes them.
        if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
            tracing::warn!(partition = %shared.name, error = %e,
                "fsync after removing segments failed");
        }
    }
    removed.len()
}

/// When `segment`'s file was last written, if the file can be read.
fn last_written(segment: &Segment) -> Option<SystemTime> {
    std::fs::metadata(&segment.log_path).and_then(|m| m.modified()).ok()
}
