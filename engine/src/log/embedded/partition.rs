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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::{oneshot, Notify};

use super::files::FileCache;
use super::pool::{Job, PoolShared};
use super::record::{self, RECORD_BYTES_MAX};
use super::recovery;
use super::shared::*;
use super::writer::{WorkerBuffers, Writer};
use super::LogConfig;
use crate::error::{EngineError, ErrorCode, Result};
use crate::log::{
    AppendTicket, FsyncPolicy, Offset, PartitionId, PartitionProblem, Record, TopicConfig,
};

/// Queue capacity kept after a burst drains; a larger one is given back.
const QUEUE_CAPACITY_IDLE: usize = 64;

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
                let job: Arc<dyn Job> = self.clone();
                self.pool.arm(&job, at);
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

impl Job for PartitionCore {
    fn id(&self) -> u64 {
        self.id
    }

    fn wake(self: Arc<Self>) {
        PartitionCore::wake(&self);
    }

    fn run_turn(self: Arc<Self>, buffers: &mut WorkerBuffers) -> bool {
        PartitionCore::run_turn(&self, buffers)
    }
}

/// A partition: its shared state and its place in the writer pool.
pub(crate) struct Partition {
    pub shared: Arc<PartitionShared>,
    core: Arc<PartitionCore>,
}

/// The topic a partition belongs to: its name and its configs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicOf<'a> {
    pub name: &'a str,
    pub config: TopicConfig,
}

impl Partition {
    /// Recovers the partition in `dir`. A partition whose files recovery refuses as corrupt
    /// opens unavailable (its reads and appends fail, health says why) rather than failing
    /// the whole log.
    pub fn open(
        of: TopicOf<'_>,
        id: PartitionId,
        dir: &Path,
        config: &LogConfig,
        data_ready: Arc<Notify>,
        files: &Arc<FileCache>,
        pool: &Arc<PoolShared>,
    ) -> Result<Partition> {
        let TopicOf {
            name: topic,
            config: topic_config,
        } = of;
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
            start_offset: AtomicU64::new(start_offset.0),
            end_offset: AtomicU64::new(recovered.end.0),
            segments: RwLock::new(recovered.segments.clone()),
            stats: Stats::default(),
            sync_latency: pool.sync_latency.clone(),
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
            topic_config,
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
        if topic_config.retention_ms.is_some() && !topic_config.compacted {
            // Retention is checked on the writer's timer, which otherwise only a write arms:
            // a partition nobody writes to still expires its old segments.
            let first_check = core.lock_writer().wake_at();
            if let Some(at) = first_check {
                let job: Arc<dyn Job> = core.clone();
                pool.arm(&job, at);
            }
        }
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

    /// Deletes every record the partition stores now (see `Writer::delete_records`);
    /// waits for a turn in progress, and appends queued meanwhile go after. Blocks on file
    /// I/O. Returns the new start offset.
    pub fn delete_records(&self) -> Result<Offset> {
        self.core.lock_writer().delete_records(&self.core.control)
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
