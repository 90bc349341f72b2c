//! Planning a `/query-stream` query: bind the SELECT to its source, compile WHERE and the
//! projection once, and work out the result header (names and types).
//!
//! The row every expression sees is the source's columns in declaration order followed by
//! the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET; select expressions also see one
//! slot per table function call after those (see `exec::table_function`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::{Source, SourceLookup};
use crate::error::{EngineError, Result};
use crate::exec::aggregate::{AggregateSpec, UdafConfig};
use crate::exec::flat_map::FlatMap;
use crate::format::KeyFormat;
use crate::exec::scan::{DecodeColumns, Tombstones};
use crate::expr::CompiledExpr;
use crate::log::StartPosition;
use crate::sql::ast::{Relation, SourceKind, Statement};
use crate::sql::{self};
use crate::types::{Column, ColumnKind, SqlType};

use super::aggregate::{self, AggregateMode};
use super::logical::{LogicalPlan, OutputColumn, ScanNode};
use super::pull_where::{self, PullScans};
use super::scope::{compile_where, PseudoColumnRecorder, RecordingResolver, SourceResolver};
use super::select::{expand_select, Duplicates, SelectScope, SelectedColumn, WildcardOrder};
use super::table_function;

/// Push queries keep running; pull queries read what is there and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Push,
    Pull,
}

/// A planned push or pull query.
#[derive(Clone)]
pub struct QueryPlan {
    pub id: String,
    pub kind: QueryKind,
    pub sql: String,
    pub source: Arc<Source>,
    /// Shared (as the plan is): a kept plan (`pull_cache`) is cloned for every lookup.
    pub column_names: Arc<[String]>,
    pub column_types: Arc<[SqlType]>,
    /// Per column, whether ksqlDB marks it `KEY` in a `/query` header: a key column of the
    /// table a pull query reads, copied as it is. All false otherwise.
    pub key_columns: Arc<[bool]>,
    /// For a pull query over a table whose WHERE pins every key column to literals: the key
    /// tuples to look up instead of scanning (the WHERE still filters what they find).
    pub lookup: Option<Vec<Vec<crate::types::Value>>>,
    pub logical: Arc<LogicalPlan>,
    pub start: StartPosition,
    /// A pull query over an aggregate ([`PULL_AGGREGATES`]): how its changes fold into one
    /// final row per group.
    pub pull_groups: Option<PullGroups>,
    /// The plan has no WHERE filter because looking up [`QueryPlan::lookup`]'s keys finds
    /// exactly the rows the WHERE keeps (a kept plan, `pull_cache`): rows read any other way
    /// (a table's topic) need the query planned with its filter.
    pub filter_in_lookup: bool,
}

/// How a pull query over an aggregate runs: as the push aggregate over everything there
/// is, whose last row per group is the answer. Its trailing `hidden` result columns are the
/// group's key (the GROUP BY expressions), which the answer does not show; its LIMIT
/// applies to the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullGroups {
    pub hidden: usize,
    pub limit: Option<u64>,
}

/// Request-level settings that change how a query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProperties {
    pub auto_offset_reset_earliest: Option<bool>,
    /// `ksql.query.push.v2.enabled`: simple push queries over a CSAS/CTAS sink read from
    /// `latest` run as scalable push queries (ksqlDB defaults it to false).
    pub push_v2: Toggle,
    /// `ksql.query.pull.limit.clause.enabled` (ksqlDB defaults it to true).
    pub pull_limit_clause: Toggle,
    /// `ksql.query.pull.table.scan.enabled`: pull queries over tables may scan rather than
    /// look keys up (ksqlDB defaults it to true).
    pub pull_table_scan: Toggle,
    /// `ksql.query.pull.range.scan.enabled`: key ranges over STRING keys count as lookups
    /// (ksqlDB defaults it to true).
    pub pull_range_scan: Toggle,
    /// [`PULL_TABLE_FROM_TOPIC`]: a pull query over a table no query materializes reads the
    /// table's current rows from its topic, as for a SOURCE table, instead of ksqlDB's "isn't
    /// queryable" error (faces whose tables are always readable turn it on).
    pub pull_table_from_topic: Toggle,
    /// [`PULL_AGGREGATES`]: a pull query may aggregate (`SELECT COUNT(*) FROM t`), answering
    /// one row per group over the rows there are, instead of ksqlDB's "Pull queries don't
    /// support GROUP BY clauses" (faces whose SQL is a database's turn it on).
    pub pull_aggregates: Toggle,
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
            pull_table_scan: Toggle::Enabled,
            pull_range_scan: Toggle::Enabled,
            pull_table_from_topic: Toggle::Disabled,
            pull_aggregates: Toggle::Disabled,
        }
    }
}

/// The property that turns scalable push queries on (ksqlDB's `KSQL_QUERY_PUSH_V2_ENABLED`).
pub const PUSH_V2_ENABLED: &str = "ksql.query.push.v2.enabled";

/// The property that allows LIMIT in pull queries.
pub const PULL_LIMIT_CLAUSE_ENABLED: &str = "ksql.query.pull.limit.clause.enabled";
/// See [`QueryProperties::pull_table_scan`].
pub const PULL_TABLE_SCAN_ENABLED: &str = "ksql.query.pull.table.scan.enabled";
/// See [`QueryProperties::pull_range_scan`].
pub const PULL_RANGE_SCAN_ENABLED: &str = "ksql.query.pull.range.scan.enabled";

/// Sluice's own property (ksqlDB has none): a pull query over a table no query materializes
/// reads its rows from its topic instead of failing as "not queryable".
pub const PULL_TABLE_FROM_TOPIC: &str = "sluice.query.pull.table.from.topic";

/// Sluice's own property (ksqlDB has none): a pull query may aggregate (`SELECT COUNT(*)
/// FROM t`), answering one row per group over the rows there are, instead of ksqlDB's "Pull
/// queries don't support GROUP BY clauses" (faces whose SQL is a database's turn it on).
pub const PULL_AGGREGATES: &str = "sluice.query.pull.aggregates";

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
            pull_table_scan: toggle(props, PULL_TABLE_SCAN_ENABLED, Toggle::Enabled)?,
            pull_range_scan: toggle(props, PULL_RANGE_SCAN_ENABLED, Toggle::Enabled)?,
            pull_table_from_topic: toggle(props, PULL_TABLE_FROM_TOPIC, Toggle::Disabled)?,
            pull_aggregates: toggle(props, PULL_AGGREGATES, Toggle::Disabled)?,
        })
    }
}

/// A WHERE error of a pull query over a table, as ksqlDB words it.
fn pull_where_error(e: EngineError, where_clause: Option<&crate::sql::ast::Expr>) -> EngineError {
    let message = e.to_string();
    let unresolved = message
        .strip_prefix("Column '")
        .and_then(|rest| rest.strip_suffix("' cannot be resolved."))
        .or_else(|| {
            // A window bound over a non-windowed table (`scope::compile_where`).
            message
                .strip_prefix("Error in WHERE expression: Unknown column ")
                .and_then(|rest| rest.strip_suffix('.'))
        });
    if let Some(name) = unresolved {
        return EngineError::statement(format!("WHERE column '{name}' cannot be resolved."));
    }
    if let Some(rest) = message.strip_prefix("LIKE operands must be STRING, but ") {
        // "<column> is <TYPE>."
        if let Some((_, ty)) = rest.trim_end_matches('.').rsplit_once(" is ") {
            return EngineError::statement(format!(
                "The column type for Like condition must be VARCHAR. The column type is {ty}"
            ));
        }
    }
    if matches!(where_clause, Some(crate::sql::ast::Expr::Between { .. })) {
        // ksqlDB rewrites BETWEEN into two comparisons before it type-checks them.
        return EngineError::statement(format!("Invalid expression: {message}"));
    }
    match where_clause {
        Some(w) => EngineError::statement(format!(
            "Error in WHERE expression: {}\nStatement: {w}",
            message.replacen(" Use 'IS NULL'", "\nUse 'IS NULL'", 1)
        )),
        None => e,
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

pub fn plan_query(
    catalog: &dyn SourceLookup,
    sql_text: &str,
    session_variables: &HashMap<String, String>,
    props: &QueryProperties,
    now_ms: i64,
) -> Result<QueryPlan> {
    let parsed = sql::parse_one(sql_text, session_variables, &catalog.custom_types())?;
    plan_statement(catalog, &parsed.statement, parsed.text, props, now_ms)
}

/// [`plan_query`] for a statement already parsed; `text` is the statement as echoed.
pub fn plan_statement(
    catalog: &dyn SourceLookup,
    statement: &Statement,
    text: String,
    props: &QueryProperties,
    now_ms: i64,
) -> Result<QueryPlan> {
    let Statement::Query(query) = statement else {
        return Err(EngineError::statement(format!(
            "Not a query: {text}"
        )));
    };
    let (name, alias) = match &query.from {
        Relation::Source { name, alias } => (name.clone(), alias.clone()),
        Relation::Join { .. } if query.emit.is_none() => {
            // Over a stream ksqlDB adds how to ask for a push query instead.
            let over_stream = first_source(&query.from)
                .and_then(|name| catalog.source(name))
                .is_some_and(|s| s.kind == SourceKind::Stream);
            return Err(EngineError::statement(if over_stream {
                "Pull queries don't support JOIN clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
            } else {
                "Pull queries don't support JOIN clauses."
            }));
        }
        Relation::Join { .. } => {
            let join = super::join::push::plan_join_push(catalog, query)?;
            let start = match props.auto_offset_reset_earliest {
                Some(true) => StartPosition::Earliest,
                _ => StartPosition::Latest,
            };
            let key_columns = vec![false; join.column_names.len()];
            return Ok(QueryPlan {
                id: format!(
                    "transient_{}_{}",
                    join.first.name,
                    rand::random::<u64>() >> 1
                ),
                kind: QueryKind::Push,
                sql: text,
                source: join.first,
                column_names: join.column_names.into(),
                column_types: join.column_types.into(),
                key_columns: key_columns.into(),
                lookup: None,
                logical: join.logical.into(),
                start,
                pull_groups: None,
                filter_in_lookup: false,
            });
        }
    };
    let source = catalog
        .source(&name)
        .cloned()
        .ok_or_else(|| EngineError::statement(format!("{name} does not exist.")))?;
    table_function::check_query(query, source.kind)?;
    if query.window.is_some() && query.emit.is_none() {
        return Err(EngineError::statement(
            "Pull queries don't support WINDOW clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query.",
        ));
    }
    if aggregate::is_aggregation(query) {
        if query.emit.is_none() {
            if props.pull_aggregates == Toggle::Enabled {
                return plan_pull_aggregate(query, source, alias, text, props, now_ms);
            }
            return Err(EngineError::statement(
                "Pull queries don't support GROUP BY clauses.",
            ));
        }
        return plan_push_aggregate(query, source, alias, text, props);
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
    let table_pull = kind == QueryKind::Pull && source.kind == SourceKind::Table;
    let filter = match compile_where(query.where_clause.as_ref(), &recorder) {
        Ok(f) => f,
        // ksqlDB's pull query planner reports WHERE errors over tables in its own words.
        Err(e) if table_pull => return Err(pull_where_error(e, query.where_clause.as_ref())),
        Err(e) => return Err(e),
    };
    let lookup = match table_pull {
        true => pull_where::lookup_keys(&source, query.where_clause.as_ref()),
        false => None,
    };
    if table_pull {
        pull_where::check(
            &source,
            query.where_clause.as_ref(),
            PullScans {
                table_scan: props.pull_table_scan == Toggle::Enabled,
                range_scan: props.pull_range_scan == Toggle::Enabled,
            },
        )?;
    }
    let pseudo_in_where = pseudo.take();
    let scope = SelectScope {
        columns: &pseudo,
        expressions: &recorder,
        row_len: resolver.row_len(),
    };
    let (columns, flat_map) = expand_select(
        &query.select,
        &source,
        &scope,
        WildcardOrder::KeysThenWindowBounds,
        Duplicates::RefuseAtOnce,
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
        && catalog.writers_of(&source.name) == 1
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
    let column_names = columns.iter().map(|c| c.name.clone()).collect();
    let key_columns = columns
        .iter()
        .map(|c| {
            kind == QueryKind::Pull
                && source.kind == SourceKind::Table
                && c.slot.is_some_and(|i| {
                    let columns = &source.schema.columns;
                    match columns.get(i) {
                        Some(col) => col.kind == ColumnKind::Key,
                        // A windowed table's WINDOWSTART and WINDOWEND are part of its key.
                        None => source.window.is_some() && i < columns.len() + 2,
                    }
                })
        })
        .collect();
    let column_types = columns.iter().map(|c| c.ty.clone()).collect();
    // Table functions build their rows from values, so they need every column decoded.
    let decode = match flat_map.is_empty() {
        true => DecodeColumns::Only(slots_evaluated),
        false => DecodeColumns::All,
    };
    let logical = transient_plan(
        ScanNode {
            source: Arc::clone(&source),
            alias,
            decode,
            // A push query on a table streams its deletes too (shown by formats that can).
            tombstones: match (kind, source.kind) {
                _ if scalable => Tombstones::DropWithNullKeys,
                (QueryKind::Push, SourceKind::Table) => Tombstones::Forward,
                _ => Tombstones::Drop,
            },
        },
        filter,
        flat_map,
        columns,
        query.limit,
    );
    Ok(QueryPlan {
        id,
        kind,
        sql: text,
        source,
        column_names,
        column_types,
        key_columns,
        lookup,
        logical: logical.into(),
        start,
        pull_groups: None,
        filter_in_lookup: false,
    })
}

/// A pull query with aggregates ([`PULL_AGGREGATES`]): the push aggregate over the source
/// from its start to its current end, with each GROUP BY expression as a hidden trailing
/// column so the runner can keep the last row of each group ([`PullGroups`]).
fn plan_pull_aggregate(
    query: &crate::sql::ast::Query,
    source: Arc<Source>,
    alias: Option<String>,
    sql: String,
    props: &QueryProperties,
    now_ms: i64,
) -> Result<QueryPlan> {
    let mut grouped = query.clone();
    grouped.limit = None;
    for (i, expr) in query.group_by.iter().enumerate() {
        grouped.select.push(crate::sql::ast::SelectItem::Expr {
            expr: expr.clone(),
            alias: Some(format!("{PULL_GROUP_COLUMN_PREFIX}{i}")),
        });
    }
    // A pull over a table reads its current rows, each key once, as a stream of rows: the
    // aggregate needs no undo, so every aggregate applies (MAX too, which a table's
    // changelog cannot take back).
    let rows = match source.kind {
        SourceKind::Table => Arc::new(Source {
            kind: SourceKind::Stream,
            ..(*source).clone()
        }),
        SourceKind::Stream => Arc::clone(&source),
    };
    let mut plan = plan_push_aggregate(&grouped, rows, alias, sql, props)?;
    // The table itself, so the query reads its current rows rather than its changelog.
    plan.source = source;
    plan.kind = QueryKind::Pull;
    plan.start = StartPosition::Earliest;
    plan.id = format!("query_{now_ms}");
    plan.pull_groups = Some(PullGroups {
        hidden: query.group_by.len(),
        limit: query.limit,
    });
    Ok(plan)
}

/// Names of a pull aggregate's hidden group columns (a number follows).
const PULL_GROUP_COLUMN_PREFIX: &str = "__SLUICE_GROUP_";

/// A push query with aggregates: `Limit? ─ Project ─ Aggregate ─ Filter? ─ Scan`, its state
/// in memory for the query's life. Results are the select items in order; grouped keys need
/// not be among them, and without GROUP BY all rows form one group (ksqlDB's push queries).
fn plan_push_aggregate(
    query: &crate::sql::ast::Query,
    source: Arc<Source>,
    alias: Option<String>,
    sql: String,
    props: &QueryProperties,
) -> Result<QueryPlan> {
    let resolver = SourceResolver {
        source: &source,
        alias: alias.as_deref(),
    };
    // The scan decodes only what WHERE, GROUP BY and the aggregate calls read.
    let recorder = RecordingResolver {
        inner: &resolver,
        slots: std::cell::RefCell::new(Vec::new()),
    };
    let filter = compile_where(query.where_clause.as_ref(), &recorder)?;
    let scan = LogicalPlan::Scan(ScanNode {
        source: Arc::clone(&source),
        alias: alias.clone(),
        decode: DecodeColumns::All,
        tombstones: match source.kind {
            SourceKind::Table => Tombstones::Forward,
            SourceKind::Stream => Tombstones::Drop,
        },
    });
    let input = aggregate::AggregateInput::source(&source, &recorder);
    let (mut logical, column_names, column_types) = push_aggregate(query, &input, scan, filter)?;
    let mut slots = recorder.slots.into_inner();
    slots.sort_unstable();
    slots.dedup();
    if let Some(scan) = logical.scan_mut() {
        scan.decode = DecodeColumns::Only(slots);
    }
    let key_columns = vec![false; column_types.len()];
    Ok(QueryPlan {
        id: format!("transient_{}_{}", source.name, rand::random::<u64>() >> 1),
        kind: QueryKind::Push,
        sql,
        source,
        column_names: column_names.into(),
        column_types: column_types.into(),
        key_columns: key_columns.into(),
        lookup: None,
        logical: logical.into(),
        start: match props.auto_offset_reset_earliest {
            Some(true) => StartPosition::Earliest,
            _ => StartPosition::Latest,
        },
        pull_groups: None,
        filter_in_lookup: false,
    })
}

/// `Limit? ─ Project ─ Aggregate ─ Filter? ─ input` for a push query over `input` (a scan or
/// a join, the WHERE not yet applied), with the result's column names and types. Over a
/// table the WHERE runs inside the aggregate, where a failing row withdraws its group's
/// earlier contribution.
pub(super) fn push_aggregate(
    query: &crate::sql::ast::Query,
    input: &aggregate::AggregateInput<'_>,
    input_plan: LogicalPlan,
    filter: Option<CompiledExpr>,
) -> Result<(LogicalPlan, Vec<String>, Vec<SqlType>)> {
    let planned = aggregate::plan_aggregate(
        query,
        input,
        AggregateMode::Push,
        UdafConfig::default(),
    )?;
    let table_input = input.kind == SourceKind::Table;
    if table_input {
        if let Some(call) = planned.calls.iter().find(|c| !c.udaf.undoable()) {
            return Err(EngineError::statement(format!(
                "The aggregation functions {} cannot be applied to a table source, only to a stream source.",
                call.udaf.name()
            )));
        }
    }
    // Group keys only key the in-memory state: any format that encodes every type will do.
    let key_columns = planned
        .group_by
        .iter()
        .enumerate()
        .map(|(i, g)| Column::new(format!("KEY{i}"), g.sql_type().clone(), ColumnKind::Key))
        .collect();
    let spec = AggregateSpec {
        group_by: planned.group_by,
        key_columns,
        key_format: KeyFormat::Json,
        calls: planned.calls,
        table_input,
        table_filter: if table_input { filter.clone() } else { None },
        having: planned.having,
        window: planned.window.map(Box::new),
    };
    // A table's WHERE is the aggregate's own (it withdraws rows), a stream's a filter.
    let plan = input_plan.filtered(filter.filter(|_| !table_input));
    let plan = LogicalPlan::Aggregate {
        input: Box::new(plan),
        spec: Box::new(spec),
    };
    let columns = planned.all;
    let column_names = columns.iter().map(|c| c.name.clone()).collect();
    let column_types: Vec<SqlType> = columns.iter().map(|c| c.ty.clone()).collect();
    let mut logical = LogicalPlan::Project {
        input: Box::new(plan),
        columns: columns
            .into_iter()
            .map(|c| OutputColumn {
                name: c.name,
                ty: c.ty,
                kind: ColumnKind::Value,
                projection: c.projection,
            })
            .collect(),
        tombstone_key: Vec::new(),
    };
    if let Some(rows_max) = query.limit {
        logical = LogicalPlan::Limit {
            input: Box::new(logical),
            rows_max,
        };
    }
    Ok((logical, column_names, column_types))
}

/// `Limit? ─ Project ─ FlatMap? ─ Filter? ─ Scan`.
fn transient_plan(
    scan: ScanNode,
    filter: Option<CompiledExpr>,
    flat_map: FlatMap,
    columns: Vec<SelectedColumn>,
    limit: Option<u64>,
) -> LogicalPlan {
    let mut plan = LogicalPlan::Scan(scan);
    plan = plan.filtered(filter).flat_mapped(flat_map);
    plan = LogicalPlan::Project {
        input: Box::new(plan),
        columns: columns
            .into_iter()
            .map(|c| OutputColumn {
                name: c.name,
                ty: c.ty,
                kind: ColumnKind::Value,
                projection: c.projection,
            })
            .collect(),
        tombstone_key: Vec::new(),
    };
    match limit {
        Some(rows_max) => LogicalPlan::Limit {
            input: Box::new(plan),
            rows_max,
        },
        None => plan,
    }
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

/// The left-most source of a FROM clause.
fn first_source(relation: &Relation) -> Option<&str> {
    match relation {
        Relation::Source { name, .. } => Some(name),
        Relation::Join { left, .. } => first_source(left),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_catalog;
    use super::*;

    #[test]
    fn push_aggregates_decode_only_the_columns_they_read() {
        let state = test_catalog(
            "CREATE STREAM S (K STRING KEY, A INT, B STRING, C DOUBLE, D BIGINT) WITH (kafka_topic='s', value_format='JSON');",
        );
        let decode = |sql: &str| {
            let plan = plan_query(&state, sql, &HashMap::new(), &QueryProperties::default(), 0)
                .expect("plans");
            plan.logical.scan().decode.clone()
        };
        // Slots: K 0, A 1, B 2, C 3, D 4.
        assert_eq!(
            decode("SELECT B, COUNT(*), SUM(C) FROM S WHERE A > 0 GROUP BY B EMIT CHANGES;"),
            DecodeColumns::Only(vec![1, 2, 3])
        );
        assert_eq!(
            decode("SELECT COUNT(*) FROM S EMIT CHANGES;"),
            DecodeColumns::Only(vec![])
        );
        // Without aggregates: what expressions read; a column only copied stays as text.
        assert_eq!(
            decode("SELECT D + 1 AS E, B FROM S EMIT CHANGES;"),
            DecodeColumns::Only(vec![4])
        );
    }
}
