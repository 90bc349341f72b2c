//! One partition: its bounded append queue, its turn in the writer pool, its health.
//!
//! ```text
//!  append() ── fail fast if writes are failing (see `writer`)
//!           ├─ acquire queue permits (async; waits only when the queue is full)
//!           └─ push on the partition's queue ─► first request? schedule on the pool
//!  pool worker: run_turn ── take what is queued (≤ COMMIT_BATCH_*)
//!                        ├─ Writer::commit: encode, one write, one fsync, publish, resolve
//!                        ├─ timers: interval fsync, retry after a failure, recovery point
//!                        └─ more queued? back of the pool's line; else unscheduled
//! ```
//!
//! Partitions share the writer pool, the file cache and their topic's `Notify`; nothing else.
//! A partition costs no thread and no file descriptor while idle.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use tokio::sync::{oneshot, Notify, Semaphore};

use super::files::FileCache;
use super::pool::PoolShared;
use super::record::{self, RECORD_BYTES_MAX};
use super::recovery;
use super::segment::{DamagedRange, Segment};
use super::writer::{WorkerBuffers, Writer};
use super::LogConfig;
use crate::error::{EngineError, ErrorCode, Result};
use crate::log::{AppendTicket, FsyncPolicy, Offset, PartitionId, PartitionProblem, Record};

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

/// Queue capacity kept after a burst drains; a larger one is given back.
const QUEUE_CAPACITY_IDLE: usize = 64;

/// Accepting appends.
const STATE_RUNNING: u8 = 0;
/// The log is being dropped: queued appends are still written, new ones fail.
const STATE_CLOSED: u8 = 1;
/// The topic was deleted: queued and new appends fail.
const STATE_DELETED: u8 = 2;

/// Writes work.
const HEALTH_OK: u8 = 0;
/// Writes failed; appends fail fast until the retry time, then a write is tried again.
const HEALTH_RETRYING: u8 = 1;
/// Appends are refused until the log reopens.
const HEALTH_STOPPED: u8 = 2;
/// Recovery refused the partition: nothing is served.
const HEALTH_UNAVAILABLE: u8 = 3;

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
    /// First offset stored (no retention yet, so the first segment's base).
    pub start_offset: Offset,
    pub stats: Stats,
    /// Damage found by recovery or by readers.
    damage: Mutex<DamageLog>,
}

#[derive(Debug, Default)]
struct DamageLog {
    ranges: Vec<DamagedRange>,
    /// Ranges found beyond `DAMAGED_RANGES_MAX`.
    more: u64,
}

impl PartitionShared {
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

    fn damage_problem(&self) -> Option<PartitionProblem> {
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
struct Failure {
    code: ErrorCode,
    message: String,
    /// Appends fail fast until then (only while retrying).
    retry_at: Option<Instant>,
}

/// Shared between appenders and the writer: queue permits, lifecycle, health.
pub(crate) struct Control {
    topic: String,
    id: PartitionId,
    state: AtomicU8,
    health: AtomicU8,
    failure: Mutex<Option<Failure>>,
    /// One permit per queued request.
    request_permits: Semaphore,
    /// One permit per queued encoded byte.
    byte_permits: Semaphore,
}

impl Control {
    fn new(topic: &str, id: PartitionId) -> Control {
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

    fn lock_failure(&self) -> MutexGuard<'_, Option<Failure>> {
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

    fn set_unavailable(&self, error: &EngineError) {
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

    fn problem(&self) -> Option<PartitionProblem> {
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

/// What the pool schedules: a partition's queue and writer.
pub(crate) struct PartitionCore {
    /// Unique in the process: names the partition's timer in the pool.
    id: u64,
    control: Control,
    queue: Mutex<QueueState>,
    /// In the pool's ready queue or running a turn. Changed only with `queue` locked.
    scheduled: AtomicBool,
    writer: Mutex<Writer>,
    pool: Arc<PoolShared>,
    /// Lets a test hold the writer before its next turn, so requests pile up in the queue
    /// deterministically (group-commit test).
    #[cfg(test)]
    commit_gate: Mutex<()>,
}

struct QueueState {
    requests: VecDeque<AppendRequest>,
    /// A timer fired: the next turn checks the writer's timers.
    timer_due: bool,
    /// False once the partition stopped: nothing more is queued.
    open: bool,
}

impl PartitionCore {
    pub fn id(&self) -> u64 {
        self.id
    }

    fn lock_queue(&self) -> MutexGuard<'_, QueueState> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `request` and schedules the partition if it is not already; gives the request
    /// back if the partition stopped.
    fn enqueue(self: &Arc<Self>, request: AppendRequest) -> std::result::Result<(), AppendRequest> {
        let schedule = {
            let mut queue = self.lock_queue();
            if !queue.open {
                return Err(request);
            }
            queue.requests.push_back(request);
            !self.scheduled.swap(true, Ordering::AcqRel)
        };
        if schedule {
            self.pool.schedule(self.clone());
        }
        Ok(())
    }

    /// A timer fired: run a turn soon.
    pub fn wake(self: &Arc<Self>) {
        let schedule = {
            let mut queue = self.lock_queue();
            queue.timer_due = true;
            !self.scheduled.swap(true, Ordering::AcqRel)
        };
        if schedule {
            self.pool.schedule(self.clone());
        }
    }

    /// One turn on a pool worker: a batch (if any is queued), then due timers. Returns true
    /// if the partition has more to do (it stays scheduled: the caller runs it again or puts
    /// it back in the pool's line); false once it is unscheduled.
    pub fn run_turn(self: &Arc<Self>, buffers: &mut WorkerBuffers) -> bool {
        {
            #[cfg(test)]
            let _gate = self.commit_gate.lock().unwrap_or_else(|p| p.into_inner());
            let mut writer = self.lock_writer();
            let mut batch = std::mem::take(&mut buffers.batch);
            self.take_batch(&mut batch);
            if !batch.is_empty() {
                writer.commit(&mut batch, buffers, &self.control);
            }
            writer.on_timer(&self.control);
            let wake_at = writer.wake_at();
            drop(writer);
            buffers.batch = batch;
            buffers.trim();
            if let Some(at) = wake_at {
                self.pool.arm(self, at);
            }
        }
        let mut queue = self.lock_queue();
        if queue.requests.is_empty() && !queue.timer_due {
            if queue.requests.capacity() > QUEUE_CAPACITY_IDLE {
                queue.requests.shrink_to(QUEUE_CAPACITY_IDLE);
            }
            self.scheduled.store(false, Ordering::Release);
            false
        } else {
            true
        }
    }

    /// Moves queued requests into `batch` (at least one if any, then up to the batch
    /// limits) and returns their queue permits.
    fn take_batch(&self, batch: &mut Vec<AppendRequest>) {
        let mut queue = self.lock_queue();
        queue.timer_due = false;
        let (mut records, mut bytes) = (0usize, 0usize);
        while records < COMMIT_BATCH_RECORDS_MAX && bytes < COMMIT_BATCH_BYTES_MAX {
            let Some(request) = queue.requests.pop_front() else {
                break;
            };
            records += request.records.len();
            bytes += request.bytes;
            self.control.request_permits.add_permits(1);
            self.control.byte_permits.add_permits(request.bytes);
            batch.push(request);
        }
    }
}

/// A partition: its shared state and its place in the writer pool.
pub(crate) struct Partition {
    pub shared: Arc<PartitionShared>,
    core: Arc<PartitionCore>,
}

impl Partition {
    /// Recovers the partition in `dir`. A partition whose files recovery refuses as corrupt
    /// opens unavailable (its reads and appends fail, health says why) rather than failing
    /// the whole log.
    pub fn open(
        topic: &str,
        id: PartitionId,
        dir: &Path,
        config: &LogConfig,
        data_ready: Arc<Notify>,
        files: &Arc<FileCache>,
        pool: &Arc<PoolShared>,
    ) -> Result<Partition> {
        let durable = config.fsync != FsyncPolicy::Never;
        let name = format!("{topic}/{}", id.0);
        let control = Control::new(topic, id);
        let recovered = match recovery::recover_partition(dir, &name, durable, files) {
            Ok(recovered) => recovered,
            Err(e) if e.code() == ErrorCode::Corrupt => {
                tracing::error!(partition = %name, error = %e, "corrupt log: the partition \
                    cannot be recovered and is not served until its files are repaired");
                control.set_unavailable(&e);
                recovery::Recovered {
                    segments: Vec::new(),
                    end: Offset(0),
                    new_segment: true,
                    active_bytes_since_index: 0,
                    damage: Vec::new(),
                    checkpoint_seq: 0,
                }
            }
            Err(e) => return Err(e),
        };
        let start_offset = recovered.segments.first().map_or(recovered.end, |s| s.base);
        let shared = Arc::new(PartitionShared {
            id,
            name,
            start_offset,
            end_offset: AtomicU64::new(recovered.end.0),
            segments: RwLock::new(recovered.segments.clone()),
            stats: Stats::default(),
            damage: Mutex::new(DamageLog::default()),
        });
        for range in recovered.damage.iter().cloned() {
            shared.record_damage(range);
        }
        let writer = Writer::new(
            dir,
            shared.clone(),
            data_ready,
            files.clone(),
            config,
            &recovered,
        );
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let core = Arc::new(PartitionCore {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            control,
            queue: Mutex::new(QueueState {
                requests: VecDeque::new(),
                timer_due: false,
                open: true,
            }),
            scheduled: AtomicBool::new(false),
            writer: Mutex::new(writer),
            pool: pool.clone(),
            #[cfg(test)]
            commit_gate: Mutex::new(()),
        });
        Ok(Partition { shared, core })
    }

    /// Queues `records`; waits only while the queue is full. Fails at once while writes are
    /// failing (see `writer`), so a producer gets its error without waiting for the disk.
    pub async fn append(&self, records: Vec<Record>) -> Result<AppendTicket> {
        let control = &self.core.control;
        if let Some(error) = control.refusal() {
            return Err(error);
        }
        let (reply, ticket) = oneshot::channel();
        if records.is_empty() {
            let end = Offset(self.shared.end_offset.load(Ordering::Acquire));
            let _ = reply.send(Ok(end));
            return Ok(ticket);
        }
        let bytes = request_bytes(&records)?;
        let closed = |_| control.closed_error();
        let request_permit = control.request_permits.acquire().await.map_err(closed)?;
        let byte_permits = u32::try_from(bytes).expect("bytes <= APPEND_REQUEST_BYTES_MAX");
        let byte_permit = control
            .byte_permits
            .acquire_many(byte_permits)
            .await
            .map_err(closed)?;
        // From here the writer returns the permits when it takes the request off the queue.
        request_permit.forget();
        byte_permit.forget();
        let request = AppendRequest {
            records,
            bytes,
            reply,
        };
        match self.core.enqueue(request) {
            Ok(()) => Ok(ticket),
            Err(request) => {
                control.request_permits.add_permits(1);
                control.byte_permits.add_permits(request.bytes);
                Err(control.closed_error())
            }
        }
    }

    /// Stops the partition (see `StopMode`): nothing more is queued, what is queued is written
    /// or failed on this thread, and written data is made durable. Waits for a turn in
    /// progress. Safe to call more than once.
    pub fn stop(&self, mode: StopMode) {
        let control = &self.core.control;
        let state = match mode {
            StopMode::Flush => STATE_CLOSED,
            StopMode::Discard => STATE_DELETED,
        };
        let first = control
            .state
            .compare_exchange(STATE_RUNNING, state, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            control.request_permits.close();
            control.byte_permits.close();
        }
        let queued: Vec<AppendRequest> = {
            let mut queue = self.core.lock_queue();
            queue.open = false;
            queue.requests.drain(..).collect()
        };
        self.core.lock_writer().finish(queued, mode, control);
        self.core.pool.disarm(self.core.id);
        if mode == StopMode::Discard {
            // The files are about to be removed: give their descriptors back now.
            let segments = self
                .shared
                .segments
                .read()
                .unwrap_or_else(|p| p.into_inner());
            for segment in segments.iter() {
                segment.close_file();
            }
        }
    }

    /// What is wrong with the partition now (empty: nothing).
    pub fn problems(&self) -> Vec<PartitionProblem> {
        let mut problems = Vec::new();
        problems.extend(self.core.control.problem());
        problems.extend(self.shared.damage_problem());
        problems
    }

    /// The error reads get when recovery refused the partition.
    pub fn unavailable(&self) -> Option<EngineError> {
        (self.core.control.health.load(Ordering::Acquire) == HEALTH_UNAVAILABLE)
            .then(|| self.core.control.failure_error())
    }
}

#[cfg(test)]
impl Partition {
    /// Holds the writer before its next turn until the guard drops.
    pub fn hold_commits(&self) -> MutexGuard<'_, ()> {
        self.core
            .commit_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Injects I/O failures into the writer's next writes and fsyncs.
    pub fn inject_faults(&self, faults: super::writer::Faults) {
        self.core.lock_writer().faults = faults;
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.stop(StopMode::Flush);
    }
}

/// Validates sizes and returns the request's encoded size.
fn request_bytes(records: &[Record]) -> Result<usize> {
    let mut total = 0usize;
    for record in records {
        let len = record::encoded_len(record);
        if len > RECORD_BYTES_MAX {
            return Err(EngineError::bad_request(format!(
                "record of {len} bytes exceeds the limit of {RECORD_BYTES_MAX} bytes"
            )));
        }
        total += len;
    }
    if total > APPEND_REQUEST_BYTES_MAX {
        return Err(EngineError::bad_request(format!(
            "append of {total} bytes exceeds the limit of {APPEND_REQUEST_BYTES_MAX} bytes"
        )));
    }
    Ok(total)
}
