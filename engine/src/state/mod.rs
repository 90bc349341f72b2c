//! State stores: what stateful operators (aggregates, windows, joins) keep between rows, and
//! what materialized pull queries read.
//!
//! ```text
//!  operator task (one writer per store)              pull queries (any thread)
//!    │ get / put / delete                              │ get / range / prefix / snapshot
//!    ▼                                                 │   (committed state only)
//!  WriteBackCache (hot keys in memory, dirty set)      │
//!    │ commit(checkpoint): one WriteBatch, written     │
//!    │   on a blocking-pool thread while it goes on    │
//!    ▼                                                 ▼
//!  StateStore ── MemoryStore (BTreeMap; tests)   EmbeddedStore (redb B-tree, one per query)
//!                 both: a batch and its checkpoint land atomically, or not at all
//! ```
//!
//! A query owns one store; a store holds several named tables ([`StateTable`]: aggregate
//! values, window state, join buffers, …). Keys and values are bytes. Keys are the key
//! columns' serialized bytes, so scans come back in serialized-key order, as ksqlDB's pull
//! query scans over RocksDB do. Every [`StateStore::commit`] writes a [`WriteBatch`] of puts and
//! deletes over any tables plus an opaque checkpoint (the query's input positions per
//! (topic, partition) and its stream time) as one atomic, durable step, so after `kill -9`
//! a reopened store is exactly at its last commit and [`StateStore::checkpoint`] says where
//! its input resumes.
//!
//! Modules:
//! - `table_key`: a table's name and the store key `[name length][name][key]` that keeps
//!   each table's keys together and in order.
//! - `batch`: [`WriteBatch`], the unit of atomic commit.
//! - `memory`: [`MemoryStore`], a `BTreeMap` behind an `Arc` swapped per commit.
//! - `embedded`: [`EmbeddedStore`], the durable store on redb (a copy-on-write B-tree file).
//! - `write_cache`: [`WriteBackCache`], the operator's in-memory view of hot keys that turns
//!   ~1M read-modify-writes/s into one batch of distinct dirty keys per commit.
//! - `changelog`: [`ChangelogStore`], a store whose commits are first copied to its query's
//!   changelog (a Kafka topic), so the node that runs the query next restores it from there.
//! - `backend`: [`StateBackend`], one store per query under `<data dir>/state/`.
//! - `tests`: one contract suite run against both stores and a `kill -9` test of a child
//!   process that commits batches; `tests/write_cache` (the cache, commits in flight
//!   included) and `tests/model` (model-based property tests) beside it.
//!
//! Why redb rather than fjall, and why the cache: measurements in `embedded`'s docs.
//!
//! On the Kafka backend a store is also copied to a changelog topic, as ksqlDB backs its
//! stores (one topic per query rather than per store; the local store stays the copy reads
//! use). Non-goals: standby replicas, TTL/retention of window state (the window operator
//! deletes what its grace period expires).

use std::ops::Bound;

use bytes::Bytes;

use crate::error::Result;

mod backend;
mod batch;
mod changelog;
mod embedded;
mod memory;
mod table_key;
#[cfg(test)]
mod tests;
mod write_cache;

pub use backend::StateBackend;
pub use batch::WriteBatch;
pub use changelog::{
    Changelog, ChangelogStore, Changelogs, RecordVisitor, MARKER_PROBE_RECORDS,
    RESTORE_BATCH_BYTES_MAX,
};
pub use embedded::{
    EmbeddedStore, StateConfig, NON_DURABLE_COMMITS_MAX, PAGE_CACHE_BYTES_DEFAULT, STORE_FILE,
};
pub use memory::MemoryStore;
pub use table_key::{StateTable, TABLE_NAME_BYTES_MAX};
pub use write_cache::{CommitLanded, MergedIter, WriteBackCache, CACHE_BYTES_DEFAULT};

/// One query's write-back cache, shared by the steps of its task that write state (the
/// aggregate, the materialized sink table) so their changes commit as one batch.
pub type SharedWriteCache = std::sync::Arc<std::sync::Mutex<WriteBackCache>>;

/// Longest key, in bytes.
///
/// A serialized ksqlDB key is a few columns; 32 KiB leaves room for a window's start/end
/// suffix and keeps several keys per 4 KiB B-tree page in any realistic store.
pub const KEY_BYTES_MAX: usize = 32 * 1024;

/// Largest value, in bytes.
///
/// A value is one aggregate's state (COLLECT_LIST and HISTOGRAM grow with their input) or one
/// buffered join row. Kafka refuses records over ~1 MiB by default, and ksqlDB writes each
/// state value to a changelog topic, so no ksqlDB store holds larger values; 8 MiB leaves
/// headroom without letting one key hold the process's memory.
pub const VALUE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Largest checkpoint, in bytes.
///
/// A checkpoint holds an offset per input (topic, partition) plus the stream time: 16 B each
/// for thousands of partitions fits in well under 1 MiB.
pub const CHECKPOINT_BYTES_MAX: usize = 1024 * 1024;

/// A stream of `(key, value)` pairs from one table, in key order, as of the moment the
/// iterator was made (a later commit does not show). Keys come without their table prefix.
/// `'static` and `Send`, so a pull query can hold one across `await`s on any thread.
pub type KeyValueIter = Box<dyn Iterator<Item = Result<(Bytes, Bytes)>> + Send>;

/// Reads of committed state. Each call sees one commit, never part of one; calls made one
/// after another may see different commits (use [`StateStore::snapshot`] for several reads
/// of the same commit).
pub trait StateRead: Send + Sync {
    /// The value committed for `key` in `table`.
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>>;

    /// Keys of `table` within `from`..`to`, in key order.
    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter>;

    /// Keys of `table` that start with `prefix`, in key order.
    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter>;
}

/// One query's state: named tables of byte keys and values, changed only by atomic,
/// durable commits. Object-safe; shared as `Arc<dyn StateStore>` between the query's task
/// (the one writer) and pull queries on other threads.
pub trait StateStore: StateRead + std::fmt::Debug {
    /// A consistent view of the last commit, for several reads that must agree (a pull
    /// query's `IN` list). Cheap; hold it briefly (it pins old versions in memory).
    fn snapshot(&self) -> Result<Box<dyn StateRead>>;

    /// Applies `batch`'s writes (in order: the last write of a key wins) and its checkpoint
    /// as one step. When this returns `Ok` the commit is durable as the store's fsync policy
    /// says; after a crash the store is at some commit, never between two. On `Err` the
    /// store may or may not hold the batch (a failed fsync leaves it unknown), and the caller
    /// should stop writing and reopen.
    fn commit(&self, batch: WriteBatch) -> Result<()>;

    /// The checkpoint of the last commit that carried one (`None` for a new store).
    fn checkpoint(&self) -> Result<Option<Bytes>>;

    /// Disk (or memory) the store takes, roughly, in bytes: for metrics and `DESCRIBE`.
    fn approximate_size_bytes(&self) -> u64;

    /// Removes every table's keys and the checkpoint, durably: the store is as new.
    fn clear(&self) -> Result<()>;
}
