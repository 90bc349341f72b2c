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
    /// A stream read as a table's change log (it declares a `HEADER('sluice.change')`
    /// column, [`CHANGE_HEADER`]): a tombstone that carries the deleted row in its
    /// [`BEFORE_HEADER`] is that row (so a route of deletes can show what was deleted);
    /// any other tombstone is skipped, as a stream's push query skips it.
    Changes,
}

/// The header a row change written by `Engine::change_rows` carries: `update` or `delete`.
/// A record without it is an insert (or an upsert written by a face without UPDATE).
pub const CHANGE_HEADER: &str = "sluice.change";

/// The header a delete's tombstone carries: the deleted row's value, in its source's value
/// format, as it stood when it was deleted.
pub const BEFORE_HEADER: &str = "sluice.before";

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
    /// For [`Tombstones::Changes`]: decodes a deleted row's before-image, every column
    /// (no spans: a span would point into the header, not the record's value).
    before: Option<RowDecoder>,
    /// Whether the last row came from `before` (whose row `decode_owned` then takes).
    last_from_before: bool,
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
            before: (tombstones == Tombstones::Changes).then(|| RowDecoder::new(source)),
            last_from_before: false,
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
        let decoder = match (self.last_from_before, self.before.as_mut()) {
            (true, Some(before)) => before,
            _ => &mut self.decoder,
        };
        Some(DecodedRecord {
            values: decoder.take_row(),
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
        self.last_from_before = false;
        let before = match self.tombstones {
            Tombstones::Changes if record.record.value.is_none() => {
                let image = header(record, BEFORE_HEADER)?;
                self.last_from_before = true;
                self.before.as_mut().map(|d| (d, image))
            }
            _ => None,
        };
        let decoded = match before {
            Some((decoder, image)) => decoder.decode_record_as(record, Some(image)),
            None => self.decoder.decode_record(record),
        };
        let (kind, row) = match decoded {
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

/// The last value of header `key` on `record`, when it has one.
fn header<'a>(record: &'a StoredRecord, key: &str) -> Option<&'a [u8]> {
    record
        .record
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_deref())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::log::{Offset, PartitionId, Record};
    use crate::types::{Column, ColumnKind, Schema, SqlType};

    /// `C (ID BIGINT KEY, BODY STRING, K BYTES HEADER('sluice.change'))`, JSON values.
    fn changes_source() -> Arc<Source> {
        let mut header = Column::new("K", SqlType::Bytes, ColumnKind::Header);
        header.header_key = Some(CHANGE_HEADER.to_string());
        Arc::new(Source::test_stream(
            "C",
            Schema::new(vec![
                Column::new("ID", SqlType::BigInt, ColumnKind::Key),
                Column::new("BODY", SqlType::String, ColumnKind::Value),
                header,
            ]),
        ))
    }

    fn record(value: Option<&'static str>, headers: &[(&str, &'static str)]) -> StoredRecord {
        StoredRecord {
            partition: PartitionId(0),
            offset: Offset(5),
            record: Record {
                key: Some(Bytes::copy_from_slice(&7i64.to_be_bytes())),
                value: value.map(|v| Bytes::from_static(v.as_bytes())),
                timestamp_ms: 1,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(Bytes::from_static(v.as_bytes()))))
                    .collect(),
            },
        }
    }

    /// (kind, ID, BODY, change header) of what the scan makes of `record`.
    fn scanned(scan: &mut Scan, record: &StoredRecord) -> Option<(RowKind, Vec<Value>)> {
        let row = scan.decode(record)?;
        Some((row.kind, row.values[..3].to_vec()))
    }

    #[test]
    fn a_change_log_stream_reads_a_delete_as_the_row_it_deleted() {
        let source = changes_source();
        let mut scan = Scan::new(&source, &DecodeColumns::Only(vec![]), Tombstones::Changes);
        let header = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        let delete = record(
            None,
            &[(CHANGE_HEADER, "delete"), (BEFORE_HEADER, r#"{"BODY":"gone"}"#)],
        );
        assert_eq!(
            scanned(&mut scan, &delete),
            Some((
                RowKind::Row,
                vec![Value::BigInt(7), Value::String("gone".into()), header("delete")]
            ))
        );
        let owned = scan.decode_owned(&delete).expect("kept");
        assert_eq!(owned.values[1], Value::String("gone".into()));
        assert!(owned.spans.iter().all(Option::is_none), "no span into the header");
        // A row after a delete decodes from its own value again.
        let update = record(Some(r#"{"BODY":"new"}"#), &[(CHANGE_HEADER, "update")]);
        let (kind, values) = scanned(&mut scan, &update).expect("a row");
        assert_eq!((kind, &values[0], &values[2]), (RowKind::Row, &Value::BigInt(7), &header("update")));
        assert_eq!(scan.decode_owned(&update).expect("kept").kind, RowKind::Row);
        // A tombstone without the deleted row (another writer's) is skipped, as a stream's.
        assert_eq!(scanned(&mut scan, &record(None, &[])), None);
        // Without the header column's opt-in, a stream's persistent scan forwards it.
        let mut plain = Scan::new(&source, &DecodeColumns::All, Tombstones::Forward);
        assert_eq!(
            scanned(&mut plain, &delete).map(|(kind, _)| kind),
            Some(RowKind::Tombstone)
        );
    }
}
