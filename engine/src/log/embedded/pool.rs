//! The writer pool: a fixed set of threads that write every partition of the log.
//!
//! ```text
//!  append ─► partition queue ─(first request: schedule)─► ready queue ─► worker thread:
//!                                                                        lock the partition's writer
//!                                                                        take a batch, write, fsync,
//!                                                                        publish, resolve tickets
//!                                                                        more queued? back of the line
//!  timers (interval fsync, retry after a failure, recovery-point fsync) ─► ready queue
//! ```
//!
//! A partition is in the ready queue at most once (its `scheduled` flag) and only one worker
//! runs it at a time (its writer lock), so its appends stay in order and each batch still
//! gets one fsync (group commit per partition). A busy partition goes to the back of the line
//! after each batch, so one cannot starve the others. While a worker waits for an fsync, the
//! others write other partitions: the pool keeps up to its size of fsyncs in flight.
//!
//! Both queues are bounded by the number of partitions (one entry each at most). Threads no
//! longer grow with partitions: issue 11's 10,000 partitions run on
//! [`WRITER_THREADS_DEFAULT`] threads.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use super::writer::WorkerBuffers;
use crate::metrics::LatencyHistogram;

/// Writer threads a log starts unless `LogConfig::writer_threads` says otherwise.
///
/// Writers spend most of their time waiting for fsync, not on a CPU, so the pool is larger
/// than a small machine's core count: eight fsyncs in flight keep an NVMe queue or a journal
/// commit busy, and a few partitions (what the benchmarks run) each still get a thread of
/// their own, as they did with a thread per partition.
pub const WRITER_THREADS_DEFAULT: usize = 8;

/// Most writer threads a log may be configured with.
///
/// Beyond a few dozen, more threads only add context switches; the cap keeps a typo from
/// starting thousands.
pub const WRITER_THREADS_MAX: usize = 256;

/// What the workers share.
/// What the pool runs: a partition's queue and writer (`partition::PartitionCore`). A trait
/// so the pool, which partitions schedule themselves on, does not depend on them.
pub(crate) trait Job: Send + Sync {
    /// Unique in the process: names the job's timer.
    fn id(&self) -> u64;
    /// A timer fired: schedule a turn unless one is coming.
    fn wake(self: Arc<Self>);
    /// One turn on a worker; true while the job has more to do (it stays scheduled).
    fn run_turn(self: Arc<Self>, buffers: &mut WorkerBuffers) -> bool;
}

pub(crate) struct PoolShared {
    state: Mutex<PoolState>,
    work: Condvar,
    /// How long segment fsyncs take, for `/metrics`. Every partition's writer observes into
    /// it: one fsync per commit batch, so the atomic adds are rare next to the syscall.
    pub sync_latency: Arc<LatencyHistogram>,
}

#[derive(Default)]
struct PoolState {
    /// Partitions with work, each at most once.
    ready: VecDeque<Arc<dyn Job>>,
    /// Timers by (due time, partition id); at most one per partition.
    timers: BTreeMap<(Instant, u64), Arc<dyn Job>>,
    /// Each armed partition's due time, to find its timer.
    armed: HashMap<u64, Instant>,
    stopping: bool,
}

impl PoolShared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `core` at the back of the ready queue (its caller set its `scheduled` flag).
    pub fn schedule(&self, core: Arc<dyn Job>) {
        {
            let mut state = self.lock();
            if state.stopping {
                return;
            }
            state.ready.push_back(core);
        }
        self.work.notify_one();
    }

    /// Wakes `core` at `at`, or sooner if it is already armed for an earlier time.
    pub fn arm(&self, core: &Arc<dyn Job>, at: Instant) {
        let earliest = {
            let mut state = self.lock();
            if state.stopping {
                return;
            }
            let id = core.id();
            if let Some(&armed) = state.armed.get(&id) {
                if armed <= at {
                    return;
                }
                state.timers.remove(&(armed, id));
            }
            let earliest = state.timers.first_key_value().is_none_or(|(k, _)| at < k.0);
            state.armed.insert(id, at);
            state.timers.insert((at, id), core.clone());
            earliest
        };
        if earliest {
            // A sleeping worker recomputes how long to sleep; later timers need no wake-up.
            self.work.notify_one();
        }
    }

    /// Cancels `id`'s timer (its partition stopped).
    pub fn disarm(&self, id: u64) {
        let mut state = self.lock();
        if let Some(at) = state.armed.remove(&id) {
            state.timers.remove(&(at, id));
        }
    }
}

/// The pool and its threads.
pub(crate) struct WriterPool {
    shared: Arc<PoolShared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl WriterPool {
    /// Starts `threads` workers.
    pub fn start(threads: usize) -> std::io::Result<WriterPool> {
        let shared = Arc::new(PoolShared {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
            sync_latency: Arc::default(),
        });
        let pool = WriterPool {
            shared: shared.clone(),
            threads: Mutex::new(Vec::with_capacity(threads)),
        };
        for i in 0..threads {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("log-writer-{i}"))
                .spawn(move || work(&shared))?;
            pool.threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(thread);
        }
        Ok(pool)
    }

    pub fn shared(&self) -> &Arc<PoolShared> {
        &self.shared
    }

    pub fn threads(&self) -> usize {
        self.threads.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Stops the workers once their current turn ends (partitions were stopped first, so
    /// nothing is left to write) and waits for them.
    pub fn shutdown(&self) {
        let (ready, timers) = {
            let mut state = self.shared.lock();
            state.stopping = true;
            state.armed.clear();
            (
                std::mem::take(&mut state.ready),
                std::mem::take(&mut state.timers),
            )
        };
        // Dropped outside the lock: a partition may be the last owner of files.
        drop((ready, timers));
        self.shared.work.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("log writer thread panicked");
            }
        }
    }
}

impl Drop for WriterPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker: runs ready partitions' turns and fires due timers, until the pool stops.
fn work(shared: &PoolShared) {
    let mut buffers = WorkerBuffers::default();
    let mut due = Vec::new();
    loop {
        let mut current = {
            let mut state = shared.lock();
            loop {
                if state.stopping {
                    return;
                }
                let now = Instant::now();
                take_due(&mut state, now, &mut due);
                if !due.is_empty() {
                    break None;
                }
                if let Some(core) = state.ready.pop_front() {
                    break Some(core);
                }
                let first_due = state.timers.first_key_value().map(|(key, _)| key.0);
                state = match first_due {
                    Some(at) => {
                        let timeout = at.saturating_duration_since(now);
                        shared
                            .work
                            .wait_timeout(state, timeout)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    None => shared.work.wait(state).unwrap_or_else(|p| p.into_inner()),
                };
            }
        };
        for core in due.drain(..) {
            core.wake(); // schedules it through the pool unless a turn is already coming
        }
        // A partition with more work goes to the back of the line; if the line is empty this
        // worker runs it again at once, without waking another thread for it.
        while let Some(core) = current {
            if !Arc::clone(&core).run_turn(&mut buffers) {
                break;
            }
            current = {
                let mut state = shared.lock();
                if state.stopping {
                    return;
                }
                take_due(&mut state, Instant::now(), &mut due);
                match state.ready.pop_front() {
                    Some(other) => {
                        state.ready.push_back(core);
                        drop(state);
                        // The requeued partition may be picked up by a sleeping worker.
                        shared.work.notify_one();
                        Some(other)
                    }
                    None => Some(core),
                }
            };
            for core in due.drain(..) {
                core.wake();
            }
        }
    }
}

/// Moves the timers due at `now` to `due`.
fn take_due(state: &mut PoolState, now: Instant, due: &mut Vec<Arc<dyn Job>>) {
    while let Some(entry) = state.timers.first_entry() {
        if entry.key().0 > now {
            break;
        }
        let ((_, id), core) = entry.remove_entry();
        state.armed.remove(&id);
        due.push(core);
    }
}
