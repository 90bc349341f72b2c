//! A query's physical pipeline: scan → operators → terminal, run one record at a time.
//!
//! ```text
//!  StoredRecord ─► Scan (decode) ─► Row ─► op₀ ─► op₁ ─► … ─► Terminal ─► Output
//! ```
//!
//! Built from a logical plan by `plan::physical`, run by the query drivers (`query::transient`
//! for push and pull queries, `query::persistent` for persistent ones), which own the
//! cursors and decide how many records to read per batch.

use crate::log::StoredRecord;

use super::operator::{Flow, Operator, Row, Terminal};
use super::scan::Scan;

pub(crate) struct Pipeline<T: Terminal> {
    scan: Scan,
    operators: Vec<Box<dyn Operator>>,
    terminal: T,
}

impl<T: Terminal> Pipeline<T> {
    pub(crate) fn new(scan: Scan, operators: Vec<Box<dyn Operator>>, terminal: T) -> Self {
        Pipeline {
            scan,
            operators,
            terminal,
        }
    }

    /// Runs one record through the pipeline, adding what it produces to `out`. `Stop` once
    /// the pipeline wants no more records.
    pub(crate) fn process(&mut self, record: &StoredRecord, out: &mut T::Output) -> Flow {
        let Pipeline {
            scan,
            operators,
            terminal,
        } = self;
        match scan.decode(record) {
            Some(row) => push_through(operators, terminal, row, out),
            None => Flow::Continue,
        }
    }

    /// The first operator error of the records processed so far (state I/O): their
    /// outputs are incomplete and must not be written.
    pub(crate) fn take_error(&mut self) -> Option<crate::error::EngineError> {
        self.operators.iter_mut().find_map(|op| op.take_error())
    }

    /// Records the scan skipped so far (they failed to decode).
    pub(crate) fn skipped_records(&self) -> u64 {
        self.scan.skipped()
    }

    /// True when the pipeline will produce nothing more (a `LIMIT` already reached).
    pub(crate) fn exhausted(&self) -> bool {
        self.operators.iter().any(|op| op.exhausted())
    }
}

fn push_through<T: Terminal>(
    operators: &mut [Box<dyn Operator>],
    terminal: &mut T,
    row: Row<'_>,
    out: &mut T::Output,
) -> Flow {
    match operators.split_first_mut() {
        None => {
            terminal.accept(row, out);
            Flow::Continue
        }
        Some((first, rest)) => first.push(row, &mut |row| push_through(rest, terminal, row, out)),
    }
}
