//! Joins: rows of several sources combined on equal keys, with their state in the query's
//! store.
//!
//! ```text
//!  leaf 0 ─► node 0 (left) ─► node 1 (left) ─► … ─► node n-1 ─► table WHERE? ─► next
//!  leaf 1 ─► node 0 (right)   │                       │
//!  leaf 2 ────────────────► node 1 (right)           …
//! ```
//!
//! ksqlDB's joins are left-deep: `A JOIN B … JOIN C` joins `(A ⋈ B) ⋈ C`, so join node `i`
//! takes the result of node `i - 1` (or leaf 0) as its left input and leaf `i + 1` as its
//! right input. Every row of the plan has one layout: each leaf's columns and pseudo
//! columns at that leaf's base slot, then the synthetic key (`ROWKEY`) and the result's
//! ROWTIME; a side that is absent (an outer join's missing side) is NULL.
//!
//! Each node behaves as Kafka Streams' join of its kind does, which is what ksqlDB runs:
//! - stream-table: a stream row looks the table up (LEFT keeps a miss with NULLs); table
//!   rows only update the table; the result has the stream row's timestamp;
//! - table-table on the primary key: either side's change looks up the other side; a
//!   delete becomes a tombstone where a result existed; the result's timestamp is the
//!   larger of the two rows';
//! - table-table on a foreign key: the left table's rows are indexed by their foreign key,
//!   so a right-side change reaches every left row that refers to it; the result is keyed
//!   by the left table's key;
//! - stream-stream `WITHIN (before, after)`: each side buffers its rows by key and time and
//!   joins the other side's rows in the window; without `GRACE PERIOD` an outer join emits
//!   its unmatched rows at once (ksqlDB's legacy behaviour), with it only once the window
//!   has closed and only if no match came. Rows later than the grace period are dropped.
//!
//! State tables per node `n`: `j<n>l`/`j<n>r` (each side's rows by key: a table's latest
//! row, or a stream's window buffer keyed `[key][time][record id]`), `j<n>x` (foreign key
//! index; a stream-stream join's rows per side and key), `j<n>u` (outer rows awaiting their window's close) and `j<n>t` (stream times:
//! both sides', and each side's buffer's).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::expr::CompiledExpr;
use crate::sql::ast::{JoinType, SourceKind};
use crate::state::{SharedWriteCache, StateTable, WriteBackCache};
use crate::types::Value;

use super::aggregate::value_codec;
use super::operator::{Flow, Row, RowKind};

/// Buffered rows of one key on one side of a stream-stream join. A window holding more
/// rows than this drops its oldest, with a warning: the bound keeps one hot key from
/// growing a join's state (and the per-row scan of it) without limit. ksqlDB keeps them
/// all; 10 000 rows of one key inside one window is far past what its joins are used for.
pub const JOIN_BUFFER_ROWS_PER_KEY_MAX: usize = 10_000;

/// Rows of the left table one foreign key reaches in a foreign-key join, per right-side
/// change. The index scan stops there (with a warning) so one right row cannot make a
/// batch's outputs unbounded.
pub const FOREIGN_KEY_FANOUT_ROWS_MAX: usize = 100_000;

/// How long a stream-stream join without `GRACE PERIOD` keeps its rows, window included:
/// 24 hours (Kafka Streams' `JoinWindows.of` default retention before grace periods were
/// explicit, which is what ksqlDB runs then).
pub const JOIN_GRACE_DEFAULT_MS: u64 = 24 * 60 * 60 * 1000;

/// The smallest segment of a join buffer: rows expire a whole segment (half the retention,
/// at least a minute) at a time, as in Kafka Streams' segmented window stores, which
/// decides which late rows still join (QTT "out of order and custom grace period").
pub const JOIN_SEGMENT_MS_MIN: i64 = 60_000;

/// A stream-stream join's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinWindow {
    pub before_ms: u64,
    pub after_ms: u64,
    /// `GRACE PERIOD`, when given: outer results wait for the window to close.
    pub grace_ms: Option<u64>,
}

/// One join of the plan: `left JOIN right ON left_key = right_key`.
#[derive(Debug, Clone)]
pub struct JoinNodeSpec {
    pub join_type: JoinType,
    /// What the left input is (a stream unless every source below is a table).
    pub left_kind: SourceKind,
    pub right_kind: SourceKind,
    /// Both compiled against the plan's row layout.
    pub left_key: CompiledExpr,
    pub right_key: CompiledExpr,
    /// Slots the left input fills (every leaf below this node).
    pub left_slots: Range<usize>,
    /// Slots the right leaf fills.
    pub right_slots: Range<usize>,
    /// Stream-stream joins only.
    pub window: Option<JoinWindow>,
    /// Table-table join on a left expression other than the left table's key: the result
    /// is keyed by the left key (`left_pk`'s slots).
    pub foreign_key: bool,
    /// The left table's key slots (foreign-key joins: the result key).
    pub left_pk: Vec<usize>,
}

/// A whole join: its nodes and the row layout they share.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    pub nodes: Vec<JoinNodeSpec>,
    /// Base slot and length of each leaf (source) in FROM order.
    pub leaves: Vec<Range<usize>>,
    pub row_len: usize,
    /// The synthetic key (`ROWKEY`): the last join's key value.
    pub rowkey_slot: usize,
    /// The result's ROWTIME.
    pub rowtime_slot: usize,
    /// The result's key column: set to the join key on every row (an outer join's row
    /// lacking that column's side included) and on tombstones.
    pub key_slots: Vec<usize>,
    /// WHERE over a table result: rows that fail it are dropped, tombstones pass.
    pub table_filter: Option<CompiledExpr>,
}

/// A row inside the join: the whole layout, its time, and whether it is a delete.
#[derive(Debug, Clone)]
struct Event {
    values: Vec<Value>,
    rowtime: i64,
    tombstone: bool,
    /// Unique and deterministic per input record and result (buffer keys).
    id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

struct NodeTables {
    left: StateTable,
    right: StateTable,
    index: StateTable,
    unmatched: StateTable,
    time: StateTable,
}

/// The join operator at the bottom of a join query's pipeline: it takes decoded rows of
/// any leaf and passes joined rows on.
pub(crate) struct JoinStage {
    query_id: Arc<str>,
    spec: JoinSpec,
    tables: Vec<NodeTables>,
    state: SharedWriteCache,
    error: Option<EngineError>,
    scratch: Vec<u8>,
}

impl JoinStage {
    pub(crate) fn new(query_id: Arc<str>, spec: JoinSpec, state: SharedWriteCache) -> Result<JoinStage> {
        let tables = (0..spec.nodes.len())
            .map(|n| {
                Ok(NodeTables {
                    left: StateTable::new(&format!("j{n}l"))?,
                    right: StateTable::new(&format!("j{n}r"))?,
                    index: StateTable::new(&format!("j{n}x"))?,
                    unmatched: StateTable::new(&format!("j{n}u"))?,
                    time: StateTable::new(&format!("j{n}t"))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(JoinStage {
            query_id,
            spec,
            tables,
            state,
            error: None,
            scratch: Vec::new(),
        })
    }

    pub(crate) fn take_error(&mut self) -> Option<EngineError> {
        self.error.take()
    }

    /// Handles one decoded row of leaf `leaf`, passing joined rows to `next`.
    pub(crate) fn push(
        &mut self,
        leaf: usize,
        row: Row<'_>,
        next: &mut dyn FnMut(Row<'_>) -> Flow,
    ) -> Flow {
        if self.error.is_some() {
            return Flow::Stop;
        }
        let Some(slots) = self.spec.leaves.get(leaf).cloned() else {
            return Flow::Continue;
        };
        let mut values = vec![Value::Null; self.spec.row_len];
        for (slot, v) in slots.clone().zip(row.values.iter()) {
            values[slot] = v.clone();
        }
        // Offset, leaf and partition, with the low byte left for the results one input
        // row makes further up (`run`).
        let id = (row.record.offset.0 << 24)
            | ((leaf as u64 & 0xff) << 16)
            | ((u64::from(row.record.partition.0) & 0xff) << 8);
        let event = Event {
            values,
            rowtime: row.rowtime,
            tombstone: row.kind == RowKind::Tombstone,
            id,
        };
        let (start, side) = if leaf == 0 { (0, Side::Left) } else { (leaf - 1, Side::Right) };
        let outputs = match self.run(start, side, event) {
            Ok(o) => o,
            Err(e) => {
                self.error = Some(e);
                return Flow::Stop;
            }
        };
        for mut e in outputs {
            e.values[self.spec.rowtime_slot] = Value::BigInt(e.rowtime);
            let key = e.values[self.spec.rowkey_slot].clone();
            for &slot in &self.spec.key_slots {
                e.values[slot] = key.clone();
            }
            if !e.tombstone {
                if let Some(filter) = &self.spec.table_filter {
                    if !super::filter::passes(&self.query_id, filter, &e.values) {
                        continue;
                    }
                }
            }
            let out = Row {
                values: &e.values,
                spans: &[],
                record: row.record,
                rowtime: e.rowtime,
                kind: if e.tombstone { RowKind::Tombstone } else { RowKind::Row },
                window: row.window,
            };
            if next(out) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Feeds `event` into node `start` on `side`, then each result up the chain.
    fn run(&mut self, start: usize, side: Side, event: Event) -> Result<Vec<Event>> {
        let cache = Arc::clone(&self.state);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut current = Vec::new();
        self.node(&mut cache, start, side, event, &mut current)?;
        for n in start + 1..self.spec.nodes.len() {
            let mut produced = Vec::new();
            for (i, mut e) in current.into_iter().enumerate() {
                e.id = e.id.wrapping_add((i as u64) & 0xff);
                self.node(&mut cache, n, Side::Left, e, &mut produced)?;
            }
            current = produced;
        }
        Ok(current)
    }

    fn node(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: Event,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        let spec = &self.spec.nodes[n];
        match (spec.left_kind, spec.right_kind) {
            (SourceKind::Stream, SourceKind::Table) => self.stream_table(cache, n, side, event, out),
            (SourceKind::Table, SourceKind::Table) if spec.foreign_key => {
                self.foreign_key(cache, n, side, event, out)
            }
            (SourceKind::Table, SourceKind::Table) => self.table_table(cache, n, side, event, out),
            (SourceKind::Stream, SourceKind::Stream) => {
                self.stream_stream(cache, n, side, event, out)
            }
            (SourceKind::Table, SourceKind::Stream) => Err(EngineError::internal(
                "a table-stream join reached execution; planning refuses it",
            )),
        }
    }

    /// The join key of `event` on `side` of node `n`, encoded; `None` for a NULL key (such
    /// rows never match).
    fn key_of(&mut self, n: usize, side: Side, event: &Event) -> Option<Vec<u8>> {
        self.join_key(n, side, event).map(|(_, key)| key)
    }

    /// The join key of `event` on `side` of node `n`, as a value and encoded (one
    /// evaluation for both); `None` for a NULL key.
    fn join_key(&self, n: usize, side: Side, event: &Event) -> Option<(Value, Vec<u8>)> {
        let spec = &self.spec.nodes[n];
        let expr = match side {
            Side::Left => &spec.left_key,
            Side::Right => &spec.right_key,
        };
        let value = match expr.eval(&event.values) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(query = %self.query_id, error = %e, "join key failed to evaluate: row dropped");
                return None;
            }
        };
        if value == Value::Null {
            return None;
        }
        let mut key = Vec::new();
        value_codec::encode(&value, &mut key);
        Some((value, key))
    }

    fn key_value(&self, n: usize, side: Side, event: &Event) -> Value {
        let spec = &self.spec.nodes[n];
        let expr = match side {
            Side::Left => &spec.left_key,
            Side::Right => &spec.right_key,
        };
        expr.eval(&event.values).unwrap_or(Value::Null)
    }

    fn slots(&self, n: usize, side: Side) -> Range<usize> {
        match side {
            Side::Left => self.spec.nodes[n].left_slots.clone(),
            Side::Right => self.spec.nodes[n].right_slots.clone(),
        }
    }

    /// `[rowtime][values of slots]`.
    fn encode_side(&mut self, n: usize, side: Side, event: &Event) -> Bytes {
        let slots = self.slots(n, side);
        self.scratch.clear();
        self.scratch.extend_from_slice(&event.rowtime.to_le_bytes());
        for v in &event.values[slots] {
            value_codec::encode(v, &mut self.scratch);
        }
        Bytes::copy_from_slice(&self.scratch)
    }

    /// Writes a stored side into `values`; returns its rowtime.
    fn decode_side(&self, n: usize, side: Side, bytes: &[u8], values: &mut [Value]) -> Result<i64> {
        let bad = || EngineError::corrupt("a join state row does not decode");
        let (ts, mut rest) = bytes.split_at_checked(8).ok_or_else(bad)?;
        let ts = i64::from_le_bytes(ts.try_into().map_err(|_| bad())?);
        for slot in self.slots(n, side) {
            values[slot] = value_codec::decode(&mut rest)?;
        }
        Ok(ts)
    }

    /// The joined row of `base` (one side filled) with the other side from `stored`.
    fn joined(&self, n: usize, other: Side, base: &Event, stored: Option<&[u8]>, key: Value) -> Result<Event> {
        let copy = Event {
            values: base.values.clone(),
            ..*base
        };
        self.joined_into(n, other, copy, stored, key)
    }

    /// [`JoinStage::joined`] of an event the caller is done with: its row becomes the
    /// result's, with no copy (a stream-table join's one result per stream row).
    fn joined_into(&self, n: usize, other: Side, base: Event, stored: Option<&[u8]>, key: Value) -> Result<Event> {
        let mut values = base.values;
        let mut rowtime = base.rowtime;
        match stored {
            Some(bytes) => {
                let ts = self.decode_side(n, other, bytes, &mut values)?;
                rowtime = rowtime.max(ts);
            }
            None => {
                for slot in self.slots(n, other) {
                    values[slot] = Value::Null;
                }
            }
        }
        values[self.spec.rowkey_slot] = key;
        Ok(Event {
            values,
            rowtime,
            tombstone: false,
            id: base.id,
        })
    }

    /// A delete of the result for `key`: key slots set, everything else NULL.
    fn tombstone(&self, key: Value, rowtime: i64, id: u64) -> Event {
        let mut values = vec![Value::Null; self.spec.row_len];
        for &slot in &self.spec.key_slots {
            values[slot] = key.clone();
        }
        values[self.spec.rowkey_slot] = key;
        Event {
            values,
            rowtime,
            tombstone: true,
            id,
        }
    }

    fn side_table(&self, n: usize, side: Side) -> &StateTable {
        match side {
            Side::Left => &self.tables[n].left,
            Side::Right => &self.tables[n].right,
        }
    }

    fn stream_table(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: Event,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        match side {
            Side::Right => self.update_table(cache, n, Side::Right, &event).map(|_| ()),
            Side::Left => {
                if event.tombstone {
                    return Ok(());
                }
                let Some((key_value, key)) = self.join_key(n, Side::Left, &event) else {
                    return Ok(());
                };
                let stored = cache.get(&self.tables[n].right, &key)?;
                let inner = self.spec.nodes[n].join_type == JoinType::Inner;
                if stored.is_none() && inner {
                    return Ok(());
                }
                // The result keeps the stream row's time whatever the table row's.
                let rowtime = event.rowtime;
                let mut joined =
                    self.joined_into(n, Side::Right, event, stored.as_deref(), key_value)?;
                joined.rowtime = rowtime;
                out.push(joined);
                Ok(())
            }
        }
    }

    /// Stores (or deletes) a table side's row under its join key; returns the key and the
    /// row it replaced.
    fn update_table(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: &Event,
    ) -> Result<Option<(Vec<u8>, Option<Bytes>)>> {
        let Some(key) = self.key_of(n, side, event) else {
            return Ok(None);
        };
        let table = self.side_table(n, side).clone();
        let old = cache.get(&table, &key)?;
        if event.tombstone {
            if old.is_some() {
                cache.delete(&table, &key)?;
            }
        } else {
            let bytes = self.encode_side(n, side, event);
            cache.put(&table, &key, bytes)?;
        }
        Ok(Some((key, old)))
    }

    fn table_table(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: Event,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        let Some((key, old)) = self.update_table(cache, n, side, &event)? else {
            return Ok(());
        };
        let other = match side {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        };
        let other_row = cache.get(self.side_table(n, other), &key)?;
        let key_value = self.key_value(n, side, &event);
        // Whether this side's rows survive without a match on the other side.
        let keeps_self = keeps(self.spec.nodes[n].join_type, side);
        let keeps_other = keeps(self.spec.nodes[n].join_type, other);
        if event.tombstone {
            let Some(other_bytes) = other_row else {
                // A result existed only if this side's row did and stood alone.
                if old.is_some() && keeps_self {
                    out.push(self.tombstone(key_value, event.rowtime, event.id));
                }
                return Ok(());
            };
            if keeps_other {
                // The other side's row now stands alone.
                let mut alone = event.clone();
                for slot in self.slots(n, side) {
                    alone.values[slot] = Value::Null;
                }
                let ts = self.decode_side(n, other, &other_bytes, &mut alone.values)?;
                alone.values[self.spec.rowkey_slot] = key_value;
                alone.rowtime = event.rowtime.max(ts);
                alone.tombstone = false;
                out.push(alone);
            } else if old.is_some() {
                out.push(self.tombstone(key_value, event.rowtime, event.id));
            }
            return Ok(());
        }
        match other_row {
            Some(bytes) => out.push(self.joined(n, other, &event, Some(&bytes), key_value)?),
            None if keeps_self => out.push(self.joined(n, other, &event, None, key_value)?),
            None => {}
        }
        Ok(())
    }

    /// Left table's primary key bytes of `event` (foreign-key joins).
    fn left_pk(&self, n: usize, event: &Event) -> Vec<u8> {
        let mut key = Vec::new();
        for &slot in &self.spec.nodes[n].left_pk {
            value_codec::encode(&event.values[slot], &mut key);
        }
        key
    }

    fn foreign_key(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: Event,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        let inner = self.spec.nodes[n].join_type == JoinType::Inner;
        let tables = NodeTables {
            left: self.tables[n].left.clone(),
            right: self.tables[n].right.clone(),
            index: self.tables[n].index.clone(),
            unmatched: self.tables[n].unmatched.clone(),
            time: self.tables[n].time.clone(),
        };
        match side {
            Side::Right => {
                let Some((rkey, old)) = self.update_table(cache, n, Side::Right, &event)? else {
                    return Ok(());
                };
                if event.tombstone && old.is_none() {
                    return Ok(());
                }
                let mut pks = Vec::new();
                for entry in cache.prefix(&tables.index, &rkey)? {
                    let (k, _) = entry?;
                    if pks.len() >= FOREIGN_KEY_FANOUT_ROWS_MAX {
                        tracing::warn!(query = %self.query_id, "foreign-key join: too many left rows for one key; the rest are not updated");
                        break;
                    }
                    pks.push(k[rkey.len()..].to_vec());
                }
                let right_bytes = if event.tombstone { None } else { Some(self.encode_side(n, Side::Right, &event)) };
                for pk in pks {
                    let Some(left) = cache.get(&tables.left, &pk)? else { continue };
                    let mut base = event.clone();
                    base.tombstone = false;
                    for slot in self.slots(n, Side::Right) {
                        base.values[slot] = Value::Null;
                    }
                    let ts = self.decode_side(n, Side::Left, &left, &mut base.values)?;
                    base.rowtime = event.rowtime.max(ts);
                    let key = self.pk_value(n, &base);
                    match &right_bytes {
                        Some(bytes) => out.push(self.joined(n, Side::Right, &base, Some(bytes), key)?),
                        None if inner => out.push(self.tombstone_with(n, &base, key)),
                        None => out.push(self.joined(n, Side::Right, &base, None, key)?),
                    }
                }
                Ok(())
            }
            Side::Left => {
                let pk = self.left_pk(n, &event);
                let old = cache.get(&tables.left, &pk)?;
                let mut old_fk = None;
                if let Some(old_bytes) = &old {
                    let mut old_values = vec![Value::Null; self.spec.row_len];
                    self.decode_side(n, Side::Left, old_bytes, &mut old_values)?;
                    let old_event = Event { values: old_values, rowtime: 0, tombstone: false, id: 0 };
                    old_fk = self.key_of(n, Side::Left, &old_event);
                }
                let new_fk = if event.tombstone { None } else { self.key_of(n, Side::Left, &event) };
                if old_fk != new_fk {
                    if let Some(fk) = &old_fk {
                        let mut k = fk.clone();
                        k.extend_from_slice(&pk);
                        cache.delete(&tables.index, &k)?;
                    }
                    if let Some(fk) = &new_fk {
                        let mut k = fk.clone();
                        k.extend_from_slice(&pk);
                        cache.put(&tables.index, &k, Bytes::new())?;
                    }
                }
                let old_matched = match &old_fk {
                    Some(fk) => cache.get(&tables.right, fk)?.is_some(),
                    None => false,
                };
                let key = self.pk_value(n, &event);
                if event.tombstone {
                    // Kafka Streams' foreign-key join deletes the result of a deleted left
                    // row whether or not it had a match.
                    if old.is_some() {
                        cache.delete(&tables.left, &pk)?;
                        out.push(self.tombstone_with(n, &event, key));
                    }
                    return Ok(());
                }
                let bytes = self.encode_side(n, Side::Left, &event);
                cache.put(&tables.left, &pk, bytes)?;
                let right = match &new_fk {
                    Some(fk) => cache.get(&tables.right, fk)?,
                    None => None,
                };
                match right {
                    Some(r) => out.push(self.joined(n, Side::Right, &event, Some(&r), key)?),
                    None if !inner => out.push(self.joined(n, Side::Right, &event, None, key)?),
                    None if old_matched => out.push(self.tombstone_with(n, &event, key)),
                    None => {}
                }
                Ok(())
            }
        }
    }

    fn pk_value(&self, n: usize, event: &Event) -> Value {
        self.spec.nodes[n]
            .left_pk
            .first()
            .map(|&s| event.values[s].clone())
            .unwrap_or(Value::Null)
    }

    /// A tombstone of a foreign-key join's result: `base`'s left key columns (node `n`'s
    /// left table's key).
    fn tombstone_with(&self, n: usize, base: &Event, key: Value) -> Event {
        let mut t = self.tombstone(key, base.rowtime, base.id);
        for &slot in &self.spec.nodes[n].left_pk {
            t.values[slot] = base.values[slot].clone();
        }
        t
    }

    /// A stream time of node `n`: `b"t"` both sides', `b"l"`/`b"r"` each side's buffer's.
    fn time_of(&self, cache: &mut WriteBackCache, n: usize, which: &[u8]) -> Result<Option<i64>> {
        Ok(cache
            .get(&self.tables[n].time, which)?
            .and_then(|b| b.get(..8).and_then(|b| b.try_into().ok()))
            .map(i64::from_le_bytes))
    }

    /// Advances a stream time to `ts`; returns the new value.
    fn advance(&self, cache: &mut WriteBackCache, n: usize, which: &[u8], ts: i64) -> Result<i64> {
        let previous = self.time_of(cache, n, which)?;
        let now = previous.map_or(ts, |t| t.max(ts));
        if previous != Some(now) {
            cache.put(&self.tables[n].time, which, Bytes::copy_from_slice(&now.to_le_bytes()))?;
        }
        Ok(now)
    }

    /// A stream-stream join as Kafka Streams runs it: each side's rows go to that side's
    /// window buffer (kept `before + after + grace`, expired by whole segments as its
    /// segmented window store does), then the other side's buffer is searched.
    fn stream_stream(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        event: Event,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        if event.tombstone {
            return Ok(());
        }
        let spec = &self.spec.nodes[n];
        let window = spec.window.clone().unwrap_or(JoinWindow {
            before_ms: 0,
            after_ms: 0,
            grace_ms: None,
        });
        let join_type = spec.join_type;
        let (before, after) = (window.before_ms as i64, window.after_ms as i64);
        let size = before + after;
        let grace = match window.grace_ms {
            Some(g) => g as i64,
            // The legacy default: the buffers keep a day in all.
            None => (JOIN_GRACE_DEFAULT_MS as i64 - size).max(0),
        };
        let retention = size + grace;
        let segment = (retention / 2).max(JOIN_SEGMENT_MS_MIN);
        let live = |ts: i64, observed: i64| {
            ts.div_euclid(segment) >= (observed - retention).div_euclid(segment)
        };
        // How far the other side's rows may lie before and after this row.
        let (lo, hi) = match side {
            Side::Left => (event.rowtime - before, event.rowtime + after),
            Side::Right => (event.rowtime - after, event.rowtime + before),
        };
        let (own_time, other_time): (&[u8], &[u8]) = match side {
            Side::Left => (b"l", b"r"),
            Side::Right => (b"r", b"l"),
        };
        let stream_time = self.advance(cache, n, b"t", event.rowtime)?;
        let with_grace = window.grace_ms.is_some();
        if with_grace && event.rowtime == stream_time {
            self.emit_closed(cache, n, stream_time, &window, out)?;
        }
        let other = match side {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        };
        let Some((key_value, key)) = self.join_key(n, side, &event) else {
            // A NULL key matches nothing; an outer side still shows it.
            if keeps(join_type, side) {
                let k = self.key_value(n, side, &event);
                out.push(self.joined(n, other, &event, None, k)?);
            }
            return Ok(());
        };
        // This row joins the buffer first (Kafka Streams' window processor runs before
        // the join's), unless its segment has already expired.
        let own_observed = self.advance(cache, n, own_time, event.rowtime)?;
        let own_table = self.side_table(n, side).clone();
        let mut own_key = key.clone();
        own_key.extend_from_slice(&time_bytes(event.rowtime));
        own_key.extend_from_slice(&event.id.to_be_bytes());
        if live(event.rowtime, own_observed) {
            let bytes = self.encode_side(n, side, &event);
            cache.put(&own_table, &own_key, bytes)?;
            self.bound_buffer(cache, n, side, &key)?;
        }
        let other_observed = self.time_of(cache, n, other_time)?.unwrap_or(i64::MIN / 2);
        let other_table = self.side_table(n, other).clone();
        let mut matches = Vec::new();
        let mut expired = Vec::new();
        for entry in cache.prefix(&other_table, &key)? {
            let (k, v) = entry?;
            let Some(ts) = buffer_time(&k, key.len()) else { continue };
            if !live(ts, other_observed) {
                expired.push(k);
                continue;
            }
            if ts >= lo && ts <= hi {
                matches.push((k, v));
            }
        }
        if !expired.is_empty() {
            self.count_buffered(cache, n, other, &key, -(expired.len() as i64))?;
        }
        for k in expired {
            cache.delete(&other_table, &k)?;
        }
        for (k, v) in &matches {
            out.push(self.joined(n, other, &event, Some(v), key_value.clone())?);
            if with_grace && keeps(join_type, other) {
                let ts = buffer_time(k, key.len()).unwrap_or(0);
                cache.delete(&self.tables[n].unmatched, &unmatched_key(ts, other, k))?;
            }
        }
        if matches.is_empty() && keeps(join_type, side) {
            let own_after = match side {
                Side::Left => after,
                Side::Right => before,
            };
            // Without a grace period, or once its window has passed, a miss is final.
            if !with_grace || event.rowtime + own_after < stream_time {
                out.push(self.joined(n, other, &event, None, key_value)?);
            } else {
                let bytes = self.encode_side(n, side, &event);
                cache.put(
                    &self.tables[n].unmatched,
                    &unmatched_key(event.rowtime, side, &own_key),
                    bytes,
                )?;
            }
        }
        Ok(())
    }

    /// Adds `delta` to the count of `side`'s buffered rows of `key` (kept in the node's
    /// `j<n>x` table, which stream-stream joins use for nothing else); returns the count.
    fn count_buffered(
        &self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        key: &[u8],
        delta: i64,
    ) -> Result<i64> {
        let mut k = Vec::with_capacity(1 + key.len());
        k.push(match side {
            Side::Left => 0,
            Side::Right => 1,
        });
        k.extend_from_slice(key);
        let table = self.tables[n].index.clone();
        let mut count = 0i64;
        cache.update(&table, &k, |old| {
            let before = old
                .and_then(|b| b.get(..8).and_then(|b| b.try_into().ok()))
                .map_or(0, i64::from_le_bytes);
            count = (before + delta).max(0);
            (count > 0).then(|| Bytes::copy_from_slice(&count.to_le_bytes()))
        })?;
        Ok(count)
    }

    /// Counts a row just buffered and drops the key's oldest row once the key holds more
    /// than [`JOIN_BUFFER_ROWS_PER_KEY_MAX`].
    fn bound_buffer(
        &self,
        cache: &mut WriteBackCache,
        n: usize,
        side: Side,
        key: &[u8],
    ) -> Result<()> {
        if self.count_buffered(cache, n, side, key, 1)? <= JOIN_BUFFER_ROWS_PER_KEY_MAX as i64 {
            return Ok(());
        }
        tracing::warn!(query = %self.query_id, "stream-stream join: a key's window buffer is full; its oldest row is dropped");
        let table = self.side_table(n, side).clone();
        let oldest = cache.prefix(&table, key)?.next().transpose()?;
        if let Some((k, _)) = oldest {
            cache.delete(&table, &k)?;
            self.count_buffered(cache, n, side, key, -1)?;
        }
        Ok(())
    }

    /// Emits the outer results of rows whose window closed unmatched (joins with a grace
    /// period), in time order, each with its own timestamp.
    fn emit_closed(
        &mut self,
        cache: &mut WriteBackCache,
        n: usize,
        stream_time: i64,
        window: &JoinWindow,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        let Some(grace) = window.grace_ms else {
            return Ok(());
        };
        let grace = grace as i64;
        let table = self.tables[n].unmatched.clone();
        let mut closed = Vec::new();
        for entry in cache.prefix(&table, &[])? {
            let (k, v) = entry?;
            let Some(ts) = k.get(..8).and_then(|b| b.try_into().ok()).map(time_from_bytes) else {
                continue;
            };
            // Sorted by time: past the shorter look-back nothing later can have closed.
            if ts + window.before_ms.min(window.after_ms) as i64 + grace >= stream_time {
                break;
            }
            let side = if k.get(8) == Some(&0) { Side::Left } else { Side::Right };
            let look_back = match side {
                Side::Left => window.after_ms as i64,
                Side::Right => window.before_ms as i64,
            };
            if ts + look_back + grace < stream_time {
                closed.push((k, v, side));
            }
        }
        for (k, bytes, side) in closed {
            cache.delete(&table, &k)?;
            let mut values = vec![Value::Null; self.spec.row_len];
            let ts = self.decode_side(n, side, &bytes, &mut values)?;
            let base = Event {
                values,
                rowtime: ts,
                tombstone: false,
                id: 0,
            };
            let key = self.key_value(n, side, &base);
            let other = match side {
                Side::Left => Side::Right,
                Side::Right => Side::Left,
            };
            out.push(self.joined(n, other, &base, None, key)?);
        }
        Ok(())
    }
}

/// Whether `side`'s rows appear without a match under `join_type`.
fn keeps(join_type: JoinType, side: Side) -> bool {
    matches!(
        (join_type, side),
        (JoinType::Full, _) | (JoinType::Left, Side::Left) | (JoinType::Right, Side::Right)
    )
}

/// A timestamp as 8 bytes that sort as the signed values do.
fn time_bytes(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from_bytes(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// The time in a buffer key `[key][time][id]` whose key part is `key_len` bytes.
fn buffer_time(k: &[u8], key_len: usize) -> Option<i64> {
    k.get(key_len..key_len + 8)
        .and_then(|b| b.try_into().ok())
        .map(time_from_bytes)
}

/// `[time][side][buffer key]`: unmatched rows in time order.
fn unmatched_key(ts: i64, side: Side, buffer_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + buffer_key.len());
    k.extend_from_slice(&time_bytes(ts));
    k.push(match side {
        Side::Left => 0,
        Side::Right => 1,
    });
    k.extend_from_slice(buffer_key);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_sort_as_times() {
        let times = [i64::MIN, -5, -1, 0, 1, 1000, i64::MAX];
        for w in times.windows(2) {
            assert!(time_bytes(w[0]) < time_bytes(w[1]));
            assert_eq!(time_from_bytes(time_bytes(w[0])), w[0]);
        }
    }
}
