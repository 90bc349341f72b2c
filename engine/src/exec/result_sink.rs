//! The terminal of push and pull queries: projects each row into a batch of result rows.
//!
//! A plain column the scan kept as stored JSON text is copied as that text (no decode,
//! no re-render); every other column is a value.

use std::sync::Arc;

use super::operator::{Row, RowKind, Terminal};
use super::project::{eval_or_null, Projection};
use super::result_rows::ResultRows;

pub(crate) struct ResultSink {
    query_id: Arc<str>,
    projection: Vec<Projection>,
    tombstones: TombstoneRows,
}

/// Whether tombstone rows become result rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TombstoneRows {
    /// A push query over a table shows a deleted key as a tombstone row (ksqlDB's
    /// `"tombstone": true`; RQTT `push-queries.json` "table with tombstones").
    Show,
    /// An aggregate's group that stopped passing HAVING: results carry no deletes.
    Drop,
}

impl ResultSink {
    pub(crate) fn new(
        query_id: Arc<str>,
        projection: Vec<Projection>,
        tombstones: TombstoneRows,
    ) -> ResultSink {
        ResultSink {
            query_id,
            projection,
            tombstones,
        }
    }
}

impl Terminal for ResultSink {
    type Output = ResultRows;

    fn accept(&mut self, row: Row<'_>, out: &mut ResultRows) {
        if row.kind == RowKind::Tombstone && self.tombstones == TombstoneRows::Drop {
            return;
        }
        for p in &self.projection {
            match p {
                Projection::Column(i) => match row.stored_text(*i) {
                    Some(text) => out.push_json(text),
                    None => out.push_value(row.values[*i].clone()),
                },
                Projection::Expr(e) => out.push_value(eval_or_null(&self.query_id, e, row.values)),
            }
        }
        match row.kind {
            RowKind::Tombstone => out.end_tombstone_row(),
            RowKind::Row => out.end_row(),
        }
    }
}
