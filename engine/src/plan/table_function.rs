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

use std::ops::ControlFlow;

use crate::error::{EngineError, Result};
use crate::expr::{compile, ColumnResolver, CompiledExpr};
use crate::sql::ast::{Expr, Query, SelectItem, SourceKind};
use crate::sql::{for_each_child, for_each_child_mut};
use crate::types::{SqlType, Value};

/// Most elements `CUBE_EXPLODE` accepts. Its output has 2^n rows, so 20 elements already
/// give ~1M rows per input row; ksqlDB's `Cube` UDTF caps its input at the same size.
pub const CUBE_EXPLODE_ELEMENTS_MAX: usize = 20;

/// Qualifier of the column references that replace table function calls in a rewritten
/// select expression. No parsed identifier contains a NUL, so these never clash with (or
/// shadow) a user's column.
const SLOT_QUALIFIER: &str = "\0table function";

/// A built-in table function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFunction {
    /// `EXPLODE(array)`: one row per element, of the element type.
    Explode,
    /// `CUBE_EXPLODE(array)`: one row per combination of the elements kept or NULLed.
    CubeExplode,
}

impl TableFunction {
    /// Every table function, for `SHOW FUNCTIONS` and name lookups.
    pub const ALL: [TableFunction; 2] = [TableFunction::CubeExplode, TableFunction::Explode];

    /// The table function called `name` (case-insensitive), if any.
    pub fn lookup(name: &str) -> Option<TableFunction> {
        TableFunction::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            TableFunction::Explode => "EXPLODE",
            TableFunction::CubeExplode => "CUBE_EXPLODE",
        }
    }

    /// The type of each value the function produces for an argument of type `arg`, or
    /// `None` when it does not accept that type.
    fn result_type(self, arg: &SqlType) -> Option<SqlType> {
        match (self, arg) {
            (TableFunction::Explode, SqlType::Array(element)) => Some((**element).clone()),
            (TableFunction::CubeExplode, SqlType::Array(_)) => Some(arg.clone()),
            _ => None,
        }
    }

    /// The values the function produces for one argument value. NULL produces none.
    fn apply(self, arg: Value) -> Result<Vec<Value>> {
        let Value::Array(items) = arg else {
            return Ok(Vec::new());
        };
        match self {
            TableFunction::Explode => Ok(items),
            TableFunction::CubeExplode => cube(&items),
        }
    }
}

/// Every combination of `items` with each element either kept or replaced by NULL, in
/// ksqlDB's order: combination `m` (a bit mask, the first element the most significant
/// bit) keeps the elements whose bits are set, for `m` from 0 up. A NULL element has one
/// choice, not two, so masks that "keep" a NULL element are duplicates and skipped.
fn cube(items: &[Value]) -> Result<Vec<Value>> {
    let n = items.len();
    if n > CUBE_EXPLODE_ELEMENTS_MAX {
        return Err(EngineError::bad_request(format!(
            "CUBE_EXPLODE input size ({n}) exceeds the maximum of {CUBE_EXPLODE_ELEMENTS_MAX} columns. The output cardinality is 2^N rows and would exhaust server memory."
        )));
    }
    let bit = |i: usize| 1u32 << (n - 1 - i);
    let non_null = items
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .fold(0u32, |mask, (i, _)| mask | bit(i));
    let mut rows = Vec::with_capacity(1 << non_null.count_ones());
    for mask in 0u32..(1u32 << n) {
        if mask & !non_null != 0 {
            continue;
        }
        let row = items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if mask & bit(i) != 0 {
                    v.clone()
                } else {
                    Value::Null
                }
            })
            .collect();
        rows.push(Value::Array(row));
    }
    Ok(rows)
}

/// One table function call of a SELECT list, compiled against the source row.
#[derive(Debug, Clone)]
struct TableFunctionCall {
    function: TableFunction,
    arg: CompiledExpr,
    /// The type of each produced value (what the projection sees in the call's slot).
    ty: SqlType,
}

/// The table function calls of one SELECT list, evaluated per input row. Empty for a
/// SELECT without table functions, which then maps each input row to itself.
#[derive(Debug, Clone, Default)]
pub struct FlatMap {
    calls: Vec<TableFunctionCall>,
    /// Length of the input row; call `k`'s value goes to slot `row_len + k`.
    row_len: usize,
}

impl FlatMap {
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Calls `emit` with each row the projection reads for the input `row`: `row` itself
    /// when there are no table functions; otherwise `row` extended by one value per call,
    /// once per output row. No rows when every call produces nothing (NULL or empty
    /// arrays). `scratch` is reused between calls to avoid allocating per row.
    ///
    /// A call whose argument fails to evaluate drops the input row: ksqlDB logs it to the
    /// processing log and emits nothing for it (QTT `table-functions.json`, "should handle
    /// UDTF parameter evaluation that throws").
    pub(crate) fn for_each_row(
        &self,
        query_id: &str,
        row: &[Value],
        scratch: &mut Vec<Value>,
        mut emit: impl FnMut(&[Value]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.calls.is_empty() {
            return emit(row);
        }
        assert_eq!(
            row.len(),
            self.row_len,
            "rows have the layout the table functions were planned against"
        );
        let mut results = Vec::with_capacity(self.calls.len());
        for call in &self.calls {
            let produced = call.arg.eval(row).and_then(|arg| call.function.apply(arg));
            match produced {
                Ok(values) => results.push(values.into_iter()),
                Err(e) => {
                    tracing::warn!(query = %query_id, function = call.function.name(), error = %e,
                        "skipping row: table function failed");
                    return ControlFlow::Continue(());
                }
            }
        }
        let longest = results
            .iter()
            .map(ExactSizeIterator::len)
            .max()
            .unwrap_or(0);
        scratch.clear();
        scratch.extend_from_slice(row);
        scratch.resize(self.row_len + results.len(), Value::Null);
        for _ in 0..longest {
            for (k, values) in results.iter_mut().enumerate() {
                scratch[self.row_len + k] = values.next().unwrap_or(Value::Null);
            }
            emit(scratch)?;
        }
        ControlFlow::Continue(())
    }
}

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

    fn strings(items: &[Option<&str>]) -> Value {
        Value::Array(
            items
                .iter()
                .map(|s| s.map_or(Value::Null, |s| Value::String(s.into())))
                .collect(),
        )
    }

    #[test]
    fn explode_yields_elements_and_nothing_for_null_or_empty() {
        let f = TableFunction::Explode;
        assert_eq!(
            f.apply(Value::Array(vec![Value::Integer(1), Value::Null]))
                .unwrap(),
            vec![Value::Integer(1), Value::Null]
        );
        assert!(f.apply(Value::Array(Vec::new())).unwrap().is_empty());
        assert!(f.apply(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn cube_orders_combinations_like_ksqldb_and_skips_null_duplicates() {
        let f = TableFunction::CubeExplode;
        assert_eq!(
            f.apply(strings(&[Some("a"), Some("b")])).unwrap(),
            vec![
                strings(&[None, None]),
                strings(&[None, Some("b")]),
                strings(&[Some("a"), None]),
                strings(&[Some("a"), Some("b")]),
            ]
        );
        assert_eq!(
            f.apply(strings(&[Some("a"), None])).unwrap(),
            vec![strings(&[None, None]), strings(&[Some("a"), None])]
        );
        assert_eq!(
            f.apply(Value::Array(Vec::new())).unwrap(),
            vec![Value::Array(Vec::new())]
        );
        assert!(f.apply(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn cube_rejects_more_than_the_element_limit() {
        let too_many = Value::Array(vec![Value::Integer(1); CUBE_EXPLODE_ELEMENTS_MAX + 1]);
        let err = TableFunction::CubeExplode.apply(too_many).unwrap_err();
        assert!(err.to_string().contains("exceeds the maximum"), "{err}");
    }

    #[test]
    fn result_types() {
        let arr = SqlType::Array(Box::new(SqlType::BigInt));
        assert_eq!(
            TableFunction::Explode.result_type(&arr),
            Some(SqlType::BigInt)
        );
        assert_eq!(
            TableFunction::CubeExplode.result_type(&arr),
            Some(arr.clone())
        );
        assert_eq!(TableFunction::Explode.result_type(&SqlType::BigInt), None);
    }

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
        let flat_map = binder.finish();
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        let _ = flat_map.for_each_row("q", &row, &mut scratch, |r| {
            out.push(compiled.iter().map(|c| c.eval(r).unwrap()).collect());
            ControlFlow::Continue(())
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
