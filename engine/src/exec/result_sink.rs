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
}

impl ResultSink {
    pub(crate) fn new(query_id: Arc<str>, projection: Vec<Projection>) -> ResultSink {
        ResultSink {
            query_id,
            projection,
        }
    }
}

impl Terminal for ResultSink {
    type Output = ResultRows;

    fn accept(&mut self, row: Row<'_>, out: &mut ResultRows) {
        if row.kind == RowKind::Tombstone {
            // An aggregate's group that stopped passing HAVING: results carry no deletes.
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
