//! [`MemoryStore`]: the state store for tests, a `BTreeMap` with the durable store's
//! commit semantics (minus durability).
//!
//! The committed map sits behind an `Arc`; readers clone the `Arc` and read without a lock,
//! so they see exactly one commit. A commit applies its whole batch to the map (copying it
//! first if a reader still holds the old one) and only then publishes it, so no reader ever
//! sees half a batch.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::batch::WriteBatch;
use super::table_key::{is_empty_range, StateTable, CHECKPOINT_KEY};
use super::{KeyValueIter, StateRead, StateStore};
use crate::error::Result;

/// One commit's state: every table's store keys and the checkpoint.
#[derive(Debug, Default, Clone)]
struct Committed {
    map: BTreeMap<Bytes, Bytes>,
    /// Key and value bytes in `map`.
    bytes: u64,
}

/// A state store in memory. Survives nothing but is otherwise the same contract as
/// [`EmbeddedStore`](super::EmbeddedStore): the shared test suite runs on both.
#[derive(Debug, Default)]
pub struct MemoryStore {
    committed: RwLock<Arc<Committed>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn current(&self) -> Arc<Committed> {
        self.committed
            .read()
            .expect("a commit never panics while holding the lock")
            .clone()
    }
}

impl StateRead for MemoryStore {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        MemorySnapshot(self.current()).get(table, key)
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        MemorySnapshot(self.current()).range(table, from, to)
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        MemorySnapshot(self.current()).prefix(table, prefix)
    }
}

impl StateStore for MemoryStore {
    fn snapshot(&self) -> Result<Box<dyn StateRead>> {
        Ok(Box::new(MemorySnapshot(self.current())))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let (writes, checkpoint) = batch.into_parts();
        let mut guard = self
            .committed
            .write()
            .expect("a commit never panics while holding the lock");
        // Readers are locked out until the whole batch is in. Take the map out of the lock
        // so `make_mut` copies it only when a snapshot still holds it.
        let mut next = std::mem::take(&mut *guard);
        let state = Arc::make_mut(&mut next);
        let entries = writes
            .into_iter()
            .map(|w| (w.store_key, w.value))
            .chain(checkpoint.map(|c| (Bytes::from_static(CHECKPOINT_KEY), Some(c))));
        for (key, value) in entries {
            let old = match value {
                Some(value) => {
                    state.bytes += (key.len() + value.len()) as u64;
                    state.map.insert(key.clone(), value)
                }
                None => state.map.remove(&key),
            };
            if let Some(old) = old {
                state.bytes -= (key.len() + old.len()) as u64;
            }
        }
        *guard = next;
        Ok(())
    }

    fn checkpoint(&self) -> Result<Option<Bytes>> {
        Ok(self.current().map.get(CHECKPOINT_KEY).cloned())
    }

    fn approximate_size_bytes(&self) -> u64 {
        self.current().bytes
    }

    fn clear(&self) -> Result<()> {
        *self
            .committed
            .write()
            .expect("a commit never panics while holding the lock") = Arc::default();
        Ok(())
    }
}

/// One commit of a [`MemoryStore`], read without locks.
struct MemorySnapshot(Arc<Committed>);

impl StateRead for MemorySnapshot {
    fn get(&self, table: &StateTable, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.0.map.get(&table.store_key(key)[..]).cloned())
    }

    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Result<KeyValueIter> {
        let (from, to) = table.store_range(from, to);
        Ok(Box::new(MemoryIter::new(self.0.clone(), table, from, to)))
    }

    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> Result<KeyValueIter> {
        let (from, to) = table.store_prefix_range(prefix);
        Ok(Box::new(MemoryIter::new(self.0.clone(), table, from, to)))
    }
}

/// Walks a range of one commit's map, one `BTreeMap::range` lookup per step (O(log n)), so
/// it owns its snapshot and needs no borrow.
struct MemoryIter {
    state: Arc<Committed>,
    table: StateTable,
    from: Bound<Bytes>,
    to: Bound<Vec<u8>>,
}

impl MemoryIter {
    fn new(
        state: Arc<Committed>,
        table: &StateTable,
        from: Bound<Vec<u8>>,
        to: Bound<Vec<u8>>,
    ) -> MemoryIter {
        MemoryIter {
            state,
            table: table.clone(),
            from: from.map(Bytes::from),
            to,
        }
    }
}

impl Iterator for MemoryIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        let from = self.from.as_ref().map(|b| &b[..]);
        let to = self.to.as_ref().map(|b| &b[..]);
        if is_empty_range(from, to) {
            return None;
        }
        let (key, value) = self.state.map.range::<[u8], _>((from, to)).next()?;
        let (key, value) = (key.clone(), value.clone());
        self.from = Bound::Excluded(key.clone());
        Some(self.table.user_key(key).map(|k| (k, value)))
    }
}
