//! The terminal of persistent queries: projects each row into the sink's key and value,
//! encodes them in the sink's formats and places the record on its sink partition.
//!
//! ```text
//!  row ─► key projection ─► key bytes ─► partition (murmur2; keyless: source partition)
//!      └► value projection ─► value bytes (wrapped or not) ─► Record (timestamp, headers)
//! ```

use std::sync::Arc;

use bytes::Bytes;

use crate::catalog::Source;
use crate::format::json_value::{encode_value, encode_value_unwrapped};
use crate::format::key::encode_key;
use crate::format::window_key::append_window;
use crate::format::timestamp_extractor::TimestampExtractor;
use crate::format::ValueWrapping;
use crate::log::{partition_for_key, Record};
use crate::types::{Column, Value};

use super::operator::{Row, RowKind, Terminal};
use super::project::{project_into, Projection};

/// What a sink record is made of, as planned.
#[derive(Debug, Clone)]
pub struct SinkProjection {
    /// One per sink key column, in sink order.
    pub key: Vec<Projection>,
    /// One per sink value column, in sink order.
    pub value: Vec<Projection>,
    /// One per sink key column: how to compute it for a tombstone, where only the source key
    /// is known. `None` (the expression reads a value column) gives NULL. ksqlDB evaluates a
    /// PARTITION BY expression over the key alone when it references key columns only, and
    /// over the (null) value otherwise (`PartitionByParamsFactory`, QTT `partition-by.json`
    /// "multiple columns with expressions").
    pub tombstone_key: Vec<Option<Projection>>,
}

/// The sink records of one batch, per sink partition, in source order.
pub(crate) type SinkRecords = Vec<Vec<Record>>;

pub(crate) struct RecordSink {
    query_id: Arc<str>,
    sink: Arc<Source>,
    partitions: u32,
    projection: SinkProjection,
    /// Index into the key (or value) columns of the sink's `TIMESTAMP` column, if set.
    timestamp_key_index: Option<usize>,
    timestamp_value_index: Option<usize>,
    /// Converts the sink's `TIMESTAMP=` column, if it has one, into the output timestamp.
    timestamp: Option<TimestampExtractor>,
    key_columns: Vec<Column>,
    value_columns: Vec<Column>,
    keys: Vec<Value>,
    values: Vec<Value>,
    scratch: Vec<u8>,
}

impl RecordSink {
    pub(crate) fn new(
        query_id: Arc<str>,
        sink: Arc<Source>,
        partitions: u32,
        projection: SinkProjection,
    ) -> RecordSink {
        let key_count = sink.schema.keys().count();
        let timestamp = sink
            .timestamp_column
            .as_deref()
            .and_then(|name| sink.schema.find(name).map(|(i, _)| i));
        RecordSink {
            query_id,
            partitions: partitions.max(1),
            projection,
            timestamp_key_index: timestamp.filter(|&i| i < key_count),
            timestamp_value_index: timestamp.filter(|&i| i >= key_count).map(|i| i - key_count),
            timestamp: TimestampExtractor::for_source(&sink),
            key_columns: sink.schema.keys().cloned().collect(),
            value_columns: sink.schema.values().cloned().collect(),
            keys: Vec::new(),
            values: Vec::new(),
            scratch: Vec::new(),
            sink,
        }
    }

    /// A row's sink record and partition; `None` when it cannot be written (logged).
    fn encode(&mut self, row: &Row<'_>) -> Option<(u32, Record)> {
        self.keys.clear();
        self.values.clear();
        let query_id = Arc::clone(&self.query_id);
        let query_id = &*query_id;
        if row.kind == RowKind::Tombstone {
            // Only the source key is known: a sink key column computed from source key
            // columns alone keeps its value, any other is null (QTT `null.json`).
            for p in &self.projection.tombstone_key {
                self.keys.push(match p {
                    Some(p) => p.value(query_id, row.values),
                    None => Value::Null,
                });
            }
            return self.record(row, None, row.rowtime);
        }
        project_into(query_id, &self.projection.key, row.values, &mut self.keys);
        project_into(
            query_id,
            &self.projection.value,
            row.values,
            &mut self.values,
        );
        let value = self.encode_value();
        let timestamp_ms = match self.timestamp_of_row() {
            None => row.rowtime,
            Some(Ok(ms)) => ms,
            Some(Err(e)) => {
                tracing::warn!(query = %query_id, partition = row.record.partition.0,
                    offset = row.record.offset.0, error = %e, "skipping row: invalid sink timestamp");
                return None;
            }
        };
        self.record(row, value, timestamp_ms)
    }

    /// Encodes the key and places the record on its sink partition.
    fn record(
        &mut self,
        row: &Row<'_>,
        value: Option<Bytes>,
        timestamp_ms: i64,
    ) -> Option<(u32, Record)> {
        let key = match encode_key(self.sink.key_format, &self.key_columns, &self.keys) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(query = %self.query_id, partition = row.record.partition.0,
                    offset = row.record.offset.0, error = %e, "skipping row: key failed to serialize");
                return None;
            }
        };
        // A windowed sink's key is the inner key and the row's window; Kafka Streams'
        // `WindowedStreamPartitioner` places it by the inner key alone.
        let inner_len = key.as_ref().map(Bytes::len);
        let key = match (key, row.window, self.sink.window) {
            (key, Some(w), Some(sink_window)) => {
                let mut bytes = key.map(|k| k.to_vec()).unwrap_or_default();
                append_window(sink_window.kind.key_kind(), w.start_ms, w.end_ms, &mut bytes);
                Some(Bytes::from(bytes))
            }
            (key, _, _) => key,
        };
        let partition = match &key {
            Some(k) => partition_for_key(&k[..inner_len.unwrap_or(0)], self.partitions).0,
            // Deterministic (recovery re-runs batches) and order-preserving per source
            // partition, unlike a rotating keyless partitioner.
            None => row.record.partition.0 % self.partitions,
        };
        Some((
            partition,
            Record {
                key,
                value,
                timestamp_ms,
                // Kafka Streams forwards the input record's headers to what it produces.
                headers: row.record.record.headers.clone(),
            },
        ))
    }

    /// The record value for the projected values, in the sink's value format and wrapping.
    /// An unwrapped null is a null value (ksqlDB's serializer writes no bytes for null).
    fn encode_value(&mut self) -> Option<Bytes> {
        self.scratch.clear();
        match (self.sink.value_wrapping, self.values.as_slice()) {
            (ValueWrapping::Unwrapped, [Value::Null]) => return None,
            (ValueWrapping::Unwrapped, [value]) => encode_value_unwrapped(value, &mut self.scratch),
            _ => encode_value(&self.value_columns, &self.values, &mut self.scratch),
        }
        Some(Bytes::copy_from_slice(&self.scratch))
    }

    /// The sink's `TIMESTAMP=` column as a timestamp, when the sink has one.
    fn timestamp_of_row(&self) -> Option<std::result::Result<i64, String>> {
        let extractor = self.timestamp.as_ref()?;
        let value = match (self.timestamp_key_index, self.timestamp_value_index) {
            (Some(i), _) => self.keys.get(i),
            (_, Some(i)) => self.values.get(i),
            _ => None,
        }?;
        Some(extractor.extract(value))
    }
}

impl Terminal for RecordSink {
    type Output = SinkRecords;

    fn accept(&mut self, row: Row<'_>, out: &mut SinkRecords) {
        if out.len() < self.partitions as usize {
            out.resize_with(self.partitions as usize, Vec::new);
        }
        if let Some((partition, record)) = self.encode(&row) {
            out[partition as usize].push(record);
        }
    }
}
