//! The aggregate operator: GROUP BY with aggregate functions, over a stream or a table.
//!
//! ```text
//!  stream row ─► group key (null part: dropped) ─► acc[key] += args ─► emit key + results
//!  table row  ─► last contribution of its source key (state "src")
//!               ├─ old: acc[old key] -= old args ─► emit           (ksqlDB's undo)
//!               └─ new: acc[new key] += new args ─► emit, remember as the contribution
//!  emit ─► HAVING true: the row;  false: a tombstone if the last emitted row passed, else nothing
//! ```
//!
//! Rows leave as `[group key values…, aggregate results…]`, the layout the projection after
//! the aggregate was compiled against. Every input row produces its updates at once (ksqlDB
//! with its record cache off, as its QTT cases run), in the order ksqlDB's repartition would
//! deliver them: a table row's undo before its add.
//!
//! State lives in the query's state store through a [`WriteBackCache`]: accumulators under
//! the sink key's serialized bytes (table `agg`), and for a table source each source key's
//! last contribution (table `src`). The query's task commits the cache (shared with the
//! materialized sink table) with the input positions as one atomic commit.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::exec::operator::{Flow, Next, Operator, Row, RowKind};
use crate::expr::CompiledExpr;
use crate::format::key::encode_key;
use crate::format::KeyFormat;
use crate::state::{SharedWriteCache, StateTable, WriteBackCache};
use crate::types::{Column, Value};

use super::udaf::Udaf;
use super::window::WindowSpec;
use super::value_codec::{decode, encode, encode_array};

/// State table of accumulators, by serialized group key.
pub const AGGREGATES_TABLE: &str = "agg";
/// State table of a table source's rows as last aggregated, by source key bytes.
pub const SOURCE_ROWS_TABLE: &str = "src";

/// One aggregate call: its function and its per-row argument expressions.
#[derive(Debug, Clone)]
pub struct AggregateCall {
    pub udaf: Udaf,
    pub args: Vec<CompiledExpr>,
}

/// What the planner decides about an aggregation.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    /// GROUP BY expressions over the input row, in GROUP BY order.
    pub group_by: Vec<CompiledExpr>,
    /// The sink's key columns and format: state keys are the sink's key bytes, so a pull
    /// query looks a key up by the bytes it would find in the sink topic.
    pub key_columns: Vec<Column>,
    pub key_format: KeyFormat,
    pub calls: Vec<AggregateCall>,
    /// The input is a table: rows replace earlier rows of the same source key.
    pub table_input: bool,
    /// For a table input, WHERE: a row failing it withdraws the key's contribution (a
    /// stream's WHERE is a filter before the aggregate).
    pub table_filter: Option<CompiledExpr>,
    /// HAVING, over the output row.
    pub having: Option<CompiledExpr>,
    /// WINDOW: rows aggregate per window, and output rows end in WINDOWSTART, WINDOWEND.
    /// Boxed: most aggregates have none, and the plan node stays small.
    pub window: Option<Box<WindowSpec>>,
}

/// What one source row contributes: its group key and each call's arguments.
pub(super) struct Contribution {
    pub(super) key: Vec<Value>,
    pub(super) args: Vec<Vec<Value>>,
}

pub(crate) struct Aggregate {
    pub(super) query_id: Arc<str>,
    pub(super) spec: AggregateSpec,
    pub(super) cache: SharedWriteCache,
    aggregates: StateTable,
    sources: StateTable,
    /// The first state error: the query stops (its batch is not committed).
    pub(super) error: Option<EngineError>,
    scratch: Vec<u8>,
    /// The last output row [`Aggregate::output`] built.
    pub(super) out: Vec<Value>,
}

impl Aggregate {
    pub(crate) fn new(
        query_id: Arc<str>,
        spec: AggregateSpec,
        cache: SharedWriteCache,
    ) -> Result<Aggregate> {
        Ok(Aggregate {
            query_id,
            spec,
            cache,
            aggregates: StateTable::new(AGGREGATES_TABLE)?,
            sources: StateTable::new(SOURCE_ROWS_TABLE)?,
            error: None,
            scratch: Vec::new(),
            out: Vec::new(),
        })
    }

    /// The row's contribution; `None` when it contributes nothing (a tombstone, filtered
    /// out, or a null in its group key).
    pub(super) fn contribution(&self, row: &Row<'_>) -> Option<Contribution> {
        if row.kind == RowKind::Tombstone {
            return None;
        }
        if let Some(filter) = &self.spec.table_filter {
            match filter.eval_predicate(row.values) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::warn!(query = %self.query_id, error = %e, "WHERE failed; row skipped");
                    return None;
                }
            }
        }
        let mut key = Vec::with_capacity(self.spec.group_by.len());
        for e in &self.spec.group_by {
            let v = e.eval(row.values).unwrap_or_else(|err| {
                tracing::warn!(query = %self.query_id, error = %err, "GROUP BY expression failed");
                Value::Null
            });
            if v.is_null() {
                // ksqlDB: "Group-by column … resolved to null. The source row will be
                // excluded from the table."
                tracing::debug!(query = %self.query_id, "null group key; row excluded");
                return None;
            }
            key.push(v);
        }
        let args = self
            .spec
            .calls
            .iter()
            .map(|c| {
                c.args
                    .iter()
                    .map(|a| {
                        a.eval(row.values).unwrap_or_else(|err| {
                            tracing::warn!(query = %self.query_id, error = %err, "aggregate argument failed; using null");
                            Value::Null
                        })
                    })
                    .collect()
            })
            .collect();
        Some(Contribution { key, args })
    }

    pub(super) fn key_bytes(&self, key: &[Value]) -> Result<Bytes> {
        // No key columns (a push query without GROUP BY): one group, the empty key.
        Ok(encode_key(self.spec.key_format, &self.spec.key_columns, key)?.unwrap_or_default())
    }

    /// A group's accumulators and the timestamp of its last result, if it has any.
    fn load(&mut self, key: &Bytes) -> Result<Option<(Vec<Value>, Option<i64>)>> {
        let stored = lock(&self.cache).get(&self.aggregates, key)?;
        stored
            .map(|bytes| decode_accumulators(&bytes, self.spec.calls.len()))
            .transpose()
    }

    /// The output row for `key` and `accs` into `self.out`; whether HAVING passes.
    pub(super) fn output(&mut self, key: &[Value], accs: &[Value]) -> bool {
        self.out.clear();
        self.out.extend(key.iter().cloned());
        for (call, acc) in self.spec.calls.iter().zip(accs) {
            self.out.push(call.udaf.result(acc));
        }
        match &self.spec.having {
            None => true,
            Some(h) => h.eval_predicate(&self.out).unwrap_or_else(|e| {
                tracing::warn!(query = %self.query_id, error = %e, "HAVING failed; treated as false");
                false
            }),
        }
    }

    /// Applies `contribution` to its group (undoing it when `undo`) and emits the change.
    ///
    /// The group's state is read, changed and written back in one probe of the cache
    /// ([`WriteBackCache::update`]): with 100k groups each probe is a cache miss or more,
    /// and a read then a write paid two.
    fn apply(
        &mut self,
        contribution: &Contribution,
        undo: bool,
        row: &Row<'_>,
        next: &mut Next<'_>,
    ) -> Result<Flow> {
        let key = self.key_bytes(&contribution.key)?;
        let calls = &self.spec.calls;
        // Only HAVING can turn a group's row into a tombstone, which needs to know whether
        // the group's last row passed: keep the accumulators from before only then.
        let having = self.spec.having.is_some();
        let scratch = &mut self.scratch;
        let mut step = None;
        lock(&self.cache).update(&self.aggregates, &key, |stored| {
            let changed = change_group(calls, stored, contribution, undo, having, row.rowtime)
                .map(|change| {
                    scratch.clear();
                    encode_accumulators(&change.accs, change.timestamp_ms, scratch);
                    (change, Bytes::copy_from_slice(scratch))
                });
            match changed {
                Ok((change, bytes)) => {
                    step = Some(Ok(change));
                    Some(bytes)
                }
                Err(e) => {
                    // The batch fails and the cache rolls back: keep the value as it was.
                    step = Some(Err(e));
                    stored.cloned()
                }
            }
        })?;
        let change = step
            .ok_or_else(|| EngineError::internal("the state cache skipped an aggregate update"))??;
        let passed_before = match &change.before {
            Some(before) => self.output(&contribution.key, before),
            None => false,
        };
        let passes = self.output(&contribution.key, &change.accs);
        let kind = match (passes, passed_before) {
            (true, _) => RowKind::Row,
            (false, true) => RowKind::Tombstone,
            (false, false) => return Ok(Flow::Continue),
        };
        let mut emitted = row.with_values(&self.out);
        emitted.kind = kind;
        emitted.rowtime = change.timestamp_ms;
        Ok(next(emitted))
    }

    fn process(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Result<Flow> {
        let new = self.contribution(&row);
        if !self.spec.table_input {
            return match new {
                Some(c) => self.apply(&c, false, &row, next),
                None => Ok(Flow::Continue),
            };
        }
        let source_key = row.record.record.key.clone().unwrap_or_default();
        let old = match lock(&self.cache).get(&self.sources, &source_key)? {
            None => None,
            Some(bytes) => Some(decode_contribution(&bytes, self.spec.calls.len())?),
        };
        if let Some(old) = &old {
            if self.apply(old, true, &row, next)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        match &new {
            Some(c) => {
                self.scratch.clear();
                encode(&encode_contribution(c), &mut self.scratch);
                let bytes = Bytes::copy_from_slice(&self.scratch);
                lock(&self.cache).put(&self.sources, &source_key, bytes)?;
                self.apply(c, false, &row, next)
            }
            None => {
                if old.is_some() {
                    lock(&self.cache).delete(&self.sources, &source_key)?;
                }
                Ok(Flow::Continue)
            }
        }
    }
}

/// The cache, even if a panic poisoned its lock: its writes are only committed by the task
/// that owns it, and a panicking task commits nothing.
pub(super) fn lock(cache: &SharedWriteCache) -> std::sync::MutexGuard<'_, WriteBackCache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// A group's state after one contribution.
struct GroupChange {
    accs: Vec<Value>,
    /// The accumulators before it, kept only for HAVING and only if the group existed.
    before: Option<Vec<Value>>,
    /// The result's timestamp: as new as the newest record in it (Kafka Streams'
    /// aggregations stamp max(record, previous result)), so a late record does not move a
    /// group back in time.
    timestamp_ms: i64,
}

/// Adds (or, when `undo`, removes) `contribution` to the group stored as `stored` (`None`:
/// a new group, from each call's initial value).
fn change_group(
    calls: &[AggregateCall],
    stored: Option<&Bytes>,
    contribution: &Contribution,
    undo: bool,
    having: bool,
    rowtime: i64,
) -> Result<GroupChange> {
    let (mut accs, before_ms) = match stored {
        Some(bytes) => decode_accumulators(bytes, calls.len())?,
        None => (calls.iter().map(|c| c.udaf.init()).collect(), None),
    };
    let before = (having && stored.is_some()).then(|| accs.clone());
    for ((call, acc), args) in calls.iter().zip(&mut accs).zip(&contribution.args) {
        if undo {
            call.udaf.undo(acc, args)?;
        } else {
            call.udaf.add(acc, args)?;
        }
    }
    Ok(GroupChange {
        accs,
        before,
        timestamp_ms: before_ms.map_or(rowtime, |b| b.max(rowtime)),
    })
}

/// A group's accumulators and its last result's timestamp (`None` in state written before
/// results carried one), from their stored bytes.
fn decode_accumulators(bytes: &[u8], calls: usize) -> Result<(Vec<Value>, Option<i64>)> {
    match decode(&mut &*bytes)? {
        Value::Array(accs) if accs.len() == calls => Ok((accs, None)),
        Value::Array(mut accs) if accs.len() == calls + 1 => match accs.pop() {
            Some(Value::BigInt(ts)) => Ok((accs, Some(ts))),
            _ => Err(EngineError::corrupt("an aggregate's timestamp is not a BIGINT")),
        },
        _ => Err(EngineError::corrupt("an aggregate's state has the wrong shape")),
    }
}

/// The stored form of a group: its accumulators with its result's timestamp after them.
fn encode_accumulators(accs: &[Value], timestamp_ms: i64, out: &mut Vec<u8>) {
    encode_array(&[accs, &[Value::BigInt(timestamp_ms)]], out);
}

fn encode_contribution(c: &Contribution) -> Value {
    Value::Array(vec![
        Value::Array(c.key.clone()),
        Value::Array(c.args.iter().map(|a| Value::Array(a.clone())).collect()),
    ])
}

fn decode_contribution(bytes: &[u8], calls: usize) -> Result<Contribution> {
    let shape = || EngineError::corrupt("a table row's aggregate state has the wrong shape");
    let Value::Array(mut parts) = decode(&mut &*bytes)? else {
        return Err(shape());
    };
    if parts.len() != 2 {
        return Err(shape());
    }
    let (Value::Array(args), Value::Array(key)) = (parts.remove(1), parts.remove(0)) else {
        return Err(shape());
    };
    if args.len() != calls {
        return Err(shape());
    }
    let args = args
        .into_iter()
        .map(|a| match a {
            Value::Array(a) => Ok(a),
            _ => Err(shape()),
        })
        .collect::<Result<_>>()?;
    Ok(Contribution { key, args })
}

impl Operator for Aggregate {
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        if self.error.is_some() {
            return Flow::Stop;
        }
        match self.process(row, next) {
            Ok(flow) => flow,
            Err(e) => {
                tracing::error!(query = %self.query_id, error = %e, "aggregate state failed");
                self.error = Some(e);
                lock(&self.cache).rollback();
                Flow::Stop
            }
        }
    }

    fn take_error(&mut self) -> Option<EngineError> {
        self.error.take()
    }

    /// A global aggregate (no GROUP BY, no window) that saw no row answers the result of
    /// its empty group (`COUNT(*)` 0, most others null), if it passes HAVING.
    fn finish(&mut self, next: &mut Next<'_>) -> Flow {
        if self.error.is_some() || !self.spec.group_by.is_empty() || self.spec.window.is_some() {
            return Flow::Continue;
        }
        let seen = self.key_bytes(&[]).and_then(|key| self.load(&key));
        match seen {
            Ok(Some(_)) => return Flow::Continue,
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return Flow::Stop;
            }
        }
        let accs: Vec<Value> = self.spec.calls.iter().map(|c| c.udaf.init()).collect();
        if !self.output(&[], &accs) {
            return Flow::Continue;
        }
        // No record is behind this row: an empty one stands in (no key, no value, time 0).
        let record = crate::log::StoredRecord {
            partition: crate::log::PartitionId(0),
            offset: crate::log::Offset(0),
            record: crate::log::Record {
                key: None,
                value: None,
                timestamp_ms: 0,
                headers: Vec::new(),
            },
        };
        next(Row {
            values: &self.out,
            spans: &[],
            record: &record,
            rowtime: 0,
            kind: RowKind::Row,
            window: None,
        })
    }
}
