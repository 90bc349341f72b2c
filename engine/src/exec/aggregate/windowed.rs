//! The windowed aggregate operator: GROUP BY … WINDOW over a stream.
//!
//! ```text
//!  row ─► group key, args ─► stream time = max(stream time, rowtime)
//!     ├─ time windows: each window ∋ rowtime, unless closed (late: dropped)
//!     │     acc[key, window] += args ─► EMIT CHANGES: the updated row
//!     └─ session: sessions of the key within the gap ─► merged into one
//!           (EMIT CHANGES: a tombstone per merged session) ─► += args ─► the merged row
//!  then: EMIT FINAL ─► every window now closed, once, and forgotten
//!        EMIT CHANGES ─► windows past retention forgotten
//! ```
//!
//! Output rows are `[group key…, results…, WINDOWSTART, WINDOWEND]` with the row's window
//! set (the sink appends it to the key). A window's output timestamp is the largest record
//! timestamp in it (Kafka Streams' windowed aggregates); a merged-away session's tombstone
//! carries that session's end.
//!
//! State (the query's store, through the shared write cache, committed with the input
//! positions, so a restart neither loses nor repeats a final result):
//! - `win`: windowed key (inner key bytes ┃ window, as in the sink topic) → [key values,
//!   accumulators, timestamp];
//! - `win-due`: (due time ┃ windowed key) → nothing, due time being when the window closes
//!   (EMIT FINAL) or expires (EMIT CHANGES): a range scan finds what is due;
//! - `win-meta`: the stream time.

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::exec::operator::{Flow, Next, Operator, Row, RowKind, WindowBounds};
use crate::format::window_key::{append_window, split_window, WindowKeyKind};
use crate::state::{SharedWriteCache, StateTable};
use crate::types::Value;

use super::operator::{lock, Aggregate, AggregateSpec, Contribution};
use super::value_codec::{decode, encode};
use super::window::{EmitMode, WindowKind, WindowSpec, SESSION_MERGE_MAX};

/// State table of windows, by windowed key.
pub const WINDOWS_TABLE: &str = "win";
/// State table indexing windows by when they are due (close or expiry).
pub const WINDOWS_DUE_TABLE: &str = "win-due";
/// State table of the query's stream time.
pub const WINDOW_META_TABLE: &str = "win-meta";
const STREAM_TIME_KEY: &[u8] = b"stream-time";

/// Due windows handled per scan of the due index: each scan's keys are held at once, so
/// the bound keeps a large jump in stream time from holding every window in memory.
pub const DUE_WINDOWS_PER_SCAN_MAX: usize = 1024;

/// One window of one key as stored.
struct StoredWindow {
    key: Vec<Value>,
    accs: Vec<Value>,
    timestamp_ms: i64,
}

pub(crate) struct WindowedAggregate {
    inner: Aggregate,
    window: WindowSpec,
    windows: StateTable,
    due: StateTable,
    meta: StateTable,
    /// The stream time as committed or updated since; `None` until read from the store.
    stream_time_ms: Option<i64>,
    /// The earliest due time in the due index (`i64::MAX`: none); `None` until the index is
    /// read. Records before it skip the index scan, whose merge with the cache's dirty keys
    /// would otherwise cost a sort per record.
    next_due_ms: Option<i64>,
    bounds: Vec<WindowBounds>,
    scratch: Vec<u8>,
    row: Vec<Value>,
}

/// Due times as byte strings that sort like the signed times.
fn sortable(time_ms: i64) -> [u8; 8] {
    ((time_ms as u64) ^ (1 << 63)).to_be_bytes()
}

impl WindowedAggregate {
    pub(crate) fn new(
        query_id: std::sync::Arc<str>,
        spec: AggregateSpec,
        cache: SharedWriteCache,
    ) -> Result<WindowedAggregate> {
        let window = spec
            .window
            .as_deref()
            .copied()
            .ok_or_else(|| EngineError::internal("a windowed aggregate without a window"))?;
        Ok(WindowedAggregate {
            inner: Aggregate::new(query_id, spec, cache)?,
            window,
            windows: StateTable::new(WINDOWS_TABLE)?,
            due: StateTable::new(WINDOWS_DUE_TABLE)?,
            meta: StateTable::new(WINDOW_META_TABLE)?,
            stream_time_ms: None,
            next_due_ms: None,
            bounds: Vec::new(),
            scratch: Vec::new(),
            row: Vec::new(),
        })
    }

    fn key_kind(&self) -> WindowKeyKind {
        self.window.key_kind()
    }

    fn stream_time(&mut self) -> Result<Option<i64>> {
        if self.stream_time_ms.is_none() {
            if let Some(bytes) = lock(&self.inner.cache).get(&self.meta, STREAM_TIME_KEY)? {
                match decode(&mut bytes.as_ref())? {
                    Value::BigInt(t) => self.stream_time_ms = Some(t),
                    _ => return Err(EngineError::corrupt("a window stream time of the wrong type")),
                }
            }
        }
        Ok(self.stream_time_ms)
    }

    fn advance_stream_time(&mut self, timestamp_ms: i64) -> Result<i64> {
        let now = match self.stream_time()? {
            Some(t) if t >= timestamp_ms => return Ok(t),
            _ => timestamp_ms,
        };
        self.stream_time_ms = Some(now);
        self.scratch.clear();
        encode(&Value::BigInt(now), &mut self.scratch);
        let bytes = Bytes::copy_from_slice(&self.scratch);
        lock(&self.inner.cache).put(&self.meta, STREAM_TIME_KEY, bytes)?;
        Ok(now)
    }

    fn windowed_key(&self, inner: &[u8], w: WindowBounds) -> Vec<u8> {
        let mut key = Vec::with_capacity(inner.len() + self.key_kind().suffix_bytes());
        key.extend_from_slice(inner);
        append_window(self.key_kind(), w.start_ms, w.end_ms, &mut key);
        key
    }

    /// When a window is due: its close (EMIT FINAL) or the end of its retention.
    fn due_time(&self, w: WindowBounds) -> i64 {
        match self.window.emit {
            EmitMode::Final => w.end_ms.saturating_add(self.window.grace_ms),
            EmitMode::Changes => w.end_ms.saturating_add(self.window.retention_ms),
        }
    }

    fn due_key(&self, w: WindowBounds, windowed_key: &[u8]) -> Vec<u8> {
        let mut key = sortable(self.due_time(w)).to_vec();
        key.extend_from_slice(windowed_key);
        key
    }

    fn load(&mut self, windowed_key: &[u8]) -> Result<Option<StoredWindow>> {
        let bytes = lock(&self.inner.cache).get(&self.windows, windowed_key)?;
        bytes.map(|b| self.decode_window(&b)).transpose()
    }

    fn decode_window(&self, bytes: &[u8]) -> Result<StoredWindow> {
        let shape = || EngineError::corrupt("a window's state has the wrong shape");
        let Value::Array(parts) = decode(&mut &*bytes)? else {
            return Err(shape());
        };
        match <[Value; 3]>::try_from(parts) {
            Ok([Value::Array(key), Value::Array(accs), Value::BigInt(timestamp_ms)])
                if accs.len() == self.inner.spec.calls.len() =>
            {
                Ok(StoredWindow {
                    key,
                    accs,
                    timestamp_ms,
                })
            }
            _ => Err(shape()),
        }
    }

    fn store(&mut self, windowed_key: &[u8], w: WindowBounds, stored: &StoredWindow, new: bool) -> Result<()> {
        self.scratch.clear();
        encode(
            &Value::Array(vec![
                Value::Array(stored.key.clone()),
                Value::Array(stored.accs.clone()),
                Value::BigInt(stored.timestamp_ms),
            ]),
            &mut self.scratch,
        );
        let bytes = Bytes::copy_from_slice(&self.scratch);
        let due_key = new.then(|| self.due_key(w, windowed_key));
        if new {
            let due = self.due_time(w);
            self.next_due_ms = self.next_due_ms.map(|d| d.min(due));
        }
        let mut cache = lock(&self.inner.cache);
        cache.put(&self.windows, windowed_key, bytes)?;
        if let Some(due_key) = due_key {
            cache.put(&self.due, &due_key, Bytes::from_static(&[0]))?;
        }
        Ok(())
    }

    fn forget(&mut self, windowed_key: &[u8], w: WindowBounds) -> Result<()> {
        let due_key = self.due_key(w, windowed_key);
        let mut cache = lock(&self.inner.cache);
        cache.delete(&self.windows, windowed_key)?;
        cache.delete(&self.due, &due_key)
    }

    /// The output row of `stored` in window `w` into `self.row`; whether HAVING passes.
    fn output(&mut self, stored: &StoredWindow, w: WindowBounds) -> bool {
        let passes = self.inner.output(&stored.key, &stored.accs);
        self.row.clear();
        self.row.extend(self.inner.out.iter().cloned());
        self.row.push(Value::BigInt(w.start_ms));
        self.row.push(Value::BigInt(w.end_ms));
        passes
    }

    fn emit(
        &self,
        row: &Row<'_>,
        kind: RowKind,
        w: WindowBounds,
        rowtime: i64,
        next: &mut Next<'_>,
    ) -> Flow {
        let mut out = row.with_values(&self.row);
        out.kind = kind;
        out.window = Some(w);
        out.rowtime = rowtime;
        next(out)
    }

    /// Emits an EMIT CHANGES update: the row if HAVING passes, else a tombstone when the
    /// window's previous row had passed.
    fn emit_change(
        &mut self,
        row: &Row<'_>,
        before: Option<&StoredWindow>,
        after: &StoredWindow,
        w: WindowBounds,
        next: &mut Next<'_>,
    ) -> Flow {
        let passed_before = before.is_some_and(|b| self.output(b, w));
        let passes = self.output(after, w);
        let kind = match (passes, passed_before) {
            (true, _) => RowKind::Row,
            (false, true) => RowKind::Tombstone,
            (false, false) => return Flow::Continue,
        };
        self.emit(row, kind, w, after.timestamp_ms, next)
    }

    fn add(&self, accs: &mut [Value], c: &Contribution) -> Result<()> {
        for ((call, acc), args) in self.inner.spec.calls.iter().zip(accs).zip(&c.args) {
            call.udaf.add(acc, args)?;
        }
        Ok(())
    }

    fn init(&self) -> Vec<Value> {
        self.inner.spec.calls.iter().map(|c| c.udaf.init()).collect()
    }

    fn time_windows(
        &mut self,
        c: Contribution,
        inner_key: &[u8],
        row: &Row<'_>,
        stream_time_ms: i64,
        next: &mut Next<'_>,
    ) -> Result<Flow> {
        let mut bounds = std::mem::take(&mut self.bounds);
        self.window.time_windows_for(row.rowtime, &mut bounds);
        let mut flow = Flow::Continue;
        for &w in &bounds {
            if self.window.is_closed(w.end_ms, stream_time_ms) {
                tracing::debug!(query = %self.inner.query_id, window_start = w.start_ms, "record for a closed window dropped");
                continue;
            }
            let key = self.windowed_key(inner_key, w);
            let before = self.load(&key)?;
            let mut after = match &before {
                Some(b) => StoredWindow {
                    key: b.key.clone(),
                    accs: b.accs.clone(),
                    timestamp_ms: b.timestamp_ms.max(row.rowtime),
                },
                None => StoredWindow {
                    key: c.key.clone(),
                    accs: self.init(),
                    timestamp_ms: row.rowtime,
                },
            };
            self.add(&mut after.accs, &c)?;
            self.store(&key, w, &after, before.is_none())?;
            if self.window.emit == EmitMode::Changes
                && self.emit_change(row, before.as_ref(), &after, w, next) == Flow::Stop
            {
                flow = Flow::Stop;
                break;
            }
        }
        self.bounds = bounds;
        Ok(flow)
    }

    fn session(
        &mut self,
        c: Contribution,
        inner_key: &[u8],
        gap_ms: i64,
        row: &Row<'_>,
        stream_time_ms: i64,
        next: &mut Next<'_>,
    ) -> Result<Flow> {
        let ts = row.rowtime;
        // Sessions of this key that the record reaches: end ≥ ts − gap and start ≤ ts + gap
        // (Kafka Streams' `findSessions`). Keys with this key as a prefix are skipped by
        // their length.
        let mut found: Vec<(WindowBounds, Bytes, Bytes)> = Vec::new();
        {
            let mut cache = lock(&self.inner.cache);
            for entry in cache.prefix(&self.windows, inner_key)? {
                let (key, value) = entry?;
                if key.len() != inner_key.len() + self.key_kind().suffix_bytes() {
                    continue;
                }
                let (_, start_ms, end_ms) = split_window(WindowKeyKind::Session, &key)?;
                let end_ms = end_ms.expect("session keys carry their end");
                if end_ms >= ts.saturating_sub(gap_ms) && start_ms <= ts.saturating_add(gap_ms) {
                    if found.len() == SESSION_MERGE_MAX {
                        return Err(EngineError::corrupt(format!(
                            "more than {SESSION_MERGE_MAX} session windows of one key overlap"
                        )));
                    }
                    found.push((WindowBounds { start_ms, end_ms }, key, value));
                }
            }
        }
        found.sort_by_key(|(w, _, _)| (w.start_ms, w.end_ms));
        let merged = found.iter().fold(
            WindowBounds {
                start_ms: ts,
                end_ms: ts,
            },
            |m, (w, _, _)| WindowBounds {
                start_ms: m.start_ms.min(w.start_ms),
                end_ms: m.end_ms.max(w.end_ms),
            },
        );
        // Kafka Streams drops a record whose merged session ends before stream time less
        // grace (`KStreamSessionWindowAggregate`).
        if merged.end_ms.saturating_add(self.window.grace_ms) < stream_time_ms {
            tracing::debug!(query = %self.inner.query_id, "record for a closed session dropped");
            return Ok(Flow::Continue);
        }
        let mut accs = self.init();
        let new_session = WindowBounds {
            start_ms: ts,
            end_ms: ts,
        };
        for (w, key, value) in &found {
            let old = self.decode_window(value)?;
            for ((call, acc), other) in self.inner.spec.calls.iter().zip(&mut accs).zip(&old.accs) {
                call.udaf.merge(acc, other)?;
            }
            if merged != new_session {
                self.forget(key, *w)?;
                if self.window.emit == EmitMode::Changes {
                    self.output(&old, *w);
                    if self.emit(row, RowKind::Tombstone, *w, w.end_ms, next) == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
            }
        }
        let stored = StoredWindow {
            key: c.key.clone(),
            accs,
            timestamp_ms: merged.end_ms,
        };
        let mut stored = stored;
        self.add(&mut stored.accs, &c)?;
        let key = self.windowed_key(inner_key, merged);
        let existed = merged == new_session && !found.is_empty();
        self.store(&key, merged, &stored, !existed)?;
        if self.window.emit == EmitMode::Changes {
            return Ok(self.emit_change(row, None, &stored, merged, next));
        }
        Ok(Flow::Continue)
    }

    /// Handles the windows due at `stream_time_ms`: EMIT FINAL emits them, both modes
    /// forget them.
    fn due_windows(&mut self, row: &Row<'_>, stream_time_ms: i64, next: &mut Next<'_>) -> Result<Flow> {
        // Due keys extend their time with the window's key: everything before the next
        // millisecond is due.
        let before = sortable(stream_time_ms.saturating_add(1));
        if self.next_due_ms.is_some_and(|d| d > stream_time_ms) {
            return Ok(Flow::Continue);
        }
        loop {
            let due: Vec<Bytes> = {
                let mut cache = lock(&self.inner.cache);
                let iter = cache.range(
                    &self.due,
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Excluded(&before[..]),
                )?;
                iter.take(DUE_WINDOWS_PER_SCAN_MAX)
                    .map(|e| e.map(|(k, _)| k))
                    .collect::<Result<_>>()?
            };
            if due.is_empty() {
                self.next_due_ms = Some(self.first_due()?);
                return Ok(Flow::Continue);
            }
            for due_key in due {
                let windowed_key = due_key.slice(8..);
                let (_, start_ms, end_ms) = split_window(self.key_kind(), &windowed_key)?;
                let end_ms = match (end_ms, self.window.kind) {
                    (Some(end), _) => end,
                    (None, WindowKind::Tumbling { size_ms } | WindowKind::Hopping { size_ms, .. }) => {
                        start_ms.saturating_add(size_ms)
                    }
                    (None, WindowKind::Session { .. }) => {
                        return Err(EngineError::corrupt("a session key without its end"))
                    }
                };
                let w = WindowBounds { start_ms, end_ms };
                let stored = self.load(&windowed_key)?;
                {
                    let mut cache = lock(&self.inner.cache);
                    cache.delete(&self.due, &due_key)?;
                    cache.delete(&self.windows, &windowed_key)?;
                }
                if let (Some(stored), EmitMode::Final) = (stored, self.window.emit) {
                    if self.output(&stored, w)
                        && self.emit(row, RowKind::Row, w, stored.timestamp_ms, next) == Flow::Stop
                    {
                        return Ok(Flow::Stop);
                    }
                }
            }
        }
    }

    /// The earliest due time in the index, `i64::MAX` when it is empty.
    fn first_due(&mut self) -> Result<i64> {
        let mut cache = lock(&self.inner.cache);
        let mut iter = cache.range(
            &self.due,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
        )?;
        match iter.next().transpose()? {
            None => Ok(i64::MAX),
            Some((key, _)) if key.len() >= 8 => {
                let bits = u64::from_be_bytes(key[..8].try_into().expect("an 8-byte slice"));
                Ok((bits ^ (1 << 63)) as i64)
            }
            Some(_) => Err(EngineError::corrupt("a window due key without its time")),
        }
    }

    fn process(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Result<Flow> {
        let Some(c) = self.inner.contribution(&row) else {
            return Ok(Flow::Continue);
        };
        if row.rowtime < 0 {
            // Kafka Streams cannot place a negative timestamp in a window.
            tracing::warn!(query = %self.inner.query_id, rowtime = row.rowtime, "record with a negative timestamp skipped by a windowed aggregate");
            return Ok(Flow::Continue);
        }
        let inner_key = self.inner.key_bytes(&c.key)?;
        let stream_time_ms = self.advance_stream_time(row.rowtime)?;
        let flow = match self.window.kind {
            WindowKind::Session { gap_ms } => {
                self.session(c, &inner_key, gap_ms, &row, stream_time_ms, next)?
            }
            _ => self.time_windows(c, &inner_key, &row, stream_time_ms, next)?,
        };
        if flow == Flow::Stop {
            return Ok(flow);
        }
        self.due_windows(&row, stream_time_ms, next)
    }
}

impl Operator for WindowedAggregate {
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        if self.inner.error.is_some() {
            return Flow::Stop;
        }
        match self.process(row, next) {
            Ok(flow) => flow,
            Err(e) => {
                tracing::error!(query = %self.inner.query_id, error = %e, "windowed aggregate state failed");
                self.inner.error = Some(e);
                self.stream_time_ms = None;
                self.next_due_ms = None;
                lock(&self.inner.cache).rollback();
                Flow::Stop
            }
        }
    }

    fn take_error(&mut self) -> Option<EngineError> {
        self.inner.error.take()
    }
}
