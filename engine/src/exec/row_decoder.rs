//! Decoding a stored record into the row every expression sees: the source's columns in
//! declaration order, then the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET.
//!
//! Shared by push/pull queries (`query_stream`) and persistent queries (`persistent`).

use std::sync::Arc;

use crate::catalog::Source;
use crate::exec::query_plan::PSEUDO_COLUMN_COUNT;
use crate::format::json_value::{decode_value, is_tombstone};
use crate::format::key::decode_key;
use crate::log::StoredRecord;
use crate::types::{Column, ColumnKind, Value};

/// Decodes stored records into rows laid out as the planner expects: the source's columns
/// in declaration order, then ROWTIME, ROWPARTITION, ROWOFFSET.
pub(crate) struct RowDecoder {
    source: Arc<Source>,
    key_columns: Vec<Column>,
    value_columns: Vec<Column>,
    key_slots: Vec<usize>,
    value_slots: Vec<usize>,
    keys: Vec<Value>,
    values: Vec<Value>,
    row: Vec<Value>,
}

impl RowDecoder {
    pub(crate) fn new(source: &Arc<Source>) -> RowDecoder {
        let cols = &source.schema.columns;
        let slots = |kind| -> Vec<usize> {
            cols.iter()
                .enumerate()
                .filter(|(_, c)| c.kind == kind)
                .map(|(i, _)| i)
                .collect()
        };
        let key_slots = slots(ColumnKind::Key);
        let value_slots = slots(ColumnKind::Value);
        RowDecoder {
            key_columns: key_slots.iter().map(|&i| cols[i].clone()).collect(),
            value_columns: value_slots.iter().map(|&i| cols[i].clone()).collect(),
            key_slots,
            value_slots,
            keys: Vec::new(),
            values: Vec::new(),
            row: vec![Value::Null; cols.len() + PSEUDO_COLUMN_COUNT],
            source: Arc::clone(source),
        }
    }

    /// The row for `record`, or `None` when it is a tombstone or cannot be decoded (skipped
    /// and logged, as ksqlDB's processing log does, never stopping the query).
    pub(crate) fn decode(&mut self, record: &StoredRecord) -> Option<&[Value]> {
        let value = record.record.value.as_deref();
        // Streams skip tombstones (ksqlDB drops null values when reading a stream).
        if is_tombstone(value) {
            return None;
        }
        let value = value?;
        self.keys.clear();
        self.values.clear();
        let decoded = decode_key(
            self.source.key_format,
            &self.key_columns,
            record.record.key.as_deref(),
            &mut self.keys,
        )
        .and_then(|()| decode_value(value, &self.value_columns, &mut self.values));
        if let Err(e) = decoded {
            tracing::warn!(
                source = %self.source.name,
                partition = record.partition.0,
                offset = record.offset.0,
                error = %e,
                "skipping record that failed to deserialize"
            );
            return None;
        }
        for (slot, v) in self.key_slots.iter().zip(self.keys.drain(..)) {
            self.row[*slot] = v;
        }
        for (slot, v) in self.value_slots.iter().zip(self.values.drain(..)) {
            self.row[*slot] = v;
        }
        let base = self.source.schema.columns.len();
        self.row[base] = Value::BigInt(record.record.timestamp_ms);
        self.row[base + 1] = Value::Integer(i32::try_from(record.partition.0).unwrap_or(i32::MAX));
        self.row[base + 2] = Value::BigInt(i64::try_from(record.offset.0).unwrap_or(i64::MAX));
        Some(&self.row)
    }
}
