//! Persistent queries: `CREATE STREAM … AS SELECT`, `CREATE TABLE … AS SELECT` and
//! `INSERT INTO … SELECT`. Each runs as a tokio task until TERMINATE, writing its results
//! to the sink topic, and resumes after a restart from where it committed, with no
//! duplicated and no lost output.
//!
//! ```text
//!  cursor[p] ─► row_decoder ─► WHERE ─► table functions (0..n rows) ─► key/value projection
//!     │                                                  ─► encode ─► sink partition
//!     │                                                                   │
//!     └─ batch: intent (query journal) ─► append outputs ─► await durable
//!               ─► state store commit (GROUP BY state + input positions) ─► journal commit
//! ```
//!
//! Modules:
//! - `plan`: bind the SELECT, derive the sink schema (key columns, PARTITION BY), compile.
//! - `checkpoint`: the per-query journal (intent and commit entries, compaction).
//! - `kafka`: the journal in the Kafka checkpoint topic, and the leases that say which
//!   node of a service runs which query.
//! - `runner`: the task: read a batch, build outputs, write them exactly once; recovery.
//! - `restart_tests`: what a restarted engine shows of its replayed queries.
//!
//! The registry here (`PersistentQueries`) owns the running tasks: their cancel signals,
//! their committed positions (for `Engine::query_progress`), and one lock per sink topic so
//! that at most one batch per sink is between its intent and its commit (what makes the
//! "how many outputs already landed" arithmetic of recovery valid).

pub mod checkpoint;
mod kafka;
#[cfg(test)]
mod restart_tests;
mod runner;

pub use runner::MATERIALIZED_TABLE;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::catalog::PersistentQuery;
use crate::error::Result;
use crate::log::{LogStore, PartitionId, StartPosition};
use crate::state::StateBackend;

pub use crate::plan::persistent::{PersistentKind, PersistentPlan};
pub use checkpoint::{Checkpoint, CheckpointStore, JournalCheckpoints, QueryJournal, Resume};
pub use kafka::{KafkaChangelogs, KafkaCheckpoints, QueryLeases};

/// A persistent query's progress, for tests and the conformance runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProgress {
    pub query_id: String,
    /// Every source partition's committed position has reached its current end offset.
    pub caught_up: bool,
    /// `(topic, partition, committed next offset, end offset)` per source partition.
    pub sources: Vec<(String, u32, u64, u64)>,
}

/// Lifecycle of a running persistent query, as SHOW QUERIES reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Running,
    /// Stopped by an error it cannot skip (the sink or source topic is gone, I/O failure).
    Error,
}

impl QueryState {
    pub fn name(self) -> &'static str {
        match self {
            QueryState::Running => "RUNNING",
            QueryState::Error => "ERROR",
        }
    }
}

/// What the registry keeps per running query.
pub(crate) struct Handle {
    query: Arc<PersistentQuery>,
    cancel: watch::Sender<bool>,
    /// Set by TERMINATE before the cancel: the task then removes the query's state. A query
    /// stopped because its lease moved keeps it.
    terminated: AtomicBool,
    /// Source positions of the last commit, one per source partition: for a stateful
    /// query, the last commit of its state (which may trail the journal), so a caller
    /// that sees it caught up reads every row from the store.
    committed: Arc<Mutex<Vec<u64>>>,
    failed: AtomicBool,
    /// Counters for metrics, added to once per batch.
    records_in: AtomicU64,
    records_out: AtomicU64,
    records_skipped: AtomicU64,
    /// Records written into its sink, shared with every query writing the same sink.
    sink_rows: Arc<AtomicU64>,
}

impl Handle {
    fn publish(&self, positions: &[u64]) {
        publish_into(&self.committed, positions);
    }

    /// Publishes `positions` when called: for a state commit that lands on another thread.
    fn publish_later(&self, positions: &[u64]) -> crate::state::CommitLanded {
        let committed = Arc::clone(&self.committed);
        let positions = positions.to_vec();
        Box::new(move || publish_into(&committed, &positions))
    }

    /// Counts a committed batch: records read, records written, and the pipeline's running
    /// total of records skipped.
    fn count(&self, records_in: usize, records_out: usize, skipped_total: u64) {
        self.records_in
            .fetch_add(records_in as u64, Ordering::Relaxed);
        self.records_out
            .fetch_add(records_out as u64, Ordering::Relaxed);
        self.records_skipped.store(skipped_total, Ordering::Relaxed);
        self.sink_rows
            .fetch_add(records_out as u64, Ordering::Relaxed);
    }
}

fn publish_into(committed: &Mutex<Vec<u64>>, positions: &[u64]) {
    let mut committed = committed.lock().unwrap_or_else(|e| e.into_inner());
    committed.clear();
    committed.extend_from_slice(positions);
}

pub struct PersistentQueries {
    checkpoints: Arc<dyn CheckpointStore>,
    /// State stores of stateful (aggregating) queries, one per query id.
    state: Arc<StateBackend>,
    running: Mutex<BTreeMap<String, Arc<Handle>>>,
    sink_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Records persistent queries wrote into each sink since the start, by sink name; kept
    /// after a query ends, so the counts never go down (one entry per sink ever written).
    sink_rows: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    /// Queries replayed from the catalog journal, waiting for `start`.
    pending: Mutex<Vec<Arc<PersistentQuery>>>,
    /// With several nodes sharing a service (Kafka): which queries run here. `None`: every
    /// query of the catalog runs on this node (embedded), or on the node that created it.
    leases: Option<Arc<dyn QueryLeases>>,
    /// With leases: every persistent query of the catalog, each running here while this
    /// node holds its lease.
    known: Mutex<BTreeMap<String, Arc<PersistentQuery>>>,
    /// The log the queries read and write, once `start` ran (for queries whose lease
    /// arrives later).
    log: std::sync::OnceLock<Arc<dyn LogStore>>,
    /// True once replayed queries have recovered; new queries wait for it before writing,
    /// so no query appends to a sink whose unfinished batch another query must still count.
    ready: watch::Sender<bool>,
    started: AtomicBool,
}

impl std::fmt::Debug for PersistentQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentQueries").finish_non_exhaustive()
    }
}

impl PersistentQueries {
    pub fn new(
        checkpoints: Arc<dyn CheckpointStore>,
        state: Arc<StateBackend>,
        leases: Option<Arc<dyn QueryLeases>>,
    ) -> PersistentQueries {
        PersistentQueries {
            checkpoints,
            state,
            leases,
            known: Mutex::default(),
            log: std::sync::OnceLock::new(),
            running: Mutex::default(),
            sink_locks: Mutex::default(),
            sink_rows: Mutex::default(),
            pending: Mutex::default(),
            ready: watch::Sender::new(false),
            started: AtomicBool::new(false),
        }
    }

    /// Whether queries run where their lease is (so every node knows every query), rather
    /// than on the node that created them.
    pub(crate) fn leased(&self) -> bool {
        self.leases.is_some()
    }

    pub(crate) fn set_pending(&self, queries: Vec<Arc<PersistentQuery>>) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = queries;
    }

    /// Creates a new query's journal holding its first commit: the positions it starts
    /// from, fixed now so a restart before its first batch does not move them.
    pub(crate) fn create_journal(
        &self,
        log: &dyn LogStore,
        query: &PersistentQuery,
        start: StartPosition,
    ) -> Result<(Box<dyn Checkpoint>, Resume)> {
        let mut journal = self.checkpoints.create(&query.id)?;
        // Flat over the sources: every partition of the first, then of the next (joins).
        let mut positions: Vec<u64> = Vec::new();
        let mut layout = Vec::new();
        for source in &query.plan.sources {
            let topic = log.topic(&source.topic).ok_or_else(|| {
                crate::error::EngineError::not_found(format!(
                    "Topic '{}' does not exist",
                    source.topic
                ))
            })?;
            layout.push((source.topic.clone(), topic.partition_count()));
            positions.extend((0..topic.partition_count()).map(|p| match start {
                StartPosition::Earliest => topic.start_offset(PartitionId(p)).0,
                StartPosition::At(o) => o.0,
                StartPosition::Latest => topic.end_offset(PartitionId(p)).0,
            }));
        }
        if runner::keeps_state(&query.plan) {
            // The store starts at the same positions as the journal, so the two agree from
            // the first batch on (see `runner::reconcile_state`).
            let store = self.state.open(&query.id)?;
            store.clear()?;
            let mut batch = crate::state::WriteBatch::new();
            batch.set_checkpoint(runner::state_checkpoint(&layout, &positions))?;
            store.commit(batch)?;
        }
        journal.append(&checkpoint::Entry::Commit {
            source: positions.clone(),
        })?;
        Ok((journal, Resume::Committed(positions)))
    }

    /// Starts a query created by a statement (its journal already holds its start).
    pub(crate) fn launch(
        self: &Arc<Self>,
        log: Arc<dyn LogStore>,
        query: Arc<PersistentQuery>,
        journal: Box<dyn Checkpoint>,
        resume: Resume,
    ) {
        self.start(Arc::clone(&log));
        if self.leases.is_some() {
            // It runs where its lease is, which opens its journal afresh there.
            drop(journal);
            self.adopt(query);
            return;
        }
        let handle = self.register(query);
        let queries = Arc::clone(self);
        tokio::spawn(async move {
            let mut ready = queries.ready.subscribe();
            // Err only if the sender is gone, which cannot happen while `queries` lives.
            let _ = ready.wait_for(|r| *r).await;
            runner::run(queries, log, handle, journal, resume).await;
        });
    }

    /// Recovers every replayed query (finishing unfinished batches, one query at a time),
    /// then starts them all. Idempotent; called when the server starts.
    pub(crate) fn start(self: &Arc<Self>, log: Arc<dyn LogStore>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(leases) = &self.leases {
            let _ = self.log.set(Arc::clone(&log));
            self.lock_known()
                .extend(pending.into_iter().map(|q| (q.id.clone(), q)));
            // Each query recovers where its lease is; no node-wide recovery to wait for.
            self.ready.send_replace(true);
            self.follow_leases(leases.changes());
            return;
        }
        // Registered before this returns: a query SHOW QUERIES lists (from the catalog) has
        // a progress to report from the first request, not yet caught up while it recovers.
        let handles: Vec<Arc<Handle>> = pending.into_iter().map(|q| self.register(q)).collect();
        let queries = Arc::clone(self);
        tokio::spawn(async move {
            let mut opened = Vec::with_capacity(handles.len());
            for handle in handles {
                match runner::open_and_recover(&queries, &log, &handle).await {
                    Ok(journal) => opened.push((handle, journal)),
                    Err(e) => {
                        tracing::error!(query = %handle.query.id, error = %e, "persistent query failed to recover");
                        handle.failed.store(true, Ordering::SeqCst);
                    }
                }
            }
            queries.ready.send_replace(true);
            for (handle, (journal, resume)) in opened {
                let queries = Arc::clone(&queries);
                let log = Arc::clone(&log);
                tokio::spawn(runner::run(queries, log, handle, journal, resume));
            }
        });
    }

    /// A query of the catalog created by a statement or by another node (leases only): it
    /// runs here if and while this node holds its lease.
    pub(crate) fn adopt(self: &Arc<Self>, query: Arc<PersistentQuery>) {
        if self.leases.is_none() {
            return;
        }
        self.lock_known().insert(query.id.clone(), query);
        self.reconcile();
    }

    /// Reconciles the queries running here with the leases held, now and after every
    /// change of them. Ends when the registry is dropped.
    fn follow_leases(self: &Arc<Self>, mut changes: watch::Receiver<u64>) {
        let queries = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(this) = queries.upgrade() else {
                    return;
                };
                this.reconcile();
                drop(this);
                // The timeout only bounds how long a dropped registry keeps this task.
                let changed = tokio::time::timeout(
                    std::time::Duration::from_millis(LEASE_FOLLOW_IDLE_MS),
                    changes.changed(),
                )
                .await;
                if let Ok(Err(_)) = changed {
                    return;
                }
            }
        });
    }

    /// Starts the known queries whose lease this node holds and does not run yet, and stops
    /// the running ones whose lease moved away.
    fn reconcile(self: &Arc<Self>) {
        let (Some(leases), Some(log)) = (&self.leases, self.log.get()) else {
            return;
        };
        let known: Vec<Arc<PersistentQuery>> = self.lock_known().values().cloned().collect();
        for query in known {
            let holds = leases.holds(&query.id);
            let running = self.lock_running().get(&query.id).cloned();
            match (holds, running) {
                (true, None) => self.activate(leases, log, query),
                (false, Some(handle)) => {
                    tracing::info!(query = %query.id, "its lease moved to another node; stopping it here");
                    self.lock_running().remove(&query.id);
                    handle.cancel.send_replace(true);
                }
                _ => {}
            }
        }
    }

    /// Runs `query` here under its lease: fences its last holder, recovers, runs.
    fn activate(
        self: &Arc<Self>,
        leases: &Arc<dyn QueryLeases>,
        log: &Arc<dyn LogStore>,
        query: Arc<PersistentQuery>,
    ) {
        tracing::info!(query = %query.id, "this node holds the query's lease; running it");
        let busy = leases.busy(&query.id);
        let handle = self.register(query);
        let queries = Arc::clone(self);
        let log = Arc::clone(log);
        tokio::spawn(async move {
            let _revoke_waits_for_this = busy;
            match runner::open_and_recover(&queries, &log, &handle).await {
                Ok((journal, resume)) => {
                    runner::run(Arc::clone(&queries), log, Arc::clone(&handle), journal, resume)
                        .await
                }
                Err(e) if !*handle.cancel.borrow() => {
                    tracing::error!(query = %handle.query.id, error = %e, "persistent query failed to recover");
                    handle.failed.store(true, Ordering::SeqCst);
                }
                Err(_) => {}
            }
        });
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<PersistentQuery>>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, query: Arc<PersistentQuery>) -> Arc<Handle> {
        let sink_rows = Arc::clone(
            self.sink_rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(query.plan.sink.name.clone())
                .or_default(),
        );
        let handle = Arc::new(Handle {
            query,
            cancel: watch::Sender::new(false),
            terminated: AtomicBool::new(false),
            committed: Arc::new(Mutex::new(Vec::new())),
            failed: AtomicBool::new(false),
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            records_skipped: AtomicU64::new(0),
            sink_rows,
        });
        self.lock_running()
            .insert(handle.query.id.clone(), Arc::clone(&handle));
        handle
    }

    /// Stops a query and forgets it (TERMINATE). Its journal is removed.
    pub(crate) fn terminate(&self, id: &str) -> bool {
        self.lock_known().remove(id);
        let handle = self.lock_running().remove(id);
        if let Some(h) = &handle {
            h.terminated.store(true, Ordering::SeqCst);
            h.cancel.send_replace(true);
        }
        self.checkpoints.remove(id);
        // The task drops its store when it sees the cancel; it destroys the store then
        // (`runner::run`). If it already has, this removes it.
        if let Err(e) = self.state.destroy(id) {
            tracing::debug!(query = id, error = %e, "state store still in use; the task removes it");
        }
        handle.is_some()
    }

    /// Where a pull query reads table `table` (CTAS) from: the state store of the query
    /// that builds it, or, when that query runs on another node of the service (leases),
    /// the table's topic, which that node keeps current (this node's store of it is stale
    /// or empty). `None` when no query builds it.
    pub(crate) fn table_store(
        &self,
        catalog: &crate::catalog::CatalogState,
        table: &str,
    ) -> Result<Option<TableRows>> {
        let Some(query) = catalog.persistent.values().find(|q| {
            q.plan.kind == PersistentKind::CreateTableAs && q.sink_name() == table
        }) else {
            return Ok(None);
        };
        if self.leases.is_some() && !self.lock_running().contains_key(&query.id) {
            return Ok(Some(TableRows::Topic));
        }
        Ok(Some(TableRows::Store(self.state.open(&query.id)?)))
    }

    pub fn state(&self, id: &str) -> QueryState {
        match self.lock_running().get(id) {
            Some(h) if h.failed.load(Ordering::SeqCst) => QueryState::Error,
            _ => QueryState::Running,
        }
    }

    fn sink_lock(&self, topic: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.sink_locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(topic.to_string()).or_default())
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Handle>>> {
        // Single inserts and removes: a panic cannot leave the map half-updated.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How long the lease follower waits without news before checking the registry still
/// exists, in milliseconds.
const LEASE_FOLLOW_IDLE_MS: u64 = 1_000;

/// Where a pull query reads a table built by a persistent query.
pub(crate) enum TableRows {
    /// The query's state store, on the node that runs it.
    Store(Arc<dyn crate::state::StateStore>),
    /// The table's topic: the query runs on another node of the service.
    Topic,
}

/// A running persistent query's counters, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentQueryStats {
    pub query_id: String,
    /// The stream or table it reads, and the one it writes.
    pub source: String,
    pub sink: String,
    pub state: QueryState,
    /// Source records read and committed since it started in this process.
    pub records_in: u64,
    /// Records it wrote to its sink since it started in this process.
    pub records_out: u64,
    /// Source records it skipped because they failed to decode (processing errors).
    pub records_skipped: u64,
    /// Source records not yet committed, over every source partition.
    pub lag_records: u64,
}

impl PersistentQueries {
    /// Records written into each stream or table by persistent queries since the start.
    /// How long stateful queries' state commits took in their stores, since the start.
    pub fn state_commit_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.state.commit_latency().snapshot()
    }

    pub fn state_restored_records(&self) -> u64 {
        self.state.restored_records()
    }

    pub fn rows_written_by_sink(&self) -> Vec<(String, u64)> {
        self.sink_rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(sink, rows)| (sink.clone(), rows.load(Ordering::Relaxed)))
            .collect()
    }

    /// Every running query's counters, against the current end offsets of `log`.
    pub fn stats(&self, log: &dyn LogStore) -> Vec<PersistentQueryStats> {
        let handles: Vec<Arc<Handle>> = self.lock_running().values().cloned().collect();
        handles
            .iter()
            .map(|h| {
                let lag_records = self
                    .progress(log, &h.query.id)
                    .map_or(0, |p| p.sources.iter().map(|s| s.3.saturating_sub(s.2)).sum());
                PersistentQueryStats {
                    query_id: h.query.id.clone(),
                    source: h.query.plan.source.name.clone(),
                    sink: h.query.plan.sink.name.clone(),
                    state: if h.failed.load(Ordering::SeqCst) {
                        QueryState::Error
                    } else {
                        QueryState::Running
                    },
                    records_in: h.records_in.load(Ordering::Relaxed),
                    records_out: h.records_out.load(Ordering::Relaxed),
                    records_skipped: h.records_skipped.load(Ordering::Relaxed),
                    lag_records,
                }
            })
            .collect()
    }

    /// Where a persistent query stands: its committed source positions against the
    /// current end offsets of `log`. `None` if no such query runs.
    pub fn progress(&self, log: &dyn LogStore, id: &str) -> Option<QueryProgress> {
        let handle = self
            .lock_running()
            .values()
            .find(|h| h.query.id.eq_ignore_ascii_case(id))
            .cloned();
        // A query another node of the service runs: known here, with no positions to tell.
        let (query, committed) = match handle {
            Some(handle) => {
                let committed = handle
                    .committed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                (Arc::clone(&handle.query), committed)
            }
            None => (
                self.lock_known()
                    .values()
                    .find(|q| q.id.eq_ignore_ascii_case(id))
                    .cloned()?,
                Vec::new(),
            ),
        };
        let mut sources = Vec::new();
        for source in &query.plan.sources {
            let topic_name = &source.topic;
            let topic = log.topic(topic_name);
            let partitions = topic.as_ref().map_or(0, |t| t.partition_count());
            for p in 0..partitions {
                let end = topic.as_ref().map_or(0, |t| t.end_offset(PartitionId(p)).0);
                let position = committed.get(sources.len()).copied().unwrap_or(0);
                sources.push((topic_name.clone(), p, position, end));
            }
        }
        // Not caught up until the task has published its first positions.
        let caught_up = committed.len() == sources.len()
            && sources.iter().all(|(_, _, pos, end)| pos >= end);
        Some(QueryProgress {
            query_id: query.id.clone(),
            caught_up,
            sources,
        })
    }
}
