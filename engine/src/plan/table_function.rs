//! Table functions (ksqlDB's UDTFs) in a SELECT list: `EXPLODE` and `CUBE_EXPLODE`, the
//! built-in table functions of ksqlDB 0.28.
//!
//! A table function turns one input row into zero or more output rows. ksqlDB plans
//! `SELECT k, EXPLODE(a) AS v, ABS(x) FROM s WHERE p` as filter → flat map → project: the
//! flat map evaluates every table function call against the input row and, once per output
//! row, appends one value per call to the row; the projection reads those values as if
//! they were columns. So other select items repeat on every output row, a table function
//! may sit inside a scalar expression (`EXPLODE(a)->F1`, `ABS(EXPLODE(a))`), and several
//! table functions zip: as many output rows as the longest result, shorter results padded
//! with NULL (ksqlDB docs, `table-functions.md`).
//!
//! ```text
//!  row ─► WHERE ─► flat map: row ++ [call₀[i], call₁[i], …] for i in 0..longest ─► SELECT
//! ```
//!
//! Planning (`SelectBinder`) rewrites each call into a reference to its slot after the
//! source row and compiles the call's argument against the source alone; running
//! (`FlatMap::for_each_row`) builds the extended rows. Push and persistent queries share
//! both (through `exec::project`).

use crate::error::{EngineError, Result};
use crate::exec::flat_map::{FlatMap, TableFunctionCall};
use crate::expr::table_function::TableFunction;
use crate::expr::{compile, ColumnResolver, CompiledExpr};
use crate::sql::ast::{Expr, Query, SelectItem, SourceKind};
use crate::sql::{for_each_child, for_each_child_mut};
use crate::types::SqlType;

/// Qualifier of the column references that replace table function calls in a rewritten
/// select expression. No parsed identifier contains a NUL, so these never clash with (or
/// shadow) a user's column.
const SLOT_QUALIFIER: &str = "\0table function";

/// Compiles select expressions that may call table functions: each call becomes a
/// reference to a slot after the source row, and its argument is compiled against the
/// source row alone. Use it as the resolver for the rewritten expression.
pub(crate) struct SelectBinder<'r> {
    source: &'r dyn ColumnResolver,
    row_len: usize,
    calls: Vec<TableFunctionCall>,
}

impl<'r> SelectBinder<'r> {
    /// `row_len` is the length of the rows `source` describes (columns and pseudo columns).
    pub(crate) fn new(source: &'r dyn ColumnResolver, row_len: usize) -> SelectBinder<'r> {
        SelectBinder {
            source,
            row_len,
            calls: Vec::new(),
        }
    }

    /// Compiles one select expression.
    pub(crate) fn compile(&mut self, expr: &Expr) -> Result<CompiledExpr> {
        if first_table_function(expr).is_none() {
            return compile(expr, self);
        }
        check_not_in_case(expr)?;
        let mut rewritten = expr.clone();
        self.bind(&mut rewritten)?;
        compile(&rewritten, self)
    }

    /// The flat map of every call bound so far.
    pub(crate) fn finish(self) -> FlatMap {
        FlatMap {
            calls: self.calls,
            row_len: self.row_len,
        }
    }

    fn bind(&mut self, expr: &mut Expr) -> Result<()> {
        if let Expr::Function { name, args } = expr {
            if let Some(function) = TableFunction::lookup(name) {
                let call = self.call(function, args)?;
                *expr = Expr::Column {
                    qualifier: Some(SLOT_QUALIFIER.to_string()),
                    name: self.calls.len().to_string(),
                };
                self.calls.push(call);
                return Ok(());
            }
        }
        let mut result = Ok(());
        for_each_child_mut(expr, |child| {
            if result.is_ok() {
                result = self.bind(child);
            }
        });
        result
    }

    fn call(&self, function: TableFunction, args: &[Expr]) -> Result<TableFunctionCall> {
        if let Some(inner) = args.iter().find_map(first_table_function) {
            // ksqlDB's `Analyzer.TableFunctionVisitor` text.
            return Err(EngineError::statement(format!(
                "Table functions cannot be nested: {}({}())",
                function.name(),
                inner.name()
            )));
        }
        let compiled = args
            .iter()
            .map(|a| compile(a, self.source))
            .collect::<Result<Vec<_>>>()?;
        if let [arg] = compiled.as_slice() {
            if let Some(ty) = function.result_type(arg.sql_type()) {
                return Ok(TableFunctionCall {
                    function,
                    arg: arg.clone(),
                    ty,
                });
            }
        }
        let shown: Vec<String> = compiled.iter().map(|c| c.sql_type().to_string()).collect();
        Err(EngineError::statement(format!(
            "Function '{}' does not accept parameters ({}).",
            function.name(),
            shown.join(", ")
        )))
    }
}

impl ColumnResolver for SelectBinder<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        if qualifier == Some(SLOT_QUALIFIER) {
            let k: usize = name.parse().ok()?;
            return self.calls.get(k).map(|c| (self.row_len + k, c.ty.clone()));
        }
        self.source.resolve(qualifier, name)
    }
}

/// The first table function called in `expr`, outermost first.
fn first_table_function(expr: &Expr) -> Option<TableFunction> {
    if let Expr::Function { name, .. } = expr {
        if let Some(f) = TableFunction::lookup(name) {
            return Some(f);
        }
    }
    let mut found = None;
    for_each_child(expr, |child| {
        if found.is_none() {
            found = first_table_function(child);
        }
    });
    found
}

/// ksqlDB rejects a table function inside a searched CASE (its `TableFunctionVisitor`).
fn check_not_in_case(expr: &Expr) -> Result<()> {
    if let Expr::Case { operand: None, .. } = expr {
        if first_table_function(expr).is_some() {
            return Err(EngineError::statement(format!(
                "Table functions cannot be used in CASE: {expr}"
            )));
        }
    }
    let mut result = Ok(());
    for_each_child(expr, |child| {
        if result.is_ok() {
            result = check_not_in_case(child);
        }
    });
    result
}

/// Rejects table functions anywhere but the SELECT list, and on TABLE sources, with
/// ksqlDB's texts where it has them.
pub(crate) fn check_query(query: &Query, source_kind: SourceKind) -> Result<()> {
    let in_select = query.select.iter().any(|item| match item {
        SelectItem::Expr { expr, .. } => first_table_function(expr).is_some(),
        _ => false,
    });
    let aggregating =
        !query.group_by.is_empty() || query.having.is_some() || query.window.is_some();
    let elsewhere = |exprs: &mut dyn Iterator<Item = &Expr>| {
        exprs
            .filter_map(first_table_function)
            .next()
            .map(TableFunction::name)
    };
    if (in_select && aggregating)
        || elsewhere(&mut query.group_by.iter().chain(&query.having)).is_some()
    {
        return Err(EngineError::statement(
            "Table functions cannot be used with aggregations.",
        ));
    }
    if let Some(name) = elsewhere(&mut query.where_clause.iter()) {
        return Err(EngineError::statement(format!(
            "Table functions cannot be used in WHERE: {name}"
        )));
    }
    if let Some(name) = elsewhere(&mut query.partition_by.iter()) {
        return Err(EngineError::statement(format!(
            "Table functions cannot be used in PARTITION BY: {name}"
        )));
    }
    if in_select && source_kind == SourceKind::Table {
        // ksqlDB's `LogicalPlanner` text.
        return Err(EngineError::statement(
            "Table source is not supported with table functions",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::flat_map::FlatMapOperator;
    use crate::exec::operator::{Flow, Operator, Row, RowKind};
    use crate::log::{Offset, PartitionId, Record, StoredRecord};
    use crate::types::Value;
    use std::sync::Arc;

    /// A row of one ARRAY<INT> column per array given, plus nothing else.
    struct Arrays(usize);

    impl ColumnResolver for Arrays {
        fn resolve(&self, _: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
            let i: usize = name.strip_prefix('A')?.parse().ok()?;
            (i < self.0).then(|| (i, SqlType::Array(Box::new(SqlType::Integer))))
        }
    }

    fn ints(items: &[i32]) -> Value {
        Value::Array(items.iter().map(|&i| Value::Integer(i)).collect())
    }

    /// The rows the projection of `select` (one expression) sees for `row`.
    fn run(select: &[&str], row: Vec<Value>) -> Vec<Vec<Value>> {
        let source = Arrays(row.len());
        let mut binder = SelectBinder::new(&source, row.len());
        let compiled: Vec<CompiledExpr> = select
            .iter()
            .map(|s| {
                binder
                    .compile(&crate::sql::parse_expression(s).unwrap())
                    .unwrap()
            })
            .collect();
        let mut flat_map = FlatMapOperator::new(Arc::from("q"), binder.finish());
        let record = StoredRecord {
            partition: PartitionId(0),
            offset: Offset(0),
            record: Record {
                key: None,
                value: None,
                timestamp_ms: 0,
                headers: Vec::new(),
            },
        };
        let input = Row {
            values: &row,
            spans: &[],
            record: &record,
            rowtime: 0,
            kind: RowKind::Row,
            window: None,
        };
        let mut out = Vec::new();
        let _ = flat_map.push(input, &mut |r| {
            out.push(compiled.iter().map(|c| c.eval(r.values).unwrap()).collect());
            Flow::Continue
        });
        out
    }

    #[test]
    fn calls_zip_to_the_longest_with_nulls() {
        let rows = run(
            &["EXPLODE(A0)", "A1", "EXPLODE(A1) + 1"],
            vec![ints(&[1, 2, 3]), ints(&[10])],
        );
        assert_eq!(
            rows,
            vec![
                vec![Value::Integer(1), ints(&[10]), Value::Integer(11)],
                vec![Value::Integer(2), ints(&[10]), Value::Null],
                vec![Value::Integer(3), ints(&[10]), Value::Null],
            ]
        );
    }

    #[test]
    fn null_and_empty_arrays_give_no_rows() {
        assert!(run(&["EXPLODE(A0)"], vec![Value::Null]).is_empty());
        assert!(run(
            &["EXPLODE(A0)", "EXPLODE(A1)"],
            vec![ints(&[]), Value::Null]
        )
        .is_empty());
    }

    #[test]
    fn without_table_functions_the_row_passes_through() {
        assert_eq!(run(&["A0"], vec![ints(&[1])]), vec![vec![ints(&[1])]]);
    }

    #[test]
    fn planning_errors_use_ksqldb_texts() {
        let source = Arrays(1);
        let err = |s: &str| {
            SelectBinder::new(&source, 1)
                .compile(&crate::sql::parse_expression(s).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("EXPLODE(EXPLODE(A0))"),
            "Table functions cannot be nested: EXPLODE(EXPLODE())"
        );
        assert!(err("CASE WHEN TRUE THEN EXPLODE(A0) END")
            .starts_with("Table functions cannot be used in CASE: "));
        assert_eq!(
            err("EXPLODE(1)"),
            "Function 'EXPLODE' does not accept parameters (INTEGER)."
        );
    }
}
