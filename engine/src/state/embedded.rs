//! [`EmbeddedStore`]: the durable state store, one redb file per query.
//!
//! ```text
//!  <store dir>/state.redb   a copy-on-write B-tree file: one table "state", keys in order
//!  commit(batch) ──► one write transaction (writes + checkpoint key), quick-repair on,
//!                    Durability::Immediate (FsyncPolicy::Always) ──► new root published
//!  get / range / snapshot ──► a read transaction: an MVCC snapshot of the last commit,
//!                             never blocked by the writer, never a partial batch; one
//!                             per commit, shared by the reads until the next commit
//!  open after kill -9 ──► the last durable root and its saved allocator state: no replay,
//!                          no walk of the file, whatever its size
//! ```
//!
//! Why redb over fjall, measured on this 2-core VM for the issue-10 workload (GROUP BY,
//! 100k keys, through [`WriteBackCache`](super::WriteBackCache), fsync per commit; load
//! average 5–11 from other builds, so CPU time per row is the steadier figure):
//!
//! | | redb 4.6, quick-repair | fjall 3.1 |
//! |---|---|---|
//! | commit every 1,000 ms (2M rows) | 0.69 µs/row CPU, 0.99 M rows/s | 0.76 µs/row, 0.86 M rows/s |
//! | commit every 100 ms | 2.06 µs/row, 0.31 M rows/s | 2.96 µs/row, 0.16 M rows/s |
//! | commit every 10 ms | 4.36 µs/row | 4.23 µs/row |
//! | point gets, other thread, during the 1,000 ms run | 50k/s paced: p99 4.2 µs, p99.9 28 µs; flat out 111k/s | p99 7.6 µs, p99.9 508 µs; 86k/s |
//! | reopen of 1M keys after `kill -9` | **8 ms** | **2.1 s** (replays its journal, which it rotates only past 64 MB) |
//!
//! fjall's commits cost the same whatever the table's size, while redb rewrites every page a
//! commit touches: with 1M keys and ~95k dirty keys per commit, redb took 15 µs per dirty
//! key against fjall's 5.6. The write-back cache's coalescing (a longer commit interval
//! writes each hot key once) is what keeps that in check. Without quick-repair redb walks the
//! whole file after a crash (169 ms at 1M keys, growing with size), so every commit sets it.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};

use super::batch::WriteBatch;
use super::table_key::{is_empty_range, StateTable, CHECKPOINT_KEY};
use super::{KeyValueIter, StateRead, StateStore};

/// redb's page cache per store, in bytes (redb's own default is 1 GiB).
///
/// Hot keys of a running query live in its `WriteBackCache`; this cache serves pull queries'
/// reads and holds the pages a commit rewrites. 32 MiB holds a 100k-key table whole (~5 MB
/// on disk) and the upper levels of a multi-million-key one; dozens of queries then cost
/// hundreds of MiB at most.
pub const PAGE_CACHE_BYTES_DEFAULT: usize = 32 * 1024 * 1024;

/// How embedded stores are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateConfig {
    /// When a commit reaches the disk: as for the log (`--fsync`), `Always` fsyncs every
    /// commit, `IntervalMs` at most every so often, `Never` leaves it to the OS.
    pub fsync: FsyncPolicy,
    /// See [`PAGE_CACHE_BYTES_DEFAULT`].
    pub page_cache_bytes: usize,
}

impl Default for StateConfig {
    fn default() -> StateConfig {
        StateConfig {
            fsync: FsyncPolicy::Always,
            page_cache_bytes: PAGE_CACHE_BYTES_DEFAULT,
        }
    }
}

use crate::error::{EngineError, Result};
use crate::log::FsyncPolicy;

/// The store's file inside its directory.
pub const STORE_FILE: &str = "state.redb";

/// The one redb table of a store; [`StateTable`]s are key prefixes inside it (see
/// `table_key`), so a commit over several of them is one transaction of one tree.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");

/// Most commits in a row without an fsync (`FsyncPolicy::Never`/`IntervalMs`) before one is
/// made durable anyway.
///
/// redb cannot reuse the pages a non-durable commit frees until a durable commit, and keeps
/// the record of them in memory; one durable commit per 1,000 bounds both.
pub const NON_DURABLE_COMMITS_MAX: u32 = 1_000;

/// A durable state store in its own directory.
pub struct EmbeddedStore {
    dir: PathBuf,
    db: Database,
    fsync: FsyncPolicy,
    /// Serializes commits; tracks when the last durable one was.
    writer: Mutex<WriterState>,
    /// The last commit's snapshot, shared by every read until the next commit clears it.
    ///
    /// A redb read transaction costs a registration in its tracker and a lookup of the
    /// table's root (~13% of a pull query's server CPU when each read began its own), and a
    /// persistent query's cache misses and a pull query's lookups mostly read one commit.
    /// Clearing it at each commit keeps it from pinning pages a later commit frees.
    latest: Mutex<Option<Arc<EmbeddedSnapshot>>>,
}

struct WriterState {
    last_durable: Instant,
    non_durable_commits: u32,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .field("fsync", &self.fsync)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`, at its last durable commit. Fails with
    /// `Conflict` if another handle has it open.
    pub fn open(dir: &Path, config: &StateConfig) -> Result<EmbeddedStore> {
        let started = Instant::now();
        std::fs::create_dir_all(dir)?;
        let path = dir.join(STORE_FILE);
        let db = Database::builder()
            .set_cache_size(config.page_cache_bytes)
            .create(&path)
            .map_err(|e| store_error(dir, e))?;
        // Create the table so readers never find it missing.
        let store = EmbeddedStore {
            dir: dir.to_owned(),
            db,
            fsync: config.fsync,
            writer: Mutex::new(WriterState {
                last_durable: Instant::now(),
                non_durable_commits: 0,
            }),
            latest: Mutex::new(None),
        };
        store.write(|_| Ok(()))?;
        tracing::debug!(store = %dir.display(), elapsed_ms = started.elapsed().as_millis(),
            "opened state store");
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `apply` in one write transaction and commits it as durably as the policy says.
    fn write(
        &self,
        apply: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<()>,
    ) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .expect("a commit never panics while holding the lock");
        let durable = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::IntervalMs(ms) => {
                writer.last_durable.elapsed().as_millis() >= u128::from(ms)
                    || writer.non_durable_commits >= NON_DURABLE_COMMITS_MAX
            }
            FsyncPolicy::Never => writer.non_durable_commits >= NON_DURABLE_COMMITS_MAX,
        };
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| store_error(&self.dir, e))?;
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| store_error(&self.dir, e))?;
        // Saves the allocator state with the commit, so a restart after a crash needs no
        // walk of the whole file (see the module docs).
        txn.set_quick_repair(true);
        {
            let mut table = txn
                .open_table(TABLE)
                .map_err(|e| store_error(&self.dir, e))?;
            apply(&mut table)?;
        }
        txn.commit().map_err(|e| store_error(&self.dir, e))?;
        // After the commit, so a read that starts once this returns sees it (see `shared`).
        *self.latest.lock().expect("never poisoned") = None;
        if durable {
            writer.last_durable = Instant::now();
            writer.non_durable_commits = 0;
        } else {
            writer.non_durable_commits += 1;
        }
        Ok(())
    }
}

impl EmbeddedStore {
    /// A snapshot of the last commit, shared with other reads of the same commit.
    ///
    /// It is created under the `latest` lock, which a commit takes after it completes to
    /// clear the cache: a snapshot begun before the commit is either cleared by it or was
    /// never cached, so no read that starts after a commit returns sees an older one.
    fn shared(&self) -> Result<Arc<EmbeddedSnapshot>> {
        let mut latest = self.latest.lock().expect("never poisoned");
        if let Some(snapshot) = &*latest {
            return Ok(Arc::clone(snapshot));
        }
        let snapshot = Arc::new(EmbeddedSnapshot::new(self)?);
        *latest = Some(Arc::clone(&snapshot));
        Ok(snapshot)
    }
}

impl StateRead for EmbeddedStore {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        self.shared()?.get(table, key)
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        self.shared()?.range(table, from, to)
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        self.shared()?.prefix(table, prefix)
    }
}

impl StateStore for EmbeddedStore {
    fn snapshot(&self) -> Result<Box<dyn StateRead>> {
        Ok(Box::new(self.shared()?))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let (writes, checkpoint) = batch.into_parts();
        let dir = &self.dir;
        self.write(|table| {
            for write in &writes {
                match &write.value {
                    Some(value) => table.insert(&write.store_key[..], &value[..]),
                    None => table.remove(&write.store_key[..]).map(|_| None),
                }
                .map_err(|e| store_error(dir, e))?;
            }
            if let Some(checkpoint) = &checkpoint {
                table
                    .insert(CHECKPOINT_KEY, &checkpoint[..])
                    .map_err(|e| store_error(dir, e))?;
            }
            Ok(())
        })
    }

    fn checkpoint(&self) -> Result<Option<Bytes>> {
        let snapshot = EmbeddedSnapshot::new(self)?;
        let value = snapshot
            .table
            .get(CHECKPOINT_KEY)
            .map_err(|e| store_error(&self.dir, e))?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }

    fn approximate_size_bytes(&self) -> u64 {
        match std::fs::metadata(self.dir.join(STORE_FILE)) {
            Ok(meta) => meta.len(),
            Err(e) => {
                tracing::warn!(store = %self.dir.display(), error = %e, "state store size unknown");
                0
            }
        }
    }

    fn clear(&self) -> Result<()> {
        let dir = &self.dir;
        self.write(|table| table.retain(|_, _| false).map_err(|e| store_error(dir, e)))
    }
}

/// Reads of one commit: a redb read transaction's table.
struct EmbeddedSnapshot {
    dir: PathBuf,
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl EmbeddedSnapshot {
    fn new(store: &EmbeddedStore) -> Result<EmbeddedSnapshot> {
        let txn = store
            .db
            .begin_read()
            .map_err(|e| store_error(&store.dir, e))?;
        let table = txn
            .open_table(TABLE)
            .map_err(|e| store_error(&store.dir, e))?;
        Ok(EmbeddedSnapshot {
            dir: store.dir.clone(),
            table,
        })
    }

    fn iter(
        &self,
        table: &StateTable,
        from: Bound<Vec<u8>>,
        to: Bound<Vec<u8>>,
    ) -> Result<KeyValueIter> {
        let (from, to) = (from.as_ref().map(|b| &b[..]), to.as_ref().map(|b| &b[..]));
        if is_empty_range(from, to) {
            return Ok(Box::new(std::iter::empty()));
        }
        let range = self
            .table
            .range::<&[u8]>((from, to))
            .map_err(|e| store_error(&self.dir, e))?;
        let (table, dir) = (table.clone(), self.dir.clone());
        Ok(Box::new(range.map(move |entry| {
            let (key, value) = entry.map_err(|e| store_error(&dir, e))?;
            let key = table.user_key(Bytes::copy_from_slice(key.value()))?;
            Ok((key, Bytes::copy_from_slice(value.value())))
        })))
    }
}

impl StateRead for Arc<EmbeddedSnapshot> {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        (**self).get(table, key)
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        (**self).range(table, from, to)
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        (**self).prefix(table, prefix)
    }
}

impl StateRead for EmbeddedSnapshot {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        let value = self
            .table
            .get(&table.store_key(key)[..])
            .map_err(|e| store_error(&self.dir, e))?;
        Ok(value.map(|v| Bytes::copy_from_slice(v.value())))
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        let (from, to) = table.store_range(from, to);
        self.iter(table, from, to)
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        let (from, to) = table.store_prefix_range(prefix);
        self.iter(table, from, to)
    }
}

/// redb's error as the engine's: I/O stays I/O, a store open elsewhere is a conflict, and
/// the rest (a corrupt file, a failed earlier write) is corruption the store cannot repair
/// by itself.
fn store_error(dir: &Path, error: impl Into<redb::Error>) -> EngineError {
    match error.into() {
        redb::Error::Io(e) => EngineError::from(e),
        redb::Error::DatabaseAlreadyOpen => {
            EngineError::conflict(format!("state store {} is already open", dir.display()))
        }
        other => EngineError::corrupt(format!("state store {}: {other}", dir.display())),
    }
}
