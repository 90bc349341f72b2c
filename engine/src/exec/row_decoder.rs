//! Decoding a stored record into the row every expression sees: the source's columns in
//! declaration order, then the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET.
//!
//! Header columns (`HEADERS`, `HEADER('k')`) come from the record's headers, and ROWTIME
//! from the source's `TIMESTAMP=` column when it has one (see `timestamp_extractor`).
//!
//! Shared by push/pull queries (`query_stream`) and persistent queries (`persistent`).

use std::sync::Arc;

use crate::catalog::Source;
use crate::error::Result;
use crate::exec::query_plan::PSEUDO_COLUMN_COUNT;
use crate::exec::timestamp_extractor::TimestampExtractor;
use crate::format::json_value::{decode_value, decode_value_unwrapped, is_tombstone};
use crate::format::key::decode_key;
use crate::format::ValueWrapping;
use crate::log::StoredRecord;
use crate::types::{Column, ColumnKind, Value};

/// What one stored record decodes to.
pub(crate) enum Decoded<'a> {
    /// A row: the source's columns, then the pseudo columns.
    Row(&'a [Value]),
    /// A null value: key and pseudo columns set, value columns null.
    Tombstone(&'a [Value]),
    /// A record that failed to deserialize (logged).
    Skipped,
}

/// Decodes stored records into rows laid out as the planner expects: the source's columns
/// in declaration order, then ROWTIME, ROWPARTITION, ROWOFFSET.
pub(crate) struct RowDecoder {
    source: Arc<Source>,
    key_columns: Vec<Column>,
    value_columns: Vec<Column>,
    key_slots: Vec<usize>,
    value_slots: Vec<usize>,
    /// `(slot, Some(header key))` for `HEADER('k')`, `(slot, None)` for `HEADERS`.
    header_slots: Vec<(usize, Option<String>)>,
    timestamp: Option<TimestampExtractor>,
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
        let header_slots = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ColumnKind::Header)
            .map(|(i, c)| (i, c.header_key.clone()))
            .collect();
        RowDecoder {
            header_slots,
            timestamp: TimestampExtractor::for_source(source),
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

    /// ROWTIME of a row `decode` returned: the first pseudo column.
    pub(crate) fn rowtime_of(row: &[Value]) -> i64 {
        match row.len().checked_sub(PSEUDO_COLUMN_COUNT).map(|i| &row[i]) {
            Some(Value::BigInt(ms)) => *ms,
            _ => unreachable!("decode always sets ROWTIME to a BIGINT"),
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
        for (slot, key) in &self.header_slots {
            self.row[*slot] = header_value(&record.record.headers, key.as_deref());
        }
        let rowtime = match &self.timestamp {
            None => record.record.timestamp_ms,
            Some(extractor) => match extractor.extract(&self.row[extractor.column()]) {
                Ok(ms) => ms,
                Err(e) => {
                    tracing::warn!(
                        source = %self.source.name,
                        partition = record.partition.0,
                        offset = record.offset.0,
                        error = %e,
                        "skipping record without a valid timestamp"
                    );
                    return Decoded::Skipped;
                }
            },
        };
        let base = self.source.schema.columns.len();
        self.row[base] = Value::BigInt(rowtime);
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

/// A header column's value: for `HEADER('k')` the last header named `k` (null when there is
/// none), for `HEADERS` every header as `STRUCT<KEY, VALUE>` in record order (ksqlDB docs,
/// "Headers" under CREATE STREAM).
fn header_value(headers: &[(String, Option<bytes::Bytes>)], key: Option<&str>) -> Value {
    let bytes = |v: &Option<bytes::Bytes>| match v {
        Some(b) => Value::Bytes(b.to_vec()),
        None => Value::Null,
    };
    match key {
        Some(key) => headers
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(Value::Null, |(_, v)| bytes(v)),
        None => Value::Array(
            headers
                .iter()
                .map(|(k, v)| {
                    Value::Struct(vec![
                        ("KEY".to_string(), Value::String(k.clone())),
                        ("VALUE".to_string(), bytes(v)),
                    ])
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> Vec<(String, Option<bytes::Bytes>)> {
        vec![
            ("abc".into(), Some(bytes::Bytes::from_static(b"\x1a"))),
            ("abc".into(), Some(bytes::Bytes::from_static(b"!"))),
            ("def".into(), None),
        ]
    }

    #[test]
    fn header_column_takes_the_last_value_of_its_key() {
        assert_eq!(
            header_value(&headers(), Some("abc")),
            Value::Bytes(b"!".to_vec())
        );
        assert_eq!(header_value(&headers(), Some("def")), Value::Null);
        assert_eq!(header_value(&headers(), Some("xyz")), Value::Null);
    }

    #[test]
    fn headers_column_lists_every_header_in_order() {
        let Value::Array(all) = header_value(&headers(), None) else {
            panic!("not an array");
        };
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[1],
            Value::Struct(vec![
                ("KEY".into(), Value::String("abc".into())),
                ("VALUE".into(), Value::Bytes(b"!".to_vec())),
            ])
        );
        assert_eq!(header_value(&[], None), Value::Array(Vec::new()));
    }
}
