//! Decoded records shared by push queries on one source whose results differ, so N
//! dashboards with N different `WHERE` clauses on one stream decode each record once and
//! only run their own filter and projection N times.
//!
//! ```text
//!  query A (WHERE x = 1): cursor[p] @ 100 ─► read, decode the group's columns ─► rows ─┬─► A's pipeline
//!                                                                                    └─► ring: (p, 100..150, rows)
//!  query B (WHERE x = 2): cursor[p] @ 100 ─► ring hit (p, 100) ─► B's pipeline over the rows; B skips to 150
//! ```
//!
//! Queries woken by one commit ask for the same `(partition, offset)`: the first does the
//! reading and decoding, the rest reuse it. A query that fell behind or read a different
//! span uses any kept batch that holds its next offset, from that offset on, so queries
//! that drift apart fall back into step instead of each reading for itself. Decoded rows are the scan's
//! output, before any operator, so every operator (filters, table functions, projections,
//! LIMIT) still runs per query: nothing query-specific is shared. A member that decodes
//! for the group decodes the columns any member's plan reads as values (the union of
//! their scans' columns; the others stay as their stored text where that is what results
//! show, as in a query's own scan), so the group's rows serve every member's plan.
//! Decoding every column instead cost 100 dashboards splitting a stream by key a full
//! decode of each row (strings copied, nested values parsed) that only one of them used.
//! The union only grows while the group lives; a batch decoded before a member that reads
//! more joined does not serve that member (it decodes the span again, for everyone).
//!
//! Groups are keyed by source and by what the scan skips (tombstones, keyless records):
//! the only scan settings that differ between push queries on one source.
//!
//! A member whose WHERE starts with `E = literal` (`expr::equality_probe`) does not run
//! its filter over every row of a batch: the batch buckets its rows by `E` once, for the
//! first member that asks, and each member reads its literal's bucket (plus the rows no
//! bucket could place). A hundred queries splitting a stream by key cost one evaluation of
//! `E` per row, not a hundred.
//!
//! Each member publishes its next offset per partition; a batch goes once every member is
//! past it (or the group is full), so keeping up costs no memory and falling behind costs
//! at most [`DECODED_RECORDS_PER_GROUP_MAX`] records.
//!
//! A member about to decode claims its `(partition, offset)` first; one that asks for a
//! claimed span while the claimer decodes (on the other worker thread) yields and asks
//! again instead of decoding the same records a second time. Without claims, 100 push
//! queries at 100,000 rows/s decoded each record 1.6 times.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::catalog::Source;
use crate::exec::scan::{DecodeColumns, DecodedRecord, Tombstones};
use crate::expr::{Bucket, EqualityProbe, IndexKey};
use crate::log::{Offset, PartitionId, StoredRecord};

/// Decoded records a group may keep, over all its batches. A batch goes as soon as every
/// member has read past it, so a group whose members keep up holds only the last few
/// commits; this bounds what members that fall behind (a stalled client, a pause of the
/// process) pin. It is sized for half a second at 50,000 rows/s: a query behind by more
/// decodes for itself, and when one did, a hundred did, each paying the decoding the
/// group exists to share, which kept them all behind (measured: 100 push queries with
/// distinct filters at 50,000 rows/s never recovered from a 0.5 s pause with 8,192).
pub const DECODED_RECORDS_PER_GROUP_MAX: usize = 32_768;

/// Distinct `E`s a batch keeps its rows bucketed by; a member whose `E` finds no room
/// runs its filter over every row, as without buckets.
pub const BUCKETINGS_PER_BATCH_MAX: usize = 8;

/// Partition `partition`'s records `[start, end)` and what the scan made of each (`None`:
/// the scan skipped it).
#[derive(Debug)]
pub(crate) struct DecodedBatch {
    pub(crate) partition: PartitionId,
    pub(crate) start: Offset,
    pub(crate) end: Offset,
    pub(crate) records: Vec<StoredRecord>,
    pub(crate) rows: Vec<Option<DecodedRecord>>,
    /// The group's [`Needs`] generation whose columns the rows were decoded with: the batch
    /// serves members that joined by then.
    pub(crate) generation: u64,
    /// The rows bucketed by each `E` a member asked for (the first to ask builds it).
    pub(crate) bucketings: Mutex<Vec<(String, Arc<Bucketing>)>>,
}

impl DecodedBatch {
    pub(crate) fn new(
        partition: PartitionId,
        (start, end): (Offset, Offset),
        records: Vec<StoredRecord>,
        rows: Vec<Option<DecodedRecord>>,
        generation: u64,
    ) -> DecodedBatch {
        DecodedBatch {
            partition,
            start,
            end,
            records,
            rows,
            generation,
            bucketings: Mutex::new(Vec::new()),
        }
    }

    /// The rows bucketed by `probe`'s `E`, built on first use; `None` when the batch holds
    /// as many bucketings as it may.
    pub(crate) fn bucketing(&self, probe: &EqualityProbe) -> Option<Arc<Bucketing>> {
        let mut all = self.bucketings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, b)) = all.iter().find(|(key, _)| *key == probe.expr_key) {
            return Some(Arc::clone(b));
        }
        if all.len() >= BUCKETINGS_PER_BATCH_MAX {
            return None;
        }
        let built = Arc::new(Bucketing::build(&self.rows, probe));
        all.push((probe.expr_key.clone(), Arc::clone(&built)));
        Some(built)
    }
}

/// A batch's row numbers by the value of one `E`, ascending in each list.
#[derive(Debug, Default)]
pub(crate) struct Bucketing {
    buckets: HashMap<IndexKey, Vec<u32>>,
    /// Rows every member's filter must see (see `expr::equality_probe`).
    everyone: Vec<u32>,
}

impl Bucketing {
    fn build(rows: &[Option<DecodedRecord>], probe: &EqualityProbe) -> Bucketing {
        let mut b = Bucketing::default();
        for (i, row) in rows.iter().enumerate() {
            let Some(row) = row else { continue };
            let n = u32::try_from(i).unwrap_or(u32::MAX);
            match probe.bucket(&row.values) {
                Bucket::Key(key) => b.buckets.entry(key).or_default().push(n),
                Bucket::Everyone => b.everyone.push(n),
                Bucket::Nobody => {}
            }
        }
        b
    }

    /// The rows a member whose literal is `key` must see, in batch order: its bucket and
    /// the rows every member sees, merged without a buffer (this runs per member per batch).
    pub(crate) fn rows_for<'a>(&'a self, key: &IndexKey) -> impl Iterator<Item = usize> + 'a {
        let mine = self.buckets.get(key).map_or(&[][..], Vec::as_slice);
        let (mut a, mut b) = (mine.iter().peekable(), self.everyone.iter().peekable());
        std::iter::from_fn(move || {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, _) => b.next(),
            };
            next.map(|&n| n as usize)
        })
    }
}

/// The decoded batches of one group, newest last.
#[derive(Debug)]
pub struct DecodeRing {
    source: Arc<Source>,
    /// The batches, and the spans members are decoding now.
    held: Mutex<Held>,
    /// Where each member is, so batches every member has passed can go.
    members: Mutex<Vec<Weak<MemberPositions>>>,
    /// The columns the group's batches decode.
    needs: Mutex<Needs>,
    /// The engine-wide count of records members took decoded instead of decoding.
    records_taken: Arc<AtomicU64>,
}

/// What a group holds, under one lock so a member's lookup sees a span either decoded or
/// claimed, never neither while a claimer moves it from one to the other.
#[derive(Debug, Default)]
struct Held {
    /// The batches, oldest first, and how many records they hold together.
    batches: VecDeque<Arc<DecodedBatch>>,
    records: usize,
    /// `(partition, first offset)` of each span a member is reading and decoding now.
    claims: Vec<(PartitionId, Offset)>,
}

/// The value columns a group's batches decode: what any member that joined reads.
#[derive(Debug)]
struct Needs {
    columns: DecodeColumns,
    /// Bumped each time a member that reads more widens `columns`.
    generation: u64,
}

/// What a member finds at its next offset.
pub(crate) enum Lookup {
    /// A batch that holds the offset.
    Decoded(Arc<DecodedBatch>),
    /// Another member is decoding from this offset now: ask again after a yield.
    Claimed,
    /// Nobody has: this member decodes, and offers the batch before dropping the claim.
    Mine(Claim),
}

/// A member's claim on decoding a span; dropping it (after the offer, or on an error or an
/// empty read) lets the others look again.
pub(crate) struct Claim {
    ring: Arc<DecodeRing>,
    span: (PartitionId, Offset),
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = self.ring.lock_held();
        if let Some(at) = held.claims.iter().position(|c| *c == self.span) {
            held.claims.swap_remove(at);
        }
    }
}

/// A member's next offset in each partition it reads.
#[derive(Debug)]
pub(crate) struct MemberPositions {
    partitions: Vec<PartitionId>,
    next: Vec<AtomicU64>,
}

impl MemberPositions {
    /// Records that the member's next offset in `partition` is `next`.
    pub(crate) fn advance(&self, partition: PartitionId, next: Offset) {
        if let Some(i) = self.partitions.iter().position(|p| *p == partition) {
            self.next[i].store(next.0, Ordering::Relaxed);
        }
    }

    /// Whether the member has read past `batch` (or does not read its partition).
    fn passed(&self, batch: &DecodedBatch) -> bool {
        self.partitions
            .iter()
            .position(|p| *p == batch.partition)
            .is_none_or(|i| self.next[i].load(Ordering::Relaxed) >= batch.end.0)
    }
}

/// A push query's place in its group: the shared ring, and its positions in it.
#[derive(Debug, Clone)]
pub(crate) struct DecodeMember {
    pub(crate) ring: Arc<DecodeRing>,
    pub(crate) positions: Arc<MemberPositions>,
    /// The group's [`Needs`] generation once this member's columns were in it: batches of
    /// an older one may lack a column its plan reads.
    pub(crate) generation: u64,
}

impl DecodeRing {
    fn lock_held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_needs(&self) -> std::sync::MutexGuard<'_, Needs> {
        self.needs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `columns` to what the group's batches decode; the generation that has them.
    fn need(&self, columns: &DecodeColumns) -> u64 {
        let mut needs = self.lock_needs();
        let union = needs.columns.union(columns);
        if union != needs.columns {
            needs.columns = union;
            needs.generation += 1;
        }
        needs.generation
    }

    /// The generation of the columns the group decodes now.
    pub(crate) fn generation(&self) -> u64 {
        self.lock_needs().generation
    }

    /// The columns a member decoding for the group decodes now, and their generation.
    pub(crate) fn decode_columns(&self) -> (DecodeColumns, u64) {
        let needs = self.lock_needs();
        (needs.columns.clone(), needs.generation)
    }

    /// A batch of `partition` that holds offset `at` and was decoded with the columns of
    /// `generation` or later, if a member decoded one recently; else whether another member
    /// is decoding from `at` now, or the claim to do it.
    pub(crate) fn lookup(
        self: &Arc<Self>,
        partition: PartitionId,
        at: Offset,
        generation: u64,
    ) -> Lookup {
        let mut held = self.lock_held();
        let found = held
            .batches
            .iter()
            .rev()
            .find(|b| {
                b.partition == partition && b.start <= at && at < b.end && b.generation >= generation
            })
            .cloned();
        if let Some(batch) = found {
            let taken = batch.end.0 - at.0;
            self.records_taken.fetch_add(taken, Ordering::Relaxed);
            return Lookup::Decoded(batch);
        }
        let span = (partition, at);
        if held.claims.contains(&span) {
            return Lookup::Claimed;
        }
        held.claims.push(span);
        Lookup::Mine(Claim {
            ring: Arc::clone(self),
            span,
        })
    }

    /// Leaves a batch for the other members. Batches every member has read past go, and
    /// the oldest go when the ring is full.
    pub(crate) fn offer(&self, batch: Arc<DecodedBatch>) {
        // Lock order: members, then held (`join` takes only members, `lookup` only held).
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members.retain(|m| m.strong_count() > 0);
        let mut guard = self.lock_held();
        let Held {
            batches, records, ..
        } = &mut *guard;
        *records += batch.records.len();
        batches.push_back(batch);
        while batches.len() > 1 {
            let Some(oldest) = batches.front() else { break };
            let full = *records > DECODED_RECORDS_PER_GROUP_MAX;
            let passed = |m: &Weak<MemberPositions>| m.upgrade().is_none_or(|m| m.passed(oldest));
            if !full && !members.iter().all(passed) {
                break;
            }
            if let Some(old) = batches.pop_front() {
                *records -= old.records.len();
            }
        }
    }

    /// Decoded records the group holds now.
    pub fn records_held(&self) -> usize {
        self.lock_held().records
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    source: String,
    tombstones: Tombstones,
}

/// The groups of push queries on one source; a group lives as long as one of its members.
#[derive(Debug, Default)]
pub struct SharedDecodes {
    groups: Mutex<HashMap<GroupKey, Weak<DecodeRing>>>,
    records_taken: Arc<AtomicU64>,
}

impl SharedDecodes {
    /// Joins the group of push queries on `source` whose scans treat tombstones as
    /// `tombstones`, as a member starting at `start` (its next offset per partition) whose
    /// plan reads `columns` as values.
    pub(crate) fn join(
        &self,
        source: &Arc<Source>,
        tombstones: Tombstones,
        start: &[(PartitionId, Offset)],
        columns: &DecodeColumns,
    ) -> DecodeMember {
        let ring = self.ring(source, tombstones);
        let generation = ring.need(columns);
        let positions = Arc::new(MemberPositions {
            partitions: start.iter().map(|(p, _)| *p).collect(),
            next: start.iter().map(|(_, o)| AtomicU64::new(o.0)).collect(),
        });
        let mut members = ring.members.lock().unwrap_or_else(|e| e.into_inner());
        // Members that left are dropped here too, not only when a batch is offered: a
        // source nobody writes to must not collect one entry per push query ever started.
        members.retain(|m| m.strong_count() > 0);
        members.push(Arc::downgrade(&positions));
        drop(members);
        DecodeMember {
            ring,
            positions,
            generation,
        }
    }

    fn ring(&self, source: &Arc<Source>, tombstones: Tombstones) -> Arc<DecodeRing> {
        let key = GroupKey {
            source: source.name.clone(),
            tombstones,
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
            held: Mutex::new(Held::default()),
            members: Mutex::new(Vec::new()),
            needs: Mutex::new(Needs {
                columns: DecodeColumns::Only(Vec::new()),
                generation: 0,
            }),
            records_taken: Arc::clone(&self.records_taken),
        });
        groups.insert(key, Arc::downgrade(&ring));
        ring
    }

    /// Decoded records the groups hold now, together.
    pub fn records_held(&self) -> usize {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups
            .values()
            .filter_map(Weak::upgrade)
            .map(|ring| ring.records_held())
            .sum()
    }

    /// Records push queries have taken decoded from another query since the start.
    pub fn records_taken(&self) -> u64 {
        self.records_taken.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Schema;

    fn source() -> Arc<Source> {
        Arc::new(Source::test_stream("S", Schema::new(Vec::new())))
    }

    fn ring() -> Arc<DecodeRing> {
        let source = source();
        let decodes = SharedDecodes::default();
        decodes
            .join(
                &source,
                Tombstones::Drop,
                &[(PartitionId(0), Offset(0))],
                &DecodeColumns::Only(vec![0]),
            )
            .ring
    }

    fn batch(start: u64, end: u64) -> Arc<DecodedBatch> {
        let span = (Offset(start), Offset(end));
        Arc::new(DecodedBatch::new(PartitionId(0), span, Vec::new(), Vec::new(), 1))
    }

    /// Two members woken by one commit on the two worker threads: the second waits for
    /// the first's batch instead of decoding the same records.
    #[test]
    fn a_span_being_decoded_is_claimed_until_its_batch_is_offered() {
        let ring = ring();
        let p = PartitionId(0);
        let Lookup::Mine(claim) = ring.lookup(p, Offset(100), 1) else {
            panic!("the first member decodes")
        };
        assert!(matches!(ring.lookup(p, Offset(100), 1), Lookup::Claimed));
        // Another span (a member behind the others) is not held up by it.
        assert!(matches!(ring.lookup(p, Offset(40), 1), Lookup::Mine(_)));
        ring.offer(batch(100, 150));
        drop(claim);
        match ring.lookup(p, Offset(120), 1) {
            Lookup::Decoded(b) => assert_eq!((b.start, b.end), (Offset(100), Offset(150))),
            _ => panic!("the offered batch serves the others"),
        }
    }

    /// A member whose plan reads a column the group did not decode yet widens what the
    /// group decodes, and does not take batches decoded before it joined; the members
    /// before it still do, and every member takes the batches decoded after.
    #[test]
    fn a_member_reading_more_columns_skips_batches_decoded_without_them() {
        let (source, decodes) = (source(), SharedDecodes::default());
        let start = [(PartitionId(0), Offset(0))];
        let first = decodes.join(&source, Tombstones::Drop, &start, &DecodeColumns::Only(vec![2]));
        let narrow = |b: (u64, u64), generation| {
            Arc::new(DecodedBatch::new(PartitionId(0), (Offset(b.0), Offset(b.1)), Vec::new(), Vec::new(), generation))
        };
        assert_eq!(first.ring.decode_columns(), (DecodeColumns::Only(vec![2]), first.generation));
        first.ring.offer(narrow((0, 10), first.generation));
        // The same columns again, or fewer: nothing changes.
        let same = decodes.join(&source, Tombstones::Drop, &start, &DecodeColumns::Only(vec![2]));
        assert_eq!(same.generation, first.generation);
        let wider = decodes.join(&source, Tombstones::Drop, &start, &DecodeColumns::Only(vec![0, 2]));
        assert!(wider.generation > first.generation);
        assert_eq!(wider.ring.decode_columns(), (DecodeColumns::Only(vec![0, 2]), wider.generation));
        let p = PartitionId(0);
        assert!(matches!(first.ring.lookup(p, Offset(3), first.generation), Lookup::Decoded(_)));
        assert!(matches!(wider.ring.lookup(p, Offset(3), wider.generation), Lookup::Mine(_)));
        wider.ring.offer(narrow((3, 10), wider.generation));
        for member in [&first, &wider] {
            match member.ring.lookup(p, Offset(5), member.generation) {
                Lookup::Decoded(b) => assert_eq!(b.generation, wider.generation),
                _ => panic!("the wider batch serves every member"),
            }
        }
        let all = decodes.join(&source, Tombstones::Drop, &start, &DecodeColumns::All);
        assert_eq!(all.ring.decode_columns().0, DecodeColumns::All);
    }

    /// A claimer whose read failed or found nothing lets go: the next member decodes.
    #[test]
    fn a_claim_dropped_without_a_batch_lets_the_next_member_decode() {
        let ring = ring();
        let p = PartitionId(0);
        let claim = ring.lookup(p, Offset(7), 1);
        assert!(matches!(claim, Lookup::Mine(_)));
        drop(claim);
        assert!(matches!(ring.lookup(p, Offset(7), 1), Lookup::Mine(_)));
    }

    #[test]
    fn a_members_rows_are_its_bucket_and_everyones_in_batch_order() {
        let mut b = Bucketing::default();
        b.buckets.insert(IndexKey::Int(1), vec![0, 4, 9]);
        b.buckets.insert(IndexKey::Int(2), vec![1, 2]);
        b.everyone = vec![3, 5, 10];
        let rows = |k| b.rows_for(&IndexKey::Int(k)).collect::<Vec<_>>();
        assert_eq!(rows(1), [0, 3, 4, 5, 9, 10]);
        assert_eq!(rows(2), [1, 2, 3, 5, 10]);
        assert_eq!(rows(3), [3, 5, 10]);
    }
}
