//! Decoding a stored record into the row every expression sees: the source's columns in
//! declaration order, then the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET.
//!
//! Shared by push/pull queries (`query_stream`) and persistent queries (`persistent`).

use std::ops::Range;
use std::sync::Arc;

use crate::catalog::Source;
use crate::error::Result;
use crate::exec::query_plan::PSEUDO_COLUMN_COUNT;
use crate::format::json_value::{
    is_tombstone, pick, renders_as_stored, span_in, FieldSlot, FieldSpan, ValueFields,
};
use crate::format::key::decode_key;
use crate::log::StoredRecord;
use crate::types::{Column, ColumnKind, Value};

/// Decodes stored records into rows laid out as the planner expects: the source's columns
/// in declaration order, then ROWTIME, ROWPARTITION, ROWOFFSET.
///
/// A query that only copies a column to its results need not decode it: with
/// [`RowDecoder::lazy`], a value column whose stored JSON text is already what results show
/// ([`renders_as_stored`]) keeps that text's span instead of a [`Value`] (its row slot is
/// then stale). Every field is still checked, so a record that fails to deserialize is
/// skipped exactly as before.
pub(crate) struct RowDecoder {
    source: Arc<Source>,
    key_columns: Vec<Column>,
    fields: ValueFields,
    key_slots: Vec<usize>,
    value_slots: Vec<usize>,
    /// Per value column: a [`Value`] is needed (WHERE or an expression reads it).
    value_needed: Vec<bool>,
    keys: Vec<Value>,
    row: Vec<Value>,
    /// Per row slot: the span of the stored JSON text standing in for the slot's value.
    spans: Vec<Option<Range<usize>>>,
    /// The field-slot buffer, kept between records (emptied, so it borrows nothing).
    spare_slots: Vec<FieldSlot<'static>>,
    /// The fast path's per-column field spans, kept between records.
    field_spans: Vec<FieldSpan>,
}

/// A decoded row: `values[i]`, unless `spans[i]` holds the span of slot `i`'s stored JSON
/// text in the record value.
pub(crate) struct DecodedRow<'a> {
    pub(crate) values: &'a [Value],
    pub(crate) spans: &'a [Option<Range<usize>>],
}

impl RowDecoder {
    /// Decodes every column to a [`Value`].
    pub(crate) fn new(source: &Arc<Source>) -> RowDecoder {
        RowDecoder::lazy(source, |_| true)
    }

    /// Decodes to a [`Value`] only the value columns for which `needed(slot)` is true (and
    /// those whose stored text is not what results show); the rest keep their JSON text.
    pub(crate) fn lazy(source: &Arc<Source>, needed: impl Fn(usize) -> bool) -> RowDecoder {
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
        let value_columns: Vec<&Column> = value_slots.iter().map(|&i| &cols[i]).collect();
        RowDecoder {
            key_columns: key_slots.iter().map(|&i| cols[i].clone()).collect(),
            fields: ValueFields::new(&value_columns),
            value_needed: value_slots.iter().map(|&i| needed(i)).collect(),
            key_slots,
            value_slots,
            keys: Vec::new(),
            row: vec![Value::Null; cols.len() + PSEUDO_COLUMN_COUNT],
            spans: vec![None; cols.len() + PSEUDO_COLUMN_COUNT],
            spare_slots: Vec::new(),
            field_spans: Vec::new(),
            source: Arc::clone(source),
        }
    }

    /// The row for `record`, or `None` when it is a tombstone or cannot be decoded (skipped
    /// and logged, as ksqlDB's processing log does, never stopping the query).
    pub(crate) fn decode(&mut self, record: &StoredRecord) -> Option<&[Value]> {
        self.decode_lazily(record).map(|row| row.values)
    }

    /// The row for `record` with spans for the columns left as JSON text (see [`lazy`]).
    ///
    /// [`lazy`]: RowDecoder::lazy
    pub(crate) fn decode_lazily(&mut self, record: &StoredRecord) -> Option<DecodedRow<'_>> {
        let value = record.record.value.as_deref();
        // Streams skip tombstones (ksqlDB drops null values when reading a stream).
        if is_tombstone(value) {
            return None;
        }
        let value = value?;
        self.keys.clear();
        let decoded = decode_key(
            self.source.key_format,
            &self.key_columns,
            record.record.key.as_deref(),
            &mut self.keys,
        )
        .and_then(|()| self.decode_value(value));
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
        let base = self.source.schema.columns.len();
        self.row[base] = Value::BigInt(record.record.timestamp_ms);
        self.row[base + 1] = Value::Integer(i32::try_from(record.partition.0).unwrap_or(i32::MAX));
        self.row[base + 2] = Value::BigInt(i64::try_from(record.offset.0).unwrap_or(i64::MAX));
        Some(DecodedRow {
            values: &self.row,
            spans: &self.spans,
        })
    }

    /// Fills the value columns' row slots (or spans) from the record value, in column
    /// order, so the first field that fails is the one reported.
    fn decode_value(&mut self, value: &[u8]) -> Result<()> {
        if std::str::from_utf8(value).is_ok() {
            let mut spans = std::mem::take(&mut self.field_spans);
            spans.clear();
            spans.resize(self.fields.len(), (None, None));
            let flat = self.fields.scan_flat(value, &mut spans);
            let result = if flat {
                self.decode_flat(value, &mut spans)
            } else {
                Ok(())
            };
            self.field_spans = spans;
            if flat {
                return result;
            }
        }
        self.decode_general(value)
    }

    /// [`decode_value`](RowDecoder::decode_value) for a record the flat scanner read.
    fn decode_flat(&mut self, value: &[u8], spans: &mut [FieldSpan]) -> Result<()> {
        for (i, slot) in spans.iter_mut().enumerate() {
            let row_slot = self.value_slots[i];
            let text = slot.0.take().or(slot.1.take()).map(|span| &value[span]);
            if let Some(raw) = text.filter(|_| !self.value_needed[i]) {
                if renders_as_stored(raw, self.fields.ty(i)) {
                    self.spans[row_slot] = Some(span_in(value, raw));
                    continue;
                }
            }
            self.spans[row_slot] = None;
            self.row[row_slot] = self.fields.coerce_text(i, text)?;
        }
        Ok(())
    }

    /// [`decode_value`](RowDecoder::decode_value) through sonic-rs: nested values, escapes,
    /// and invalid records (reported as such).
    fn decode_general(&mut self, value: &[u8]) -> Result<()> {
        let mut slots: Vec<FieldSlot<'_>> = recycle(std::mem::take(&mut self.spare_slots));
        slots.resize(self.fields.len(), (None, None));
        let result = self.fields.scan(value, &mut slots).and_then(|()| {
            for (i, slot) in slots.drain(..).enumerate() {
                let row_slot = self.value_slots[i];
                let field = pick(slot);
                if let Some(lv) = field.as_ref().filter(|_| !self.value_needed[i]) {
                    let raw = lv.as_raw_str().as_bytes();
                    if renders_as_stored(raw, self.fields.ty(i)) {
                        self.spans[row_slot] = Some(span_in(value, raw));
                        continue;
                    }
                }
                self.spans[row_slot] = None;
                self.row[row_slot] = self.fields.coerce(i, field.as_ref())?;
            }
            Ok(())
        });
        slots.clear();
        self.spare_slots = recycle(slots);
        result
    }
}

/// The same (empty) buffer with another lifetime: in-place collection of an empty vector
/// keeps its allocation, so the per-record field slots cost no allocation.
fn recycle<'b>(mut slots: Vec<FieldSlot<'_>>) -> Vec<FieldSlot<'b>> {
    slots.clear();
    slots.into_iter().map(|_| (None, None)).collect()
}
