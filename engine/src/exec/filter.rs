//! WHERE (and, later, HAVING): passes the rows whose predicate is TRUE.
//!
//! A predicate that fails to evaluate drops the row and is logged (ksqlDB's processing
//! log); it never stops the query. A tombstone never passes: a predicate over a null
//! value is not true (ksqlDB drops null-value records at a WHERE).

use std::sync::Arc;

use crate::expr::CompiledExpr;
use crate::types::Value;

use super::operator::{Flow, Next, Operator, Row, RowKind};

pub(crate) struct Filter {
    query_id: Arc<str>,
    predicate: CompiledExpr,
}

impl Filter {
    pub(crate) fn new(query_id: Arc<str>, predicate: CompiledExpr) -> Filter {
        Filter {
            query_id,
            predicate,
        }
    }
}

impl Operator for Filter {
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        if row.kind == RowKind::Tombstone || !passes(&self.query_id, &self.predicate, row.values) {
            return Flow::Continue;
        }
        next(row)
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
