//! Decoded records shared by push queries on one source whose results differ, so N
//! dashboards with N different `WHERE` clauses on one stream decode each record once and
//! only run their own filter and projection N times.
//!
//! ```text
//!  query A (WHERE x = 1): cursor[p] @ 100 ─► read, decode every column ─► rows ─┬─► A's pipeline
//!                                                                               └─► ring: (p, 100..150, rows)
//!  query B (WHERE x = 2): cursor[p] @ 100 ─► ring hit (p, 100) ─► B's pipeline over the rows; B skips to 150
//! ```
//!
//! The same lock-step argument as `shared_batches` (whose identical-results sharing is
//! tried first): queries woken by one commit ask for the same `(partition, offset)`, the
//! first does the reading and decoding, the rest reuse it. Decoded rows are the scan's
//! output, before any operator, so every operator (filters, table functions, projections,
//! LIMIT) still runs per query: nothing query-specific is shared. A member that decodes
//! for the group decodes every column (each query's own scan decodes only what it reads),
//! so the group's rows serve every member's plan.
//!
//! Groups are keyed by source and by what the scan does with tombstones: the only scan
//! settings that differ between push queries on one source.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::catalog::Source;
use crate::exec::scan::{DecodedRecord, Tombstones};
use crate::log::{Offset, PartitionId, StoredRecord};

/// Decoded batches kept per group. Each holds at most one read's records
/// (`READ_BATCH_RECORDS_MAX`), so a group's ring is bounded; a query further behind than
/// this decodes for itself.
pub const DECODED_BATCHES_PER_GROUP_MAX: usize = 8;

/// Partition `partition`'s records `[start, end)` and what the scan made of each (`None`:
/// the scan skipped it).
#[derive(Debug)]
pub(crate) struct DecodedBatch {
    pub(crate) partition: PartitionId,
    pub(crate) start: Offset,
    pub(crate) end: Offset,
    pub(crate) records: Vec<StoredRecord>,
    pub(crate) rows: Vec<Option<DecodedRecord>>,
}

/// The decoded batches of one group, newest last.
#[derive(Debug)]
pub struct DecodeRing {
    source: Arc<Source>,
    batches: Mutex<VecDeque<Arc<DecodedBatch>>>,
    /// The engine-wide count of records members took decoded instead of decoding.
    records_taken: Arc<AtomicU64>,
}

impl DecodeRing {
    /// The batch that starts at `start` in `partition`, if a member decoded it recently.
    pub(crate) fn find(&self, partition: PartitionId, start: Offset) -> Option<Arc<DecodedBatch>> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let found = batches
            .iter()
            .rev()
            .find(|b| b.partition == partition && b.start == start)
            .cloned();
        if let Some(batch) = &found {
            self.records_taken
                .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
        }
        found
    }

    /// Leaves a batch for the other members (the oldest goes when the ring is full).
    pub(crate) fn offer(&self, batch: Arc<DecodedBatch>) {
        let mut batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        if batches.len() == DECODED_BATCHES_PER_GROUP_MAX {
            batches.pop_front();
        }
        batches.push_back(batch);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    source: String,
    forward_tombstones: bool,
}

/// The groups of push queries on one source; a group lives as long as one of its members.
#[derive(Debug, Default)]
pub struct SharedDecodes {
    groups: Mutex<HashMap<GroupKey, Weak<DecodeRing>>>,
    records_taken: Arc<AtomicU64>,
}

impl SharedDecodes {
    /// The ring a push query on `source` whose scan treats tombstones as `tombstones`
    /// shares decoded records through.
    pub(crate) fn join(&self, source: &Arc<Source>, tombstones: Tombstones) -> Arc<DecodeRing> {
        let key = GroupKey {
            source: source.name.clone(),
            forward_tombstones: tombstones == Tombstones::Forward,
        };
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.retain(|_, ring| ring.strong_count() > 0);
        if let Some(ring) = groups.get(&key).and_then(Weak::upgrade) {
            // A source dropped and created again under its name is another group.
            if Arc::ptr_eq(&ring.source, source) {
                return ring;
            }
        }
        let ring = Arc::new(DecodeRing {
            source: Arc::clone(source),
            batches: Mutex::new(VecDeque::new()),
            records_taken: Arc::clone(&self.records_taken),
        });
        groups.insert(key, Arc::downgrade(&ring));
        ring
    }

    /// Records push queries have taken decoded from another query since the start.
    pub fn records_taken(&self) -> u64 {
        self.records_taken.load(Ordering::Relaxed)
    }
}
