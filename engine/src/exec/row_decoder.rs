//! Decoding a stored record into the row every expression sees: the source's columns in
//! declaration order, then the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET.
//! A windowed source's rows have WINDOWSTART and WINDOWEND (from the key's window) between
//! its columns and the pseudo columns, so ROWTIME stays third from the end.
//!
//! Header columns (`HEADERS`, `HEADER('k')`) come from the record's headers, and ROWTIME
//! from the source's `TIMESTAMP=` column when it has one (see `timestamp_extractor`).
//!
//! Shared by push/pull queries (`query_stream`) and persistent queries (`persistent`).

use std::ops::Range;
use std::sync::Arc;

use crate::catalog::Source;
use crate::error::Result;
use crate::format::json_value::{
    decode_value_unwrapped, is_tombstone, pick, span_in, FieldSlot,
    ValueFields,
};
use crate::format::flat_scan::FieldSpan;
use crate::format::stored_text::renders_as_stored;
use crate::exec::operator::WindowBounds;
use crate::format::key::decode_key;
use crate::format::window_key::split_window;
use crate::format::timestamp_extractor::TimestampExtractor;
use crate::format::ValueWrapping;
use crate::log::StoredRecord;
use crate::types::schema::PSEUDO_COLUMN_COUNT;
use crate::types::{Column, ColumnKind, SqlType, Value};

/// WINDOWSTART and WINDOWEND: the slots a windowed source's rows have before ROWTIME.
pub(crate) const WINDOW_BOUND_COLUMNS: usize = 2;

/// Where a source's pseudo columns start in its rows: after its columns and, for a
/// windowed source, WINDOWSTART and WINDOWEND.
pub(crate) fn pseudo_base(source: &Source) -> usize {
    source.schema.columns.len()
        + if source.window.is_some() {
            WINDOW_BOUND_COLUMNS
        } else {
            0
        }
}

/// What one stored record decodes to.
pub(crate) enum Decoded<'a> {
    /// A row: the source's columns, then the pseudo columns.
    Row(DecodedRow<'a>),
    /// A null value: key and pseudo columns set, value columns null.
    Tombstone(DecodedRow<'a>),
    /// A record that failed to deserialize (logged).
    Skipped,
}

/// What decoding left in the decoder's buffers (borrows nothing, so callers can pick the
/// view they need afterwards).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Row,
    Tombstone,
    Skipped,
}

/// A decoded row: `values[i]`, unless `spans[i]` holds the span of slot `i`'s stored JSON
/// text in the record value.
pub(crate) struct DecodedRow<'a> {
    pub(crate) values: &'a [Value],
    pub(crate) spans: &'a [Option<Range<usize>>],
    /// The key's window, for a windowed source.
    pub(crate) window: Option<WindowBounds>,
}

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
    value_columns: Vec<Column>,
    fields: ValueFields,
    key_slots: Vec<usize>,
    value_slots: Vec<usize>,
    /// Per value column: a [`Value`] is needed (WHERE, an expression or the timestamp
    /// extractor reads it).
    value_needed: Vec<bool>,
    /// `(slot, Some(header key))` for `HEADER('k')`, `(slot, None)` for `HEADERS`.
    header_slots: Vec<(usize, Option<String>)>,
    timestamp: Option<TimestampExtractor>,
    keys: Vec<Value>,
    row: Vec<Value>,
    /// Per row slot: the span of the stored JSON text standing in for the slot's value.
    spans: Vec<Option<Range<usize>>>,
    /// The field-slot buffer, kept between records (emptied, so it borrows nothing).
    spare_slots: Vec<FieldSlot<'static>>,
    /// The fast path's per-column field spans, kept between records.
    field_spans: Vec<FieldSpan>,
    /// The last record's window (windowed sources).
    window: Option<WindowBounds>,
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
        let header_slots = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ColumnKind::Header)
            .map(|(i, c)| (i, c.header_key.clone()))
            .collect();
        let timestamp = TimestampExtractor::for_source(source);
        let timestamp_slot = timestamp.as_ref().map(|t| t.column());
        let value_columns: Vec<Column> = value_slots.iter().map(|&i| cols[i].clone()).collect();
        let value_column_refs: Vec<&Column> = value_columns.iter().collect();
        RowDecoder {
            header_slots,
            fields: ValueFields::new(&value_column_refs),
            value_needed: value_slots
                .iter()
                .map(|&i| needed(i) || timestamp_slot == Some(i))
                .collect(),
            timestamp,
            key_columns: key_slots.iter().map(|&i| cols[i].clone()).collect(),
            value_columns,
            key_slots,
            value_slots,
            keys: Vec::new(),
            row: vec![Value::Null; pseudo_base(source) + PSEUDO_COLUMN_COUNT],
            spans: vec![None; pseudo_base(source) + PSEUDO_COLUMN_COUNT],
            spare_slots: Vec::new(),
            field_spans: Vec::new(),
            window: None,
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

    /// Decodes `record`, telling a tombstone (null value) apart from a row.
    ///
    /// A tombstone still has a key: persistent stream queries forward it (ksqlDB passes a
    /// null value through a projection, so `SELECT *` copies tombstones; QTT
    /// `project-filter.json` "project nulls"), so its key columns are decoded too.
    pub(crate) fn decode_record<'a>(&'a mut self, record: &StoredRecord) -> Decoded<'a> {
        self.decode_record_as(record, record.record.value.as_deref())
    }

    /// Decodes `record` as though its value were `value`: a deleted row's before-image
    /// (see `scan::Tombstones::Changes`) decodes with the tombstone's key, headers and place.
    pub(crate) fn decode_record_as<'a>(
        &'a mut self,
        record: &StoredRecord,
        value: Option<&[u8]>,
    ) -> Decoded<'a> {
        let row = |d: &'a RowDecoder| DecodedRow {
            values: &d.row,
            spans: &d.spans,
            window: d.window,
        };
        match self.decode_into(record, value) {
            Outcome::Row => Decoded::Row(row(self)),
            Outcome::Tombstone => Decoded::Tombstone(row(self)),
            Outcome::Skipped => Decoded::Skipped,
        }
    }

    /// The values of the row just decoded, moved out (a fresh row of NULLs takes their
    /// place): what keeping a decoded row costs, without cloning each of its strings.
    pub(crate) fn take_row(&mut self) -> Vec<Value> {
        // Not `vec![Value::Null; n]`: that clones the NULL n times through `Value::clone`,
        // which showed as 5% of a shared decode's time.
        let mut fresh = Vec::with_capacity(self.row.len());
        fresh.resize_with(self.row.len(), || Value::Null);
        std::mem::replace(&mut self.row, fresh)
    }

    fn decode_into(&mut self, record: &StoredRecord, value: Option<&[u8]>) -> Outcome {
        self.keys.clear();
        let key = match self.split_window(record.record.key.as_deref()) {
            Ok(inner) => decode_key(
                self.source.key_format,
                &self.key_columns,
                inner,
                &mut self.keys,
            ),
            Err(e) => Err(e),
        };
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
            return Outcome::Skipped;
        }
        for (slot, v) in self.key_slots.iter().zip(self.keys.drain(..)) {
            self.row[*slot] = v;
        }
        if tombstone {
            for slot in &self.value_slots {
                self.row[*slot] = Value::Null;
                self.spans[*slot] = None;
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
                    return Outcome::Skipped;
                }
            },
        };
        let mut base = self.source.schema.columns.len();
        if let Some(w) = self.window {
            self.row[base] = Value::BigInt(w.start_ms);
            self.row[base + 1] = Value::BigInt(w.end_ms);
            base += WINDOW_BOUND_COLUMNS;
        }
        self.row[base] = Value::BigInt(rowtime);
        self.row[base + 1] = Value::Integer(i32::try_from(record.partition.0).unwrap_or(i32::MAX));
        self.row[base + 2] = Value::BigInt(i64::try_from(record.offset.0).unwrap_or(i64::MAX));
        if tombstone {
            Outcome::Tombstone
        } else {
            Outcome::Row
        }
    }

    /// A windowed source's key without its window, which it keeps in `self.window`
    /// (a time window ends its size after its start).
    fn split_window<'k>(&mut self, key: Option<&'k [u8]>) -> Result<Option<&'k [u8]>> {
        self.window = None;
        let (Some(source_window), Some(bytes)) = (self.source.window, key) else {
            return Ok(key);
        };
        let (inner, start_ms, end_ms) = split_window(source_window.kind.key_kind(), bytes)?;
        let size_ms = source_window.size_ms.map_or(0, |s| s as i64);
        self.window = Some(WindowBounds {
            start_ms,
            end_ms: end_ms.unwrap_or(start_ms.saturating_add(size_ms)),
        });
        Ok(Some(inner))
    }

    /// Fills the value columns' row slots (or spans) from a non-null record value, in the
    /// source's value wrapping, in column order so the first field that fails is the one
    /// reported.
    fn decode_value(&mut self, value: &[u8]) -> Result<()> {
        if let (ValueWrapping::Unwrapped, [column]) =
            (self.source.value_wrapping, self.value_columns.as_slice())
        {
            let decoded = decode_value_unwrapped(value, column)?;
            let slot = self.value_slots[0];
            self.row[slot] = decoded;
            self.spans[slot] = None;
            return Ok(());
        }
        // The flat scanner takes only ASCII, so it needs no UTF-8 pass first; the general
        // path checks UTF-8 itself.
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
        self.decode_general(value)
    }
    /// [`decode_value`](RowDecoder::decode_value) for a record the flat scanner read.
    fn decode_flat(&mut self, value: &[u8], spans: &mut [FieldSpan]) -> Result<()> {
        for (i, slot) in spans.iter_mut().enumerate() {
            let row_slot = self.value_slots[i];
            let text = slot.0.take().or(slot.1.take()).map(|span| &value[span]);
            if let Some(raw) = text.filter(|_| !self.value_needed[i]) {
                // A flat string is plain text: it renders as stored without another look.
                let plain_string = raw.first() == Some(&b'"');
                let ty = self.fields.ty(i);
                if (plain_string && matches!(ty, SqlType::String)) || renders_as_stored(raw, ty) {
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
