//! The interface every step of a query's pipeline implements, and the row that flows
//! between steps.
//!
//! A pipeline is a scan, a chain of operators and a terminal. Each operator gets one row at a
//! time and hands what it produces (none, one or several rows) to the rest of the chain
//! through `next`; a terminal consumes the rows that come out at the end (result rows for a
//! response, sink records for a persistent query). Push-based, one row at a time, so rows
//! borrow the scan's decode buffers and nothing is allocated per row.
//!
//! Stateless operators (filter, flat map, limit) only look at the row. Stateful ones
//! (aggregate, window, join) keep state between rows; they are operators too, emitting
//! changes through `next` as rows arrive.

use std::ops::Range;

use crate::log::StoredRecord;
use crate::types::Value;

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// A row of values.
    Row,
    /// A record whose value is null (a tombstone): key columns and pseudo columns are set,
    /// value columns are null. Only scans that forward tombstones produce these.
    Tombstone,
}

/// One row moving through a pipeline.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The slots the next step's expressions were compiled against: the source's columns,
    /// its pseudo columns, then whatever earlier steps appended (table function values).
    pub(crate) values: &'a [Value],
    /// Per slot, the span of stored JSON text standing in for a slot the scan left
    /// undecoded (its `values` entry is then stale). Empty when every slot is decoded.
    pub(crate) spans: &'a [Option<Range<usize>>],
    /// The record the row came from: value bytes (for spans), key, headers, position.
    pub(crate) record: &'a StoredRecord,
    /// ROWTIME: the record's timestamp, or its source's `TIMESTAMP` column.
    pub(crate) rowtime: i64,
    pub(crate) kind: RowKind,
    /// The window a windowed aggregate's row belongs to: its sink key carries it, and
    /// WINDOWSTART / WINDOWEND read it. `None` for every unwindowed row.
    pub(crate) window: Option<WindowBounds>,
}

/// A window's bounds in epoch milliseconds: `[start, end)` for time windows; for session
/// windows both are record timestamps, `end` inclusive (ksqlDB's WINDOWSTART/WINDOWEND).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBounds {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl<'a> Row<'a> {
    /// The stored JSON text of slot `slot`, when the scan kept it as text.
    pub(crate) fn stored_text(&self, slot: usize) -> Option<&'a [u8]> {
        let span = self.spans.get(slot)?.as_ref()?;
        let value: &'a [u8] = self.record.record.value.as_deref()?;
        value.get(span.clone())
    }

    /// The same record with other slots (rows a flat map or an aggregate builds).
    pub(crate) fn with_values<'b>(&self, values: &'b [Value]) -> Row<'b>
    where
        'a: 'b,
    {
        Row {
            values,
            spans: &[],
            record: self.record,
            rowtime: self.rowtime,
            kind: self.kind,
            window: self.window,
        }
    }
}

/// Whether a pipeline wants more rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// No more rows are wanted, ever (a LIMIT was reached): the query ends.
    Stop,
}

/// The rest of a pipeline, as an operator sees it.
pub(crate) type Next<'n> = dyn FnMut(Row<'_>) -> Flow + 'n;

/// One step of a pipeline.
pub(crate) trait Operator: Send {
    /// Handles one row: passes zero or more rows to `next`, and returns `Stop` once no more
    /// rows are wanted (what `next` said, or the operator's own limit).
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow;

    /// True once the operator passes no more rows, before any row arrives (`LIMIT 0`).
    fn exhausted(&self) -> bool {
        false
    }

    /// The error that made the operator stop (`Flow::Stop`) mid-batch, if any: the batch
    /// must not be committed.
    fn take_error(&mut self) -> Option<crate::error::EngineError> {
        None
    }

    /// At the end of a pull query's input: rows the operator owes only then (a global
    /// aggregate over no rows answers one row, as SQL does). Nothing by default; push and
    /// persistent queries never end their input, so never call it.
    fn finish(&mut self, _next: &mut Next<'_>) -> Flow {
        Flow::Continue
    }

    /// For a filter: an `E = literal` every row it passes satisfies (see
    /// `expr::equality_probe`), so a driver may hand it only the rows in that bucket.
    fn equality_probe(&self) -> Option<crate::expr::EqualityProbe> {
        None
    }
}

/// The end of a pipeline: turns rows into the pipeline's output.
pub(crate) trait Terminal: Send {
    type Output;

    fn accept(&mut self, row: Row<'_>, out: &mut Self::Output);
}
