//! Named tables inside one store, and the store key that keeps them apart.
//!
//! ```text
//!  store key = [name length: u8] [name bytes] [key bytes]
//!  checkpoint = [0x00] "checkpoint"            (no table name is empty, so never a table key)
//! ```
//!
//! Every key of a table shares the table's prefix, so byte order of store keys is the order
//! of `(table, key)` and a table's keys form one contiguous, ordered range. One keyspace per
//! store (rather than one per table) keeps a commit over several tables one journal write,
//! and `clear` one step.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{EngineError, Result};

/// Longest table name, in bytes.
///
/// Names are chosen by Sluice's operators (`aggregate`, `window-3`, `join-left`), not by
/// clients; 64 bytes is plenty and keeps the per-key prefix short.
pub const TABLE_NAME_BYTES_MAX: usize = 64;

/// The store key of the checkpoint: its first byte is a name length no table has.
pub(crate) const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";

/// A table inside a store: its name, validated once, and its key prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateTable {
    name: Arc<str>,
    /// `[name length][name]`.
    prefix: Arc<[u8]>,
}

impl StateTable {
    /// A table called `name`: 1 to [`TABLE_NAME_BYTES_MAX`] bytes of `[A-Za-z0-9_-]`.
    pub fn new(name: &str) -> Result<StateTable> {
        let valid_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if name.is_empty() || name.len() > TABLE_NAME_BYTES_MAX || !valid_chars {
            return Err(EngineError::internal(format!(
                "state table name {name:?} must be 1 to {TABLE_NAME_BYTES_MAX} bytes of \
                 [A-Za-z0-9_-]"
            )));
        }
        let mut prefix = Vec::with_capacity(1 + name.len());
        prefix.push(u8::try_from(name.len()).expect("TABLE_NAME_BYTES_MAX fits in a byte"));
        prefix.extend_from_slice(name.as_bytes());
        Ok(StateTable {
            name: name.into(),
            prefix: prefix.into(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `[name length][name]`: the start of every store key of this table.
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The store key of `key` in this table.
    pub(crate) fn store_key(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + key.len());
        self.store_key_into(key, &mut out);
        out
    }

    /// Writes the store key of `key` into `out` (cleared first), reusing its allocation.
    pub(crate) fn store_key_into(&self, key: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(key);
    }

    /// The table's key from a store key read back; checks it belongs to this table (the
    /// read side of the invariant `store_key` establishes).
    pub(crate) fn user_key(&self, store_key: Bytes) -> Result<Bytes> {
        if !store_key.starts_with(&self.prefix) {
            return Err(EngineError::corrupt(format!(
                "state table {}: a scan returned a key of another table",
                self.name
            )));
        }
        Ok(store_key.slice(self.prefix.len()..))
    }

    /// Store-key bounds for the table keys `from`..`to`: an unbounded end stops at the
    /// table's last key, never in the next table.
    pub(crate) fn store_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let start = match from {
            Bound::Included(k) => Bound::Included(self.store_key(k)),
            Bound::Excluded(k) => Bound::Excluded(self.store_key(k)),
            Bound::Unbounded => Bound::Included(self.prefix.to_vec()),
        };
        let end = match to {
            Bound::Included(k) => Bound::Included(self.store_key(k)),
            Bound::Excluded(k) => Bound::Excluded(self.store_key(k)),
            Bound::Unbounded => self.end(),
        };
        (start, end)
    }

    /// Store-key bounds for the table keys starting with `prefix`.
    pub(crate) fn store_prefix_range(&self, prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let start = self.store_key(prefix);
        let end = match successor(prefix) {
            Some(next) => Bound::Excluded(self.store_key(&next)),
            None => self.end(),
        };
        (Bound::Included(start), end)
    }

    /// Just past the table's last possible key. Name bytes are ASCII, so the last byte of
    /// the prefix is below 0xFF and incrementing it gives the smallest key of no table key.
    fn end(&self) -> Bound<Vec<u8>> {
        let mut end = self.prefix.to_vec();
        let last = end.last_mut().expect("a table prefix is never empty");
        *last += 1;
        Bound::Excluded(end)
    }
}

/// The smallest byte string greater than every string starting with `prefix`, or `None`
/// when there is none (`prefix` is empty or all 0xFF).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// True when `from`..`to` holds no key at all (an inverted or empty range). `BTreeMap::range`
/// panics on those and redb's behaviour is not documented, so both stores ask this first.
pub(crate) fn is_empty_range(from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    use Bound::{Excluded, Included};
    match (from, to) {
        (Included(a), Included(b)) => a > b,
        (Included(a), Excluded(b)) | (Excluded(a), Included(b)) | (Excluded(a), Excluded(b)) => {
            a >= b
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(StateTable::new("aggregate").is_ok());
        assert!(StateTable::new("join-left_2").is_ok());
        for bad in ["", "a/b", "a b", "é", &"x".repeat(TABLE_NAME_BYTES_MAX + 1)] {
            assert!(StateTable::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tables_never_share_keys_and_keep_order() {
        let a = StateTable::new("a").unwrap();
        let ab = StateTable::new("ab").unwrap();
        // "a" + "b..." must not fall inside table "ab" or the reverse.
        assert_ne!(a.store_key(b"b"), ab.store_key(b""));
        assert!(a.store_key(b"\xff\xff") < a.store_key(b"\xff\xff\x00"));
        let (_, end) = a.store_range(Bound::Unbounded, Bound::Unbounded);
        let Bound::Excluded(end) = end else { panic!() };
        assert!(a.store_key(&[0xff; 40]) < end);
        assert!(ab.store_key(b"") > end || ab.store_key(b"") < a.store_key(b""));
        assert!(CHECKPOINT_KEY < a.prefix());
    }

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
        assert_eq!(successor(b""), None);
    }

    #[test]
    fn user_key_checks_the_table() {
        let a = StateTable::new("a").unwrap();
        let b = StateTable::new("b").unwrap();
        let k = Bytes::from(a.store_key(b"k1"));
        assert_eq!(a.user_key(k.clone()).unwrap(), Bytes::from_static(b"k1"));
        assert!(b.user_key(k).is_err());
    }
}
