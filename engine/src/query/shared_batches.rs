//! Result batches shared by identical push queries, so N dashboards running the same
//! `SELECT … EMIT CHANGES` read and decode each record once rather than N times.
//!
//! ```text
//!  query A: cursor[p] @ 100 ─► read, decode, project ─► rows ─┬─► A's results
//!                                                             └─► ring: (p, 100..150, rows)
//!  query B: cursor[p] @ 100 ─► ring hit (p, 100) ─► copy rows ─► B's results; B skips to 150
//! ```
//!
//! Every push query on a topic is woken by the same commit and reads from where it stopped,
//! so queries that started together keep asking for the same `(partition, offset)`: the first
//! to get there does the work and leaves the batch in its group's ring, the rest copy it.
//! Once a query has used a batch its next read starts at that batch's end, where the others
//! are too, so a group stays in step. A query that lags beyond the ring simply reads for
//! itself; nothing waits on anything.
//!
//! Only results that cannot differ between two runs are shared: plans with no WHERE, no
//! table functions, no LIMIT (which ends mid-batch) and only plain columns in the SELECT —
//! no expression, so no non-deterministic function such as `UUID()`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::catalog::Source;
use crate::exec::result_rows::ResultRows;
use crate::exec::scan::Tombstones;
use crate::log::{Offset, PartitionId};
use crate::plan::transient::{QueryKind, QueryPlan};
use crate::query::shared_decode::SharedDecodes;

/// Batches kept per group of identical queries. Each holds at most one read's worth of rows
/// (`READ_BATCH_RECORDS_MAX`), so a group's ring is bounded; a query further behind than
/// this reads for itself.
pub const SHARED_BATCHES_PER_GROUP_MAX: usize = 8;

/// One read's results: the rows that partition `partition`'s records `[start, end)` gave.
#[derive(Debug)]
pub struct SharedBatch {
    pub partition: PartitionId,
    pub start: Offset,
    pub end: Offset,
    pub rows: ResultRows,
}

/// The batches of one group of identical queries, newest last.
#[derive(Debug)]
pub struct BatchRing {
    /// The source the group's plans read, by identity: a replaced source is another group.
    source: Arc<Source>,
    batches: Mutex<VecDeque<Arc<SharedBatch>>>,
    /// The engine-wide count of rows members copied instead of computing.
    rows_taken: Arc<AtomicU64>,
}

impl BatchRing {
    /// The batch that starts at `start` in `partition`, if a member read it recently.
    pub fn find(&self, partition: PartitionId, start: Offset) -> Option<Arc<SharedBatch>> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        batches
            .iter()
            .rev()
            .find(|b| b.partition == partition && b.start == start)
            .cloned()
    }

    /// Counts rows a member copied from this ring (for [`SharedBatches::rows_taken`]).
    pub fn note_taken(&self, rows: usize) {
        self.rows_taken.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Leaves a batch for the other members (the oldest goes when the ring is full).
    pub fn offer(&self, batch: SharedBatch) {
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        if batches.len() == SHARED_BATCHES_PER_GROUP_MAX {
            batches.pop_front();
        }
        batches.push_back(Arc::new(batch));
    }
}

/// What makes two plans' results the same: the source, and which columns they select.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    source: String,
    columns: Vec<usize>,
    /// What the scan skips: a scalable push query skips keyless records the others show.
    tombstones: Tombstones,
}

/// The groups of identical push queries; a group lives as long as one of its members.
#[derive(Debug, Default)]
pub struct SharedBatches {
    groups: Mutex<HashMap<GroupKey, Weak<BatchRing>>>,
    rows_taken: Arc<AtomicU64>,
    /// The other way push queries share work: decoded records, for plans that differ.
    decodes: SharedDecodes,
}

impl SharedBatches {
    /// The ring `plan` shares with identical queries, or `None` when its results must be
    /// computed on its own (see the module docs).
    pub fn join(&self, plan: &QueryPlan) -> Option<Arc<BatchRing>> {
        let key = group_key(plan)?;
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        // Forget groups whose last member has gone, so the map stays as small as the set
        // of running queries.
        groups.retain(|_, ring| ring.strong_count() > 0);
        if let Some(ring) = groups.get(&key).and_then(Weak::upgrade) {
            if Arc::ptr_eq(&ring.source, &plan.source) {
                return Some(ring);
            }
        }
        let ring = Arc::new(BatchRing {
            source: Arc::clone(&plan.source),
            batches: Mutex::new(VecDeque::new()),
            rows_taken: Arc::clone(&self.rows_taken),
        });
        groups.insert(key, Arc::downgrade(&ring));
        Some(ring)
    }
}

impl SharedBatches {
    /// Result rows push queries have copied from identical queries since the start.
    pub fn rows_taken(&self) -> u64 {
        self.rows_taken.load(Ordering::Relaxed)
    }

    /// The groups of push queries sharing decoded records.
    pub fn decodes(&self) -> &SharedDecodes {
        &self.decodes
    }
}

fn group_key(plan: &QueryPlan) -> Option<GroupKey> {
    if plan.kind != QueryKind::Push {
        return None;
    }
    Some(GroupKey {
        source: plan.source.name.clone(),
        columns: plan.logical.plain_column_slots()?,
        tombstones: plan.logical.scan().tombstones,
    })
}
