//! WHERE (and, later, HAVING): passes the rows whose predicate is TRUE.
//!
//! A predicate that fails to evaluate drops the row and is logged (ksqlDB's processing
//! log); it never stops the query. A stream's tombstone never passes: a predicate over a
//! null value is not true (ksqlDB drops null-value records at a WHERE). A table's does
//! when the filter is told so: it deletes a key whose row may have passed before.

use std::sync::Arc;

use crate::expr::CompiledExpr;
use crate::types::Value;

use super::operator::{Flow, Next, Operator, Row, RowKind};

pub(crate) struct Filter {
    query_id: Arc<str>,
    predicate: CompiledExpr,
    /// Whether tombstones (a table's deletes) pass.
    deletes_pass: bool,
}

impl Filter {
    pub(crate) fn new(query_id: Arc<str>, predicate: CompiledExpr, deletes_pass: bool) -> Filter {
        Filter {
            query_id,
            predicate,
            deletes_pass,
        }
    }
}

impl Operator for Filter {
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        let pass = match row.kind {
            RowKind::Tombstone => self.deletes_pass,
            _ => passes(&self.query_id, &self.predicate, row.values),
        };
        match pass {
            true => next(row),
            false => Flow::Continue,
        }
    }

    fn equality_probe(&self) -> Option<crate::expr::EqualityProbe> {
        // Deletes pass whatever the predicate says: every row would be a candidate.
        match self.deletes_pass {
            true => None,
            false => self.predicate.equality_probe(),
        }
    }
}

/// True when `predicate` evaluates to TRUE over `row`.
pub(crate) fn passes(query_id: &str, predicate: &CompiledExpr, row: &[Value]) -> bool {
    match predicate.eval_predicate(row) {
        Ok(pass) => pass,
        Err(e) => {
            tracing::warn!(query = %query_id, error = %e, "skipping row: WHERE failed");
            false
        }
    }
}
