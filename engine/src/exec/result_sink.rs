//! The terminal of push and pull queries: projects each row into a batch of result rows.
//!
//! A plain column the scan kept as stored JSON text is copied as that text (no decode,
//! no re-render); every other column is a value.
//!
//! A push query on a table passes its source's deletes on as tombstone rows: the selected
//! columns that are plain columns keep their value (only the key has one), every
//! computed column is null — ksqlDB's tombstone row, with its key and nulls.

use std::sync::Arc;

use super::operator::{Row, RowKind, Terminal};
use super::project::{eval_or_null, Projection};
use super::result_rows::ResultRows;

pub(crate) struct ResultSink {
    query_id: Arc<str>,
    projection: Vec<Projection>,
    /// Whether tombstones become tombstone rows (a push query on a table) or are dropped
    /// (an aggregate's group that stopped passing HAVING).
    tombstone_rows: bool,
}

impl ResultSink {
    pub(crate) fn new(
        query_id: Arc<str>,
        projection: Vec<Projection>,
        tombstone_rows: bool,
    ) -> ResultSink {
        ResultSink {
            query_id,
            projection,
            tombstone_rows,
        }
    }

    fn tombstone(&self, row: Row<'_>, out: &mut ResultRows) {
        for p in &self.projection {
            out.push_value(match p {
                Projection::Column(i) => row.values[*i].clone(),
                Projection::Expr(_) => crate::types::Value::Null,
            });
        }
        out.end_tombstone_row();
    }
}

impl Terminal for ResultSink {
    type Output = ResultRows;

    fn accept(&mut self, row: Row<'_>, out: &mut ResultRows) {
        if row.kind == RowKind::Tombstone {
            if self.tombstone_rows {
                self.tombstone(row, out);
            }
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
        out.end_row();
    }
}
