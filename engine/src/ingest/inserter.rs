//! Ingest: turning a row into a Kafka record on the right partition.
//!
//! ```text
//!  line ─► canonical_row::RowEncoder (one pass) ─► value bytes + key values ─┐
//!     └─ left to the full decoder (bad rows: their error) ─► values ─► encode ─┤
//!                                                                          ▼
//!         key bytes (key format) ─► partition (murmur2 of key bytes, or spread if keyless)
//! ```
//!
//! Every path stores the record value ksqlDB would have written (see
//! [`crate::format::json_value`]).

use std::sync::Arc;

use bytes::Bytes;

use crate::catalog::Source;
use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::format::canonical_row::RowEncoder;
use crate::format::insert_row::{decode_insert_row, InsertRow};
use crate::format::json_value::{encode_row_value, encode_row_value_unwrapped};
use crate::format::key::encode_key;
use crate::format::ValueWrapping;
use crate::log::{partition_for_key, KeylessSpreader};
use crate::log::{LogStore, PartitionId, Record, TopicLog};
use crate::types::{Column, ColumnKind, SqlType, Value};

/// One `/inserts-stream` line, decoded as far as building its record needs.
#[derive(Debug)]
pub enum DecodedLine {
    /// The fast path's record: value and key bytes built from the line in one pass.
    Encoded(EncodedLine),
    /// The full decoder's column values (a line the fast path left to it that is valid).
    Row(InsertRow),
}

/// A record built by the fast path, less its partition and timestamp.
#[derive(Debug)]
pub struct EncodedLine {
    key: Option<Bytes>,
    value: Option<Bytes>,
    /// From the source's TIMESTAMP column, when the row gives one.
    timestamp_ms: Option<i64>,
}

/// Builds records for one source; one per producer request so state stays local.
pub struct Inserter {
    source: Arc<Source>,
    topic: Arc<dyn TopicLog>,
    spreader: KeylessSpreader,
    key_columns: Vec<Column>,
    key_indexes: Vec<usize>,
    timestamp_index: Option<usize>,
    /// The schema index of the only value column when the source is unwrapped.
    unwrapped_index: Option<usize>,
    /// The fast path: every valid line's record in one pass.
    encoder: RowEncoder,
    scratch: Vec<u8>,
    /// The current row's key column values, in key order (reused).
    key_values: Vec<Value>,
    clock: crate::clock::Clock,
}

impl Inserter {
    pub fn new(log: &dyn LogStore, clock: Clock, source: Arc<Source>) -> Result<Inserter> {
        let topic = log.topic(&source.topic).ok_or_else(|| {
            EngineError::not_found(format!(
                "Topic '{}' of {} {} does not exist",
                source.topic,
                source.kind_word(),
                source.name
            ))
        })?;
        let columns = &source.schema.columns;
        let indexes = |kind: ColumnKind| -> Vec<usize> {
            columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.kind == kind)
                .map(|(i, _)| i)
                .collect()
        };
        let key_indexes = indexes(ColumnKind::Key);
        let timestamp_index = source
            .timestamp_column
            .as_deref()
            .and_then(|name| source.schema.find(name).map(|(i, _)| i));
        let unwrapped_index = match source.value_wrapping {
            ValueWrapping::Unwrapped => indexes(ColumnKind::Value).first().copied(),
            ValueWrapping::Wrapped => None,
        };
        let encoder = RowEncoder::new(
            &source.schema,
            source.value_wrapping,
            source.timestamp_column.as_deref(),
        );
        Ok(Inserter {
            encoder,
            unwrapped_index,
            spreader: KeylessSpreader::starting_at(rand::random()),
            key_columns: key_indexes.iter().map(|&i| columns[i].clone()).collect(),
            key_indexes,
            timestamp_index,
            topic,
            source,
            scratch: Vec::with_capacity(256),
            key_values: Vec::new(),
            clock,
        })
    }

    pub fn source(&self) -> &Arc<Source> {
        &self.source
    }

    pub fn topic(&self) -> &Arc<dyn TopicLog> {
        &self.topic
    }

    /// The wall clock, as record timestamps read it.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Decodes one `/inserts-stream` line. Every valid line but the rarest takes the fast
    /// path ([`RowEncoder`]): its record value and key are built in one pass, without
    /// column values; any other line goes through the full decoder, which also gives
    /// ksqlDB's error for a bad one.
    pub fn decode_line(&mut self, line: &Bytes) -> Result<DecodedLine> {
        if let Some(row) = self.encoder.encode(line) {
            let key = encode_key(self.source.key_format, &self.key_columns, row.keys)?;
            return Ok(DecodedLine::Encoded(EncodedLine {
                key,
                value: row.value,
                timestamp_ms: row.timestamp_ms,
            }));
        }
        decode_insert_row(line, &self.source.schema).map(DecodedLine::Row)
    }

    /// Builds the record for a line [`Inserter::decode_line`] decoded. `now_ms` is when the
    /// line arrived (callers read the clock once for all the lines of one read). `_line`,
    /// the line itself, is no longer read (every record value is built by `decode_line`);
    /// it stays so callers need not change.
    pub fn record_line(
        &mut self,
        decoded: DecodedLine,
        _line: &Bytes,
        now_ms: i64,
    ) -> Result<(PartitionId, Record)> {
        match decoded {
            DecodedLine::Encoded(encoded) => {
                let partition = self.partition_of(encoded.key.as_ref());
                let record = Record {
                    key: encoded.key,
                    value: encoded.value,
                    timestamp_ms: encoded.timestamp_ms.unwrap_or(now_ms),
                    headers: Vec::new(),
                };
                Ok((partition, record))
            }
            DecodedLine::Row(row) => self.record_at(&row.values, None, None, now_ms),
        }
    }

    /// Builds the record for `values` (one per schema column, schema order).
    /// `canonical_value` is the row's stored value when the caller already has it, which
    /// saves a re-encode. `rowtime` overrides the timestamp.
    pub fn record(
        &mut self,
        values: &[Value],
        canonical_value: Option<Bytes>,
        rowtime: Option<i64>,
    ) -> Result<(PartitionId, Record)> {
        let now_ms = self.clock.now_ms();
        self.record_at(values, canonical_value, rowtime, now_ms)
    }

    /// The tombstone that deletes the row with `values`' key (one value per schema column,
    /// schema order; only the key columns are read): the key, no value, stamped now.
    pub fn tombstone(&mut self, values: &[Value]) -> Result<(PartitionId, Record)> {
        self.key_values.clear();
        self.key_values
            .extend(self.key_indexes.iter().map(|&i| values[i].clone()));
        let key = encode_key(self.source.key_format, &self.key_columns, &self.key_values)?;
        let partition = self.partition_of(key.as_ref());
        let record = Record {
            key,
            value: None,
            timestamp_ms: self.clock.now_ms(),
            headers: Vec::new(),
        };
        Ok((partition, record))
    }

    /// [`Inserter::record`] with the wall clock already read.
    fn record_at(
        &mut self,
        values: &[Value],
        canonical_value: Option<Bytes>,
        rowtime: Option<i64>,
        now_ms: i64,
    ) -> Result<(PartitionId, Record)> {
        // Reused across rows: no Vec allocation per row for the key columns.
        self.key_values.clear();
        self.key_values
            .extend(self.key_indexes.iter().map(|&i| values[i].clone()));
        let key = encode_key(self.source.key_format, &self.key_columns, &self.key_values)?;
        let value = match (self.unwrapped_index, canonical_value) {
            // The canonical form is a wrapped object; an unwrapped source stores the bare
            // value, and an unwrapped null is a null value (no bytes), as ksqlDB writes it.
            (Some(i), _) => match &values[i] {
                Value::Null => None,
                value => {
                    self.scratch.clear();
                    encode_row_value_unwrapped(value, &mut self.scratch);
                    Some(Bytes::copy_from_slice(&self.scratch))
                }
            },
            (None, Some(bytes)) => Some(bytes),
            (None, None) => {
                self.scratch.clear();
                encode_row_value(&self.source.schema, values, &mut self.scratch);
                Some(Bytes::copy_from_slice(&self.scratch))
            }
        };
        let partition = self.partition_of(key.as_ref());
        let timestamp_ms = rowtime
            .or_else(|| self.timestamp_from_column(values))
            .unwrap_or(now_ms);
        Ok((
            partition,
            Record {
                key,
                value,
                timestamp_ms,
                headers: Vec::new(),
            },
        ))
    }

    /// Kafka's default partitioner: murmur2 of the key bytes, or spread when there are none.
    fn partition_of(&mut self, key: Option<&Bytes>) -> PartitionId {
        match key {
            Some(k) => partition_for_key(k, self.topic.partition_count()),
            None => self.spreader.next_partition(self.topic.partition_count()),
        }
    }

    fn timestamp_from_column(&self, values: &[Value]) -> Option<i64> {
        match values.get(self.timestamp_index?)? {
            Value::BigInt(ms) | Value::Timestamp(ms) => Some(*ms),
            _ => None,
        }
    }
}

/// Widens an evaluated value to a column type the way ksqlDB's INSERT VALUES coercer does
/// (numbers widen, string literals parse into temporal types); `None` if it cannot.
pub fn coerce_to(value: Value, target: &SqlType) -> Option<Value> {
    use crate::types::temporal;
    Some(match (value, target) {
        (Value::Null, _) => Value::Null,
        (Value::Integer(i), SqlType::Integer) => Value::Integer(i),
        (Value::Integer(i), SqlType::BigInt) => Value::BigInt(i64::from(i)),
        (Value::Integer(i), SqlType::Double) => Value::Double(f64::from(i)),
        (Value::BigInt(i), SqlType::BigInt) => Value::BigInt(i),
        (Value::BigInt(i), SqlType::Double) => Value::Double(i as f64),
        (Value::Integer(i), SqlType::Decimal { precision, scale }) => {
            decimal_from_int(i128::from(i), *precision, *scale)?
        }
        (Value::BigInt(i), SqlType::Decimal { precision, scale }) => {
            decimal_from_int(i128::from(i), *precision, *scale)?
        }
        (Value::Decimal(d), SqlType::Decimal { precision, scale }) => {
            Value::Decimal(rescale(d, *precision, *scale)?)
        }
        (Value::Decimal(d), SqlType::Double) => Value::Double(d.to_f64()),
        (Value::Double(d), SqlType::Double) => Value::Double(d),
        (Value::String(s), SqlType::Timestamp) => Value::Timestamp(temporal::parse_timestamp(&s)?),
        (Value::String(s), SqlType::Date) => Value::Date(temporal::parse_date(&s)?),
        (Value::String(s), SqlType::Time) => Value::Time(temporal::parse_time(&s)?),
        (Value::Array(items), SqlType::Array(elem)) => Value::Array(
            items
                .into_iter()
                .map(|v| coerce_to(v, elem))
                .collect::<Option<Vec<_>>>()?,
        ),
        (Value::Map(entries), SqlType::Map(k, v)) => Value::Map(
            entries
                .into_iter()
                .map(|(ek, ev)| Some((coerce_to(ek, k)?, coerce_to(ev, v)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        (Value::Struct(fields), SqlType::Struct(declared)) => {
            let mut out = Vec::with_capacity(declared.len());
            for field in declared {
                let value = fields
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&field.name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Null);
                out.push((field.name.clone(), coerce_to(value, &field.ty)?));
            }
            Value::Struct(out)
        }
        (v @ Value::Boolean(_), SqlType::Boolean)
        | (v @ Value::String(_), SqlType::String)
        | (v @ Value::Bytes(_), SqlType::Bytes)
        | (v @ Value::Timestamp(_), SqlType::Timestamp)
        | (v @ Value::Date(_), SqlType::Date)
        | (v @ Value::Time(_), SqlType::Time) => v,
        _ => return None,
    })
}

fn decimal_from_int(i: i128, precision: u8, scale: u8) -> Option<Value> {
    let d = crate::types::Decimal::new(i, 0);
    Some(Value::Decimal(rescale(d, precision, scale)?))
}

/// Changes a decimal's scale (rounding half-up when lowering) and checks its precision.
fn rescale(d: crate::types::Decimal, precision: u8, scale: u8) -> Option<crate::types::Decimal> {
    let mut unscaled = d.unscaled;
    if scale >= d.scale {
        unscaled = unscaled.checked_mul(10i128.checked_pow(u32::from(scale - d.scale))?)?;
    } else {
        let div = 10i128.checked_pow(u32::from(d.scale - scale))?;
        let (q, r) = (unscaled / div, unscaled % div);
        unscaled = if r.abs() * 2 >= div {
            q + r.signum()
        } else {
            q
        };
    }
    let out = crate::types::Decimal::new(unscaled, scale);
    (out.digits() <= precision.max(1) || unscaled == 0).then_some(out)
}
