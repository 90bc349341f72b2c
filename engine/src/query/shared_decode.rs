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
//! Queries woken by one commit ask for the same `(partition, offset)`: the first does the
//! reading and decoding, the rest reuse it. A query that fell behind or read a different
//! span uses any kept batch that holds its next offset, from that offset on, so queries
//! that drift apart fall back into step instead of each reading for itself. Decoded rows are the scan's
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

/// Decoded records kept per group, over all its batches (the oldest batches go first). A
/// query further behind than this decodes for itself. Commits under a steady load hold a
/// few records each, so the bound is in records, not batches.
pub const DECODED_RECORDS_PER_GROUP_MAX: usize = 8_192;

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
    /// The batches, oldest first, and how many records they hold together.
    batches: Mutex<(VecDeque<Arc<DecodedBatch>>, usize)>,
    /// The engine-wide count of records members took decoded instead of decoding.
    records_taken: Arc<AtomicU64>,
}

impl DecodeRing {
    /// A batch of `partition` that holds offset `at`, if a member decoded one recently.
    pub(crate) fn find(&self, partition: PartitionId, at: Offset) -> Option<Arc<DecodedBatch>> {
        let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let found = batches
            .0
            .iter()
            .rev()
            .find(|b| b.partition == partition && b.start <= at && at < b.end)
            .cloned();
        if let Some(batch) = &found {
            let taken = batch.end.0 - at.0;
            self.records_taken.fetch_add(taken, Ordering::Relaxed);
        }
        found
    }

    /// Leaves a batch for the other members (the oldest go when the ring is full).
    pub(crate) fn offer(&self, batch: Arc<DecodedBatch>) {
        let mut guard = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let (batches, records) = &mut *guard;
        *records += batch.records.len();
        batches.push_back(batch);
        while *records > DECODED_RECORDS_PER_GROUP_MAX && batches.len() > 1 {
            if let Some(old) = batches.pop_front() {
                *records -= old.records.len();
            }
        }
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
            batches: Mutex::new((VecDeque::new(), 0)),
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
