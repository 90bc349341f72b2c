//! [`ChangelogStore`]: a local store whose every commit is first copied to the query's
//! changelog (on Kafka, a compacted topic), so whichever node runs the query next restores
//! the state from the changelog instead of rebuilding it from the query's sources.
//!
//! ```text
//!  commit(batch):  changelog: one transaction [ writes…, MARKER(seq, checkpoint) ]
//!                  then local: writes + checkpoint + seq          (both, or the query stops)
//!  open:           changelog's last marker  vs  local seq
//!                    same      ─► the local store is current
//!                    different ─► clear local, replay the changelog into it (this node's
//!                                 copy is stale: another node committed since)
//!                    no marker ─► clear local (a new changelog: the query starts over)
//! ```
//!
//! The marker closes every commit's transaction and carries the store's checkpoint, so the
//! changelog read to its end (committed transactions only) is the state at the last
//! marker's checkpoint. Each marker has the same key, so compaction keeps only the last one;
//! every marker therefore carries the whole current checkpoint, not only a change of it.
//! The sequence number tells copies apart: the writer continues from the marker it
//! restored, and opening a changelog fences its previous writer (Kafka's transactional id),
//! so the sequence grows along one history. A changelog write or local commit that fails
//! poisons the store (the state is no longer known to match the changelog): it refuses
//! further commits, and the query's restart reopens it.

use std::fmt::Debug;
use std::iter;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::batch::WriteBatch;
use super::table_key::StateTable;
use super::{KeyValueIter, StateRead, StateStore};
use crate::error::{EngineError, Result};

/// Key of the commit marker that closes each commit in the changelog. A store key starts
/// with its table name's length, never 0, so no state key can be this.
const MARKER_KEY: &[u8] = b"\0commit";

/// Table of the local store holding the sequence number of the changelog commit it is at.
/// Never written to the changelog.
const META_TABLE: &str = "changelog-meta";

/// Key of that sequence number in [`META_TABLE`].
const SEQ_KEY: &[u8] = b"seq";

/// How many changelog records the first look for the last marker reads back from the end;
/// each further look reads eight times more (a commit of many keys puts its marker further
/// back than one commit's markers are apart).
pub const MARKER_PROBE_RECORDS: u64 = 1024;

/// Key and value bytes a restore applies to the local store per commit: bounds a restore's
/// memory whatever the changelog's size.
pub const RESTORE_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// What a changelog read calls with each record: its key and value (`None`: a delete).
pub type RecordVisitor<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Result<()> + 'a;

/// A query's changelog: transactions of keyed records, read back committed only.
pub trait Changelog: Send + Debug {
    /// Appends `records` (key, value; `None` deletes) as one transaction.
    fn write(&mut self, records: &mut dyn Iterator<Item = (&[u8], Option<&[u8]>)>) -> Result<()>;
    /// The first position and the end; every transaction committed before the call is
    /// below the end.
    fn bounds(&self) -> Result<(u64, u64)>;
    /// Calls `visit` with every committed record in positions `[from, to)`, in order.
    fn read(
        &self,
        from: u64,
        to: u64,
        visit: &mut RecordVisitor<'_>,
    ) -> Result<()>;
    /// Empties the changelog.
    fn reset(&mut self) -> Result<()>;
}

/// Where the changelogs of a service's queries live.
pub trait Changelogs: Send + Sync + Debug {
    /// Query `query_id`'s changelog, created if missing, its previous writer fenced.
    fn open(&self, query_id: &str) -> Result<Box<dyn Changelog>>;
    /// Removes query `query_id`'s changelog (a missing one is no error).
    fn remove(&self, query_id: &str) -> Result<()>;
}

/// A local store kept in step with a changelog (see the module docs).
#[derive(Debug)]
pub struct ChangelogStore {
    local: Arc<dyn StateStore>,
    log: Mutex<Logged>,
    /// Changelog records the open replayed into the local store (0: it was current).
    restored_records: u64,
}

#[derive(Debug)]
struct Logged {
    changelog: Box<dyn Changelog>,
    /// Sequence number of the last commit, in both copies.
    seq: u64,
    /// A commit failed between the two copies: they may differ.
    poisoned: bool,
}

/// A decoded commit marker.
struct Marker {
    seq: u64,
    checkpoint: Option<Bytes>,
}

impl ChangelogStore {
    /// Brings `local` to the changelog's last commit (see the module docs) and returns the
    /// two as one store. Blocking: a restore reads the whole changelog.
    pub fn open(local: Arc<dyn StateStore>, changelog: Box<dyn Changelog>) -> Result<Self> {
        Self::open_restoring_in(local, changelog, RESTORE_BATCH_BYTES_MAX)
    }

    /// [`ChangelogStore::open`], a restore committing every `batch_bytes_max` bytes.
    pub(super) fn open_restoring_in(
        local: Arc<dyn StateStore>,
        changelog: Box<dyn Changelog>,
        batch_bytes_max: usize,
    ) -> Result<Self> {
        let meta = meta_table();
        let local_seq = local.get(&meta, SEQ_KEY)?.map(|v| decode_seq(&v)).transpose()?;
        let (low, high) = changelog.bounds()?;
        let (seq, restored_records) = match last_marker(changelog.as_ref(), low, high)? {
            Some(marker) if Some(marker.seq) == local_seq => (marker.seq, 0),
            Some(_) => restore(local.as_ref(), changelog.as_ref(), (low, high), batch_bytes_max)?,
            None => {
                local.clear()?;
                (new_history(), 0)
            }
        };
        Ok(ChangelogStore {
            local,
            log: Mutex::new(Logged {
                changelog,
                seq,
                poisoned: false,
            }),
            restored_records,
        })
    }

    /// Changelog records opening this store replayed into its local copy: 0 when that copy
    /// was current.
    pub fn restored_records(&self) -> u64 {
        self.restored_records
    }

    fn lock(&self) -> MutexGuard<'_, Logged> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sequence number a new changelog history starts from: random, so a stale local copy
/// of another history (a changelog deleted and made anew) never has a number this history
/// reaches (2^-30 odds over a billion commits).
fn new_history() -> u64 {
    rand::random::<u64>() >> 2
}

fn meta_table() -> StateTable {
    StateTable::new(META_TABLE).expect("a valid table name")
}

/// The last commit marker of the changelog, reading back from its end in growing steps.
fn last_marker(changelog: &dyn Changelog, low: u64, high: u64) -> Result<Option<Marker>> {
    let mut span = MARKER_PROBE_RECORDS;
    loop {
        let from = high.saturating_sub(span).max(low);
        let mut last = None;
        changelog.read(from, high, &mut |key, value| {
            if key == MARKER_KEY {
                last = Some(decode_marker(value)?);
            }
            Ok(())
        })?;
        if last.is_some() || from == low {
            return Ok(last);
        }
        span = span.saturating_mul(8);
    }
}

/// Empties `local` and replays the changelog's `[low, high)` into it, in commits of at
/// most `batch_bytes_max`; the last carries the last marker's checkpoint and sequence
/// number (a crash before it leaves a store with neither, which the next open restores
/// again). Returns that sequence number and how many records it replayed.
fn restore(
    local: &dyn StateStore,
    changelog: &dyn Changelog,
    (low, high): (u64, u64),
    batch_bytes_max: usize,
) -> Result<(u64, u64)> {
    local.clear()?;
    let mut batch = WriteBatch::new();
    let mut last = None;
    let mut records = 0u64;
    changelog.read(low, high, &mut |key, value| {
        if key == MARKER_KEY {
            last = Some(decode_marker(value)?);
            return Ok(());
        }
        records += 1;
        batch.push_checked(Bytes::copy_from_slice(key), value.map(Bytes::copy_from_slice));
        if batch.bytes() >= batch_bytes_max {
            local.commit(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    let Some(marker) = last else {
        return Err(EngineError::corrupt(
            "the state changelog lost its last commit marker during a restore",
        ));
    };
    if let Some(checkpoint) = marker.checkpoint {
        batch.set_checkpoint(checkpoint)?;
    }
    batch.put(&meta_table(), SEQ_KEY, encode_seq(marker.seq))?;
    local.commit(batch)?;
    tracing::info!(records, seq = marker.seq, "restored a state store from its changelog");
    Ok((marker.seq, records))
}

fn encode_seq(seq: u64) -> Bytes {
    Bytes::copy_from_slice(&seq.to_le_bytes())
}

fn decode_seq(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| EngineError::corrupt("a state store's changelog sequence number is not 8 bytes"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// `seq:u64 LE`, then `1` and the checkpoint, or `0` for none.
fn encode_marker(seq: u64, checkpoint: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + checkpoint.map_or(0, <[u8]>::len));
    out.extend_from_slice(&seq.to_le_bytes());
    match checkpoint {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(c);
        }
        None => out.push(0),
    }
    out
}

fn decode_marker(value: Option<&[u8]>) -> Result<Marker> {
    let bad = || EngineError::corrupt("a state changelog holds a malformed commit marker");
    let value = value.ok_or_else(bad)?;
    if value.len() < 9 {
        return Err(bad());
    }
    let seq = decode_seq(&value[..8])?;
    let checkpoint = match value[8] {
        0 => None,
        1 => Some(Bytes::copy_from_slice(&value[9..])),
        _ => return Err(bad()),
    };
    Ok(Marker { seq, checkpoint })
}

impl StateRead for ChangelogStore {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        self.local.get(table, key)
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        self.local.range(table, from, to)
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        self.local.prefix(table, prefix)
    }
}

impl StateStore for ChangelogStore {
    fn snapshot(&self) -> Result<Box<dyn StateRead>> {
        self.local.snapshot()
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let mut log = self.lock();
        if log.poisoned {
            return Err(EngineError::internal(
                "an earlier state commit failed between the store and its changelog; \
                 the query must reopen its store",
            ));
        }
        let (writes, checkpoint) = batch.into_parts();
        let checkpoint = match checkpoint {
            Some(c) => Some(c),
            None => self.local.checkpoint()?,
        };
        let seq = log.seq + 1;
        let marker = encode_marker(seq, checkpoint.as_deref());
        log.poisoned = true;
        let mut records = writes
            .iter()
            .map(|w| (&w.store_key[..], w.value.as_deref()))
            .chain(iter::once((MARKER_KEY, Some(&marker[..]))));
        log.changelog.write(&mut records)?;
        let mut local = WriteBatch::new();
        for write in writes {
            local.push_checked(write.store_key, write.value);
        }
        if let Some(checkpoint) = checkpoint {
            local.set_checkpoint(checkpoint)?;
        }
        local.put(&meta_table(), SEQ_KEY, encode_seq(seq))?;
        self.local.commit(local)?;
        log.seq = seq;
        log.poisoned = false;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Option<Bytes>> {
        self.local.checkpoint()
    }

    fn approximate_size_bytes(&self) -> u64 {
        self.local.approximate_size_bytes()
    }

    /// Empties the changelog, then the local store, and starts a new history: a crash in
    /// between leaves a changelog without a marker, and the next open clears the local
    /// store too.
    fn clear(&self) -> Result<()> {
        let mut log = self.lock();
        log.poisoned = true;
        let (low, high) = log.changelog.bounds()?;
        if low < high {
            log.changelog.reset()?;
        }
        self.local.clear()?;
        log.seq = new_history();
        log.poisoned = false;
        Ok(())
    }
}
