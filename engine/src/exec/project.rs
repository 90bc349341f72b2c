//! SELECT: one output value per projected column, with ksqlDB's error handling — a
//! projected expression that fails to evaluate yields NULL for that column and is logged
//! (ksqlDB's processing log); it never stops the query.
//!
//! Terminals project (`result_sink` into result rows, `record_sink` into a sink's key and
//! value), so a plain column copied to a response can stay as its stored JSON text.

use crate::expr::CompiledExpr;
use crate::types::Value;

/// How one output column is computed from a row.
#[derive(Debug, Clone)]
pub enum Projection {
    /// Copy row slot `index` (a plain column: no evaluation, no clone of the expression).
    Column(usize),
    Expr(CompiledExpr),
}

impl Projection {
    /// The column's value for `row`.
    pub(crate) fn value(&self, query_id: &str, row: &[Value]) -> Value {
        match self {
            Projection::Column(i) => row[*i].clone(),
            Projection::Expr(e) => eval_or_null(query_id, e, row),
        }
    }
}

/// `expr` over `row`, or NULL (logged) when it fails.
pub(crate) fn eval_or_null(query_id: &str, expr: &CompiledExpr, row: &[Value]) -> Value {
    expr.eval(row).unwrap_or_else(|err| {
        tracing::warn!(query = %query_id, error = %err, "projection failed; emitting null");
        Value::Null
    })
}

/// Appends one value per projection to `out`.
pub(crate) fn project_into(
    query_id: &str,
    projection: &[Projection],
    row: &[Value],
    out: &mut Vec<Value>,
) {
    out.extend(projection.iter().map(|p| p.value(query_id, row)));
}
