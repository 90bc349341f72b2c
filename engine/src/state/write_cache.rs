//! [`WriteBackCache`]: a query task's in-memory view of its store.
//!
//! ```text
//!  get ──► entries (HashMap by store key) ──miss──► store.get (committed) ──► cached clean
//!  put / delete / update ──► entries, marked dirty, key added to the dirty list
//!  start_commit(checkpoint, landed) ──► one WriteBatch of the dirty entries + checkpoint
//!        │  every entry is clean now        └──► store.commit on a blocking-pool thread,
//!        │                                        then `landed()`
//!  settle ──► wait for that commit; evict unreferenced clean entries over budget
//!  commit(checkpoint) = start_commit + settle
//!  range / prefix ──► store range merged with the dirty and landing entries (cache wins)
//! ```
//!
//! A commit of ~200k dirty keys takes a redb write transaction and an fsync (tens to
//! hundreds of ms). On the query's thread it stalled the query (18% of a 100k-key GROUP
//! BY's time) and the tokio worker the query runs on; off it, the query goes on with its
//! next batches into the cache while the store writes. At most one commit is in flight:
//! the next `start_commit` settles the last first. While one is in flight its keys stay in
//! the cache (nothing is evicted until it lands), so a `get` that misses the cache cannot
//! be a key the store is still writing; a range or prefix read merges the store's keys
//! with the cache's dirty keys and the landing commit's (a task that scans keeps both in
//! key order; one that never did settles the commit first).
//!
//! Why: a GROUP BY over 100k keys at 1M rows/s is 1M read-modify-writes per second. No
//! embedded store does that through its own API on this machine (a redb or fjall point get
//! costs 1–4 µs, and every put rewrites B-tree pages or appends to a journal), but a hash
//! map does (~0.3 µs per row measured, with the commits), and a commit every N ms
//! only needs the keys that changed since the last one: with 100k keys, a 1 s commit
//! interval writes ≤100k keys for 1M rows. That is what ksqlDB's record cache in front of
//! RocksDB does (`cache.max.bytes.buffering`).
//!
//! Readers on other threads never see the cache: they read the store, which holds only
//! committed state, so a pull query never sees a batch the query has not committed.
//!
//! One writer: the cache is owned by the query's task (`&mut self`), not shared.

use std::collections::{BTreeSet, HashMap};
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smallvec::SmallVec;

use super::batch::{check_key, check_value, WriteBatch};
use super::table_key::{is_empty_range, StateTable};
use super::{KeyValueIter, StateStore};
use crate::error::{EngineError, Result};
use crate::metrics::LatencyHistogram;

/// What runs once a commit started by [`WriteBackCache::start_commit`] is in the store (a
/// query publishes its committed positions then: readers of the store see the batch).
pub type CommitLanded = Box<dyn FnOnce() + Send>;

/// Where a commit running on another thread reports: how long the store took, or why it
/// failed.
type CommitOutcome = mpsc::Receiver<Result<Duration>>;

/// Default budget of a cache, in bytes of keys, values and per-entry overhead.
///
/// 100k groups of ~100 B each take ~20 MB with overhead; 64 MiB holds the hot set of most
/// aggregations and bounds a query's memory when its key space is far larger.
pub const CACHE_BYTES_DEFAULT: usize = 64 * 1024 * 1024;

/// Store keys up to this long live inside the cache's hash table, not behind a pointer: a
/// probe's key compare then reads the slot it already loaded. A GROUP BY's store key is the
/// table's 4-byte prefix and the sink key (a BIGINT's 8 bytes, a short string), a
/// materialized row's 4 more bytes; with 100k groups the pointer chase per probe was a cache
/// miss, 14% of the aggregate's time. Longer keys spill to the heap as before.
const STORE_KEY_INLINE_BYTES: usize = 32;

/// A store key as the cache's table holds it.
type StoreKey = SmallVec<[u8; STORE_KEY_INLINE_BYTES]>;

/// Bytes an entry costs beyond its key and value: the hash slot, two `Bytes` handles and
/// the flags, rounded up. Only for the budget; it need not be exact.
const ENTRY_OVERHEAD_BYTES: usize = 80;

struct Entry {
    /// `None`: the key is absent (deleted, or known missing from the store).
    value: Option<Bytes>,
    /// Written since the last commit.
    dirty: bool,
    /// Read or written since the last eviction pass (second chance).
    referenced: bool,
}

/// The hot keys of one store, with the writes since the last commit.
pub struct WriteBackCache {
    store: Arc<dyn StateStore>,
    entries: HashMap<StoreKey, Entry>,
    /// Store keys of the dirty entries, each once: the next commit's batch. A list, not a
    /// sorted set: an ordered insert per newly dirty key cost ~30 cache misses (measured:
    /// it tripled the per-row cost); the batch sorts once per commit instead.
    dirty: Vec<Bytes>,
    /// The dirty keys in key order, for range merges: built by the first range since the
    /// last commit and kept up to date from then on. Sorting the list per range instead
    /// made a batch quadratic in its writes for a task that scans after every write (a
    /// stream-stream join probing its window buffer: 16k records took minutes); a task that
    /// never scans (a GROUP BY) never builds it and keeps the list's cheap pushes.
    ordered: Option<BTreeSet<Bytes>>,
    /// The commit in flight's keys in key order, if `ordered` was built when it started: a
    /// range merges them over the store, which may or may not hold them yet.
    landing: Option<BTreeSet<Bytes>>,
    /// Cost of all entries, by `entry_bytes`.
    bytes: usize,
    /// Cost of the dirty entries.
    dirty_bytes: usize,
    bytes_max: usize,
    /// Reused to build store keys for lookups without allocating.
    scratch: Vec<u8>,
    /// The commit the store is writing now, if any (see the module's docs).
    in_flight: Option<CommitOutcome>,
    /// How long the store took over the last commit that landed.
    last_commit_took: Duration,
    /// Where landed commits' durations go, if anywhere (`/metrics`).
    commit_latency: Option<Arc<LatencyHistogram>>,
}

impl std::fmt::Debug for WriteBackCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBackCache")
            .field("store", &self.store)
            .field("entries", &self.entries.len())
            .field("dirty", &self.dirty.len())
            .field("bytes", &self.bytes)
            .field("bytes_max", &self.bytes_max)
            .field("commit_in_flight", &self.in_flight.is_some())
            .finish()
    }
}

/// What [`change_entry`] did to an entry, for the cache's totals.
struct EntryChange {
    old_bytes: usize,
    new_bytes: usize,
    was_dirty: bool,
}

/// Sets `entry` (of `store_key` in `table`) to what `f` makes of its value, marking it
/// dirty; an invalid new value leaves it as it was.
fn change_entry(
    entry: &mut Entry,
    table: &StateTable,
    store_key: &[u8],
    f: impl FnOnce(Option<&Bytes>) -> Option<Bytes>,
) -> Result<EntryChange> {
    let value = f(entry.value.as_ref());
    if let Some(value) = &value {
        check_value(table, value)?;
    }
    let old_bytes = entry_bytes(store_key, entry.value.as_ref());
    let new_bytes = entry_bytes(store_key, value.as_ref());
    entry.value = value;
    entry.referenced = true;
    let was_dirty = std::mem::replace(&mut entry.dirty, true);
    Ok(EntryChange {
        old_bytes,
        new_bytes,
        was_dirty,
    })
}

fn entry_bytes(store_key: &[u8], value: Option<&Bytes>) -> usize {
    store_key.len() + value.map_or(0, Bytes::len) + ENTRY_OVERHEAD_BYTES
}

impl WriteBackCache {
    /// A cache over `store` holding at most about `bytes_max` bytes of clean entries (dirty
    /// ones stay until the next commit: see [`WriteBackCache::should_commit`]).
    pub fn new(store: Arc<dyn StateStore>, bytes_max: usize) -> WriteBackCache {
        WriteBackCache {
            store,
            entries: HashMap::new(),
            dirty: Vec::new(),
            ordered: None,
            landing: None,
            bytes: 0,
            dirty_bytes: 0,
            bytes_max,
            scratch: Vec::new(),
            in_flight: None,
            last_commit_took: Duration::ZERO,
            commit_latency: None,
        }
    }

    /// Records how long each commit's store write takes in `histogram`: off the query's
    /// thread, a slow commit no longer shows in the query's own latency.
    pub fn with_commit_latency(mut self, histogram: Arc<LatencyHistogram>) -> WriteBackCache {
        self.commit_latency = Some(histogram);
        self
    }

    /// The store behind the cache (for readers: it holds only committed state).
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The value of `key` in `table` as this task last wrote it, or as committed.
    pub fn get(&mut self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        table.store_key_into(key, &mut self.scratch);
        if let Some(entry) = self.entries.get_mut(&self.scratch[..]) {
            entry.referenced = true;
            return Ok(entry.value.clone());
        }
        let value = self.store.get(table, key)?;
        let store_key = StoreKey::from_slice(&self.scratch);
        self.bytes += entry_bytes(&store_key, value.as_ref());
        self.entries.insert(
            store_key,
            Entry {
                value: value.clone(),
                dirty: false,
                referenced: true,
            },
        );
        Ok(value)
    }

    /// Read-modify-write of one key with one hash probe: `f` gets the current value (as
    /// [`WriteBackCache::get`] would return it) and returns the new one (`None` deletes).
    /// An aggregate's per-row step; half the cost of `get` then `put`, whose two probes are
    /// each a cache miss or more once the table outgrows the CPU caches.
    pub fn update(
        &mut self,
        table: &StateTable,
        key: &[u8],
        f: impl FnOnce(Option<&Bytes>) -> Option<Bytes>,
    ) -> Result<()> {
        check_key(table, key)?;
        table.store_key_into(key, &mut self.scratch);
        if let Some(entry) = self.entries.get_mut(&self.scratch[..]) {
            let change = change_entry(entry, table, &self.scratch, f)?;
            self.account(change);
            return Ok(());
        }
        // A miss: load the committed value first (rare once the hot set is cached).
        self.get(table, key)?;
        let entry = self
            .entries
            .get_mut(&self.scratch[..])
            .expect("the entry was just loaded");
        let change = change_entry(entry, table, &self.scratch, f)?;
        self.account(change);
        Ok(())
    }

    /// Counts an entry's [`change_entry`] in the cache's totals and dirty list.
    fn account(&mut self, change: EntryChange) {
        self.bytes = self.bytes + change.new_bytes - change.old_bytes;
        if change.was_dirty {
            self.dirty_bytes = self.dirty_bytes + change.new_bytes - change.old_bytes;
        } else {
            self.dirty_bytes += change.new_bytes;
            self.mark_dirty(Bytes::copy_from_slice(&self.scratch));
        }
    }

    /// Sets `key` in `table` to `value` (committed by the next [`WriteBackCache::commit`]).
    pub fn put(&mut self, table: &StateTable, key: &[u8], value: Bytes) -> Result<()> {
        check_key(table, key)?;
        check_value(table, &value)?;
        self.write(table, key, Some(value));
        Ok(())
    }

    /// Removes `key` from `table` (at the next commit).
    pub fn delete(&mut self, table: &StateTable, key: &[u8]) -> Result<()> {
        check_key(table, key)?;
        self.write(table, key, None);
        Ok(())
    }

    fn write(&mut self, table: &StateTable, key: &[u8], value: Option<Bytes>) {
        table.store_key_into(key, &mut self.scratch);
        let new_bytes = entry_bytes(&self.scratch, value.as_ref());
        if let Some(entry) = self.entries.get_mut(&self.scratch[..]) {
            let old_bytes = entry_bytes(&self.scratch, entry.value.as_ref());
            self.bytes = self.bytes + new_bytes - old_bytes;
            entry.value = value;
            entry.referenced = true;
            let was_dirty = std::mem::replace(&mut entry.dirty, true);
            if was_dirty {
                self.dirty_bytes = self.dirty_bytes + new_bytes - old_bytes;
            } else {
                self.dirty_bytes += new_bytes;
                self.mark_dirty(Bytes::copy_from_slice(&self.scratch));
            }
            return;
        }
        self.bytes += new_bytes;
        self.dirty_bytes += new_bytes;
        self.mark_dirty(Bytes::copy_from_slice(&self.scratch));
        self.entries.insert(
            StoreKey::from_slice(&self.scratch),
            Entry {
                value,
                dirty: true,
                referenced: true,
            },
        );
    }

    /// Records a newly dirty store key (each key once until the next commit).
    fn mark_dirty(&mut self, store_key: Bytes) {
        if let Some(ordered) = &mut self.ordered {
            ordered.insert(store_key.clone());
        }
        self.dirty.push(store_key);
    }

    /// What the cache holds, in bytes (keys, values, per-entry overhead): for metrics.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keys written since the last commit.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// True once the dirty entries take half the budget: commit soon, or the cache grows
    /// past it (dirty entries cannot be evicted).
    pub fn should_commit(&self) -> bool {
        self.dirty_bytes >= self.bytes_max / 2
    }

    /// Commits every write since the last commit, with `checkpoint`, as one atomic batch,
    /// and waits for it: [`WriteBackCache::start_commit`] then [`WriteBackCache::settle`].
    pub fn commit(&mut self, checkpoint: Bytes) -> Result<()> {
        self.start_commit(checkpoint, Box::new(|| {}))?;
        self.settle()
    }

    /// Starts committing every write since the last commit, with `checkpoint`, as one
    /// atomic batch, and returns: the store writes it on tokio's blocking pool (inline when
    /// there is no runtime), then runs `landed`. A commit still in flight is settled first,
    /// so an `Err` may be that one's. On `Err` the store's state is unknown (see
    /// [`StateStore::commit`]) and the cache empties itself: drop it, reopen the store,
    /// resume from its checkpoint.
    pub fn start_commit(&mut self, checkpoint: Bytes, landed: CommitLanded) -> Result<()> {
        self.settle()?;
        let mut batch = WriteBatch::new();
        batch.set_checkpoint(checkpoint)?;
        for store_key in self.dirty.drain(..) {
            let entry = self
                .entries
                .get_mut(&store_key[..])
                .expect("a dirty entry is never evicted");
            debug_assert!(entry.dirty, "the dirty list holds only dirty entries");
            entry.dirty = false;
            batch.push_checked(store_key, entry.value.clone());
        }
        self.landing = self.ordered.take();
        self.dirty_bytes = 0;
        let store = Arc::clone(&self.store);
        let latency = self.commit_latency.clone();
        let job = move || {
            let started = Instant::now();
            store.commit(batch)?;
            let took = started.elapsed();
            if let Some(histogram) = latency {
                histogram.observe(took);
            }
            landed();
            Ok(took)
        };
        let (report, outcome) = mpsc::sync_channel(1);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // Dropped unsent if the job panics: `settle` reads that as a failure.
                runtime.spawn_blocking(move || report.send(job()));
            }
            Err(_) => {
                // The receiver is alive and the channel has room: the send cannot fail.
                let _ = report.send(job());
            }
        }
        self.in_flight = Some(outcome);
        Ok(())
    }

    /// Waits for the commit in flight, if any, then evicts clean entries over the budget.
    /// On `Err` (the commit failed) the cache empties itself, as after a failed
    /// [`WriteBackCache::start_commit`].
    pub fn settle(&mut self) -> Result<()> {
        let Some(outcome) = self.in_flight.take() else {
            return Ok(());
        };
        self.landing = None;
        let outcome = outcome.recv().unwrap_or_else(|_| {
            Err(EngineError::internal("a state commit stopped before it finished"))
        });
        match outcome {
            Ok(took) => {
                self.last_commit_took = took;
                self.evict();
                Ok(())
            }
            Err(e) => {
                // Whether the batch landed is unknown: keep nothing that could disagree
                // with the store (reads reload from it), not even later writes.
                self.entries.clear();
                self.dirty.clear();
                self.ordered = None;
                self.bytes = 0;
                self.dirty_bytes = 0;
                Err(e)
            }
        }
    }

    /// How long the store took over the last commit that landed (settled).
    pub fn last_commit_took(&self) -> Duration {
        self.last_commit_took
    }

    /// Forgets every write since the last commit: the cache is back at the committed state
    /// (a batch whose outputs could not be written).
    pub fn rollback(&mut self) {
        // A write forgotten here reloads from the store: the commit before it must be
        // there first.
        if let Err(e) = self.settle() {
            tracing::warn!(error = %e, "state commit failed before a rollback");
        }
        for store_key in self.dirty.drain(..) {
            if let Some(entry) = self.entries.remove(&store_key[..]) {
                self.bytes -= entry_bytes(&store_key, entry.value.as_ref());
            }
        }
        self.ordered = None;
        self.dirty_bytes = 0;
    }

    /// Evicts clean entries while over budget, down to 7/8 of it: first those not used
    /// since the last pass, then any, so a hot set smaller than the budget stays cached.
    fn evict(&mut self) {
        if self.bytes <= self.bytes_max {
            return;
        }
        let low_water = self.bytes_max / 8 * 7;
        for second_pass in [false, true] {
            let bytes = &mut self.bytes;
            self.entries.retain(|store_key, entry| {
                if *bytes <= low_water || entry.dirty || (entry.referenced && !second_pass) {
                    entry.referenced = false;
                    return true;
                }
                *bytes -= entry_bytes(store_key, entry.value.as_ref());
                false
            });
            if self.bytes <= low_water {
                break;
            }
        }
        tracing::debug!(
            entries = self.entries.len(),
            bytes = self.bytes,
            "state cache evicted"
        );
    }

    /// Keys of `table` within `from`..`to` as this task sees them (committed state with its
    /// uncommitted writes over it), in key order. The first range since a commit orders the
    /// dirty keys (O(d log d)); later ones find theirs in O(log d).
    pub fn range(
        &mut self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<MergedIter<'_>> {
        self.settle_unless_ordered()?;
        let committed = self.store.range(table, from, to)?;
        let (from, to) = table.store_range(from, to);
        Ok(self.merged(table, committed, from, to))
    }

    /// Keys of `table` starting with `prefix`, as [`WriteBackCache::range`] sees them.
    pub fn prefix(&mut self, table: &StateTable, prefix: &[u8]) -> Result<MergedIter<'_>> {
        self.settle_unless_ordered()?;
        let committed = self.store.prefix(table, prefix)?;
        let (from, to) = table.store_prefix_range(prefix);
        Ok(self.merged(table, committed, from, to))
    }

    /// Before a range: a commit in flight whose keys are not kept in order cannot be merged
    /// over the store, so it must land first.
    fn settle_unless_ordered(&mut self) -> Result<()> {
        match self.landing {
            Some(_) => Ok(()),
            None => self.settle(),
        }
    }

    fn merged(
        &mut self,
        table: &StateTable,
        committed: KeyValueIter,
        from: Bound<Vec<u8>>,
        to: Bound<Vec<u8>>,
    ) -> MergedIter<'_> {
        let dirty = &self.dirty;
        let ordered = self
            .ordered
            .get_or_insert_with(|| dirty.iter().cloned().collect());
        let (from, to) = (from.as_ref().map(|b| &b[..]), to.as_ref().map(|b| &b[..]));
        let empty: &[u8] = &[];
        // `BTreeSet::range` panics on a reversed range; an empty one stands in for it.
        let bounds = if is_empty_range(from, to) {
            (Bound::Included(empty), Bound::Excluded(empty))
        } else {
            (from, to)
        };
        let overlay = OverlayKeys {
            dirty: ordered.range::<[u8], _>(bounds).peekable(),
            landing: self
                .landing
                .as_ref()
                .map(|landing| landing.range::<[u8], _>(bounds).peekable()),
        };
        MergedIter {
            committed: committed.peekable(),
            dirty: overlay.peekable(),
            entries: &self.entries,
            prefix_len: table.prefix().len(),
        }
    }
}

impl Drop for WriteBackCache {
    /// A commit in flight finishes before the cache goes: whoever drops it (a stopped or
    /// dropped query) may remove the store next.
    fn drop(&mut self) {
        if let Err(e) = self.settle() {
            tracing::warn!(error = %e, "state commit failed as its cache closed");
        }
    }
}

type KeyRange<'a> = Peekable<std::collections::btree_set::Range<'a, Bytes>>;

/// The store keys whose cached value a range lays over the store's: the dirty ones and the
/// landing commit's (which the store may not hold yet), each once, in key order. Their
/// values are the entries' (a key written again since it started landing: the newer).
struct OverlayKeys<'a> {
    dirty: KeyRange<'a>,
    landing: Option<KeyRange<'a>>,
}

impl<'a> Iterator for OverlayKeys<'a> {
    type Item = &'a Bytes;

    fn next(&mut self) -> Option<&'a Bytes> {
        let Some(landing) = &mut self.landing else {
            return self.dirty.next();
        };
        match (self.dirty.peek(), landing.peek()) {
            (_, None) => self.dirty.next(),
            (None, Some(_)) => landing.next(),
            (Some(d), Some(l)) => match d.cmp(l) {
                std::cmp::Ordering::Less => self.dirty.next(),
                std::cmp::Ordering::Greater => landing.next(),
                std::cmp::Ordering::Equal => {
                    landing.next();
                    self.dirty.next()
                }
            },
        }
    }
}

/// Committed keys merged with the cache's dirty and landing entries, in key order; a cached
/// entry replaces (or, if deleted, hides) the committed key.
pub struct MergedIter<'a> {
    committed: Peekable<KeyValueIter>,
    dirty: Peekable<OverlayKeys<'a>>,
    entries: &'a HashMap<StoreKey, Entry>,
    prefix_len: usize,
}

impl MergedIter<'_> {
    /// The next dirty entry as (table key, value), `None` value when deleted.
    fn take_dirty(&mut self) -> Option<(Bytes, Option<Bytes>)> {
        let store_key = self.dirty.next()?;
        let entry = &self.entries[&store_key[..]];
        Some((store_key.slice(self.prefix_len..), entry.value.clone()))
    }
}

impl Iterator for MergedIter<'_> {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let dirty_key = self.dirty.peek().map(|k| &k[self.prefix_len..]);
            let committed_key = match self.committed.peek() {
                Some(Ok((key, _))) => Some(&key[..]),
                Some(Err(_)) => return self.committed.next(),
                None => None,
            };
            let take_dirty = match (committed_key, dirty_key) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(c), Some(d)) if c < d => false,
                (Some(c), Some(d)) => {
                    if c == d {
                        // The dirty entry replaces the committed one.
                        self.committed.next();
                    }
                    true
                }
            };
            if !take_dirty {
                return self.committed.next();
            }
            let (key, value) = self.take_dirty().expect("a dirty key was peeked");
            // A key deleted since the last commit is hidden.
            if let Some(value) = value {
                return Some(Ok((key, value)));
            }
        }
    }
}
