//! The persistent query task: read a batch from every source partition, turn it into sink
//! records, and write them exactly once.
//!
//! Exactly once across crashes:
//! 1. Under the sink topic's lock, write an *intent*: the batch's source ranges and every
//!    sink partition's end offset before it.
//! 2. Append the outputs (possibly to several sink partitions) and await durability.
//! 3. Write a *commit*: the source positions after the batch.
//!
//! On restart an intent without a commit is re-run: the same source ranges, read in the same
//! partition order, give the same outputs per sink partition (the pipeline is deterministic
//! and keyless outputs go to `source partition mod sink partitions`, never to a rotating
//! partition). For each sink partition `q`, the first `end_now[q] - intent_end[q]` outputs
//! already landed (the log keeps a record-granular prefix of an unfinished append), so they
//! are skipped and the rest appended. No duplicates, no loss.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::exec::project::{for_each_selected_row, project_into};
use crate::exec::row_decoder::{Decoded, RowDecoder};
use crate::format::json_value::{encode_value, encode_value_unwrapped};
use crate::format::key::encode_key;
use crate::format::timestamp_extractor::TimestampExtractor;
use crate::format::ValueWrapping;
use crate::log::{
    partition_for_key, LogStore, Offset, PartitionCursor, PartitionId, Record, StartPosition,
    StoredRecord, TopicLog, APPEND_REQUEST_BYTES_MAX,
};
use crate::sql::ast::SourceKind;
use crate::types::{Column, Value};

use super::checkpoint::{Entry, QueryJournal, Resume};
use super::{Handle, PersistentPlan, PersistentQueries};

/// Source records per batch, over all partitions.
///
/// One batch costs two journal fsyncs and one log group commit per sink partition; 2048
/// records amortise those well while keeping a batch's outputs (held in memory until they
/// are durable) to a few MiB.
pub const BATCH_RECORDS_MAX: usize = 2048;

/// Records read from one partition per batch, so a busy partition cannot starve the others.
pub const PARTITION_READ_RECORDS_MAX: usize = 512;

/// Bytes of records per append request: half the log's per-request limit, leaving room for
/// the framing the log adds.
const APPEND_CHUNK_BYTES_MAX: usize = APPEND_REQUEST_BYTES_MAX / 2;

/// Opens a replayed query's journal and finishes its unfinished batch, if any.
pub(super) async fn open_and_recover(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
) -> Result<(QueryJournal, Resume)> {
    let (mut journal, resume) = QueryJournal::open(&queries.journal_path(&handle.query.id))?;
    let positions = match resume {
        Resume::Unfinished { source, sink_end } => {
            recover(queries, log, handle, &mut journal, &source, &sink_end).await?
        }
        Resume::Committed(positions) => positions,
        // The CREATE reached the catalog journal, so its first commit was written before;
        // an empty journal means the file was lost: start from the beginning (never skip).
        Resume::Fresh => Vec::new(),
    };
    Ok((journal, Resume::Committed(positions)))
}

/// Runs a query until it is terminated or fails.
pub(super) async fn run(
    queries: Arc<PersistentQueries>,
    log: Arc<dyn LogStore>,
    handle: Arc<Handle>,
    mut journal: QueryJournal,
    resume: Resume,
) {
    let id = handle.query.id.clone();
    let result = async {
        let positions = match resume {
            Resume::Committed(p) => p,
            Resume::Fresh => Vec::new(),
            Resume::Unfinished { source, sink_end } => {
                recover(&queries, &log, &handle, &mut journal, &source, &sink_end).await?
            }
        };
        run_loop(&queries, &log, &handle, &mut journal, positions).await
    }
    .await;
    if let Err(e) = result {
        if !*handle.cancel.borrow() {
            tracing::error!(query = %id, error = %e, "persistent query stopped");
            handle.failed.store(true, Ordering::SeqCst);
        }
    }
}

struct Topics {
    source: Arc<dyn TopicLog>,
    sink: Arc<dyn TopicLog>,
}

fn topics(log: &Arc<dyn LogStore>, plan: &PersistentPlan) -> Result<Topics> {
    let get = |name: &str| {
        log.topic(name)
            .ok_or_else(|| EngineError::not_found(format!("Topic '{name}' does not exist")))
    };
    Ok(Topics {
        source: get(&plan.source.topic)?,
        sink: get(&plan.sink.topic)?,
    })
}

async fn run_loop(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
    journal: &mut QueryJournal,
    mut positions: Vec<u64>,
) -> Result<()> {
    let plan = &handle.query.plan;
    let topics = topics(log, plan)?;
    let partitions = topics.source.partition_count() as usize;
    positions.resize(partitions, 0);
    handle.publish(&positions);
    let mut cursors: Vec<Box<dyn PartitionCursor>> = (0..partitions)
        .map(|p| {
            topics.source.cursor(
                PartitionId(p as u32),
                StartPosition::At(Offset(positions[p])),
            )
        })
        .collect::<Result<_>>()?;
    let mut builder = OutputBuilder::new(plan, &handle.query.id, topics.sink.partition_count());
    let mut records = Vec::with_capacity(BATCH_RECORDS_MAX);
    let ready = topics.source.data_ready();
    let mut cancel = handle.cancel.subscribe();
    loop {
        if *cancel.borrow() {
            return Ok(());
        }
        // Register interest before reading so an append between the read and the wait
        // still wakes us.
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        records.clear();
        for cursor in cursors.iter_mut() {
            let room = BATCH_RECORDS_MAX - records.len();
            cursor.read(&mut records, room.min(PARTITION_READ_RECORDS_MAX))?;
        }
        if records.is_empty() {
            if topics.source.is_deleted() {
                return Err(EngineError::not_found(format!(
                    "Topic '{}' was deleted",
                    plan.source.topic
                )));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = cancel.changed() => {}
            }
            continue;
        }
        let ends: Vec<u64> = cursors.iter().map(|c| c.position().0).collect();
        let ranges: Vec<(u64, u64)> = positions
            .iter()
            .copied()
            .zip(ends.iter().copied())
            .collect();
        let outputs = builder.build(&records);
        write_batch(queries, &topics, journal, &ranges, outputs, None).await?;
        positions = ends;
        handle.publish(&positions);
    }
}

/// Re-runs an unfinished batch, skipping the outputs that already landed. Returns the
/// source positions after it.
async fn recover(
    queries: &PersistentQueries,
    log: &Arc<dyn LogStore>,
    handle: &Handle,
    journal: &mut QueryJournal,
    ranges: &[(u64, u64)],
    intent_sink_end: &[u64],
) -> Result<Vec<u64>> {
    let plan = &handle.query.plan;
    let topics = topics(log, plan)?;
    let mut records = Vec::new();
    for (p, &(from, to)) in ranges.iter().enumerate() {
        let mut cursor = topics
            .source
            .cursor(PartitionId(p as u32), StartPosition::At(Offset(from)))?;
        while cursor.position().0 < to {
            let want = usize::try_from(to - cursor.position().0).unwrap_or(usize::MAX);
            if cursor.read(&mut records, want)? == 0 {
                return Err(EngineError::corrupt(format!(
                    "query {}: source records [{from}, {to}) of partition {p} are gone",
                    handle.query.id
                )));
            }
        }
    }
    let mut builder = OutputBuilder::new(plan, &handle.query.id, topics.sink.partition_count());
    let outputs = builder.build(&records);
    tracing::info!(query = %handle.query.id, records = records.len(), "re-running an unfinished batch");
    write_batch(
        queries,
        &topics,
        journal,
        ranges,
        outputs,
        Some(intent_sink_end),
    )
    .await?;
    Ok(ranges.iter().map(|r| r.1).collect())
}

/// Writes one batch exactly once: intent, appends, durability, commit. `recovering` holds
/// the sink end offsets of the original intent when re-running an unfinished batch.
async fn write_batch(
    queries: &PersistentQueries,
    topics: &Topics,
    journal: &mut QueryJournal,
    ranges: &[(u64, u64)],
    mut outputs: Vec<Vec<Record>>,
    recovering: Option<&[u64]>,
) -> Result<()> {
    let lock = queries.sink_lock(topics.sink.name());
    let _only_batch_in_flight_for_this_sink = lock.lock().await;
    let commit = Entry::Commit {
        source: ranges.iter().map(|r| r.1).collect(),
    };
    match recovering {
        Some(intent_end) => {
            for (q, out) in outputs.iter_mut().enumerate() {
                let now = topics.sink.end_offset(PartitionId(q as u32)).0;
                let before = intent_end.get(q).copied().unwrap_or(now);
                let landed = usize::try_from(now.saturating_sub(before)).unwrap_or(usize::MAX);
                if landed > out.len() {
                    tracing::warn!(
                        sink = topics.sink.name(),
                        partition = q,
                        landed,
                        outputs = out.len(),
                        "sink partition grew more than this batch writes; another writer used it"
                    );
                }
                out.drain(..landed.min(out.len()));
            }
        }
        None => {
            if outputs.iter().all(Vec::is_empty) {
                // Nothing to write: only the new positions need recording.
                return journal.append(&commit);
            }
            let sink_end = (0..topics.sink.partition_count())
                .map(|q| topics.sink.end_offset(PartitionId(q)).0)
                .collect();
            journal.append(&Entry::Intent {
                source: ranges.to_vec(),
                sink_end,
            })?;
        }
    }
    let mut tickets = Vec::new();
    for (q, out) in outputs.into_iter().enumerate() {
        for chunk in chunks(out) {
            tickets.push(topics.sink.append(PartitionId(q as u32), chunk).await?);
        }
    }
    for ticket in tickets {
        ticket
            .await
            .map_err(|_| EngineError::internal("sink partition writer stopped"))??;
    }
    journal.append(&commit)
}

/// Splits records into append requests within the log's size limit, keeping their order.
fn chunks(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0usize;
    for r in records {
        let size =
            64 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
        if !current.is_empty() && bytes + size > APPEND_CHUNK_BYTES_MAX {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(r);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Turns source records into sink records, grouped by sink partition, in source order.
pub(super) struct OutputBuilder<'a> {
    plan: &'a PersistentPlan,
    query_id: &'a str,
    decoder: RowDecoder,
    /// Reused for the rows table functions build.
    flat_rows: Vec<Value>,
    encoder: SinkEncoder,
}

impl<'a> OutputBuilder<'a> {
    pub(super) fn new(
        plan: &'a PersistentPlan,
        query_id: &'a str,
        sink_partitions: u32,
    ) -> OutputBuilder<'a> {
        OutputBuilder {
            plan,
            query_id,
            decoder: RowDecoder::new(&plan.source),
            flat_rows: Vec::new(),
            encoder: SinkEncoder {
                sink_partitions: sink_partitions.max(1),
                sink_timestamp: TimestampExtractor::for_source(&plan.sink),
                key_columns: plan.sink.schema.keys().cloned().collect(),
                value_columns: plan.sink.schema.values().cloned().collect(),
                keys: Vec::new(),
                values: Vec::new(),
                scratch: Vec::new(),
            },
        }
    }

    pub(super) fn build(&mut self, records: &[StoredRecord]) -> Vec<Vec<Record>> {
        let mut outputs = vec![Vec::new(); self.encoder.sink_partitions as usize];
        for record in records {
            self.one(record, &mut outputs);
        }
        outputs
    }

    /// Appends the sink records of one source record: none (filtered out, undecodable, or
    /// no table function rows), one, or one per table function row.
    fn one(&mut self, record: &StoredRecord, outputs: &mut [Vec<Record>]) {
        let (plan, query_id, encoder) = (self.plan, self.query_id, &mut self.encoder);
        let is_stream = plan.source.kind == SourceKind::Stream;
        let row = match self.decoder.decode_record(record) {
            Decoded::Row(row) => row,
            // A stream forwards a null value as a null value (ksqlDB's mappers pass a null
            // row through), unless WHERE drops it: a predicate over a null row is not true.
            Decoded::Tombstone(row) if is_stream && plan.filter.is_none() => {
                if let Some((q, out)) = encoder.encode_null_value(plan, query_id, row, record) {
                    outputs[q as usize].push(out);
                }
                return;
            }
            Decoded::Tombstone(_) | Decoded::Skipped => return,
        };
        // Read before the flat map: rows built by table functions carry extra slots after
        // the source row, so the pseudo columns are no longer at its end.
        let rowtime = RowDecoder::rowtime_of(row);
        let _always_continues = for_each_selected_row(
            query_id,
            plan.filter.as_ref(),
            &plan.flat_map,
            row,
            &mut self.flat_rows,
            |selected| {
                if let Some((q, out)) = encoder.encode(plan, query_id, selected, rowtime, record) {
                    outputs[q as usize].push(out);
                }
                ControlFlow::Continue(())
            },
        );
    }
}

/// Projects a selected row into the sink's key and value and encodes the sink record.
struct SinkEncoder {
    sink_partitions: u32,
    /// Converts the sink's `TIMESTAMP=` column, if it has one, into the output timestamp.
    sink_timestamp: Option<TimestampExtractor>,
    key_columns: Vec<Column>,
    value_columns: Vec<Column>,
    keys: Vec<Value>,
    values: Vec<Value>,
    scratch: Vec<u8>,
}

impl SinkEncoder {
    fn encode(
        &mut self,
        plan: &PersistentPlan,
        query_id: &str,
        row: &[Value],
        rowtime: i64,
        record: &StoredRecord,
    ) -> Option<(u32, Record)> {
        self.keys.clear();
        self.values.clear();
        project_into(query_id, &plan.key_projection, row, &mut self.keys);
        project_into(query_id, &plan.value_projection, row, &mut self.values);
        let value = self.encode_value(plan);
        let timestamp_ms = match self.timestamp(plan) {
            None => rowtime,
            Some(Ok(ms)) => ms,
            Some(Err(e)) => {
                tracing::warn!(query = %query_id, partition = record.partition.0,
                    offset = record.offset.0, error = %e, "skipping row: invalid sink timestamp");
                return None;
            }
        };
        self.record(plan, query_id, value, timestamp_ms, record)
    }

    /// A null source value becomes a null sink value. Only the source key is known: a sink
    /// key column computed from source key columns alone keeps its value, any other is
    /// null (QTT `null.json`, `partition-by.json` "multiple columns" cases).
    fn encode_null_value(
        &mut self,
        plan: &PersistentPlan,
        query_id: &str,
        row: &[Value],
        record: &StoredRecord,
    ) -> Option<(u32, Record)> {
        self.keys.clear();
        self.values.clear();
        for projection in &plan.null_value_key_projection {
            match projection {
                Some(p) => project_into(query_id, std::slice::from_ref(p), row, &mut self.keys),
                None => self.keys.push(Value::Null),
            }
        }
        let rowtime = RowDecoder::rowtime_of(row);
        self.record(plan, query_id, None, rowtime, record)
    }

    /// Encodes the key and places the record on its sink partition.
    fn record(
        &mut self,
        plan: &PersistentPlan,
        query_id: &str,
        value: Option<bytes::Bytes>,
        timestamp_ms: i64,
        record: &StoredRecord,
    ) -> Option<(u32, Record)> {
        let key = match encode_key(plan.sink.key_format, &self.key_columns, &self.keys) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(query = %query_id, partition = record.partition.0,
                    offset = record.offset.0, error = %e, "skipping row: key failed to serialize");
                return None;
            }
        };
        let partition = match &key {
            Some(k) => partition_for_key(k, self.sink_partitions).0,
            // Deterministic (recovery re-runs batches) and order-preserving per source
            // partition, unlike a rotating keyless partitioner.
            None => record.partition.0 % self.sink_partitions,
        };
        Some((
            partition,
            Record {
                key,
                value,
                timestamp_ms,
                // Kafka Streams forwards the input record's headers to what it produces.
                headers: record.record.headers.clone(),
            },
        ))
    }

    /// The record value for the projected values, in the sink's value format and wrapping.
    /// An unwrapped null is a null value (ksqlDB's serializer writes no bytes for null).
    fn encode_value(&mut self, plan: &PersistentPlan) -> Option<bytes::Bytes> {
        self.scratch.clear();
        match (plan.sink.value_wrapping, self.values.as_slice()) {
            (ValueWrapping::Unwrapped, [Value::Null]) => return None,
            (ValueWrapping::Unwrapped, [value]) => encode_value_unwrapped(value, &mut self.scratch),
            _ => encode_value(&self.value_columns, &self.values, &mut self.scratch),
        }
        Some(bytes::Bytes::copy_from_slice(&self.scratch))
    }

    /// The sink's `TIMESTAMP=` column as a timestamp, when the sink has one.
    fn timestamp(&self, plan: &PersistentPlan) -> Option<std::result::Result<i64, String>> {
        let extractor = self.sink_timestamp.as_ref()?;
        let value = match (plan.timestamp_key_index, plan.timestamp_value_index) {
            (Some(i), _) => self.keys.get(i),
            (_, Some(i)) => self.values.get(i),
            _ => None,
        }?;
        Some(extractor.extract(value))
    }
}
