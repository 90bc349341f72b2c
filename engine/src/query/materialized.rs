//! Pull queries over tables read the table as it is now, one row per key, not its changelog:
//! cursors that serve a table's current rows as records, so the one query pipeline (decode,
//! WHERE, SELECT, LIMIT) runs over them unchanged.
//!
//! ```text
//!  CTAS table    ─► its query's state store, table `mat` ([partition][key] → [ts][value]):
//!                   point reads for key lookups, a scan otherwise
//!  SOURCE table  ─► its view (`table_view`): the topic's latest row per key, caught up
//!       └─► one MaterializedCursor per partition, rows in key-byte order
//! ```
//!
//! A plain `CREATE TABLE` is not materialized, so pull queries refuse it (ksqlDB's text).

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::log::{Offset, PartitionCursor, PartitionId, Record, StoredRecord};
use crate::catalog::Source;
use crate::format::key::encode_key;
use crate::log::partition_for_key;
use crate::state::{StateStore, StateTable};
use crate::types::{Column, Value};

use super::persistent::MATERIALIZED_TABLE;

/// A table's current rows of one partition, served as records with offsets 0, 1, ….
pub(crate) struct MaterializedCursor {
    partition: PartitionId,
    rows: Vec<StoredRecord>,
    position: usize,
}

impl MaterializedCursor {
    fn new(partition: PartitionId, rows: Vec<StoredRecord>) -> MaterializedCursor {
        MaterializedCursor {
            partition,
            rows,
            position: 0,
        }
    }

    /// A cursor over `rows` (key, timestamp, value), in the order given.
    pub(crate) fn from_rows(partition: PartitionId, rows: Vec<(Bytes, i64, Bytes)>) -> MaterializedCursor {
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(n, (key, ts, value))| record(partition, n, key, ts, value))
            .collect();
        MaterializedCursor::new(partition, rows)
    }

    /// How many rows it serves: where a pull query stops.
    pub(crate) fn end(&self) -> Offset {
        Offset(self.rows.len() as u64)
    }
}

impl PartitionCursor for MaterializedCursor {
    fn partition(&self) -> PartitionId {
        self.partition
    }

    fn position(&self) -> Offset {
        Offset(self.position as u64)
    }

    fn read(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize> {
        let end = (self.position + max_records).min(self.rows.len());
        out.extend_from_slice(&self.rows[self.position..end]);
        let n = end - self.position;
        self.position = end;
        Ok(n)
    }

    fn release_buffers(&mut self) {}

    fn seek_to(&mut self, offset: Offset) {
        self.position = usize::try_from(offset.0)
            .unwrap_or(usize::MAX)
            .min(self.rows.len());
    }
}

fn record(partition: PartitionId, n: usize, key: Bytes, timestamp_ms: i64, value: Bytes) -> StoredRecord {
    StoredRecord {
        partition,
        offset: Offset(n as u64),
        record: Record {
            key: Some(key),
            value: Some(value),
            timestamp_ms,
            headers: Vec::new(),
        },
    }
}

/// Cursors over the rows a CTAS query keeps in `store`, one per sink partition.
pub(crate) fn from_store(
    store: &Arc<dyn StateStore>,
    partitions: u32,
) -> Result<Vec<MaterializedCursor>> {
    let table = StateTable::new(MATERIALIZED_TABLE)?;
    let snapshot = store.snapshot()?;
    let mut cursors = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let partition = PartitionId(p);
        let mut rows = Vec::new();
        for entry in snapshot.prefix(&table, &p.to_be_bytes())? {
            let (key, value) = entry?;
            if key.len() < 4 || value.len() < 8 {
                return Err(EngineError::corrupt("a materialized table row is truncated"));
            }
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&value[..8]);
            let n = rows.len();
            rows.push(record(
                partition,
                n,
                key.slice(4..),
                i64::from_le_bytes(ts),
                value.slice(8..),
            ));
        }
        cursors.push(MaterializedCursor::new(partition, rows));
    }
    Ok(cursors)
}

/// Cursors over the rows of the key tuples `keys` (a pull query's key lookups) in a CTAS
/// query's store: one point read each, in the sink partition the key hashes to.
pub(crate) fn from_store_keys(
    store: &Arc<dyn StateStore>,
    partitions: u32,
    sink: &Source,
    keys: &[Vec<Value>],
) -> Result<Vec<MaterializedCursor>> {
    let table = StateTable::new(MATERIALIZED_TABLE)?;
    let snapshot = store.snapshot()?;
    let key_columns: Vec<&Column> = sink.schema.keys().collect();
    let mut rows: Vec<Vec<StoredRecord>> = vec![Vec::new(); partitions.max(1) as usize];
    let mut seen = std::collections::HashSet::new();
    let mut store_key = Vec::new();
    for tuple in keys {
        let Some(key) = encode_key(sink.key_format, &key_columns, tuple)? else {
            continue;
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        let partition = partition_for_key(&key, partitions.max(1));
        store_key.clear();
        store_key.extend_from_slice(&partition.0.to_be_bytes());
        store_key.extend_from_slice(&key);
        if let Some(window) = sink.window {
            // A windowed table keeps one row per window of the key: every stored key that
            // is this key and a window (longer keys with this prefix are other keys).
            let windowed_len = store_key.len() + window.kind.key_kind().suffix_bytes();
            let out = &mut rows[partition.0 as usize];
            for entry in snapshot.prefix(&table, &store_key)? {
                let (stored, value) = entry?;
                if stored.len() != windowed_len {
                    continue;
                }
                if value.len() < 8 {
                    return Err(EngineError::corrupt("a materialized table row is truncated"));
                }
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&value[..8]);
                let n = out.len();
                out.push(record(
                    partition,
                    n,
                    stored.slice(4..),
                    i64::from_le_bytes(ts),
                    value.slice(8..),
                ));
            }
            continue;
        }
        let Some(value) = snapshot.get(&table, &store_key)? else {
            continue;
        };
        if value.len() < 8 {
            return Err(EngineError::corrupt("a materialized table row is truncated"));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&value[..8]);
        let out = &mut rows[partition.0 as usize];
        let n = out.len();
        out.push(record(partition, n, key, i64::from_le_bytes(ts), value.slice(8..)));
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(p, r)| MaterializedCursor::new(PartitionId(p as u32), r))
        .collect())
}

/// ksqlDB's error for a pull query over a table nothing materializes.
pub(crate) fn not_queryable(table: &str) -> EngineError {
    EngineError::statement(format!(
        "The `{table}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_{table} AS SELECT * FROM {table}'. See https://cnfl.io/queries for more info."
    ))
}
