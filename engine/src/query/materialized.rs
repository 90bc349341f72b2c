//! Pull queries over tables read the table as it is now, one row per key, not its changelog:
//! cursors that serve a table's current rows as records, so the one query pipeline (decode,
//! WHERE, SELECT, LIMIT) runs over them unchanged.
//!
//! ```text
//!  CTAS table    ─► its query's state store, table `mat` ([partition][key] → [ts][value]):
//!                   point reads for key lookups, a scan otherwise
//!  SOURCE table  ─► its topic read to the end, the last record per key kept, deletes dropped
//!       └─► one MaterializedCursor per partition, rows in key-byte order
//! ```
//!
//! A plain `CREATE TABLE` is not materialized, so pull queries refuse it (ksqlDB's text).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::log::{
    read_to, Offset, PartitionCursor, PartitionId, Record, StartPosition, StoredRecord, TopicLog,
};
use crate::catalog::Source;
use crate::format::key::encode_key;
use crate::log::partition_for_key;
use crate::state::{StateStore, StateTable};
use crate::types::{Column, Value};

use super::persistent::MATERIALIZED_TABLE;

/// Rows a pull query over a SOURCE table reads from its topic before giving up: the table
/// is rebuilt in memory per query, so the bound keeps one query's memory in check until
/// source tables get a store of their own.
pub const SOURCE_TABLE_RECORDS_MAX: usize = 10_000_000;

/// Records read from a SOURCE table's topic per call while rebuilding it: large enough to
/// amortise the call, small enough that the batch held at once stays a few MiB.
const SOURCE_TABLE_READ_RECORDS_MAX: usize = 4096;

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

/// Cursors over a SOURCE table's current rows, rebuilt from its topic: the last record of
/// each key, keys whose last record is a tombstone left out.
pub(crate) async fn from_topic(topic: &Arc<dyn TopicLog>) -> Result<Vec<MaterializedCursor>> {
    let mut cursors = Vec::new();
    let mut budget = SOURCE_TABLE_RECORDS_MAX;
    for p in 0..topic.partition_count() {
        let partition = PartitionId(p);
        let end = topic.end_offset(partition);
        let mut cursor = topic.cursor(partition, StartPosition::Earliest)?;
        let mut latest: BTreeMap<Bytes, Option<(i64, Bytes)>> = BTreeMap::new();
        let mut records = Vec::new();
        while cursor.position() < end {
            records.clear();
            // Waits for records a Kafka fetch has in flight; gives up (with the rows read so
            // far) only if the end is not reached within the bounded wait.
            let reached = read_to(
                topic.as_ref(),
                cursor.as_mut(),
                end,
                &mut records,
                SOURCE_TABLE_READ_RECORDS_MAX,
            )
            .await?;
            // Not reached with room left: the wait ran out (or the topic went); stop here.
            let stalled = !reached && records.len() < SOURCE_TABLE_READ_RECORDS_MAX;
            budget = budget.checked_sub(records.len()).ok_or_else(|| {
                EngineError::statement(format!(
                    "The table's topic holds more than {SOURCE_TABLE_RECORDS_MAX} records; pull queries over it are refused."
                ))
            })?;
            for r in records.drain(..) {
                let Some(key) = r.record.key else { continue };
                let row = r.record.value.map(|v| (r.record.timestamp_ms, v));
                latest.insert(key, row);
            }
            if stalled {
                break;
            }
        }
        let mut rows = Vec::new();
        for (key, row) in latest {
            if let Some((ts, value)) = row {
                let n = rows.len();
                rows.push(record(partition, n, key, ts, value));
            }
        }
        cursors.push(MaterializedCursor::new(partition, rows));
    }
    Ok(cursors)
}

/// ksqlDB's error for a pull query over a table nothing materializes.
pub(crate) fn not_queryable(table: &str) -> EngineError {
    EngineError::statement(format!(
        "The `{table}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_{table} AS SELECT * FROM {table}'. See https://cnfl.io/queries for more info."
    ))
}
