//! Decoding a stored record into the row every expression sees: the source's columns in
//! declaration order, then the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET.
//!
//! Shared by push/pull queries (`query_stream`) and persistent queries (`persistent`).

use std::sync::Arc;

use crate::catalog::Source;
use crate::error::Result;
use crate::exec::query_plan::PSEUDO_COLUMN_COUNT;
use crate::format::json_value::{decode_value, decode_value_unwrapped, is_tombstone};
use crate::format::key::decode_key;
use crate::format::ValueWrapping;
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
        match self.decode_record(record) {
            Decoded::Row(row) => Some(row),
            Decoded::Tombstone(_) | Decoded::Skipped => None,
        }
    }

    /// Decodes `record`, telling a tombstone (null value) apart from a row.
    ///
    /// A tombstone still has a key: persistent stream queries forward it (ksqlDB passes a
    /// null value through a projection, so `SELECT *` copies tombstones; QTT
    /// `project-filter.json` "project nulls"), so its key columns are decoded too.
    pub(crate) fn decode_record(&mut self, record: &StoredRecord) -> Decoded<'_> {
        let value = record.record.value.as_deref();
        self.keys.clear();
        self.values.clear();
        let key = decode_key(
            self.source.key_format,
            &self.key_columns,
            record.record.key.as_deref(),
            &mut self.keys,
        );
        let tombstone = is_tombstone(value);
        let decoded = match value {
            Some(bytes) if !tombstone => key.and_then(|()| self.decode_value(bytes)),
            _ => key,
        };
        if let Err(e) = decoded {
            tracing::warn!(
                source = %self.source.name,
                partition = record.partition.0,
                offset = record.offset.0,
                error = %e,
                "skipping record that failed to deserialize"
            );
            return Decoded::Skipped;
        }
        for (slot, v) in self.key_slots.iter().zip(self.keys.drain(..)) {
            self.row[*slot] = v;
        }
        if tombstone {
            for slot in &self.value_slots {
                self.row[*slot] = Value::Null;
            }
        } else {
            for (slot, v) in self.value_slots.iter().zip(self.values.drain(..)) {
                self.row[*slot] = v;
            }
        }
        let base = self.source.schema.columns.len();
        self.row[base] = Value::BigInt(record.record.timestamp_ms);
        self.row[base + 1] = Value::Integer(i32::try_from(record.partition.0).unwrap_or(i32::MAX));
        self.row[base + 2] = Value::BigInt(i64::try_from(record.offset.0).unwrap_or(i64::MAX));
        if tombstone {
            Decoded::Tombstone(&self.row)
        } else {
            Decoded::Row(&self.row)
        }
    }

    /// The value columns of a non-null record value, in the source's value wrapping.
    fn decode_value(&mut self, bytes: &[u8]) -> Result<()> {
        match (self.source.value_wrapping, self.value_columns.as_slice()) {
            (ValueWrapping::Unwrapped, [column]) => {
                let value = decode_value_unwrapped(bytes, column)?;
                self.values.push(value);
                Ok(())
            }
            _ => decode_value(bytes, &self.value_columns, &mut self.values),
        }
    }
}

/// What one stored record decodes to.
pub(crate) enum Decoded<'a> {
    /// A row: the source's columns, then the pseudo columns.
    Row(&'a [Value]),
    /// A null value: key and pseudo columns set, value columns null.
    Tombstone(&'a [Value]),
    /// A record that failed to deserialize (logged).
    Skipped,
}
