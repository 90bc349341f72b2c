//! [`WriteBatch`]: the puts, deletes and checkpoint that one commit applies atomically.
//!
//! Limits are checked as writes are added (so a commit never fails half-applied on a bad
//! write) and the batch hands stores its writes sorted by store key with only the last write
//! of each key kept, so a store applies each key once, in key order (B-tree friendly).

use bytes::Bytes;

use super::table_key::StateTable;
use super::{CHECKPOINT_BYTES_MAX, KEY_BYTES_MAX, VALUE_BYTES_MAX};
use crate::error::{EngineError, Result};

/// One write, by store key. `None` deletes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Write {
    pub(crate) store_key: Bytes,
    pub(crate) value: Option<Bytes>,
}

/// Puts and deletes over any tables of one store, plus the checkpoint they bring the store
/// to. Later writes of a key replace earlier ones.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    writes: Vec<Write>,
    checkpoint: Option<Bytes>,
    /// Key and value bytes added, for callers that bound a batch's memory.
    bytes: usize,
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Sets `key` in `table` to `value`.
    pub fn put(&mut self, table: &StateTable, key: &[u8], value: Bytes) -> Result<()> {
        check_key(table, key)?;
        check_value(table, &value)?;
        self.bytes += key.len() + value.len();
        self.writes.push(Write {
            store_key: table.store_key(key).into(),
            value: Some(value),
        });
        Ok(())
    }

    /// Removes `key` from `table` (nothing happens if it is absent).
    pub fn delete(&mut self, table: &StateTable, key: &[u8]) -> Result<()> {
        check_key(table, key)?;
        self.bytes += key.len();
        self.writes.push(Write {
            store_key: table.store_key(key).into(),
            value: None,
        });
        Ok(())
    }

    /// The checkpoint this commit records (input positions, stream time). A commit without
    /// one keeps the previous checkpoint.
    pub fn set_checkpoint(&mut self, checkpoint: Bytes) -> Result<()> {
        if checkpoint.len() > CHECKPOINT_BYTES_MAX {
            return Err(EngineError::resource_exhausted(format!(
                "state checkpoint of {} bytes exceeds the limit of {CHECKPOINT_BYTES_MAX} bytes",
                checkpoint.len()
            )));
        }
        self.checkpoint = Some(checkpoint);
        Ok(())
    }

    /// Writes added so far (a key written twice counts twice).
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// No writes and no checkpoint: committing it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.checkpoint.is_none()
    }

    /// Key and value bytes added so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a write by store key, already checked against the limits (the write cache's
    /// dirty entries were checked when they were put).
    pub(crate) fn push_checked(&mut self, store_key: Bytes, value: Option<Bytes>) {
        self.bytes += store_key.len() + value.as_ref().map_or(0, Bytes::len);
        self.writes.push(Write { store_key, value });
    }

    /// The writes sorted by store key, last write of each key only, and the checkpoint.
    pub(crate) fn into_parts(self) -> (Vec<Write>, Option<Bytes>) {
        let mut writes = self.writes;
        // Stable, so writes of one key stay in the order they were made.
        writes.sort_by(|a, b| a.store_key.cmp(&b.store_key));
        // `dedup_by` keeps the first of a run and passes (later, earlier): move the later
        // value into the kept one so the last write wins.
        writes.dedup_by(|later, earlier| {
            if later.store_key == earlier.store_key {
                earlier.value = later.value.take();
                true
            } else {
                false
            }
        });
        (writes, self.checkpoint)
    }
}

pub(crate) fn check_value(table: &StateTable, value: &Bytes) -> Result<()> {
    if value.len() > VALUE_BYTES_MAX {
        return Err(EngineError::resource_exhausted(format!(
            "state value of {} bytes in table {} exceeds the limit of {VALUE_BYTES_MAX} bytes",
            value.len(),
            table.name()
        )));
    }
    Ok(())
}

pub(crate) fn check_key(table: &StateTable, key: &[u8]) -> Result<()> {
    if key.len() > KEY_BYTES_MAX {
        return Err(EngineError::resource_exhausted(format!(
            "state key of {} bytes in table {} exceeds the limit of {KEY_BYTES_MAX} bytes",
            key.len(),
            table.name()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_write_of_a_key_wins_and_writes_come_sorted() {
        let t = StateTable::new("t").unwrap();
        let mut batch = WriteBatch::new();
        batch.put(&t, b"b", Bytes::from_static(b"1")).unwrap();
        batch.put(&t, b"a", Bytes::from_static(b"2")).unwrap();
        batch.delete(&t, b"b").unwrap();
        batch.put(&t, b"a", Bytes::from_static(b"3")).unwrap();
        batch.put(&t, b"c", Bytes::from_static(b"4")).unwrap();
        batch.delete(&t, b"c").unwrap();
        batch.put(&t, b"c", Bytes::from_static(b"5")).unwrap();
        let (writes, checkpoint) = batch.into_parts();
        assert_eq!(checkpoint, None);
        let got: Vec<_> = writes
            .iter()
            .map(|w| (w.store_key.clone(), w.value.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Bytes::from(t.store_key(b"a")),
                    Some(Bytes::from_static(b"3"))
                ),
                (Bytes::from(t.store_key(b"b")), None),
                (
                    Bytes::from(t.store_key(b"c")),
                    Some(Bytes::from_static(b"5"))
                ),
            ]
        );
    }

    #[test]
    fn limits_are_checked_when_writes_are_added() {
        let t = StateTable::new("t").unwrap();
        let mut batch = WriteBatch::new();
        let long_key = vec![0u8; KEY_BYTES_MAX + 1];
        assert!(batch.put(&t, &long_key, Bytes::new()).is_err());
        assert!(batch.delete(&t, &long_key).is_err());
        let big = Bytes::from(vec![0u8; VALUE_BYTES_MAX + 1]);
        assert!(batch.put(&t, b"k", big).is_err());
        let checkpoint = Bytes::from(vec![0u8; CHECKPOINT_BYTES_MAX + 1]);
        assert!(batch.set_checkpoint(checkpoint).is_err());
        assert!(batch.is_empty(), "refused writes are not added");
    }
}
