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

use super::join::JoinStage;
use super::operator::{Flow, Operator, Row, Terminal};
use super::scan::Scan;

pub(crate) struct Pipeline<T: Terminal> {
    scan: Scan,
    /// A join's other sources and the join itself; `scan` decodes its first source.
    join: Option<JoinFront>,
    operators: Vec<Box<dyn Operator>>,
    terminal: T,
}

/// The front of a join pipeline: one scan per further source, then the join.
pub(crate) struct JoinFront {
    /// Scans of sources 1.. (source 0 is the pipeline's scan).
    pub(crate) scans: Vec<Scan>,
    pub(crate) stage: JoinStage,
}

impl<T: Terminal> Pipeline<T> {
    pub(crate) fn new(scan: Scan, operators: Vec<Box<dyn Operator>>, terminal: T) -> Self {
        Pipeline {
            scan,
            join: None,
            operators,
            terminal,
        }
    }

    /// The pipeline of a join: `scan` reads source 0, `front` the others and joins them.
    pub(crate) fn with_join(mut self, front: JoinFront) -> Self {
        self.join = Some(front);
        self
    }

    /// Runs one record of source `source` (0 unless the pipeline joins several) through
    /// the pipeline, adding what it produces to `out`. `Stop` once the pipeline wants no
    /// more records.
    pub(crate) fn process_from(
        &mut self,
        source: usize,
        record: &StoredRecord,
        out: &mut T::Output,
    ) -> Flow {
        let Pipeline {
            scan,
            join,
            operators,
            terminal,
        } = self;
        let Some(JoinFront { scans, stage }) = join else {
            return match scan.decode(record) {
                Some(row) => push_through(operators, terminal, row, out),
                None => Flow::Continue,
            };
        };
        let scan = match source {
            0 => scan,
            n => match scans.get_mut(n - 1) {
                Some(s) => s,
                None => return Flow::Continue,
            },
        };
        match scan.decode(record) {
            Some(row) => stage.push(source, row, &mut |row| {
                push_through(operators, terminal, row, out)
            }),
            None => Flow::Continue,
        }
    }

    /// Runs one already-decoded row of source 0 through the operators (no join): the rows of
    /// a decoded batch another query shared (`query::shared_decode`).
    pub(crate) fn process_row(&mut self, row: Row<'_>, out: &mut T::Output) -> Flow {
        debug_assert!(self.join.is_none(), "a join decodes its own sources");
        push_through(&mut self.operators, &mut self.terminal, row, out)
    }

    /// Ends a pull query's input: each operator in turn passes on the rows it owes only at
    /// the end ([`Operator::finish`]) through the operators after it.
    pub(crate) fn finish(&mut self, out: &mut T::Output) -> Flow {
        let Pipeline {
            operators,
            terminal,
            ..
        } = self;
        for i in 0..operators.len() {
            let (head, rest) = operators.split_at_mut(i + 1);
            let flow = head[i].finish(&mut |row| push_through(rest, terminal, row, out));
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// The `E = literal` of a filter that sees the scan's rows first (no join), if any:
    /// rows outside its bucket would not get past the first operator.
    pub(crate) fn equality_probe(&self) -> Option<crate::expr::EqualityProbe> {
        match &self.join {
            Some(_) => None,
            None => self.operators.first()?.equality_probe(),
        }
    }

    /// The scan of source 0.
    pub(crate) fn scan(&self) -> &Scan {
        &self.scan
    }

    /// The first operator error of the records processed so far (state I/O): their
    /// outputs are incomplete and must not be written.
    pub(crate) fn take_error(&mut self) -> Option<crate::error::EngineError> {
        if let Some(e) = self.join.as_mut().and_then(|j| j.stage.take_error()) {
            return Some(e);
        }
        self.operators.iter_mut().find_map(|op| op.take_error())
    }

    /// Records the scans skipped so far (they failed to decode).
    pub(crate) fn skipped_records(&self) -> u64 {
        self.scan.skipped()
            + self
                .join
                .as_ref()
                .map_or(0, |j| j.scans.iter().map(Scan::skipped).sum())
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
