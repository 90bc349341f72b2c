//! The persistent query task: read a batch from every source partition, turn it into sink
//! records, and write them exactly once.
//!
//! Exactly once across crashes:
//! 1. Under the sink topic's lock, write an *intent*: the batch's source ranges and every
//!    sink partition's end offset before it.
//! 2. Append the outputs (possibly to several sink partitions) and await durability.
//! 3. Write a *commit*: the source positions after the batch.
//!
//! On restart an intent without a commit is re-run: the same source ranges, read in the same
//! partition order, give the same outputs per sink partition (the pipeline is deterministic
//! and keyless outputs go to `source partition mod sink partitions`, never to a rotating
//! partition). For each sink partition `q`, the first `end_now[q] - intent_end[q]` outputs
//! already landed (the log keeps a record-granular prefix of an unfinished append), so they
//! are skipped and the rest appended. No duplicates, no loss.
//!
//! A stateful query's state (aggregates, join buffers, the materialized table) commits to
//! its store at most every [`STATE_COMMIT_INTERVAL_MS`] while batches keep coming, and
//! when the query goes idle (no sooner than [`STATE_COMMIT_COST_FACTOR`] times the last
//! commit's duration after it); the journal commits every batch. A restart finds the store
//! at or behind the journal and replays the input between the two into the state without
//! writing outputs (`reconcile_state`), so a crash costs a replay of that tail, not of the
//! table. The store writes a commit on another thread while the query goes on with its next
//! batches (`WriteBackCache::start_commit`); the positions a stateful query publishes are
//! those of its last commit that landed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::exec::operator::Flow;
use crate::exec::pipeline::Pipeline;
use crate::exec::record_sink::{RecordSink, SinkRecords};
use crate::log::{
    LogStore, Offset, PartitionCursor, PartitionId, Record, StartPosition, StoredRecord, TopicLog,
    APPEND_REQUEST_BYTES_MAX,
};
use crate::plan::physical;
use crate::sql::ast::SourceKind;
use crate::state::{
    CommitLanded, MemoryStore, SharedWriteCache, StateTable, WriteBackCache,
    CACHE_BYTES_DEFAULT,
};
use std::sync::Mutex;
use bytes::Bytes;

use super::checkpoint::{Checkpoint, Entry, Resume};
use super::{Handle, PersistentPlan, PersistentQueries};

/// Source records per batch, over all partitions.
///
/// One batch costs two journal fsyncs, one log group commit per sink partition and, for a
/// stateful query, one state store commit, which writes every B-tree page the batch
/// dirtied: with keys spread over a large table that is close to the same pages whatever
/// the batch size, so the commit, not the rows, sets the pace (a GROUP BY over 100k keys
/// caught up at ~43k rows/s with 2048-record batches and ~150k rows/s with 16k). A batch is
/// only this large while a query catches up; at the tail it is what arrived. 16k records
/// keep a batch's outputs (held until durable) to a few MiB.
pub const BATCH_RECORDS_MAX: usize = 16 * 1024;

/// Records read from one partition per pass over the partitions; a batch takes passes until
/// it is full or a pass finds nothing, so a busy partition cannot starve the others.
pub const PARTITION_READ_RECORDS_MAX: usize = 512;

/// Longest a stateful query keeps its state's changes in its cache before committing them
/// to the store, in milliseconds, while batches keep coming (an idle query commits sooner:
/// `DeferredState::idle_commit_at`; one whose cache is half dirty at once).
///
/// A state commit writes every B-tree page its keys dirtied: with keys spread over a large
/// table, nearly the same pages however many rows changed them, so committing per batch
/// made the commit, not the rows, set a GROUP BY's pace (44% of its time over ~180k keys).
/// Deferring it is safe because the outputs and positions are already exactly once in the
/// journal: a restart finds the store behind the journal and replays at most this long a
/// tail of input into the state, without writing outputs again (`reconcile_state`). What
/// it costs: pull queries, which read committed state, see a busy query's rows up to this
/// late; and a restart replays up to this much input. ksqlDB's exactly-once commit
/// interval is 100 ms, its default otherwise 2 s.
pub const STATE_COMMIT_INTERVAL_MS: u64 = 1_000;
const STATE_COMMIT_INTERVAL: std::time::Duration =
    std::time::Duration::from_millis(STATE_COMMIT_INTERVAL_MS);

/// How long a persistent query lets records gather after a batch that took every record
/// there was, in milliseconds, before it reads the next one.
///
/// Each batch costs the same whatever its size: two journal fsyncs, a group commit of the
/// sink log, a state decision. A query that keeps up with a steady stream otherwise reads
/// whatever the last log commit added, a few hundred records, and pays those per batch
/// (a GROUP BY beside 30k rows/s of live ingest: 29.2 µs of server CPU per row with
/// ingest, 23.6 µs with this linger; benches/README.md, "GROUP BY"). This bounds a busy
/// query to 1000 / `BATCH_LINGER_MS` batches a second; the first records after a quiet
/// spell are read at once. What it costs: up to this much more latency to the sink under
/// a steady load (ksqlDB's exactly-once commit interval is 100 ms).
pub const BATCH_LINGER_MS: u64 = 10;

/// An idle query's deferred state waits this many times as long as its last state commit
/// took, so commits take at most about a tenth of a query's time however large its state.
pub const STATE_COMMIT_COST_FACTOR: u32 = 10;

/// Bytes of records per append request: half the log's per-request limit, leaving room for
/// the framing the log adds.
const APPEND_CHUNK_BYTES_MAX: usize = APPEND_REQUEST_BYTES_MAX / 2;

/// Opens a replayed query's journal and finishes its unfinished batch, if any.
pub(super) async fn open_and_recover(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
) -> Result<(Box<dyn Checkpoint>, Resume)> {
    let (mut journal, resume) = queries.checkpoints.open(&handle.query.id)?;
    let positions = match resume {
        Resume::Unfinished { source, sink_end } => {
            recover(queries, log, handle, journal.as_mut(), &source, &sink_end).await?
        }
        Resume::Committed(positions) => positions,
        // The CREATE reached the catalog journal, so its first commit was written before;
        // an empty journal means the file was lost: start from the beginning (never skip).
        Resume::Fresh => Vec::new(),
    };
    Ok((journal, Resume::Committed(positions)))
}

/// Runs a query until it is terminated or fails.
pub(super) async fn run(
    queries: Arc<PersistentQueries>,
    log: Arc<dyn LogStore>,
    handle: Arc<Handle>,
    mut journal: Box<dyn Checkpoint>,
    resume: Resume,
) {
    let id = handle.query.id.clone();
    let result = async {
        let positions = match resume {
            Resume::Committed(p) => p,
            Resume::Fresh => Vec::new(),
            Resume::Unfinished { source, sink_end } => {
                recover(&queries, &log, &handle, journal.as_mut(), &source, &sink_end).await?
            }
        };
        run_loop(&queries, &log, &handle, journal.as_mut(), positions).await
    }
    .await;
    let cancelled = *handle.cancel.borrow();
    if let Err(e) = result {
        if !cancelled {
            tracing::error!(query = %id, error = %e, "persistent query stopped");
            handle.failed.store(true, Ordering::SeqCst);
        }
    }
    if handle.terminated.load(Ordering::SeqCst) && keeps_state(&handle.query.plan) {
        // TERMINATE: the pipeline (and its store handle) is gone now. (A query whose lease
        // moved to another node keeps its store: it catches up from there if it returns.)
        if let Err(e) = queries.state.destroy(&id) {
            tracing::warn!(query = %id, error = %e, "could not remove a terminated query's state");
        }
    }
}

/// The topics a query reads and writes. Positions (journal, state checkpoint, progress)
/// are one flat list: every partition of source 0, then of source 1, and so on.
struct Topics {
    sources: Vec<Arc<dyn TopicLog>>,
    sink: Arc<dyn TopicLog>,
}

impl Topics {
    /// Source partitions over all sources.
    fn partitions(&self) -> usize {
        self.sources
            .iter()
            .map(|t| t.partition_count() as usize)
            .sum()
    }

    /// `(source, partition)` of each flat position, in order.
    fn flat(&self) -> Vec<(usize, u32)> {
        self.sources
            .iter()
            .enumerate()
            .flat_map(|(s, t)| (0..t.partition_count()).map(move |p| (s, p)))
            .collect()
    }

    /// Each source topic's name and partition count, in source order.
    fn layout(&self) -> Vec<(String, u32)> {
        self.sources
            .iter()
            .map(|t| (t.name().to_string(), t.partition_count()))
            .collect()
    }
}

fn topics(log: &Arc<dyn LogStore>, plan: &PersistentPlan) -> Result<Topics> {
    let get = |name: &str| {
        log.topic(name)
            .ok_or_else(|| EngineError::not_found(format!("Topic '{name}' does not exist")))
    };
    Ok(Topics {
        sources: plan
            .sources
            .iter()
            .map(|s| get(&s.topic))
            .collect::<Result<_>>()?,
        sink: get(&plan.sink.topic)?,
    })
}

/// One batch's records as read: a run per partition, in offset order, tagged with its source.
type Runs = Vec<(usize, Vec<StoredRecord>)>;

/// One batch's records in the order the pipeline takes them, with the source each came
/// from (`origins`, empty when the query reads one source).
///
/// Merged by record timestamp, each partition's records staying in offset order, the
/// earliest head first and ties to the earlier partition (so to the earlier source), as a
/// Kafka Streams task picks the next record from its partition group: a join sees its
/// inputs in the order ksqlDB's would, and a windowed query's stream time does not race
/// ahead on one partition's records while another's, no later, wait in the same batch.
/// Deterministic in the runs, so recovery re-running a batch builds the same order.
fn assemble(runs: Runs, single_source: bool) -> (Vec<StoredRecord>, Vec<usize>) {
    use std::cmp::Reverse;
    let nonempty = runs.iter().filter(|(_, r)| !r.is_empty()).count();
    if nonempty <= 1 && single_source {
        return (runs.into_iter().flat_map(|(_, r)| r).collect(), Vec::new());
    }
    let total = runs.iter().map(|(_, r)| r.len()).sum();
    let mut records = Vec::with_capacity(total);
    let mut origins = Vec::with_capacity(if single_source { 0 } else { total });
    let mut heads: Vec<(usize, std::iter::Peekable<std::vec::IntoIter<StoredRecord>>)> = runs
        .into_iter()
        .map(|(s, r)| (s, r.into_iter().peekable()))
        .collect();
    let mut order: std::collections::BinaryHeap<Reverse<(i64, usize)>> = heads
        .iter_mut()
        .enumerate()
        .filter_map(|(i, (_, run))| run.peek().map(|r| Reverse((r.record.timestamp_ms, i))))
        .collect();
    while let Some(Reverse((_, i))) = order.pop() {
        let (source, run) = &mut heads[i];
        let Some(r) = run.next() else { continue };
        records.push(r);
        if !single_source {
            origins.push(*source);
        }
        if let Some(next) = run.peek() {
            order.push(Reverse((next.record.timestamp_ms, i)));
        }
    }
    (records, origins)
}

async fn run_loop(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
    journal: &mut dyn Checkpoint,
    mut positions: Vec<u64>,
) -> Result<()> {
    let plan = &handle.query.plan;
    let topics = topics(log, plan)?;
    let partitions = topics.partitions();
    positions.resize(partitions, 0);
    let mut builder = OutputBuilder::new(
        queries,
        plan,
        &handle.query.id,
        topics.sink.partition_count(),
        topics.layout(),
    )?;
    let positions = reconcile_state(&topics, handle, journal, &mut builder, positions).await?;
    // The positions published below say the store holds the state up to them.
    builder.settle_state()?;
    let mut positions = positions;
    let flat = topics.flat();
    let mut cursors: Vec<Box<dyn PartitionCursor>> = flat
        .iter()
        .enumerate()
        .map(|(i, &(s, p))| {
            topics.sources[s].cursor(PartitionId(p), StartPosition::At(Offset(positions[i])))
        })
        .collect::<Result<_>>()?;
    // Published once the cursors are open: opening them brings a backend's known ends up
    // to date (Kafka: records other clients wrote while nobody here read the topic), and
    // progress compares positions with those ends.
    handle.publish(&positions);
    let single_source = topics.sources.len() == 1;
    let readies: Vec<Arc<tokio::sync::Notify>> =
        topics.sources.iter().map(|t| t.data_ready()).collect();
    let mut cancel = handle.cancel.subscribe();
    let mut state = DeferredState::new();
    // After a batch that took all there was, the next waits until the first's read plus
    // [`BATCH_LINGER_MS`], so a steady stream makes fewer, larger batches.
    let mut linger_until: Option<tokio::time::Instant> = None;
    loop {
        if *cancel.borrow() {
            return state.commit(&mut builder, handle, &positions);
        }
        if let Some(at) = linger_until.take() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = cancel.changed() => continue,
            }
        }
        // Register interest before reading so an append between the read and the wait
        // still wakes us.
        let mut notified: Vec<_> = readies.iter().map(|r| Box::pin(r.notified())).collect();
        for n in notified.iter_mut() {
            n.as_mut().enable();
        }
        let (runs, read) = fill_batch(&mut cursors, &flat)?;
        if read == 0 {
            // Idle: the state catches up with the journal, so pull queries and a restart
            // see every row processed; if the last commit was too recent, once it is due.
            let due = state.idle_commit_at(&builder);
            if due.is_some_and(|at| at <= std::time::Instant::now()) {
                state.commit(&mut builder, handle, &positions)?;
                continue;
            }
            if let Some(gone) = topics.sources.iter().find(|t| t.is_deleted()) {
                return Err(EngineError::not_found(format!(
                    "Topic '{}' was deleted",
                    gone.name()
                )));
            }
            let any_ready = std::future::poll_fn(|cx| {
                for n in notified.iter_mut() {
                    if std::future::Future::poll(n.as_mut(), cx).is_ready() {
                        return std::task::Poll::Ready(());
                    }
                }
                std::task::Poll::Pending
            });
            let commit_due = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = any_ready => {}
                _ = cancel.changed() => {}
                _ = commit_due => {}
            }
            continue;
        }
        if read < BATCH_RECORDS_MAX {
            let linger = std::time::Duration::from_millis(BATCH_LINGER_MS);
            linger_until = Some(tokio::time::Instant::now() + linger);
        }
        let (records, origins) = assemble(runs, single_source);
        let ends: Vec<u64> = cursors.iter().map(|c| c.position().0).collect();
        let ranges: Vec<(u64, u64)> = positions
            .iter()
            .copied()
            .zip(ends.iter().copied())
            .collect();
        let outputs = builder.build(&records, &origins)?;
        let written: usize = outputs.iter().map(Vec::len).sum();
        let commit = state.decide(&builder);
        let mode = BatchWrite::Live(commit);
        let landed = handle.publish_later(&ends);
        write_batch(queries, &topics, journal, &mut builder, &ranges, outputs, mode, landed)
            .await?;
        positions = ends;
        state.batch_written(commit);
        handle.count(records.len(), written, builder.skipped_records());
    }
}

/// Whether a batch commits the query's state with its journal commit, or leaves it to a
/// later one ([`STATE_COMMIT_INTERVAL_MS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateCommit {
    Now,
    Deferred,
}

/// How [`write_batch`] writes a batch: a new one, or an unfinished one re-run after a crash
/// (with the sink end offsets of its intent), which always commits the state.
enum BatchWrite<'a> {
    Live(StateCommit),
    Recovering { intent_sink_end: &'a [u64] },
}

/// A running query's deferred state commits, and the positions it publishes: a stateful
/// query publishes only positions its store has committed, so a caller that waits for a
/// query to catch up (tests, the conformance runner) then reads every row from the store.
struct DeferredState {
    last_commit: std::time::Instant,
    /// Batches' state changes are in the cache, not yet in the store.
    pending: bool,
}

impl DeferredState {
    fn new() -> DeferredState {
        DeferredState {
            last_commit: std::time::Instant::now(),
            pending: false,
        }
    }

    fn decide(&self, builder: &OutputBuilder) -> StateCommit {
        let stateless = builder.state.is_none();
        match stateless || builder.state_due() || self.last_commit.elapsed() >= STATE_COMMIT_INTERVAL {
            true => StateCommit::Now,
            false => StateCommit::Deferred,
        }
    }

    /// When an idle query commits its deferred state (`None`: nothing is deferred): at
    /// once unless its last commit was recent, so a query whose rows trickle in commits
    /// about as often as before, and one that idles between bursts does not commit after
    /// each (a commit of a large table's state can take 100 ms): not before the last
    /// commit plus [`STATE_COMMIT_COST_FACTOR`] times what it took, nor later than
    /// [`STATE_COMMIT_INTERVAL_MS`] after it.
    fn idle_commit_at(&self, builder: &OutputBuilder) -> Option<std::time::Instant> {
        if !self.pending {
            return None;
        }
        let gap = builder.last_state_commit * STATE_COMMIT_COST_FACTOR;
        Some(self.last_commit + gap.min(STATE_COMMIT_INTERVAL))
    }

    /// Notes a batch written with its state `commit` (whose landing publishes the
    /// positions: `OutputBuilder::commit_state`).
    fn batch_written(&mut self, commit: StateCommit) {
        match commit {
            StateCommit::Now => {
                self.last_commit = std::time::Instant::now();
                self.pending = false;
            }
            StateCommit::Deferred => self.pending = true,
        }
    }

    /// Commits the deferred state, as of `positions` (the journal's last commit).
    fn commit(
        &mut self,
        builder: &mut OutputBuilder,
        handle: &Handle,
        positions: &[u64],
    ) -> Result<()> {
        if self.pending {
            builder.commit_state(positions, handle.publish_later(positions))?;
            self.batch_written(StateCommit::Now);
        }
        Ok(())
    }
}

/// Reads the next batch, one run of records per partition (tagged with its source): passes
/// over the partitions, up to [`PARTITION_READ_RECORDS_MAX`] records from each per pass,
/// until the batch holds [`BATCH_RECORDS_MAX`] or a pass finds nothing. Returns the runs and
/// how many records they hold.
fn fill_batch(
    cursors: &mut [Box<dyn PartitionCursor>],
    flat: &[(usize, u32)],
) -> Result<(Runs, usize)> {
    let mut runs: Runs =
        flat.iter().map(|&(s, _)| (s, Vec::new())).collect();
    let mut read = 0;
    loop {
        let mut pass = 0;
        for (cursor, (_, run)) in cursors.iter_mut().zip(runs.iter_mut()) {
            let room = BATCH_RECORDS_MAX - read - pass;
            if room == 0 {
                return Ok((runs, read + pass));
            }
            pass += cursor.read(run, room.min(PARTITION_READ_RECORDS_MAX))?;
        }
        read += pass;
        if pass == 0 {
            return Ok((runs, read));
        }
    }
}

/// How long recovery waits for an unfinished batch's source records before calling them
/// gone, in milliseconds: a Kafka cursor's read returns nothing while its first fetch is in
/// flight (`PartitionCursor::read`), so no records yet is not no records.
const RECOVER_READ_WAIT_MS: u64 = 30_000;

/// Re-runs an unfinished batch, skipping the outputs that already landed. Returns the
/// source positions after it.
async fn recover(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
    journal: &mut dyn Checkpoint,
    ranges: &[(u64, u64)],
    intent_sink_end: &[u64],
) -> Result<Vec<u64>> {
    let plan = &handle.query.plan;
    let topics = topics(log, plan)?;
    let mut builder = OutputBuilder::new(
        queries,
        plan,
        &handle.query.id,
        topics.sink.partition_count(),
        topics.layout(),
    )?;
    let starts: Vec<u64> = ranges.iter().map(|r| r.0).collect();
    let ends: Vec<u64> = ranges.iter().map(|r| r.1).collect();
    if let Some(state) = builder.state_positions()? {
        let state = state
            .or_else(|| journal.origin())
            .unwrap_or_else(|| topic_starts(&topics));
        if state == ends {
            // The state committed after the outputs were durable: only the journal's
            // commit is missing.
            journal.append(&Entry::Commit { source: ends.clone() })?;
            return Ok(ends);
        }
        if state != starts {
            catch_up(&topics, handle, &mut builder, &state, &starts).await?;
        }
    }
    let (records, origins) = read_ranges(&topics, handle, ranges).await?;
    let outputs = builder.build(&records, &origins)?;
    tracing::info!(query = %handle.query.id, records = records.len(), "re-running an unfinished batch");
    // `run` publishes positions once its cursors are open, not here.
    write_batch(
        queries,
        &topics,
        journal,
        &mut builder,
        ranges,
        outputs,
        BatchWrite::Recovering { intent_sink_end },
        Box::new(|| {}),
    )
    .await?;
    Ok(ranges.iter().map(|r| r.1).collect())
}

/// Writes one batch exactly once: intent, appends, durability, (state,) commit. `landed`
/// runs once the batch's state is in the store (not at all if the state is deferred).
#[allow(clippy::too_many_arguments)]
async fn write_batch(
    queries: &PersistentQueries,
    topics: &Topics,
    journal: &mut dyn Checkpoint,
    builder: &mut OutputBuilder,
    ranges: &[(u64, u64)],
    mut outputs: Vec<Vec<Record>>,
    mode: BatchWrite<'_>,
    landed: CommitLanded,
) -> Result<()> {
    let state = match mode {
        BatchWrite::Live(state) => state,
        BatchWrite::Recovering { .. } => StateCommit::Now,
    };
    let ends: Vec<u64> = ranges.iter().map(|r| r.1).collect();
    let lock = queries.sink_lock(topics.sink.name());
    let _only_batch_in_flight_for_this_sink = lock.lock().await;
    let commit = Entry::Commit {
        source: ranges.iter().map(|r| r.1).collect(),
    };
    match mode {
        BatchWrite::Recovering {
            intent_sink_end: intent_end,
        } => {
            // The ends as the log holds them now: on Kafka the batch may have been written
            // by another node, which this node's view of the sink has not seen yet.
            topics.sink.refresh_ends()?;
            for (q, out) in outputs.iter_mut().enumerate() {
                let now = topics.sink.end_offset(PartitionId(q as u32)).0;
                let before = intent_end.get(q).copied().unwrap_or(now);
                let landed = usize::try_from(now.saturating_sub(before)).unwrap_or(usize::MAX);
                if landed > out.len() {
                    tracing::warn!(
                        sink = topics.sink.name(),
                        partition = q,
                        landed,
                        outputs = out.len(),
                        "sink partition grew more than this batch writes; another writer used it"
                    );
                }
                out.drain(..landed.min(out.len()));
            }
        }
        BatchWrite::Live(_) => {
            if outputs.iter().all(Vec::is_empty) {
                // Nothing to write: only the new positions (and state) need recording.
                if state == StateCommit::Now {
                    builder.commit_state(&ends, landed)?;
                }
                return journal.append(&commit);
            }
            let sink_end = (0..topics.sink.partition_count())
                .map(|q| topics.sink.end_offset(PartitionId(q)).0)
                .collect();
            journal.append(&Entry::Intent {
                source: ranges.to_vec(),
                sink_end,
            })?;
        }
    }
    let mut tickets = Vec::new();
    for (q, out) in outputs.into_iter().enumerate() {
        for chunk in chunks(out) {
            tickets.push(topics.sink.append(PartitionId(q as u32), chunk).await?);
        }
    }
    for ticket in tickets {
        ticket
            .await
            .map_err(|_| EngineError::internal("sink partition writer stopped"))??;
    }
    // State after outputs, journal last: a crash between any two leaves a state recovery
    // can tell apart (`recover`, `reconcile_state`). A deferred state stays behind the
    // journal, which `reconcile_state` also tells apart.
    if state == StateCommit::Now {
        builder.commit_state(&ends, landed)?;
    }
    journal.append(&commit)
}

/// Splits records into append requests within the log's size limit, keeping their order.
fn chunks(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0usize;
    for r in records {
        let size =
            64 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
        if !current.is_empty() && bytes + size > APPEND_CHUNK_BYTES_MAX {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(r);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Turns source records into sink records, grouped by sink partition, in source order.
pub(super) struct OutputBuilder {
    pipeline: Pipeline<RecordSink>,
    sink_partitions: usize,
    /// The query's state (aggregates, the materialized sink table), when it keeps any.
    state: Option<SharedWriteCache>,
    /// The sink is a table: its rows are kept in the store for pull queries.
    materialize: Option<StateTable>,
    /// Each source topic and its partition count: what the flat positions stand for.
    layout: Vec<(String, u32)>,
    /// How long the last state commit took.
    last_state_commit: std::time::Duration,
}

/// Whether a persistent query keeps state: it aggregates, or it builds a table (whose rows
/// pull queries read from the store).
pub(crate) fn keeps_state(plan: &PersistentPlan) -> bool {
    plan.logical.aggregate().is_some()
        || plan.logical.join().is_some()
        || plan.sink.kind == SourceKind::Table
}

impl OutputBuilder {
    pub(super) fn new(
        queries: &PersistentQueries,
        plan: &PersistentPlan,
        query_id: &str,
        sink_partitions: u32,
        layout: Vec<(String, u32)>,
    ) -> Result<OutputBuilder> {
        let cache = match keeps_state(plan) {
            true => WriteBackCache::new(queries.state.open(query_id)?, CACHE_BYTES_DEFAULT)
                .with_commit_latency(Arc::clone(queries.state.commit_latency())),
            false => WriteBackCache::new(Arc::new(MemoryStore::new()), CACHE_BYTES_DEFAULT),
        };
        let cache: SharedWriteCache = Arc::new(Mutex::new(cache));
        let query_id: Arc<str> = Arc::from(query_id);
        Ok(OutputBuilder {
            pipeline: physical::sink_pipeline(&plan.logical, &query_id, sink_partitions, &cache)?,
            sink_partitions: sink_partitions.max(1) as usize,
            state: keeps_state(plan).then_some(cache),
            materialize: match plan.sink.kind {
                SourceKind::Table => Some(StateTable::new(MATERIALIZED_TABLE)?),
                SourceKind::Stream => None,
            },
            layout,
            last_state_commit: std::time::Duration::ZERO,
        })
    }

    /// Source records skipped so far because they failed to decode.
    pub(super) fn skipped_records(&self) -> u64 {
        self.pipeline.skipped_records()
    }

    /// `origins[i]` is the source `records[i]` came from (empty: all from source 0).
    pub(super) fn build(
        &mut self,
        records: &[StoredRecord],
        origins: &[usize],
    ) -> Result<SinkRecords> {
        let mut outputs = vec![Vec::new(); self.sink_partitions];
        for (i, record) in records.iter().enumerate() {
            let source = origins.get(i).copied().unwrap_or(0);
            // Persistent queries have no LIMIT: only a state error stops the pipeline.
            if self.pipeline.process_from(source, record, &mut outputs) == Flow::Stop {
                break;
            }
        }
        if let Some(e) = self.pipeline.take_error() {
            return Err(e);
        }
        if let (Some(table), Some(cache)) = (&self.materialize, &self.state) {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            let mut key = Vec::new();
            for (q, records) in outputs.iter().enumerate() {
                for r in records {
                    let Some(k) = &r.key else { continue };
                    key.clear();
                    key.extend_from_slice(&(q as u32).to_be_bytes());
                    key.extend_from_slice(k);
                    match &r.value {
                        Some(v) => {
                            let mut value = Vec::with_capacity(8 + v.len());
                            value.extend_from_slice(&r.timestamp_ms.to_le_bytes());
                            value.extend_from_slice(v);
                            cache.put(table, &key, Bytes::from(value))?;
                        }
                        None => cache.delete(table, &key)?,
                    }
                }
            }
        }
        Ok(outputs)
    }

    /// The cache holds so many uncommitted changes that it should commit now.
    fn state_due(&self) -> bool {
        self.state.as_ref().is_some_and(|cache| {
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .should_commit()
        })
    }

    /// Starts committing the state the records built so far left, as of source
    /// `positions`; `landed` runs once it is in the store (at once for a stateless query).
    /// The store writes on another thread while the query goes on (`WriteBackCache`).
    pub(super) fn commit_state(&mut self, positions: &[u64], landed: CommitLanded) -> Result<()> {
        let Some(cache) = &self.state else {
            landed();
            return Ok(());
        };
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.start_commit(state_checkpoint(&self.layout, positions), landed)?;
        self.last_state_commit = cache.last_commit_took();
        Ok(())
    }

    /// Waits until the state commit in flight, if any, is in the store.
    pub(super) fn settle_state(&mut self) -> Result<()> {
        match &self.state {
            Some(cache) => cache.lock().unwrap_or_else(|e| e.into_inner()).settle(),
            None => Ok(()),
        }
    }

    /// The source positions the committed state corresponds to (stateful plans only);
    /// `Some(None)` for a store that has never committed.
    pub(super) fn state_positions(&self) -> Result<Option<Option<Vec<u64>>>> {
        let Some(cache) = &self.state else {
            return Ok(None);
        };
        let store = {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.settle()?;
            Arc::clone(cache.store())
        };
        match store.checkpoint()? {
            None => Ok(Some(None)),
            Some(bytes) => parse_state_checkpoint(&bytes, &self.layout).map(|p| Some(Some(p))),
        }
    }
}

/// State table of a table sink's rows, for pull queries: key `[sink partition: u32 BE]
/// [key bytes]`, value `[timestamp: i64 LE][value bytes]`; a tombstone deletes the key.
/// Partition first, so a scan comes back partition by partition in key-byte order, as
/// ksqlDB's scans of its per-partition stores do.
pub const MATERIALIZED_TABLE: &str = "mat";

/// A state store checkpoint: the input position of every (topic, partition) the state
/// includes, as JSON (`{"inputs":[{"topic":…,"partition":…,"offset":…}]}`). `positions`
/// is flat over `layout` (each source topic and its partition count, in source order).
pub(super) fn state_checkpoint(layout: &[(String, u32)], positions: &[u64]) -> Bytes {
    let mut flat = positions.iter();
    let mut inputs: Vec<serde_json::Value> = Vec::new();
    for (topic, partitions) in layout {
        for p in 0..*partitions {
            let Some(o) = flat.next() else { break };
            inputs.push(serde_json::json!({"topic": topic, "partition": p, "offset": o}));
        }
    }
    Bytes::from(serde_json::json!({ "inputs": inputs }).to_string())
}

/// The flat positions over `layout` in a checkpoint from [`state_checkpoint`].
fn parse_state_checkpoint(bytes: &[u8], layout: &[(String, u32)]) -> Result<Vec<u64>> {
    let bad = || EngineError::corrupt("a state store checkpoint does not parse");
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad())?;
    let inputs = value.get("inputs").and_then(|i| i.as_array()).ok_or_else(bad)?;
    let mut flat = Vec::new();
    for (topic, partitions) in layout {
        let mut positions = vec![0u64; *partitions as usize];
        for input in inputs {
            if input.get("topic").and_then(|t| t.as_str()) != Some(topic.as_str()) {
                continue;
            }
            let p = input.get("partition").and_then(|p| p.as_u64()).ok_or_else(bad)?;
            let o = input.get("offset").and_then(|o| o.as_u64()).ok_or_else(bad)?;
            let p = usize::try_from(p).map_err(|_| bad())?;
            if positions.len() <= p {
                positions.resize(p + 1, 0);
            }
            positions[p] = o;
        }
        flat.extend(positions);
    }
    Ok(flat)
}

/// Brings a stateful query's store to where its journal says the query is.
///
/// The store commits after a batch's outputs are durable and before the journal's commit,
/// or later (deferred, [`STATE_COMMIT_INTERVAL_MS`]), so at a restart the store is at the
/// journal's position, behind it (deferred commits, or a store restored from an older copy),
/// or, if the crash came between the two, one batch ahead of it (an empty batch, whose
/// commit is only positions: take them). A store behind the journal is brought up to it by
/// re-reading the source from the store's position without writing outputs again.
async fn reconcile_state(
    topics: &Topics,
    handle: &Handle,
    journal: &mut dyn Checkpoint,
    builder: &mut OutputBuilder,
    mut positions: Vec<u64>,
) -> Result<Vec<u64>> {
    let Some(state) = builder.state_positions()? else {
        return Ok(positions);
    };
    // A store that never committed is rebuilt from the query's origin where the journal
    // keeps it (this node took the query over from another), else from the start of the
    // source (a table query from before tables were materialized).
    let mut state = state
        .or_else(|| journal.origin())
        .unwrap_or_else(|| topic_starts(topics));
    state.resize(positions.len(), 0);
    if state == positions {
        return Ok(positions);
    }
    if state.iter().zip(&positions).all(|(s, p)| s >= p) {
        journal.append(&Entry::Commit {
            source: state.clone(),
        })?;
        return Ok(state);
    }
    let target = positions.clone();
    catch_up(topics, handle, builder, &state, &target).await?;
    positions.clone_from(&target);
    Ok(positions)
}

/// Where every partition of every source starts.
fn topic_starts(topics: &Topics) -> Vec<u64> {
    topics
        .flat()
        .into_iter()
        .map(|(s, p)| topics.sources[s].start_offset(PartitionId(p)).0)
        .collect()
}

/// Feeds the source records between `from` and `to` through the pipeline, discarding its
/// outputs (they are in the sink already), and commits the state at `to`. Reads in steps
/// of at most [`BATCH_RECORDS_MAX`] records, committing the state after each, so a long
/// rebuild (a node taking a query over from its origin) holds one batch at a time.
async fn catch_up(
    topics: &Topics,
    handle: &Handle,
    builder: &mut OutputBuilder,
    from: &[u64],
    to: &[u64],
) -> Result<()> {
    let mut at: Vec<u64> = from.iter().zip(to).map(|(&f, &t)| f.min(t)).collect();
    let step = (BATCH_RECORDS_MAX / to.len().max(1)).max(1) as u64;
    tracing::info!(query = %handle.query.id, "rebuilding state behind the query's journal");
    while at.as_slice() != to {
        let ranges: Vec<(u64, u64)> = at
            .iter()
            .zip(to)
            .map(|(&a, &t)| (a, t.min(a.saturating_add(step))))
            .collect();
        let (records, origins) = read_ranges(topics, handle, &ranges).await?;
        let _already_in_the_sink = builder.build(&records, &origins)?;
        at = ranges.iter().map(|r| r.1).collect();
        builder.commit_state(&at, Box::new(|| {}))?;
    }
    builder.commit_state(to, Box::new(|| {}))
}

/// The source records of `ranges` (per flat partition `[from, to)`), in the order
/// [`assemble`] gives a batch, with their sources.
async fn read_ranges(
    topics: &Topics,
    handle: &Handle,
    ranges: &[(u64, u64)],
) -> Result<(Vec<StoredRecord>, Vec<usize>)> {
    let flat = topics.flat();
    let mut runs = Vec::new();
    for (i, &(from, to)) in ranges.iter().enumerate() {
        let Some(&(s, p)) = flat.get(i) else { break };
        let mut records = Vec::new();
        if from >= to {
            runs.push((s, records));
            continue;
        }
        let source = &topics.sources[s];
        let mut cursor = source.cursor(PartitionId(p), StartPosition::At(Offset(from)))?;
        if cursor.position().0 > from {
            // The cursor starts where the source now starts: retention or a DeleteRecords
            // took the records this range needs, and going on without them would leave
            // the state short of them.
            return Err(EngineError::corrupt(format!(
                "query {}: source records [{from}, {}) of partition {p} of {} are gone",
                handle.query.id,
                cursor.position().0,
                source.name()
            )));
        }
        let ready = source.data_ready();
        let deadline =
            tokio::time::Instant::now() + std::time::Duration::from_millis(RECOVER_READ_WAIT_MS);
        while cursor.position().0 < to {
            // Registered before the read, so data landing between the two still wakes us.
            let notified = ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let want = usize::try_from(to - cursor.position().0).unwrap_or(usize::MAX);
            if cursor.read(&mut records, want)? == 0
                && tokio::time::timeout_at(deadline, notified).await.is_err()
            {
                return Err(EngineError::corrupt(format!(
                    "query {}: source records [{from}, {to}) of partition {p} of {} are gone",
                    handle.query.id,
                    source.name()
                )));
            }
        }
        runs.push((s, records));
    }
    Ok(assemble(runs, topics.sources.len() == 1))
}
