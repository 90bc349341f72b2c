//! One partition: its writer thread (group commit) and its committed end offset.
//!
//! ```text
//!  append() ── acquire queue permits (async; waits only when the queue is full)
//!           └─ try_send ─► bounded queue ─► writer thread:
//!                                           1. block for the first request
//!                                           2. drain what else is queued (≤ COMMIT_BATCH_*)
//!                                           3. encode all records, one positioned write
//!                                           4. one sync_data for the batch (FsyncPolicy)
//!                                           5. publish committed bytes + end offset (Release)
//!                                           6. notify_waiters() on the topic's Notify
//!                                           7. resolve each ticket, in order
//! ```
//!
//! Partitions share nothing but the topic's `Notify`. An I/O error fails the batch's tickets
//! and every later append (the writer stops writing: after a failed fsync the page cache can
//! no longer be trusted); restarting the log recovers from what is on disk.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::{oneshot, Notify, Semaphore};

use super::record::{self, RECORD_BYTES_MAX};
use super::recovery::{self, sync_dir};
use super::segment::{self, IndexEntry, Segment, INDEX_INTERVAL_BYTES};
use super::LogConfig;
use crate::error::{EngineError, Result};
use crate::log::{AppendTicket, FsyncPolicy, Offset, PartitionId, Record};

/// Most append requests queued for one partition's writer.
///
/// Enough to fill several commit batches while one fsync (~1-10 ms) runs, so per-row appends
/// from many connections still group-commit; beyond it appenders wait (backpressure).
pub const APPEND_QUEUE_DEPTH_MAX: usize = 1024;

/// Most encoded record bytes queued for one partition's writer.
///
/// Bounds a partition's queue memory independently of how many records each request has.
pub const APPEND_QUEUE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest single append request (all its records encoded), in bytes.
///
/// A request must fit in the queue; 16 MiB is two maximal records or many thousand rows.
pub const APPEND_REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Records after which the writer stops draining the queue into the current batch.
///
/// Caps a batch's latency (and the size of its write) when the queue is deep; 16 Ki rows of
/// ~100 bytes is ~1.6 MiB, one efficient write.
pub const COMMIT_BATCH_RECORDS_MAX: usize = 16 * 1024;

/// Encoded bytes after which the writer stops draining the queue into the current batch.
///
/// Keeps one batch's buffer and write call at a few MiB however large the records are.
pub const COMMIT_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Writer is accepting appends.
const STATE_RUNNING: u8 = 0;
/// The log is being dropped: queued appends are still written, new ones fail.
const STATE_CLOSED: u8 = 1;
/// The topic was deleted: queued and new appends fail.
const STATE_DELETED: u8 = 2;

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
    /// Segments in offset order; the last is active. The writer write-locks it only to push a
    /// new segment when rolling.
    pub segments: RwLock<Vec<Arc<Segment>>>,
    /// Next offset to be written; everything below it is committed. Release/Acquire.
    pub end_offset: AtomicU64,
    /// First offset stored (no retention yet, so the first segment's base).
    pub start_offset: Offset,
    pub stats: Stats,
}

/// Counters the writer keeps (Relaxed: statistics, nothing is published through them).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
}

/// What travels on a writer's queue.
enum Command {
    Append(AppendRequest),
    /// Wakes the writer to stop (see `StopMode`).
    Stop,
}

struct AppendRequest {
    records: Vec<Record>,
    /// Encoded size, to release the byte permits it holds.
    bytes: usize,
    reply: oneshot::Sender<Result<Offset>>,
}

/// Shared between appenders and the writer: queue permits, and why the writer stopped.
struct Control {
    topic: String,
    id: PartitionId,
    state: AtomicU8,
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    /// One permit per queued request.
    request_permits: Semaphore,
    /// One permit per queued encoded byte.
    byte_permits: Semaphore,
    /// Lets a test hold the writer just before it commits, so requests pile up in the queue
    /// deterministically (group-commit test).
    #[cfg(test)]
    commit_gate: Mutex<()>,
}

impl Control {
    /// The error an append gets once the writer no longer accepts appends.
    fn closed_error(&self) -> EngineError {
        if self.failed.load(Ordering::Acquire) {
            let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            return EngineError::from(std::io::Error::other(format!(
                "partition {} of topic '{}' failed and accepts no appends: {}",
                self.id.0,
                self.topic,
                failure.as_deref().unwrap_or("unknown error")
            )));
        }
        match self.state.load(Ordering::Acquire) {
            STATE_DELETED => EngineError::not_found(format!("topic '{}' was deleted", self.topic)),
            _ => EngineError::internal(format!("the log holding topic '{}' is closed", self.topic)),
        }
    }

    fn accepting(&self) -> bool {
        self.state.load(Ordering::Acquire) == STATE_RUNNING && !self.failed.load(Ordering::Acquire)
    }
}

/// A partition: its shared state, its queue, and its writer thread.
pub(crate) struct Partition {
    pub shared: Arc<PartitionShared>,
    control: Arc<Control>,
    queue: Sender<Command>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Partition {
    /// Recovers the partition in `dir` and starts its writer thread.
    pub fn open(
        topic: &str,
        id: PartitionId,
        dir: &Path,
        config: &LogConfig,
        data_ready: Arc<Notify>,
    ) -> Result<Partition> {
        let durable = config.fsync != FsyncPolicy::Never;
        let recovered = recovery::recover_partition(dir, durable)?;
        let active = recovered
            .segments
            .last()
            .expect("recovery yields a segment")
            .clone();
        let shared = Arc::new(PartitionShared {
            id,
            start_offset: recovered.segments[0].base,
            end_offset: AtomicU64::new(recovered.end.0),
            segments: RwLock::new(recovered.segments),
            stats: Stats::default(),
        });
        let control = Arc::new(Control {
            topic: topic.to_owned(),
            id,
            state: AtomicU8::new(STATE_RUNNING),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            request_permits: Semaphore::new(APPEND_QUEUE_DEPTH_MAX),
            byte_permits: Semaphore::new(APPEND_QUEUE_BYTES_MAX),
            #[cfg(test)]
            commit_gate: Mutex::new(()),
        });
        // One extra slot so the Stop command always fits next to a full queue of requests.
        let (queue, rx) = crossbeam_channel::bounded(APPEND_QUEUE_DEPTH_MAX + 1);
        let index_entries = active.index.read().unwrap_or_else(|p| p.into_inner()).len();
        let writer = Writer {
            dir: dir.to_owned(),
            shared: shared.clone(),
            control: control.clone(),
            data_ready,
            fsync: config.fsync,
            segment_bytes_max: config.segment_bytes_max,
            index_file: OpenOptions::new().write(true).open(&active.index_path)?,
            index_entries_written: index_entries,
            active_bytes: active.committed_bytes.load(Ordering::Acquire),
            active,
            since_index: recovered.active_bytes_since_index,
            pending_index: Vec::new(),
            buf: Vec::new(),
            next: recovered.end,
            dirty: false,
            last_sync: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("log-{topic}-{}", id.0))
            .spawn(move || writer.run(rx))?;
        Ok(Partition {
            shared,
            control,
            queue,
            writer: Mutex::new(Some(thread)),
        })
    }

    /// Queues `records`; waits only while the queue is full.
    pub async fn append(&self, records: Vec<Record>) -> Result<AppendTicket> {
        if !self.control.accepting() {
            return Err(self.control.closed_error());
        }
        let (reply, ticket) = oneshot::channel();
        if records.is_empty() {
            let end = Offset(self.shared.end_offset.load(Ordering::Acquire));
            let _ = reply.send(Ok(end));
            return Ok(ticket);
        }
        let bytes = request_bytes(&records)?;
        let closed = |_| self.control.closed_error();
        let request_permit = self
            .control
            .request_permits
            .acquire()
            .await
            .map_err(closed)?;
        let byte_permits = u32::try_from(bytes).expect("bytes <= APPEND_REQUEST_BYTES_MAX");
        let byte_permit = self
            .control
            .byte_permits
            .acquire_many(byte_permits)
            .await
            .map_err(closed)?;
        // From here the writer returns the permits when it takes the request off the queue.
        request_permit.forget();
        byte_permit.forget();
        match self.queue.try_send(Command::Append(AppendRequest {
            records,
            bytes,
            reply,
        })) {
            Ok(()) => Ok(ticket),
            Err(TrySendError::Disconnected(_)) => Err(self.control.closed_error()),
            Err(TrySendError::Full(_)) => Err(EngineError::internal(
                "append queue full despite holding a permit",
            )),
        }
    }

    /// Stops the writer (see `StopMode`) and waits for its thread, which finishes at most the
    /// batch in progress. Safe to call more than once.
    pub fn stop(&self, mode: StopMode) {
        let state = match mode {
            StopMode::Flush => STATE_CLOSED,
            StopMode::Discard => STATE_DELETED,
        };
        let first = self
            .control
            .state
            .compare_exchange(STATE_RUNNING, state, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.control.request_permits.close();
            self.control.byte_permits.close();
            // Fails only if the writer already exited; the spare slot guarantees room.
            let _ = self.queue.try_send(Command::Stop);
        }
        let thread = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!(topic = %self.control.topic, partition = self.control.id.0,
                    "partition writer thread panicked");
            }
        }
    }
}

#[cfg(test)]
impl Partition {
    /// Holds the writer before its next commit until the guard drops.
    pub fn hold_commits(&self) -> std::sync::MutexGuard<'_, ()> {
        self.control
            .commit_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
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

/// The writer thread's state. Only this thread writes the partition's files.
struct Writer {
    dir: PathBuf,
    shared: Arc<PartitionShared>,
    control: Arc<Control>,
    data_ready: Arc<Notify>,
    fsync: FsyncPolicy,
    segment_bytes_max: u64,
    active: Arc<Segment>,
    /// Bytes written to the active segment (the next write position).
    active_bytes: u64,
    index_file: File,
    index_entries_written: usize,
    /// Record bytes written since the last index entry.
    since_index: u64,
    /// Index entries for records in `buf`, added once `buf` is written.
    pending_index: Vec<IndexEntry>,
    /// Encoded records of the batch being built, reused across batches.
    buf: Vec<u8>,
    /// Offset the next record gets.
    next: Offset,
    /// Written but not yet fsynced (only tracked for `IntervalMs`).
    dirty: bool,
    last_sync: Instant,
}

impl Writer {
    fn run(mut self, rx: Receiver<Command>) {
        let mut batch = Vec::new();
        loop {
            let Some(Command::Append(first)) = self.recv(&rx) else {
                break;
            };
            let mut stop_seen = false;
            let mut records = first.records.len();
            let mut bytes = first.bytes;
            self.release(&first);
            batch.push(first);
            while records < COMMIT_BATCH_RECORDS_MAX && bytes < COMMIT_BATCH_BYTES_MAX {
                match rx.try_recv() {
                    Ok(Command::Append(request)) => {
                        records += request.records.len();
                        bytes += request.bytes;
                        self.release(&request);
                        batch.push(request);
                    }
                    Ok(Command::Stop) => {
                        stop_seen = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
            if stop_seen {
                break;
            }
        }
        self.shut_down(&rx);
    }

    /// Waits for the next command; under `IntervalMs`, fsyncs when the interval elapses while
    /// idle with unsynced data, so "at most n ms of acked rows at risk" holds when idle too.
    fn recv(&mut self, rx: &Receiver<Command>) -> Option<Command> {
        loop {
            let FsyncPolicy::IntervalMs(ms) = self.fsync else {
                return rx.recv().ok();
            };
            if !self.dirty {
                return rx.recv().ok();
            }
            match rx.recv_deadline(self.last_sync + Duration::from_millis(ms)) {
                Ok(command) => return Some(command),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.sync() {
                        self.fail(&e);
                    }
                }
            }
        }
    }

    fn release(&self, request: &AppendRequest) {
        self.control.request_permits.add_permits(1);
        self.control.byte_permits.add_permits(request.bytes);
    }

    /// Writes, syncs and publishes one batch, then resolves its tickets in order.
    fn commit(&mut self, batch: &mut Vec<AppendRequest>) {
        #[cfg(test)]
        let control = self.control.clone();
        #[cfg(test)]
        let _gate = control
            .commit_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.control.failed.load(Ordering::Acquire) {
            return self.reject(batch);
        }
        let start = self.next;
        let records: usize = batch.iter().map(|r| r.records.len()).sum();
        if let Err(e) = self.write_batch(batch) {
            self.fail(&e);
            return self.reject(batch);
        }
        // Invariant: the batch took exactly the next `records` offsets.
        assert_eq!(
            self.next.0,
            start.0 + records as u64,
            "offsets are contiguous"
        );
        self.publish();
        let stats = &self.shared.stats;
        stats.records.fetch_add(records as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        let mut first = start;
        for request in batch.drain(..) {
            let n = request.records.len() as u64;
            // The appender may have stopped waiting; its rows are written all the same.
            let _ = request.reply.send(Ok(first));
            first = Offset(first.0 + n);
        }
    }

    fn write_batch(&mut self, batch: &[AppendRequest]) -> std::io::Result<()> {
        self.buf.clear();
        for request in batch {
            for record in &request.records {
                let frame = record::encoded_len(record) as u64;
                let segment_bytes = self.active_bytes + self.buf.len() as u64;
                if segment_bytes > 0 && segment_bytes + frame > self.segment_bytes_max {
                    self.roll()?;
                }
                if self.since_index >= INDEX_INTERVAL_BYTES {
                    let position = self.active_bytes + self.buf.len() as u64;
                    self.pending_index.push(IndexEntry {
                        offset: self.next,
                        position,
                    });
                    self.since_index = 0;
                }
                record::encode(self.next, record, &mut self.buf);
                self.since_index += frame;
                self.next = Offset(self.next.0 + 1);
            }
        }
        self.write_buf()?;
        match self.fsync {
            FsyncPolicy::Always => self.sync(),
            FsyncPolicy::IntervalMs(ms)
                if self.last_sync.elapsed() >= Duration::from_millis(ms) =>
            {
                self.sync()
            }
            FsyncPolicy::IntervalMs(_) | FsyncPolicy::Never => Ok(()),
        }
    }

    /// Writes `buf` to the active segment with one positioned write, and its index entries.
    fn write_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.active
            .file
            .write_all_at(&self.buf, self.active_bytes)?;
        self.active_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.dirty = true;
        if !self.pending_index.is_empty() {
            let mut encoded = Vec::with_capacity(self.pending_index.len() * 8);
            segment::encode_index(self.active.base, &self.pending_index, &mut encoded);
            self.index_file
                .write_all_at(&encoded, self.index_entries_written as u64 * 8)?;
            self.index_entries_written += self.pending_index.len();
            let mut index = self.active.index.write().unwrap_or_else(|p| p.into_inner());
            index.append(&mut self.pending_index);
        }
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.active.file.sync_data()?;
        self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the active segment (made durable first, so recovery can trust it) and starts a
    /// new one at the next offset.
    fn roll(&mut self) -> std::io::Result<()> {
        self.write_buf()?;
        let durable = self.fsync != FsyncPolicy::Never;
        if durable {
            self.sync()?;
            self.index_file.sync_data()?;
        }
        self.active
            .committed_bytes
            .store(self.active_bytes, Ordering::Release);
        let segment = Segment::create(&self.dir, self.next).map_err(std::io::Error::other)?;
        if durable {
            sync_dir(&self.dir).map_err(std::io::Error::other)?;
        }
        let segment = Arc::new(segment);
        self.index_file = OpenOptions::new().write(true).open(&segment.index_path)?;
        self.index_entries_written = 0;
        self.active_bytes = 0;
        self.since_index = 0;
        self.active = segment.clone();
        self.shared
            .segments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(segment);
        tracing::debug!(topic = %self.control.topic, partition = self.shared.id.0,
            base = self.next.0, "rolled to a new segment");
        Ok(())
    }

    /// Makes the batch visible: committed bytes first, then the end offset (Release), so a
    /// reader that sees the end offset also sees the bytes.
    fn publish(&self) {
        self.active
            .committed_bytes
            .store(self.active_bytes, Ordering::Release);
        self.shared.end_offset.store(self.next.0, Ordering::Release);
        self.data_ready.notify_waiters();
    }

    fn fail(&self, error: &std::io::Error) {
        tracing::error!(topic = %self.control.topic, partition = self.shared.id.0, %error,
            "partition writer failed; appends to this partition fail until the log reopens");
        *self
            .control
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        self.control.failed.store(true, Ordering::Release);
    }

    fn reject(&self, batch: &mut Vec<AppendRequest>) {
        for request in batch.drain(..) {
            let _ = request.reply.send(Err(self.control.closed_error()));
        }
    }

    /// After a stop: write (log closing) or fail (topic deleted) whatever is still queued,
    /// then make written data durable.
    fn shut_down(mut self, rx: &Receiver<Command>) {
        let discard = self.control.state.load(Ordering::Acquire) == STATE_DELETED;
        let mut batch = Vec::new();
        while let Ok(command) = rx.try_recv() {
            if let Command::Append(request) = command {
                self.release(&request);
                batch.push(request);
                if discard {
                    self.reject(&mut batch);
                } else {
                    self.commit(&mut batch);
                }
            }
        }
        let durable = self.fsync != FsyncPolicy::Never;
        if durable && self.dirty && !discard && !self.control.failed.load(Ordering::Acquire) {
            if let Err(e) = self.sync() {
                self.fail(&e);
            }
        }
    }
}
