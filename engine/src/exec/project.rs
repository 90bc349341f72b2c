//! WHERE, table functions and SELECT over one decoded row, with ksqlDB's error handling: a
//! WHERE that fails to evaluate drops the row, a table function whose argument fails drops
//! it too, a projection that fails yields NULL for that column. All are logged (ksqlDB's
//! processing log) and never stop the query.
//!
//! ```text
//!  row ─► passes (WHERE) ─► FlatMap (0..n rows, table function values appended) ─► project_into
//! ```

use std::ops::ControlFlow;

use crate::expr::CompiledExpr;
use crate::plan::table_function::FlatMap;
use crate::plan::transient::Projection;
use crate::types::Value;

/// Calls `emit` with each row the projection reads for `row`: none when WHERE rejects it,
/// else one per output row of the table functions (just `row` when there are none).
/// Stops early when `emit` breaks (a LIMIT reached), and returns that.
pub(crate) fn for_each_selected_row(
    query_id: &str,
    filter: Option<&CompiledExpr>,
    flat_map: &FlatMap,
    row: &[Value],
    scratch: &mut Vec<Value>,
    emit: impl FnMut(&[Value]) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if !passes(query_id, filter, row) {
        return ControlFlow::Continue(());
    }
    flat_map.for_each_row(query_id, row, scratch, emit)
}

/// True when `filter` is absent or evaluates to TRUE.
pub(crate) fn passes(query_id: &str, filter: Option<&CompiledExpr>, row: &[Value]) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    match filter.eval_predicate(row) {
        Ok(pass) => pass,
        Err(e) => {
            tracing::warn!(query = %query_id, error = %e, "skipping row: WHERE failed");
            false
        }
    }
}

/// Appends one value per projection to `out`.
pub(crate) fn project_into(
    query_id: &str,
    projection: &[Projection],
    row: &[Value],
    out: &mut Vec<Value>,
) {
    for p in projection {
        out.push(match p {
            Projection::Column(i) => row[*i].clone(),
            Projection::Expr(e) => e.eval(row).unwrap_or_else(|err| {
                tracing::warn!(query = %query_id, error = %err, "projection failed; emitting null");
                Value::Null
            }),
        });
    }
}
