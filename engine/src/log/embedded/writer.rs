//! A partition's writer: what a pool worker does in a partition's turn.
//!
//! ```text
//!  commit(batch) ── fail fast while a failure's retry is not due
//!                ├─ roll to a new segment first if the next request does not fit
//!                ├─ encode the requests that fit, one positioned write
//!                ├─ one fdatasync for them (FsyncPolicy)
//!                ├─ publish committed bytes + end offset (Release), notify readers
//!                ├─ resolve each ticket, in order
//!                └─ record the recovery point (`checkpoint`)
//! ```
//!
//! # When a write or an fsync fails
//!
//! Issue 9 (finding 7): on a full disk a producer got a clean error, but appends kept failing
//! after space was freed until a restart, and the row whose ack said *error* was there after
//! the restart. Now:
//!
//! - Nothing is published before its write and fsync succeed, so readers never see a failed
//!   append. The file is cut back to the published length (`set_len`) and, unless fsync is
//!   off, the cut is fsynced **before** the tickets resolve with the error: the records of a
//!   failed append cannot come back after a crash. (A partial write can leave whole records
//!   on disk, and recovery keeps whole records after the recovery point.)
//! - The partition then fails appends fast (the disk-full error, `ErrorCode::StorageFull`)
//!   and retries by itself: after a backoff ([`RETRY_BACKOFF_MIN_MS`] doubling to
//!   [`RETRY_BACKOFF_MAX_MS`]) the next append is tried, or, with no appends, a probe writes,
//!   fsyncs and removes a small file. The first success makes the partition healthy again.
//!   [`LogStore::health`](crate::log::LogStore::health) reports the failure meanwhile.
//!
//! After a failed fsync the kernel's page cache cannot be trusted: Linux may have dropped the
//! dirty pages or marked them clean, and a second fsync can then succeed without writing
//! anything ("fsyncgate", 2018). PostgreSQL therefore PANICs on a failed data-file fsync
//! (`data_sync_retry = off`, its default) and replays its WAL; Kafka marks the log directory
//! offline (`LogDirFailureChannel`) and stops serving its partitions. Here the only dirty
//! data a failed fsync can concern is what follows the last successful fsync: under
//! `FsyncPolicy::Always` that is exactly the failed batch, which nobody has seen, so cutting
//! it off and fsyncing the cut (which persists the new file size; the data before it was
//! durable already) leaves the file as it was before the batch, and writing can resume.
//! Under `IntervalMs`, records already acked and read may be among the dirty pages: the
//! partition stops accepting appends (health: `Stopped`) until the log reopens, as Kafka and
//! PostgreSQL do, rather than acking on top of data that may not be on disk. The same
//! happens if the cut itself cannot be made durable.
//!
//! A write is always fsynced through the descriptor that wrote it: under `Always` the file is
//! held from the write to its fsync; under `IntervalMs` a dirty file stays pinned until its
//! fsync, so a write-back error cannot be lost when the file cache closes the descriptor
//! (PostgreSQL's remaining window in the same discussion).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::checkpoint::{CheckpointWriter, RecoveryPoint};
use super::files::FileCache;
use super::shared::{AppendRequest, Control, PartitionShared, StopMode, COMMIT_BATCH_BYTES_MAX};
use super::record;
use super::recovery::{Recovered, PROBE_FILE};
use super::retention::{drop_front, Retention};
use super::segment::{IndexEntry, Segment, INDEX_INTERVAL_BYTES};
use super::LogConfig;
use crate::error::{EngineError, ErrorCode};
use crate::log::{FsyncPolicy, Offset, TopicConfig};

/// First wait after a failed write before appends are tried again, in milliseconds.
///
/// Short, so a transient failure costs producers little; each failure in a row doubles it.
pub const RETRY_BACKOFF_MIN_MS: u64 = 50;

/// Longest wait between retries, in milliseconds.
///
/// A freed disk is noticed within a second; a full one costs one small probe write a second
/// per failing partition.
pub const RETRY_BACKOFF_MAX_MS: u64 = 1000;

/// Bytes the probe writes to check that the disk takes writes again.
///
/// One page: a smaller write could fit in a block the file system has already allocated and
/// succeed on a full disk.
const PROBE_BYTES: usize = 4096;

/// Buffers a pool worker reuses from turn to turn (not per partition, so 10,000 partitions
/// do not each keep a batch-sized buffer).
#[derive(Default)]
pub(crate) struct WorkerBuffers {
    /// Encoded records of the run being written.
    pub buf: Vec<u8>,
    /// Index entries for records in `buf`.
    pub index: Vec<IndexEntry>,
    /// The batch taken off a partition's queue.
    pub batch: Vec<AppendRequest>,
}

impl WorkerBuffers {
    /// Gives back memory a huge request grew (a 16 MiB append should not stay resident).
    pub fn trim(&mut self) {
        if self.buf.capacity() > 2 * COMMIT_BATCH_BYTES_MAX {
            self.buf = Vec::new();
        }
    }
}

/// Failures injected by tests, consumed one by one.
#[cfg(test)]
#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    /// The next this many writes fail with ENOSPC (after writing half their bytes if
    /// `partial`).
    pub writes: u32,
    pub partial: bool,
    /// The next this many data fsyncs fail with EIO.
    pub syncs: u32,
    /// The next this many probes fail with ENOSPC.
    pub probes: u32,
}

/// What failed, and so what must be undone.
#[derive(Debug)]
enum WriteError {
    /// Starting a new segment; nothing was written.
    Roll(std::io::Error),
    /// Writing a run; some of its bytes may be in the file.
    Write(std::io::Error),
    /// Fsyncing a written run.
    Sync(std::io::Error),
}

/// Backoff state while writes fail.
#[derive(Debug, Clone, Copy)]
struct Retry {
    backoff: Duration,
    at: Instant,
}

/// The writer's state. Only the worker running the partition's turn (or `stop`) holds it.
pub(crate) struct Writer {
    dir: PathBuf,
    shared: Arc<PartitionShared>,
    data_ready: Arc<Notify>,
    files: Arc<FileCache>,
    fsync: FsyncPolicy,
    segment_bytes_max: u64,
    /// The topic's `retention.ms`, if it has one (see `retention`).
    retention: Option<Retention>,
    /// Where appends go; `None` until the first write, or when recovery asked for a new one.
    active: Option<Arc<Segment>>,
    /// When the active segment began taking appends (this process's first write to it).
    active_since: Instant,
    /// Bytes published in the active segment (the next write position).
    active_bytes: u64,
    /// Record bytes written since the last index entry.
    since_index: u64,
    /// Offset the next record gets.
    next: Offset,
    /// Published but not yet fsynced (only under `IntervalMs`).
    dirty: bool,
    /// The active file while dirty, so its fsync uses the descriptor that wrote.
    pinned: Option<Arc<File>>,
    last_sync: Instant,
    checkpoint: CheckpointWriter,
    /// Logged once per run of checkpoint failures.
    checkpoint_failing: bool,
    retry: Option<Retry>,
    /// Appends refused until the log reopens (see the module doc).
    broken: bool,
    /// The partition stopped; nothing more is written.
    stopped: bool,
    #[cfg(test)]
    pub faults: Faults,
}

impl Writer {
    pub fn new(
        dir: &Path,
        shared: Arc<PartitionShared>,
        data_ready: Arc<Notify>,
        files: Arc<FileCache>,
        config: &LogConfig,
        topic_config: TopicConfig,
        recovered: &Recovered,
    ) -> Writer {
        let active = if recovered.new_segment {
            None
        } else {
            recovered.segments.last().cloned()
        };
        let active_bytes = active
            .as_ref()
            .map_or(0, |s| s.committed_bytes.load(Ordering::Acquire));
        Writer {
            dir: dir.to_owned(),
            checkpoint: CheckpointWriter::new(dir, files.clone(), recovered.checkpoint_seq),
            shared,
            data_ready,
            files,
            fsync: config.fsync,
            segment_bytes_max: config.segment_bytes_max,
            retention: topic_config
                .retention_ms
                .filter(|_| !topic_config.compacted)
                .map(|ms| Retention::new(ms, config.retention_check_interval_ms)),
            active,
            active_since: Instant::now(),
            active_bytes,
            since_index: recovered.active_bytes_since_index,
            next: recovered.end,
            dirty: false,
            pinned: None,
            last_sync: Instant::now(),
            checkpoint_failing: false,
            retry: None,
            broken: false,
            stopped: false,
            #[cfg(test)]
            faults: Faults::default(),
        }
    }

    fn durable(&self) -> bool {
        self.fsync != FsyncPolicy::Never
    }

    /// Writes, fsyncs and publishes `batch`, a run of requests per segment, resolving each
    /// ticket in order; empties `batch`.
    pub fn commit(
        &mut self,
        batch: &mut Vec<AppendRequest>,
        buffers: &mut WorkerBuffers,
        control: &Control,
    ) {
        if let Some(error) = self.refusal(control) {
            return reject(batch, &error);
        }
        while !batch.is_empty() {
            if self.needs_segment(batch[0].bytes as u64) {
                if let Err(e) = self.roll() {
                    self.failed(WriteError::Roll(e), control);
                    return reject(batch, &control.failure_error());
                }
            }
            let run = self.run_len(batch);
            match self.write_run(&batch[..run], buffers) {
                Ok(first) => {
                    self.recovered(control);
                    let mut first = first;
                    for request in batch.drain(..run) {
                        let n = request.records.len() as u64;
                        // The appender may have stopped waiting; its rows are stored all the same.
                        let _ = request.reply.send(Ok(first));
                        first = Offset(first.0 + n);
                    }
                }
                Err(e) => {
                    self.failed(e, control);
                    return reject(batch, &control.failure_error());
                }
            }
        }
    }

    /// Why nothing may be written now, if so.
    fn refusal(&self, control: &Control) -> Option<EngineError> {
        if self.stopped {
            return Some(control.closed_error());
        }
        if self.broken || self.retry.is_some_and(|r| Instant::now() < r.at) {
            return Some(control.failure_error());
        }
        None
    }

    /// Whether a request of `bytes` must go to a new segment: none is active, the request
    /// does not fit, or the active one is older than the retention (so that it can expire).
    fn needs_segment(&self, bytes: u64) -> bool {
        let aged = || {
            self.retention
                .as_ref()
                .is_some_and(|r| self.active_since.elapsed() >= r.keep)
        };
        self.active.is_none()
            || (self.active_bytes > 0
                && (self.active_bytes + bytes > self.segment_bytes_max || aged()))
    }

    /// How many requests from the front of `batch` fit in the active segment (at least one:
    /// a request larger than a segment gets one of its own). A run never spans segments, so
    /// a failure only ever has the active segment to undo.
    fn run_len(&self, batch: &[AppendRequest]) -> usize {
        let mut bytes = self.active_bytes + batch[0].bytes as u64;
        let mut run = 1;
        while run < batch.len() && bytes + batch[run].bytes as u64 <= self.segment_bytes_max {
            bytes += batch[run].bytes as u64;
            run += 1;
        }
        run
    }

    /// Encodes `run`, writes it with one positioned write, fsyncs it per policy and publishes
    /// it. Returns the first offset. On error nothing is published.
    fn write_run(
        &mut self,
        run: &[AppendRequest],
        buffers: &mut WorkerBuffers,
    ) -> Result<Offset, WriteError> {
        let active = self.active.clone().expect("a segment is active after roll");
        buffers.buf.clear();
        buffers.index.clear();
        let first = self.next;
        let mut next = first;
        let mut since_index = self.since_index;
        for request in run {
            for record in &request.records {
                if since_index >= INDEX_INTERVAL_BYTES {
                    buffers.index.push(IndexEntry {
                        offset: next,
                        position: self.active_bytes + buffers.buf.len() as u64,
                    });
                    since_index = 0;
                }
                let start = buffers.buf.len();
                record::encode(next, record, &mut buffers.buf);
                since_index += (buffers.buf.len() - start) as u64;
                next = Offset(next.0 + 1);
            }
        }
        let file = match &self.pinned {
            Some(file) => file.clone(),
            None => active.file().map_err(WriteError::Write)?,
        };
        self.write_at(&file, &buffers.buf)
            .map_err(WriteError::Write)?;
        let sync_now = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::IntervalMs(ms) => self.last_sync.elapsed() >= Duration::from_millis(ms),
            FsyncPolicy::Never => false,
        };
        if sync_now {
            self.sync_file(&file).map_err(WriteError::Sync)?;
            self.synced();
        } else if self.durable() {
            self.dirty = true;
            self.pinned = Some(file);
        }
        // Written (and synced per policy): from here nothing fails.
        self.active_bytes += buffers.buf.len() as u64;
        self.since_index = since_index;
        let records: usize = run.iter().map(|r| r.records.len()).sum();
        // Invariant: the run took exactly the next `records` offsets.
        assert_eq!(next.0, first.0 + records as u64, "offsets are contiguous");
        self.next = next;
        if !buffers.index.is_empty() {
            let mut index = active.index.write().unwrap_or_else(|p| p.into_inner());
            index.append(&mut buffers.index);
        }
        self.publish(&active);
        let stats = &self.shared.stats;
        stats.records.fetch_add(records as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        if sync_now {
            self.save_checkpoint(false);
        }
        Ok(first)
    }

    fn write_at(&mut self, file: &File, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if self.faults.writes > 0 {
            self.faults.writes -= 1;
            if self.faults.partial {
                file.write_all_at(&bytes[..bytes.len() / 2], self.active_bytes)?;
            }
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        file.write_all_at(bytes, self.active_bytes)
    }

    fn sync_file(&mut self, file: &File) -> std::io::Result<()> {
        #[cfg(test)]
        if self.faults.syncs > 0 {
            self.faults.syncs -= 1;
            return Err(std::io::Error::from_raw_os_error(5)); // EIO
        }
        let started = Instant::now();
        let synced = file.sync_data();
        self.shared.sync_latency.observe(started.elapsed());
        synced
    }

    fn synced(&mut self) {
        self.shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.dirty = false;
        self.pinned = None;
        self.last_sync = Instant::now();
    }

    /// Makes the run visible: committed bytes first, then the end offset (Release), so a
    /// reader that sees the end offset also sees the bytes.
    fn publish(&self, active: &Segment) {
        active
            .committed_bytes
            .store(self.active_bytes, Ordering::Release);
        self.shared.end_offset.store(self.next.0, Ordering::Release);
        self.data_ready.notify_waiters();
    }

    /// Notes the recovery point after an fsync and writes it when due (see `checkpoint`), or
    /// now and fsynced if `force`. A failure here costs nothing acked: an older point is
    /// still a true one.
    fn save_checkpoint(&mut self, force: bool) {
        let Some(active) = &self.active else {
            return;
        };
        self.checkpoint.note(RecoveryPoint {
            offset: self.next,
            base: active.base,
            position: self.active_bytes,
        });
        match self.checkpoint.flush(force) {
            Ok(()) => self.checkpoint_failing = false,
            Err(error) if !self.checkpoint_failing => {
                self.checkpoint_failing = true;
                tracing::warn!(partition = %self.shared.name, %error,
                    "cannot record the recovery point; recovery will treat more of the last \
                     segment as a possible torn tail");
            }
            Err(_) => {}
        }
    }

    /// Seals the active segment (made durable first, index written, so recovery can trust it)
    /// and starts a new one at the next offset. Changes nothing if it fails.
    fn roll(&mut self) -> std::io::Result<()> {
        let durable = self.durable();
        if let Some(active) = self.active.clone() {
            if self.dirty {
                let file = match &self.pinned {
                    Some(file) => file.clone(),
                    None => active.file()?,
                };
                self.sync_file(&file)?;
                self.synced();
            }
            active.write_index(durable)?;
        }
        let segment = match Segment::create(&self.dir, self.next, self.files.clone()) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // An empty file left by a roll that failed after creating it.
                let (log_path, _) = super::segment::paths(&self.dir, self.next);
                if std::fs::metadata(&log_path)?.len() != 0 {
                    return Err(e);
                }
                std::fs::remove_file(&log_path)?;
                Segment::create(&self.dir, self.next, self.files.clone())?
            }
            other => other?,
        };
        if durable {
            // The point first, so one directory fsync makes both new entries durable. It
            // names the new segment's start, which is true whether or not the roll completes.
            let point = RecoveryPoint {
                offset: self.next,
                base: self.next,
                position: 0,
            };
            let _ = self.checkpoint.write(point);
            if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
                let _ = std::fs::remove_file(&segment.log_path);
                return Err(e);
            }
        }
        let segment = Arc::new(segment);
        self.shared
            .segments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(segment.clone());
        self.active = Some(segment);
        self.active_since = Instant::now();
        self.active_bytes = 0;
        self.since_index = 0;
        if durable {
            self.save_checkpoint(true);
        }
        tracing::debug!(partition = %self.shared.name, base = self.next.0,
            "rolled to a new segment");
        Ok(())
    }

    /// Undoes a failed run (see the module doc) and decides between retrying and stopping.
    fn failed(&mut self, error: WriteError, control: &Control) {
        let (cause, undone) = match error {
            WriteError::Roll(e) => (e, Ok(())),
            WriteError::Write(e) => {
                let undone = self.cut_unpublished();
                (e, undone)
            }
            WriteError::Sync(e) if self.dirty => {
                // Acked, published records were among the unsynced pages.
                let _ = self.cut_unpublished();
                let stop = std::io::Error::other(format!(
                    "fsync failed after records were acknowledged: {e}"
                ));
                (e, Err(stop))
            }
            WriteError::Sync(e) => {
                let undone = self.cut_unpublished();
                (e, undone)
            }
        };
        match undone {
            Ok(()) => self.retry_later(&cause, control),
            Err(undo) => self.stop_writes(&cause, &undo, control),
        }
    }

    /// Cuts the active file back to what is published and makes the cut durable.
    fn cut_unpublished(&mut self) -> std::io::Result<()> {
        let Some(active) = self.active.clone() else {
            return Ok(());
        };
        let file = match &self.pinned {
            Some(file) => file.clone(),
            None => active.file()?,
        };
        file.set_len(self.active_bytes)?;
        if self.durable() {
            self.sync_file(&file)?;
            if self.dirty {
                self.synced();
            }
        }
        Ok(())
    }

    fn retry_later(&mut self, cause: &std::io::Error, control: &Control) {
        let backoff = self
            .retry
            .map_or(Duration::from_millis(RETRY_BACKOFF_MIN_MS), |r| {
                (r.backoff * 2).min(Duration::from_millis(RETRY_BACKOFF_MAX_MS))
            });
        let at = Instant::now() + backoff;
        if self.retry.is_none() {
            tracing::error!(partition = %self.shared.name, error = %cause,
                "partition writes fail; appends fail until a write succeeds again, retried \
                 by itself; no failed append is kept");
        } else {
            tracing::debug!(partition = %self.shared.name, error = %cause,
                backoff_ms = backoff.as_millis() as u64, "partition writes still fail");
        }
        self.retry = Some(Retry { backoff, at });
        control.set_retrying(
            code_of(cause),
            format!(
                "partition {} of topic '{}' cannot write: {cause}; appends fail until a write \
                 succeeds again (retried by itself)",
                control.id().0,
                control.topic()
            ),
            at,
        );
    }

    fn stop_writes(&mut self, cause: &std::io::Error, undo: &std::io::Error, control: &Control) {
        self.broken = true;
        self.retry = None;
        tracing::error!(partition = %self.shared.name, error = %cause, undo_error = %undo,
            "partition stops accepting appends until the log reopens: its file may no \
             longer match what was acknowledged");
        control.set_stopped(
            code_of(cause),
            format!(
                "partition {} of topic '{}' accepts no appends until the log reopens: {cause} \
                 ({undo})",
                control.id().0,
                control.topic()
            ),
        );
    }

    /// A write succeeded: if writes were failing, they work again.
    fn recovered(&mut self, control: &Control) {
        if self.retry.take().is_some() {
            control.set_healthy();
            tracing::info!(partition = %self.shared.name, "partition writes work again");
        }
    }

    /// Deletes every record stored now, as Kafka's `DeleteRecords` to the end does: the
    /// active segment rolls if it holds records (or recovery left the last segment sealed),
    /// so every stored record is in a sealed segment, and those go (`retention::drop_front`).
    /// The start offset becomes the end; offsets are never reused. Returns the new start.
    pub fn delete_records(&mut self, control: &Control) -> crate::error::Result<Offset> {
        if let Some(error) = self.refusal(control) {
            return Err(error);
        }
        let stored = !self
            .shared
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        if self.active_bytes > 0 || (self.active.is_none() && stored) {
            if let Err(e) = self.roll() {
                self.failed(WriteError::Roll(e), control);
                return Err(control.failure_error());
            }
        }
        let removed = drop_front(&self.shared, <[_]>::len, self.durable());
        tracing::info!(partition = %self.shared.name, segments = removed,
            start_offset = self.next.0, "deleted every stored record");
        Ok(self.next)
    }

    /// Timers: a retry probe, an interval fsync, a recovery-point fsync, whichever is due.
    pub fn on_timer(&mut self, control: &Control) {
        if self.stopped || self.broken {
            return;
        }
        let now = Instant::now();
        if self.retry.is_some_and(|r| now >= r.at) {
            self.probe(control);
        }
        if let FsyncPolicy::IntervalMs(ms) = self.fsync {
            if self.dirty && self.last_sync.elapsed() >= Duration::from_millis(ms) {
                self.sync_dirty(control);
            }
        }
        if self.checkpoint.due().is_some_and(|at| now >= at) {
            self.save_checkpoint(false);
        }
        let durable = self.durable();
        if let Some(retention) = self.retention.as_mut().filter(|r| r.due(now)) {
            retention.apply(&self.shared, durable);
        }
    }

    /// Fsyncs unsynced, already-acked data (`IntervalMs`); a failure stops the partition.
    fn sync_dirty(&mut self, control: &Control) {
        let Some(file) = self.pinned.clone() else {
            return;
        };
        match self.sync_file(&file) {
            Ok(()) => {
                self.synced();
                self.save_checkpoint(false);
            }
            Err(e) => {
                let undo = std::io::Error::other("fsync failed after records were acknowledged");
                self.stop_writes(&e, &undo, control);
            }
        }
    }

    /// Checks the disk takes writes again: writes, fsyncs and removes a page-sized file in
    /// the partition directory.
    fn probe(&mut self, control: &Control) {
        let path = self.dir.join(PROBE_FILE);
        let result = self.probe_write(&path);
        let _ = std::fs::remove_file(&path);
        match result {
            Ok(()) => self.recovered(control),
            Err(e) => self.retry_later(&e, control),
        }
    }

    fn probe_write(&mut self, path: &Path) -> std::io::Result<()> {
        #[cfg(test)]
        if self.faults.probes > 0 {
            self.faults.probes -= 1;
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        let file = File::create(path)?;
        file.write_all_at(&[0u8; PROBE_BYTES], 0)?;
        if self.durable() {
            file.sync_data()?;
        }
        Ok(())
    }

    /// When the next timer is due, if any is needed.
    pub fn wake_at(&self) -> Option<Instant> {
        if self.stopped || self.broken {
            return None;
        }
        let retry = self.retry.map(|r| r.at);
        let interval = match self.fsync {
            FsyncPolicy::IntervalMs(ms) if self.dirty => {
                Some(self.last_sync + Duration::from_millis(ms))
            }
            _ => None,
        };
        let retention = self.retention.as_ref().map(|r| r.next_check);
        [retry, interval, self.checkpoint.due(), retention]
            .into_iter()
            .flatten()
            .min()
    }

    /// After a stop: write (log closing) or fail (topic deleted) what was still queued, make
    /// written data and the recovery point durable, and close the partition's files.
    pub fn finish(&mut self, mut queued: Vec<AppendRequest>, mode: StopMode, control: &Control) {
        if self.stopped {
            return reject(&mut queued, &control.closed_error());
        }
        match mode {
            StopMode::Flush => {
                let mut buffers = WorkerBuffers::default();
                self.commit(&mut queued, &mut buffers, control);
                if self.durable() && !self.broken {
                    if self.dirty {
                        self.sync_dirty(control);
                    }
                    self.save_checkpoint(true);
                }
            }
            StopMode::Discard => reject(&mut queued, &control.closed_error()),
        }
        self.stopped = true;
        self.pinned = None;
        self.checkpoint.forget();
    }
}

/// Resolves every request's ticket with `error`.
fn reject(batch: &mut Vec<AppendRequest>, error: &EngineError) {
    for request in batch.drain(..) {
        let _ = request
            .reply
            .send(Err(EngineError::new(error.code(), error.message())));
    }
}

/// A full disk (or quota, or file-size limit) is `StorageFull`; anything else `Io`.
fn code_of(error: &std::io::Error) -> ErrorCode {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            ErrorCode::StorageFull
        }
        _ => ErrorCode::Io,
    }
}
