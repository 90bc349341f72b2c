//! The SELECT list, expanded into the columns a query projects, for every kind of query.
//!
//! `*` expands to the source's columns (in an order the query kind decides), `s->*` to the
//! fields of a struct, and every other item to one column named by its alias or, without
//! one, as ksqlDB names it (`KSQL_COL_<n>`, a column's own name, a struct field's name).
//! Table function calls become slots after the source row (see `table_function`).

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::exec::flat_map::FlatMap;
use crate::exec::project::Projection;
use crate::expr::{compile, ColumnAliasGenerator, ColumnResolver, CompiledExpr};
use crate::sql::ast::{Expr, SelectItem};
use crate::types::{ColumnKind, SqlType};

use super::table_function::SelectBinder;

/// One projected column before the query kind decides what it becomes (a result column, a
/// sink key column, a sink value column).
pub(crate) struct SelectedColumn {
    pub(crate) name: String,
    pub(crate) ty: SqlType,
    pub(crate) projection: Projection,
    /// The item's expression, to match against PARTITION BY (`None` for `*` columns).
    pub(crate) expr: Option<Expr>,
    /// The row slot when the column is a plain column reference.
    pub(crate) slot: Option<usize>,
    /// The column came from `*`.
    pub(crate) from_wildcard: bool,
}

/// The order `*` lists a source's columns in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WildcardOrder {
    /// Key columns first, then value and header columns (ksqlDB's `SELECT *`).
    KeysFirst,
    /// Value and header columns first, then the key columns (a re-keyed persistent query,
    /// whose old key moves into the value).
    ValuesFirst,
    /// Key columns, a windowed source's WINDOWSTART and WINDOWEND, then value and header
    /// columns (push and pull queries; a persistent query keeps the window in its key).
    KeysThenWindowBounds,
}

/// How select items resolve names.
pub(crate) struct SelectScope<'r> {
    /// Resolves plain column references, which are copied, not evaluated.
    pub(crate) columns: &'r dyn ColumnResolver,
    /// Resolves names inside expressions (it may record the slots they read).
    pub(crate) expressions: &'r dyn ColumnResolver,
    /// Length of the source row: table function slots follow it.
    pub(crate) row_len: usize,
}

/// When two output columns with one name are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// As each non-`*` item is expanded (push and pull queries): the first duplicate is
    /// reported before later items are even compiled.
    RefuseAtOnce,
    /// Later, by the caller (persistent queries check once key and value columns are known).
    Allow,
}

/// WINDOWSTART and WINDOWEND of a windowed source, as `*` lists them: the row slots
/// after its columns.
fn push_window_bounds(source: &Source, columns: &mut Vec<SelectedColumn>) {
    if source.window.is_none() {
        return;
    }
    let first = source.schema.columns.len();
    for (i, name) in ["WINDOWSTART", "WINDOWEND"].into_iter().enumerate() {
        columns.push(SelectedColumn {
            name: name.to_string(),
            ty: SqlType::BigInt,
            projection: Projection::Column(first + i),
            expr: None,
            slot: Some(first + i),
            from_wildcard: true,
        });
    }
}

/// Expands `select` into columns, with the table functions it calls.
pub(crate) fn expand_select(
    select: &[SelectItem],
    source: &Source,
    scope: &SelectScope<'_>,
    wildcard: WildcardOrder,
    duplicates: Duplicates,
) -> Result<(Vec<SelectedColumn>, FlatMap)> {
    let check = |columns: &[SelectedColumn], name: &str, ty: &SqlType| {
        if duplicates == Duplicates::RefuseAtOnce && columns.iter().any(|c| c.name == name) {
            return Err(duplicate_column(name, ty));
        }
        Ok(())
    };
    let mut columns = Vec::new();
    let mut binder = SelectBinder::new(scope.expressions, scope.row_len);
    // Seeded on first use: most select lists (`SELECT *`, plain or aliased columns) never
    // need a generated name, and seeding hashes every source column into fresh maps, which
    // was ~8% of a key-lookup pull query's server CPU (`sluice bench --pull-queries`).
    let mut aliases: Option<ColumnAliasGenerator> = None;
    for item in select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                // Header columns travel with the value columns: a sink has no header
                // columns, so they become value columns there.
                let keys_first = wildcard != WildcardOrder::ValuesFirst;
                for want_key in [keys_first, !keys_first] {
                    if !want_key && wildcard == WildcardOrder::KeysThenWindowBounds {
                        push_window_bounds(source, &mut columns);
                    }
                    let cols = source.schema.columns.iter().enumerate();
                    for (i, c) in cols.filter(|(_, c)| (c.kind == ColumnKind::Key) == want_key) {
                        columns.push(SelectedColumn {
                            name: c.name.clone(),
                            ty: c.ty.clone(),
                            projection: Projection::Column(i),
                            expr: None,
                            slot: Some(i),
                            from_wildcard: true,
                        });
                    }
                }
            }
            SelectItem::StructAll(base) => {
                for field in struct_fields(base, scope.expressions)? {
                    check(&columns, &field.name, field.compiled.sql_type())?;
                    columns.push(SelectedColumn {
                        name: field.name,
                        ty: field.compiled.sql_type().clone(),
                        projection: Projection::Expr(field.compiled),
                        expr: Some(field.expr),
                        slot: None,
                        from_wildcard: false,
                    });
                }
            }
            SelectItem::Expr { expr, alias } => {
                let slot = match expr {
                    Expr::Column { qualifier, name } => scope
                        .columns
                        .resolve(qualifier.as_deref(), name)
                        .map(|(i, _)| i),
                    _ => None,
                };
                let compiled = match slot {
                    Some(_) => compile(expr, scope.columns)?,
                    None => binder.compile(expr)?,
                };
                let name = match alias {
                    Some(a) => a.clone(),
                    None => aliases
                        .get_or_insert_with(|| {
                            ColumnAliasGenerator::new(
                                source.schema.columns.iter().map(|c| c.name.as_str()),
                            )
                        })
                        .alias_for(expr),
                };
                check(&columns, &name, compiled.sql_type())?;
                columns.push(SelectedColumn {
                    name,
                    ty: compiled.sql_type().clone(),
                    projection: match slot {
                        Some(i) => Projection::Column(i),
                        None => Projection::Expr(compiled),
                    },
                    expr: Some(expr.clone()),
                    slot,
                    from_wildcard: false,
                });
            }
        }
    }
    Ok((columns, binder.finish()))
}

/// ksqlDB's error for two output columns with one name.
pub(crate) fn duplicate_column(name: &str, ty: &SqlType) -> EngineError {
    EngineError::statement(format!(
        "Duplicate value columns found in schema: `{name}` {ty}"
    ))
}

/// One column of a `s->*` select item.
pub(crate) struct StructFieldItem {
    /// The field's name, which names the column.
    pub name: String,
    /// `s->field`, to match against PARTITION BY.
    pub expr: Expr,
    pub compiled: CompiledExpr,
}

/// Expands `base->*` into `base->f` for each field `f` of the struct, in declaration order
/// (ksqlDB's `StructAll` select item; QTT `select-struct-all.json`).
pub(crate) fn struct_fields(
    base: &Expr,
    resolver: &dyn ColumnResolver,
) -> Result<Vec<StructFieldItem>> {
    let compiled = compile(base, resolver)?;
    let SqlType::Struct(fields) = compiled.sql_type() else {
        return Err(EngineError::statement(format!(
            "Expected STRUCT type for '{base}->*', but got {}",
            compiled.sql_type()
        )));
    };
    fields
        .iter()
        .map(|f| {
            let expr = Expr::Dereference {
                base: Box::new(base.clone()),
                field: f.name.clone(),
            };
            let compiled = compile(&expr, resolver)?;
            Ok(StructFieldItem {
                name: f.name.clone(),
                expr,
                compiled,
            })
        })
        .collect()
}
