//! The flat map of a SELECT list's table functions: one input row → zero or more rows, each
//! the input row extended by one value per call (see `plan::table_function` for how calls
//! are bound to those slots, and ksqlDB's `table-functions.md` for the semantics).
//!
//! ```text
//!  row ─► [call₀[i], call₁[i], …] for i in 0..longest (shorter results padded with NULL)
//! ```

use std::sync::Arc;

use crate::expr::table_function::TableFunction;
use crate::expr::CompiledExpr;
use crate::types::{SqlType, Value};

use super::operator::{Flow, Next, Operator, Row, RowKind};

/// One table function call of a SELECT list, compiled against the source row.
#[derive(Debug, Clone)]
pub(crate) struct TableFunctionCall {
    pub(crate) function: TableFunction,
    pub(crate) arg: CompiledExpr,
    /// The type of each produced value (what the projection sees in the call's slot).
    pub(crate) ty: SqlType,
}

/// The table function calls of one SELECT list, evaluated per input row. Empty for a
/// SELECT without table functions, which then maps each input row to itself.
#[derive(Debug, Clone, Default)]
pub struct FlatMap {
    pub(crate) calls: Vec<TableFunctionCall>,
    /// Length of the input row; call `k`'s value goes to slot `row_len + k`.
    pub(crate) row_len: usize,
}

impl FlatMap {
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// The flat map as a pipeline step.
pub(crate) struct FlatMapOperator {
    query_id: Arc<str>,
    flat_map: FlatMap,
    /// The row being extended, reused between rows.
    scratch: Vec<Value>,
}

impl FlatMapOperator {
    pub(crate) fn new(query_id: Arc<str>, flat_map: FlatMap) -> FlatMapOperator {
        FlatMapOperator {
            query_id,
            flat_map,
            scratch: Vec::new(),
        }
    }
}

impl Operator for FlatMapOperator {
    /// Passes the input row extended by one value per call, once per output row. No rows
    /// when every call produces nothing (NULL or empty arrays). A tombstone passes as it is
    /// (the projection of a null value is a null value).
    ///
    /// A call whose argument fails to evaluate drops the input row: ksqlDB logs it to the
    /// processing log and emits nothing for it (QTT `table-functions.json`, "should handle
    /// UDTF parameter evaluation that throws").
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        let calls = &self.flat_map.calls;
        if calls.is_empty() || row.kind == RowKind::Tombstone {
            return next(row);
        }
        let row_len = self.flat_map.row_len;
        assert_eq!(
            row.values.len(),
            row_len,
            "rows have the layout the table functions were planned against"
        );
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            let produced = call
                .arg
                .eval(row.values)
                .and_then(|arg| call.function.apply(arg));
            match produced {
                Ok(values) => results.push(values.into_iter()),
                Err(e) => {
                    tracing::warn!(query = %self.query_id, function = call.function.name(), error = %e,
                        "skipping row: table function failed");
                    return Flow::Continue;
                }
            }
        }
        let longest = results
            .iter()
            .map(ExactSizeIterator::len)
            .max()
            .unwrap_or(0);
        self.scratch.clear();
        self.scratch.extend_from_slice(row.values);
        self.scratch.resize(row_len + results.len(), Value::Null);
        for _ in 0..longest {
            for (k, values) in results.iter_mut().enumerate() {
                self.scratch[row_len + k] = values.next().unwrap_or(Value::Null);
            }
            if next(row.with_values(&self.scratch)) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}
