//! The scan: stored records of a source, decoded into the rows a pipeline's expressions
//! were compiled against (the source's columns in declaration order, then ROWTIME,
//! ROWPARTITION and ROWOFFSET).
//!
//! Reading (which partitions, how many records, where to stop) is the query driver's; the
//! scan only decodes. A record that fails to deserialize is skipped and logged, as ksqlDB's
//! processing log does, never stopping the query. Joins will scan several sources, one
//! decoder each, and tag each row with the source it came from.

use std::ops::Range;
use std::sync::Arc;

use crate::catalog::Source;
use crate::log::StoredRecord;
use crate::sql::ast::SourceKind;
use crate::types::Value;

use super::operator::{Row, RowKind, WindowBounds};
use super::row_decoder::{Decoded, RowDecoder};

/// Which value columns the scan decodes to values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeColumns {
    /// All of them (a step needs every value: table functions, a sink).
    All,
    /// Only these row slots (those a predicate or an expression reads); other columns whose
    /// stored JSON text is what results show stay as that text.
    Only(Vec<usize>),
}

impl DecodeColumns {
    /// The columns either decodes: a scan decoding them serves both plans.
    pub(crate) fn union(&self, other: &DecodeColumns) -> DecodeColumns {
        match (self, other) {
            (DecodeColumns::Only(a), DecodeColumns::Only(b)) => {
                let mut slots: Vec<usize> = a.iter().chain(b).copied().collect();
                slots.sort_unstable();
                slots.dedup();
                DecodeColumns::Only(slots)
            }
            _ => DecodeColumns::All,
        }
    }
}

/// What the scan does with a record whose value is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tombstones {
    /// Skip it: push and pull queries show no row for it.
    Drop,
    /// Pass it on as a tombstone row: a persistent query over a stream forwards it (ksqlDB's
    /// projection passes a null value through; QTT `project-filter.json` "project nulls").
    Forward,
    /// Skip it, and a record without a key of a source that has key columns too: what a
    /// scalable push query sees (ksqlDB's `ScalablePushConsumer` handles neither; RQTT
    /// "scalable-push-queries - non-windowed stream with nulls").
    DropWithNullKeys,
}

/// One record's scan output, owned.
#[derive(Debug)]
pub(crate) struct DecodedRecord {
    pub(crate) values: Vec<Value>,
    pub(crate) spans: Vec<Option<Range<usize>>>,
    pub(crate) rowtime: i64,
    pub(crate) kind: RowKind,
    pub(crate) window: Option<WindowBounds>,
}

impl DecodedRecord {
    /// The scan row of `record`, whose decoding this is.
    pub(crate) fn row<'a>(&'a self, record: &'a StoredRecord) -> Row<'a> {
        Row {
            values: &self.values,
            spans: &self.spans,
            record,
            rowtime: self.rowtime,
            kind: self.kind,
            window: self.window,
        }
    }
}

pub(crate) struct Scan {
    decoder: RowDecoder,
    tombstones: Tombstones,
    /// A table's record without a key updates no row: skipped, as ksqlDB's table source
    /// skips it ("invalid as key is null"); so does a scalable push query's.
    key_required: bool,
    /// Records skipped because they failed to decode (ksqlDB's processing-log errors).
    skipped: u64,
}

impl Scan {
    pub(crate) fn new(
        source: &Arc<Source>,
        decode: &DecodeColumns,
        tombstones: Tombstones,
    ) -> Scan {
        let decoder = match decode {
            DecodeColumns::All => RowDecoder::new(source),
            DecodeColumns::Only(slots) => {
                RowDecoder::lazy(source, |slot| slots.binary_search(&slot).is_ok())
            }
        };
        let has_key = source.schema.keys().next().is_some();
        Scan {
            decoder,
            tombstones,
            key_required: source.kind == SourceKind::Table
                || (tombstones == Tombstones::DropWithNullKeys && has_key),
            skipped: 0,
        }
    }

    /// Records skipped so far because they failed to decode.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// What the scan does with tombstones.
    pub(crate) fn tombstones(&self) -> Tombstones {
        self.tombstones
    }

    /// A scan of `source` that decodes `decode` and treats tombstones as this one does: its
    /// rows serve every plan whose columns `decode` covers (`query::shared_decode`).
    pub(crate) fn decoding(&self, source: &Arc<Source>, decode: &DecodeColumns) -> Scan {
        Scan::new(source, decode, self.tombstones)
    }

    /// [`Scan::decode`], owned: kept beyond the next record (shared decoded batches).
    pub(crate) fn decode_owned(&mut self, record: &StoredRecord) -> Option<DecodedRecord> {
        let (spans, rowtime, kind, window) = {
            let row = self.decode(record)?;
            (row.spans.to_vec(), row.rowtime, row.kind, row.window)
        };
        Some(DecodedRecord {
            values: self.decoder.take_row(),
            spans,
            rowtime,
            kind,
            window,
        })
    }

    /// The row `record` decodes to; `None` for a record the scan skips.
    pub(crate) fn decode<'a>(&'a mut self, record: &'a StoredRecord) -> Option<Row<'a>> {
        if self.key_required && record.record.key.is_none() {
            self.skipped += 1;
            return None;
        }
        let (kind, row) = match self.decoder.decode_record(record) {
            Decoded::Row(row) => (RowKind::Row, row),
            Decoded::Tombstone(row) if self.tombstones == Tombstones::Forward => {
                (RowKind::Tombstone, row)
            }
            Decoded::Tombstone(_) => return None,
            Decoded::Skipped => {
                self.skipped += 1;
                return None;
            }
        };
        Some(Row {
            values: row.values,
            spans: row.spans,
            record,
            rowtime: RowDecoder::rowtime_of(row.values),
            kind,
            window: row.window,
        })
    }
}
