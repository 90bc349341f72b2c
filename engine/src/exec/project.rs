//! WHERE and SELECT over one decoded row, with ksqlDB's error handling: a WHERE that fails
//! to evaluate drops the row, a projection that fails yields NULL for that column. Both are
//! logged (ksqlDB's processing log) and never stop the query.

use crate::exec::expr::CompiledExpr;
use crate::exec::query_plan::Projection;
use crate::types::Value;

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
