//! What a partition shares between its appenders, its writer and its readers: the
//! committed end, the append queue's permits and limits, the stop and health state, and
//! the requests in flight. Kept apart from `partition` (which schedules a partition on the
//! writer pool) so the writer and the pool depend on it without depending on each other.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use tokio::sync::{oneshot, Semaphore};

use super::segment::{DamagedRange, Segment};
use crate::error::{EngineError, ErrorCode, Result};
use crate::log::{Offset, PartitionId, PartitionProblem, Record};
use crate::metrics::LatencyHistogram;

/// Most append requests queued for one partition.
///
/// Enough to fill several commit batches while one fsync (~1-10 ms) runs, so per-row appends
/// from many connections still group-commit; beyond it appenders wait (backpressure). The
/// queue grows to it only under load: an idle partition's queue holds nothing.
pub const APPEND_QUEUE_DEPTH_MAX: usize = 1024;

/// Most encoded record bytes queued for one partition.
///
/// Bounds a partition's queue memory independently of how many records each request has.
pub const APPEND_QUEUE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest single append request (all its records encoded), in bytes.
///
/// A request must fit in the queue; 16 MiB is two maximal records or many thousand rows.
pub const APPEND_REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Records after which a writer stops draining the queue into the current batch.
///
/// Caps a batch's latency (and the size of its write) when the queue is deep; 16 Ki rows of
/// ~100 bytes is ~1.6 MiB, one efficient write.
pub const COMMIT_BATCH_RECORDS_MAX: usize = 16 * 1024;

/// Encoded bytes after which a writer stops draining the queue into the current batch.
///
/// Keeps one batch's buffer and write call at a few MiB however large the records are.
pub const COMMIT_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Most damaged ranges a partition remembers for its health report (more are counted).
///
/// A disk that damages more than this is reported as such already; the list only has to
/// name where to look.
pub const DAMAGED_RANGES_MAX: usize = 64;


/// Accepting appends.
pub(super) const STATE_RUNNING: u8 = 0;
/// The log is being dropped: queued appends are still written, new ones fail.
pub(super) const STATE_CLOSED: u8 = 1;
/// The topic was deleted: queued and new appends fail.
pub(super) const STATE_DELETED: u8 = 2;

/// Writes work.
pub(super) const HEALTH_OK: u8 = 0;
/// Writes failed; appends fail fast until the retry time, then a write is tried again.
pub(super) const HEALTH_RETRYING: u8 = 1;
/// Appends are refused until the log reopens.
pub(super) const HEALTH_STOPPED: u8 = 2;
/// Recovery refused the partition: nothing is served.
pub(super) const HEALTH_UNAVAILABLE: u8 = 3;

/// How a partition's writer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Write what is queued, then stop (the log is closing).
    Flush,
    /// Fail what is queued (the topic is deleted).
    Discard,
}

/// State a partition's readers share with its writer.
#[derive(Debug)]
pub(crate) struct PartitionShared {
    pub id: PartitionId,
    /// `<topic>/<partition>`, for logs and errors.
    pub name: String,
    /// Segments in offset order; the last is active. The writer write-locks it only to push a
    /// new segment when rolling. Empty until the partition's first write.
    pub segments: RwLock<Vec<Arc<Segment>>>,
    /// Next offset to be written; everything below it is committed. Release/Acquire.
    pub end_offset: AtomicU64,
    /// First offset stored: the first segment's base. Only moves up, when retention
    /// deletes the oldest segments (`writer`); it moves before their files go, so a reader
    /// that finds itself behind it skips to it rather than reading a deleted file.
    /// Release/Acquire.
    pub start_offset: AtomicU64,
    pub stats: Stats,
    /// Fsync latency, one histogram for the whole log (the pool's): partitions of a dropped
    /// topic leave their observations behind, so the counts never go down.
    pub sync_latency: Arc<LatencyHistogram>,
    /// Damage found by recovery or by readers.
    pub(super) damage: Mutex<DamageLog>,
}

#[derive(Debug, Default)]
pub(super) struct DamageLog {
    pub(super) ranges: Vec<DamagedRange>,
    /// Ranges found beyond `DAMAGED_RANGES_MAX`.
    pub(super) more: u64,
}

impl PartitionShared {
    /// The first offset stored now.
    pub fn start(&self) -> Offset {
        Offset(self.start_offset.load(Ordering::Acquire))
    }

    /// Remembers a damaged range; false if it was known already (so it is logged once).
    pub fn record_damage(&self, range: DamagedRange) -> bool {
        let mut log = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        if log.ranges.iter().any(|r| r.start == range.start) {
            return false;
        }
        if log.ranges.len() < DAMAGED_RANGES_MAX {
            log.ranges.push(range);
        } else {
            log.more += 1;
        }
        true
    }

    pub(super) fn damage_problem(&self) -> Option<PartitionProblem> {
        let log = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        let first = log.ranges.first()?;
        let mut detail = format!(
            "offsets {}..{}: {}",
            first.start.0, first.end.0, first.reason
        );
        let others = log.ranges.len() as u64 - 1 + log.more;
        if others > 0 {
            detail.push_str(&format!(" (and {others} more damaged ranges)"));
        }
        Some(PartitionProblem::Damaged {
            ranges: log.ranges.iter().map(|r| (r.start, r.end)).collect(),
            detail,
        })
    }
}

/// Counters the writer keeps (Relaxed: statistics, nothing is published through them).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
}

/// One append waiting for its partition's writer.
pub(crate) struct AppendRequest {
    pub records: Vec<Record>,
    /// Encoded size, to release the byte permits it holds.
    pub bytes: usize,
    pub reply: oneshot::Sender<Result<Offset>>,
}

/// Why writes fail, while they do.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) code: ErrorCode,
    pub(super) message: String,
    /// Appends fail fast until then (only while retrying).
    pub(super) retry_at: Option<Instant>,
}

/// Shared between appenders and the writer: queue permits, lifecycle, health.
pub(crate) struct Control {
    pub(super) topic: String,
    pub(super) id: PartitionId,
    pub(super) state: AtomicU8,
    pub(super) health: AtomicU8,
    pub(super) failure: Mutex<Option<Failure>>,
    /// One permit per queued request.
    pub(super) request_permits: Semaphore,
    /// One permit per queued encoded byte.
    pub(super) byte_permits: Semaphore,
}

impl Control {
    pub(super) fn new(topic: &str, id: PartitionId) -> Control {
        Control {
            topic: topic.to_owned(),
            id,
            state: AtomicU8::new(STATE_RUNNING),
            health: AtomicU8::new(HEALTH_OK),
            failure: Mutex::new(None),
            request_permits: Semaphore::new(APPEND_QUEUE_DEPTH_MAX),
            byte_permits: Semaphore::new(APPEND_QUEUE_BYTES_MAX),
        }
    }

    pub(super) fn lock_failure(&self) -> MutexGuard<'_, Option<Failure>> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The error an append gets once the partition no longer accepts appends.
    pub fn closed_error(&self) -> EngineError {
        match self.state.load(Ordering::Acquire) {
            STATE_DELETED => EngineError::not_found(format!("topic '{}' was deleted", self.topic)),
            STATE_CLOSED => {
                EngineError::internal(format!("the log holding topic '{}' is closed", self.topic))
            }
            _ => self.failure_error(),
        }
    }

    /// The error of the last failure.
    pub fn failure_error(&self) -> EngineError {
        match &*self.lock_failure() {
            Some(failure) => EngineError::new(failure.code, failure.message.clone()),
            None => EngineError::internal(format!(
                "partition {} of topic '{}' failed",
                self.id.0, self.topic
            )),
        }
    }

    /// Why an append must fail now, if it must: the partition is closed, or writes fail and
    /// the next retry is not due yet.
    pub fn refusal(&self) -> Option<EngineError> {
        if self.state.load(Ordering::Acquire) != STATE_RUNNING {
            return Some(self.closed_error());
        }
        match self.health.load(Ordering::Acquire) {
            HEALTH_OK => None,
            HEALTH_RETRYING => {
                let failure = self.lock_failure();
                let waiting = failure
                    .as_ref()
                    .and_then(|f| f.retry_at)
                    .is_some_and(|at| Instant::now() < at);
                drop(failure);
                waiting.then(|| self.failure_error())
            }
            _ => Some(self.failure_error()),
        }
    }

    pub fn set_retrying(&self, code: ErrorCode, message: String, retry_at: Instant) {
        *self.lock_failure() = Some(Failure {
            code,
            message,
            retry_at: Some(retry_at),
        });
        self.health.store(HEALTH_RETRYING, Ordering::Release);
    }

    pub fn set_stopped(&self, code: ErrorCode, message: String) {
        *self.lock_failure() = Some(Failure {
            code,
            message,
            retry_at: None,
        });
        self.health.store(HEALTH_STOPPED, Ordering::Release);
    }

    pub(super) fn set_unavailable(&self, error: &EngineError) {
        *self.lock_failure() = Some(Failure {
            code: error.code(),
            message: error.to_string(),
            retry_at: None,
        });
        self.health.store(HEALTH_UNAVAILABLE, Ordering::Release);
    }

    pub fn set_healthy(&self) {
        self.health.store(HEALTH_OK, Ordering::Release);
        *self.lock_failure() = None;
    }

    pub(super) fn problem(&self) -> Option<PartitionProblem> {
        let health = self.health.load(Ordering::Acquire);
        if health == HEALTH_OK {
            return None;
        }
        let failure = self.lock_failure().clone()?;
        Some(match health {
            HEALTH_RETRYING => PartitionProblem::WritesFailing {
                code: failure.code,
                error: failure.message,
            },
            HEALTH_STOPPED => PartitionProblem::Stopped {
                error: failure.message,
            },
            _ => PartitionProblem::Unavailable {
                error: failure.message,
            },
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn id(&self) -> PartitionId {
        self.id
    }
}

