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
use crate::expr::{compile, ColumnAliasGenerator, ColumnResolver, CompiledExpr};
use crate::log::StartPosition;
use crate::plan::table_function::{self, FlatMap, SelectBinder};
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
#[derive(Debug, Clone)]
pub struct QueryProperties {
    pub auto_offset_reset_earliest: Option<bool>,
    /// `ksql.query.push.v2.enabled`: simple push queries over a CSAS/CTAS sink read from
    /// `latest` run as scalable push queries (ksqlDB defaults it to false).
    pub push_v2: Toggle,
    /// `ksql.query.pull.limit.clause.enabled` (ksqlDB defaults it to true).
    pub pull_limit_clause: Toggle,
}

/// A boolean ksqlDB setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    Enabled,
    Disabled,
}

impl Default for QueryProperties {
    fn default() -> Self {
        QueryProperties {
            auto_offset_reset_earliest: None,
            push_v2: Toggle::Disabled,
            pull_limit_clause: Toggle::Enabled,
        }
    }
}

/// The property that turns scalable push queries on (ksqlDB's `KSQL_QUERY_PUSH_V2_ENABLED`).
pub const PUSH_V2_ENABLED: &str = "ksql.query.push.v2.enabled";

/// The property that allows LIMIT in pull queries.
pub const PULL_LIMIT_CLAUSE_ENABLED: &str = "ksql.query.pull.limit.clause.enabled";

/// Prefix of every scalable push query id (ksqlDB's `SCALABLE_PUSH_QUERY_<uuid>`).
pub const SCALABLE_PUSH_QUERY_ID_PREFIX: &str = "SCALABLE_PUSH_QUERY_";

/// Reads a boolean property, accepting ksqlDB's `true`/`false` in any case.
fn toggle(props: &HashMap<String, String>, name: &str, default: Toggle) -> Result<Toggle> {
    match props.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(Toggle::Enabled),
        Some(v) if v == "false" => Ok(Toggle::Disabled),
        Some(v) => Err(EngineError::bad_request(format!(
            "Invalid value {v} for configuration {name}: Expected value to be either true or false"
        ))),
    }
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
                return Err(EngineError::bad_request(format!(
                    "Invalid value {v} for configuration auto.offset.reset: String must be one of: latest, earliest, none"
                )))
            }
        };
        Ok(QueryProperties {
            auto_offset_reset_earliest,
            push_v2: toggle(props, PUSH_V2_ENABLED, Toggle::Disabled)?,
            pull_limit_clause: toggle(props, PULL_LIMIT_CLAUSE_ENABLED, Toggle::Enabled)?,
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

/// Wraps a resolver and remembers which of ROWPARTITION and ROWOFFSET an expression used,
/// for the checks that pull and scalable push queries make on them.
struct PseudoColumnRecorder<'a> {
    inner: &'a SourceResolver<'a>,
    used: std::cell::RefCell<Vec<&'static str>>,
}

impl<'a> PseudoColumnRecorder<'a> {
    fn new(inner: &'a SourceResolver<'a>) -> Self {
        PseudoColumnRecorder {
            inner,
            used: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The disallowed pseudo columns seen since the last call, in first-use order.
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.used.borrow_mut())
    }
}

impl ColumnResolver for PseudoColumnRecorder<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let found = self.inner.resolve(qualifier, name)?;
        // A declared column of the same name shadows the pseudo column.
        let base = self.inner.pseudo_base();
        for (slot, pseudo) in [
            (base + 1, PSEUDO_ROWPARTITION),
            (base + 2, PSEUDO_ROWOFFSET),
        ] {
            let mut used = self.used.borrow_mut();
            if found.0 == slot && !used.contains(&pseudo) {
                used.push(pseudo);
            }
        }
        Some(found)
    }
}

/// ksqlDB's pull-query check on ROWPARTITION and ROWOFFSET, whose values a pull query
/// cannot provide ("Pull queries don't support the following columns in … clauses").
fn reject_pseudo_columns_in_pull(clause: &str, used: &[&str]) -> Result<()> {
    if used.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = used.iter().map(|n| format!("`{n}`")).collect();
    Err(EngineError::statement(format!(
        "Pull queries don't support the following columns in {clause} clauses: {}",
        names.join(", ")
    )))
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
        return Err(EngineError::statement(format!(
            "Expected exactly one KSQL statement; found {} instead",
            statements.len()
        )));
    }
    let parsed = statements.remove(0);
    let Statement::Query(query) = parsed.statement else {
        return Err(EngineError::statement(format!(
            "Not a query: {}",
            parsed.text
        )));
    };
    let (name, alias) = match &query.from {
        Relation::Source { name, alias } => (name.clone(), alias.clone()),
        Relation::Join { .. } => {
            return Err(EngineError::unsupported(
                "Joins are not supported yet in push and pull queries",
            ))
        }
    };
    let source = catalog
        .source(&name)
        .cloned()
        .ok_or_else(|| EngineError::statement(format!("{name} does not exist.")))?;
    table_function::check_query(&query, source.kind)?;
    if query.window.is_some() || !query.group_by.is_empty() || query.having.is_some() {
        return Err(EngineError::unsupported(
            "Aggregations and windows are not supported yet in push and pull queries",
        ));
    }
    if !query.partition_by.is_empty() {
        return Err(EngineError::statement(
            "PARTITION BY is not supported in push and pull queries",
        ));
    }
    let resolver = SourceResolver {
        source: &source,
        alias: alias.as_deref(),
    };
    let kind = if query.emit.is_some() {
        QueryKind::Push
    } else {
        QueryKind::Pull
    };
    // Two layers of bookkeeping over the source: which pseudo columns the query reads
    // (pull queries reject some), and which slots compiled expressions read (the rest may
    // stay as stored JSON text when only copied to results).
    let pseudo = PseudoColumnRecorder::new(&resolver);
    let recorder = RecordingResolver {
        inner: &pseudo,
        slots: std::cell::RefCell::new(Vec::new()),
    };
    let filter = compile_where(query.where_clause.as_ref(), &recorder)?;
    let pseudo_in_where = pseudo.take();
    let (column_names, column_types, projection, flat_map) = project(
        &query.select,
        &source,
        &pseudo,
        &recorder,
        resolver.row_len(),
    )?;
    let pseudo_in_select = pseudo.take();
    let mut slots_evaluated = recorder.slots.into_inner();
    slots_evaluated.sort_unstable();
    slots_evaluated.dedup();
    if kind == QueryKind::Pull {
        reject_pseudo_columns_in_pull("SELECT", &pseudo_in_select)?;
        reject_pseudo_columns_in_pull("WHERE", &pseudo_in_where)?;
        if query.limit.is_some() && props.pull_limit_clause == Toggle::Disabled {
            return Err(EngineError::statement(format!(
                "LIMIT clause in pull queries is currently disabled. You can enable them by \
                 setting {PULL_LIMIT_CLAUSE_ENABLED}=true. See https://cnfl.io/queries for \
                 more info.\nAdd EMIT CHANGES if you intended to issue a push query."
            )));
        }
    }
    let scalable = kind == QueryKind::Push
        && props.push_v2 == Toggle::Enabled
        && props.auto_offset_reset_earliest == Some(false)
        && catalog.queries_using(&source.name).1.len() == 1
        && pseudo_in_select.is_empty()
        && pseudo_in_where.is_empty();
    let id = match kind {
        QueryKind::Push if scalable => scalable_push_query_id(),
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

/// A scalable push query's id: the prefix and a random (version 4) UUID, as ksqlDB forms it.
fn scalable_push_query_id() -> String {
    let bits = rand::random::<u128>();
    // Set the version (4) and variant (10xx) bits of RFC 4122.
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{SCALABLE_PUSH_QUERY_ID_PREFIX}{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
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
        return Err(EngineError::statement(format!(
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
    resolver: &dyn ColumnResolver,
    recorder: &RecordingResolver<'_>,
    row_len: usize,
) -> Result<Projected> {
    let mut names = Vec::new();
    let mut types = Vec::new();
    let mut projection = Vec::new();
    let mut binder = SelectBinder::new(recorder, row_len);
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
                    return Err(EngineError::statement(format!(
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
