//! A pull query over an aggregate (`SELECT room, COUNT(*) … GROUP BY room` where a face
//! allows it): the push aggregate runs over everything there is, and its changes fold into
//! the last row of each group, which is the answer.
//!
//! ```text
//!  QueryStream (push aggregate, Earliest → current end)
//!     ─► rows: visible columns + hidden group key ─► key → last row (first-seen order)
//!     ─► at the end: the groups, LIMIT applied, hidden columns left out
//! ```
//!
//! Bounded: at most [`PULL_GROUPS_MAX`] groups are held; a larger answer is refused.

use std::collections::HashMap;
use std::io::Write as _;

use crate::error::{EngineError, Result};
use crate::exec::result_rows::{CellRef, ResultRows};
use crate::limits::PULL_GROUPS_MAX;
use crate::plan::transient::PullGroups;
use crate::types::Value;

use super::transient::{EndReason, QueryStream};

/// Rows read from the aggregate per step.
const FOLD_READ_ROWS: usize = 1024;

/// One folded cell.
enum Held {
    Value(Value),
    Json(Vec<u8>),
}

pub(crate) struct GroupFold {
    groups: PullGroups,
    /// The visible columns (the aggregate's result without the hidden group key).
    visible: usize,
    index: HashMap<Vec<u8>, usize>,
    /// Each group's last row, first-seen order; `None` once HAVING dropped it.
    rows: Vec<Option<Vec<Held>>>,
    /// The aggregate's end, once it has read everything.
    end: Option<EndReason>,
    /// The next group to look at.
    next: usize,
    /// Groups handed out.
    given: usize,
}

impl GroupFold {
    pub(crate) fn new(groups: PullGroups, width: usize) -> GroupFold {
        GroupFold {
            groups,
            visible: width - groups.hidden,
            index: HashMap::new(),
            rows: Vec::new(),
            end: None,
            next: 0,
            given: 0,
        }
    }

    /// The result's columns the answer shows.
    pub(crate) fn visible(&self) -> usize {
        self.visible
    }

    /// Reads the aggregate to its end (first call), then hands out up to `max_rows` groups
    /// into `out` (whose width is [`GroupFold::visible`]). Cancel-safe: what was folded
    /// stays folded, and the stream loses no row between reads.
    pub(crate) async fn next_rows(
        &mut self,
        stream: &mut QueryStream,
        out: &mut ResultRows,
        max_rows: usize,
    ) -> Result<Option<EndReason>> {
        if self.end.is_none() {
            let mut batch = ResultRows::new(self.visible + self.groups.hidden, 0);
            loop {
                batch.clear();
                let end = stream.next_rows(&mut batch, FOLD_READ_ROWS).await?;
                self.fold(&batch)?;
                if let Some(end) = end {
                    // What the aggregate owes at the end: a global one over no rows
                    // answers its empty group (`COUNT(*)` 0).
                    batch.clear();
                    stream.finish(&mut batch)?;
                    self.fold(&batch)?;
                    self.end = Some(end);
                    break;
                }
            }
        }
        let limit = self
            .groups
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        while self.next < self.rows.len() && self.given < limit && out.len() < max_rows {
            if let Some(row) = &self.rows[self.next] {
                for cell in row {
                    match cell {
                        Held::Value(v) => out.push_value(v.clone()),
                        Held::Json(text) => out.push_json(text),
                    }
                }
                out.end_row();
                self.given += 1;
            }
            self.next += 1;
        }
        let left = self.rows[self.next..].iter().any(Option::is_some);
        if self.given >= limit && left {
            return Ok(Some(EndReason::LimitReached));
        }
        if left {
            return Ok(None);
        }
        Ok(Some(EndReason::Completed))
    }

    fn fold(&mut self, batch: &ResultRows) -> Result<()> {
        for (tombstone, row) in batch.rows_with_tombstones() {
            let cells: Vec<CellRef<'_>> = row.collect();
            let (shown, group) = cells.split_at(self.visible);
            let mut key = Vec::new();
            for cell in group {
                match cell {
                    CellRef::Value(v) => {
                        // Written straight into the key: no String per row.
                        let _ = write!(key, "v{v:?}");
                    }
                    CellRef::Json(text) => {
                        key.push(b'j');
                        key.extend_from_slice(text);
                    }
                }
                key.push(0);
            }
            let held: Vec<Held> = shown
                .iter()
                .map(|c| match c {
                    CellRef::Value(v) => Held::Value((*v).clone()),
                    CellRef::Json(text) => Held::Json(text.to_vec()),
                })
                .collect();
            if tombstone {
                // The group stopped passing HAVING: it is not in the answer (unless a later
                // row brings it back).
                if let Some(&i) = self.index.get(&key) {
                    self.rows[i] = None;
                }
                continue;
            }
            match self.index.get(&key) {
                Some(&i) => self.rows[i] = Some(held),
                None => {
                    if self.rows.len() >= PULL_GROUPS_MAX {
                        return Err(EngineError::resource_exhausted(format!(
                            "A pull query over an aggregate answers at most \
                             {PULL_GROUPS_MAX} groups; narrow its WHERE"
                        )));
                    }
                    self.index.insert(key, self.rows.len());
                    self.rows.push(Some(held));
                }
            }
        }
        Ok(())
    }
}
