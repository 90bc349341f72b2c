//! Planning a `/query-stream` query: bind the SELECT to its source, compile WHERE and the
//! projection once, and work out the result header (names and types).
//!
//! The row every expression sees is the source's columns in declaration order followed by
//! the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET; select expressions also see one
//! slot per table function call after those (see `exec::table_function`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::{CatalogState, Source};
use crate::error::{EngineError, Result};
use crate::exec::expr::{compile, ColumnAliasGenerator, ColumnResolver, CompiledExpr};
use crate::exec::table_function::{self, FlatMap, SelectBinder};
use crate::log::StartPosition;
use crate::sql::ast::{Expr, Relation, SelectItem, Statement};
use crate::sql::{self};
use crate::types::schema::{PSEUDO_ROWOFFSET, PSEUDO_ROWPARTITION, PSEUDO_ROWTIME};
use crate::types::{ColumnKind, SqlType};

/// Push queries keep running; pull queries read what is there and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Push,
    Pull,
}

/// One output column.
pub enum Projection {
    /// Copy row slot `index` (a plain column: no evaluation, no clone of the expression).
    Column(usize),
    Expr(CompiledExpr),
}

pub struct QueryPlan {
    pub id: String,
    pub kind: QueryKind,
    pub sql: String,
    pub source: Arc<Source>,
    pub column_names: Vec<String>,
    pub column_types: Vec<SqlType>,
    pub filter: Option<CompiledExpr>,
    /// Table functions of the SELECT list, run between WHERE and the projection.
    pub flat_map: FlatMap,
    pub projection: Vec<Projection>,
    /// Row slots that WHERE, a projected expression or a table function reads: these need
    /// decoded values; columns only copied to results may stay as their stored JSON text.
    pub slots_evaluated: Vec<usize>,
    /// Most output rows (after table functions) before the query ends.
    pub limit: Option<u64>,
    pub start: StartPosition,
}

/// Request-level settings that change how a query runs.
#[derive(Debug, Clone, Default)]
pub struct QueryProperties {
    pub auto_offset_reset_earliest: Option<bool>,
}

impl QueryProperties {
    /// Reads `auto.offset.reset` (or its `ksql.streams.` form) from request properties.
    pub fn from_map(props: &HashMap<String, String>) -> Result<QueryProperties> {
        let raw = props
            .get("auto.offset.reset")
            .or_else(|| props.get("ksql.streams.auto.offset.reset"));
        let auto_offset_reset_earliest = match raw.map(|s| s.to_ascii_lowercase()) {
            None => None,
            Some(v) if v == "earliest" => Some(true),
            Some(v) if v == "latest" => Some(false),
            Some(v) => {
                return Err(EngineError::BadRequest(format!(
                    "Invalid value {v} for configuration auto.offset.reset: String must be one of: latest, earliest, none"
                )))
            }
        };
        Ok(QueryProperties {
            auto_offset_reset_earliest,
        })
    }
}

/// Column slots of the row that expressions are evaluated against.
pub(crate) struct SourceResolver<'a> {
    pub(crate) source: &'a Source,
    pub(crate) alias: Option<&'a str>,
}

impl SourceResolver<'_> {
    fn pseudo_base(&self) -> usize {
        self.source.schema.columns.len()
    }

    /// Length of the rows this resolver describes: columns, then pseudo columns.
    pub(crate) fn row_len(&self) -> usize {
        self.pseudo_base() + PSEUDO_COLUMN_COUNT
    }
}

impl ColumnResolver for SourceResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        if let Some(q) = qualifier {
            if q != self.source.name && Some(q) != self.alias {
                return None;
            }
        }
        if let Some((i, c)) = self.source.schema.find(name) {
            return Some((i, c.ty.clone()));
        }
        let base = self.pseudo_base();
        match name {
            PSEUDO_ROWTIME => Some((base, SqlType::BigInt)),
            PSEUDO_ROWPARTITION => Some((base + 1, SqlType::Integer)),
            PSEUDO_ROWOFFSET => Some((base + 2, SqlType::BigInt)),
            _ => None,
        }
    }
}

/// Number of pseudo columns appended to every source row.
pub const PSEUDO_COLUMN_COUNT: usize = 3;

pub fn plan_query(
    catalog: &CatalogState,
    sql_text: &str,
    session_variables: &HashMap<String, String>,
    props: &QueryProperties,
    now_ms: i64,
) -> Result<QueryPlan> {
    let text = if sql_text.contains("${") {
        sql::substitute_variables(sql_text, session_variables)?
    } else {
        sql_text.to_string()
    };
    let mut statements = sql::parse(&text)?;
    if statements.len() != 1 {
        return Err(EngineError::Statement(format!(
            "Expected exactly one KSQL statement; found {} instead",
            statements.len()
        )));
    }
    let parsed = statements.remove(0);
    let Statement::Query(query) = parsed.statement else {
        return Err(EngineError::Statement(format!(
            "Not a query: {}",
            parsed.text
        )));
    };
    let (name, alias) = match &query.from {
        Relation::Source { name, alias } => (name.clone(), alias.clone()),
        Relation::Join { .. } => {
            return Err(EngineError::Unsupported(
                "Joins are not supported yet in push and pull queries".into(),
            ))
        }
    };
    let source = catalog
        .source(&name)
        .cloned()
        .ok_or_else(|| EngineError::Statement(format!("{name} does not exist.")))?;
    table_function::check_query(&query, source.kind)?;
    if query.window.is_some() || !query.group_by.is_empty() || query.having.is_some() {
        return Err(EngineError::Unsupported(
            "Aggregations and windows are not supported yet in push and pull queries".into(),
        ));
    }
    if !query.partition_by.is_empty() {
        return Err(EngineError::Statement(
            "PARTITION BY is not supported in push and pull queries".into(),
        ));
    }
    let resolver = SourceResolver {
        source: &source,
        alias: alias.as_deref(),
    };
    let recorder = RecordingResolver {
        inner: &resolver,
        slots: std::cell::RefCell::new(Vec::new()),
    };
    let filter = compile_where(query.where_clause.as_ref(), &recorder)?;
    let (column_names, column_types, projection, flat_map) =
        project(&query.select, &source, &resolver, &recorder)?;
    let mut slots_evaluated = recorder.slots.into_inner();
    slots_evaluated.sort_unstable();
    slots_evaluated.dedup();
    let kind = if query.emit.is_some() {
        QueryKind::Push
    } else {
        QueryKind::Pull
    };
    let id = match kind {
        QueryKind::Push => format!("transient_{}_{}", source.name, rand::random::<u64>() >> 1),
        QueryKind::Pull => format!("query_{now_ms}"),
    };
    let start = match (kind, props.auto_offset_reset_earliest) {
        (QueryKind::Pull, _) | (QueryKind::Push, Some(true)) => StartPosition::Earliest,
        (QueryKind::Push, _) => StartPosition::Latest,
    };
    Ok(QueryPlan {
        id,
        kind,
        sql: parsed.text,
        source,
        column_names,
        column_types,
        filter,
        flat_map,
        projection,
        slots_evaluated,
        limit: query.limit,
        start,
    })
}

/// Compiles a WHERE clause, which must be BOOLEAN.
pub(crate) fn compile_where(
    expr: Option<&crate::sql::ast::Expr>,
    resolver: &dyn ColumnResolver,
) -> Result<Option<CompiledExpr>> {
    let Some(expr) = expr else {
        return Ok(None);
    };
    let compiled = compile(expr, resolver)?;
    if *compiled.sql_type() != SqlType::Boolean {
        return Err(EngineError::Statement(format!(
            "Type error in WHERE expression: Should evaluate to boolean but is {} instead.",
            compiled.sql_type()
        )));
    }
    Ok(Some(compiled))
}

type Projected = (Vec<String>, Vec<SqlType>, Vec<Projection>, FlatMap);

/// A resolver that remembers every slot it resolved: the columns compiled expressions read.
struct RecordingResolver<'a> {
    inner: &'a dyn ColumnResolver,
    slots: std::cell::RefCell<Vec<usize>>,
}

impl ColumnResolver for RecordingResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let found = self.inner.resolve(qualifier, name);
        if let Some((slot, _)) = &found {
            self.slots.borrow_mut().push(*slot);
        }
        found
    }
}

/// The output columns. A plain column reference becomes a copy of its slot (no evaluation,
/// so it may stay as stored JSON text); every other expression is compiled through
/// `recorder`, which notes the columns it reads.
fn project(
    items: &[SelectItem],
    source: &Source,
    resolver: &SourceResolver<'_>,
    recorder: &RecordingResolver<'_>,
) -> Result<Projected> {
    let mut names = Vec::new();
    let mut types = Vec::new();
    let mut projection = Vec::new();
    let mut binder = SelectBinder::new(recorder, resolver.row_len());
    let mut aliases =
        ColumnAliasGenerator::new(source.schema.columns.iter().map(|c| c.name.as_str()));
    for item in items {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                // ksqlDB's `SELECT *`: key columns first, then value and header columns.
                let cols = &source.schema.columns;
                let ordered = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.kind == ColumnKind::Key)
                    .chain(
                        cols.iter()
                            .enumerate()
                            .filter(|(_, c)| c.kind != ColumnKind::Key),
                    );
                for (i, c) in ordered {
                    names.push(c.name.clone());
                    types.push(c.ty.clone());
                    projection.push(Projection::Column(i));
                }
            }
            SelectItem::StructAll(base) => {
                for field in struct_fields(base, recorder)? {
                    if names.contains(&field.name) {
                        return Err(duplicate_column(&field.name, field.compiled.sql_type()));
                    }
                    names.push(field.name);
                    types.push(field.compiled.sql_type().clone());
                    projection.push(Projection::Expr(field.compiled));
                }
            }
            SelectItem::Expr { expr, alias } => {
                let plain = match expr {
                    crate::sql::ast::Expr::Column { qualifier, name } => {
                        resolver.resolve(qualifier.as_deref(), name)
                    }
                    _ => None,
                };
                let compiled = match &plain {
                    Some(_) => compile(expr, resolver)?,
                    None => binder.compile(expr)?,
                };
                let name = match alias {
                    Some(a) => a.clone(),
                    None => aliases.alias_for(expr),
                };
                if names.contains(&name) {
                    return Err(EngineError::Statement(format!(
                        "Duplicate value columns found in schema: `{name}` {}",
                        compiled.sql_type()
                    )));
                }
                names.push(name);
                types.push(compiled.sql_type().clone());
                projection.push(match plain {
                    Some((i, _)) => Projection::Column(i),
                    None => Projection::Expr(compiled),
                });
            }
        }
    }
    Ok((names, types, projection, binder.finish()))
}

fn duplicate_column(name: &str, ty: &SqlType) -> EngineError {
    EngineError::Statement(format!(
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
        return Err(EngineError::Statement(format!(
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
