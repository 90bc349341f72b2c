//! Planning a persistent query: bind `SELECT … FROM src [WHERE] [PARTITION BY]` to its
//! source, work out the sink's schema (which projected columns are key columns), and compile
//! everything once.
//!
//! Key columns follow ksqlDB's rules (KLIP-24, `partition-by.json` in its QTT suite):
//! - without PARTITION BY, a projected plain reference to a source key column is a sink key
//!   column (under its alias); every source key column must be projected;
//! - with `PARTITION BY e1, e2…`, the projected items equal to `e1, e2…` are the sink key
//!   columns, in PARTITION BY order, and the source key columns become value columns; with
//!   `SELECT *` an unprojected partition expression is added as a key column named after it
//!   (a column keeps its name, anything else is `KSQL_COL_<n>`);
//! - `PARTITION BY NULL` makes a keyless stream.

use std::sync::Arc;

use crate::catalog::source::SourceWindow;
use crate::catalog::{Source, SourceLookup};
use crate::exec::aggregate::{AggregateSpec, UdafConfig};
use crate::error::{EngineError, Result};
use crate::exec::project::Projection;
use crate::exec::scan::{DecodeColumns, Tombstones, CHANGE_HEADER};
use crate::expr::{compile, ColumnAliasGenerator, ColumnResolver};
use crate::format::{KeyFormat, ValueFormat};
use crate::log::TopicConfig;
use crate::sql::ast::{Expr, Literal, Properties, Query, Relation, SourceKind};
use crate::statements::create::{
    check_key_format, timestamp_column, value_wrapping, with_key_delimiter, PersistenceConfig,
    QueryPlanner,
    WithProperties,
};
use crate::types::{Column, ColumnKind, Schema, SqlType};

use super::aggregate::{self, AggregateInput, AggregateMode, PlannedAggregate};
use super::logical::{LogicalPlan, OutputColumn, ScanNode};
use super::scope::{compile_where, RecordingResolver, SourceResolver};
use super::select::{expand_select, Duplicates, SelectScope, SelectedColumn, WildcardOrder};
use super::table_function;

/// Which statement defines a persistent query; it decides the query id's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistentKind {
    CreateStreamAs,
    CreateTableAs,
    InsertInto,
}

impl PersistentKind {
    /// `CSAS_<SINK>_<n>`, `CTAS_<SINK>_<n>`, `INSERTQUERY_<n>` (ksqlDB's `QueryIdUtil`).
    pub fn query_id(self, sink: &str, n: u64) -> String {
        match self {
            PersistentKind::CreateStreamAs => format!("CSAS_{sink}_{n}"),
            PersistentKind::CreateTableAs => format!("CTAS_{sink}_{n}"),
            PersistentKind::InsertInto => format!("INSERTQUERY_{n}"),
        }
    }
}

/// A compiled persistent query, independent of its id (assigned when it is applied).
pub struct PersistentPlan {
    pub kind: PersistentKind,
    pub statement_text: String,
    pub source: Arc<Source>,
    /// Every source the query reads, `source` first (several for a join).
    pub sources: Vec<Arc<Source>>,
    /// The sink as it is (INSERT INTO) or will be registered (CSAS/CTAS).
    pub sink: Arc<Source>,
    /// Partitions for the sink topic if it has to be created.
    pub sink_partitions: u32,
    /// The sink topic's configs if it has to be created (`RETENTION_MS`; a table's is
    /// compacted).
    pub sink_topic: TopicConfig,
    /// `Sink ─ Project ─ FlatMap? ─ Filter? ─ Scan`.
    pub logical: LogicalPlan,
}

impl std::fmt::Debug for PersistentPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentPlan")
            .field("kind", &self.kind)
            .field("source", &self.source.name)
            .field("sink", &self.sink.name)
            .finish_non_exhaustive()
    }
}

/// What the sink side of the statement asks for.
pub struct SinkSpec<'a> {
    pub kind: PersistentKind,
    pub name: &'a str,
    pub properties: &'a Properties,
    /// The existing sink for INSERT INTO.
    pub existing: Option<&'a Arc<Source>>,
    /// The request's `ksql.persistence.*` configs, for what WITH leaves unsaid.
    pub(crate) config: &'a PersistenceConfig,
}

pub fn plan_persistent(
    catalog: &dyn SourceLookup,
    sink: SinkSpec<'_>,
    query: &Query,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    let (source_name, alias) = match &query.from {
        Relation::Source { name, alias } => (name, alias.as_deref()),
        // Joins are planned by `plan::join::plan_join_persistent` (the caller dispatches).
        Relation::Join { .. } => {
            return Err(EngineError::internal(
                "a join reached the single-source persistent planner",
            ))
        }
    };
    let source = catalog
        .source(source_name)
        .cloned()
        .ok_or_else(|| EngineError::statement(format!("{source_name} does not exist.")))?;
    table_function::check_query(query, source.kind)?;
    check_shape(sink.kind, &source, query)?;
    let resolver = SourceResolver {
        source: &source,
        alias,
    };
    if aggregate::is_aggregation(query) {
        return plan_aggregating(sink, &source, &resolver, query, statement_text, source_partitions);
    }
    let filter = compile_where(query.where_clause.as_ref(), &resolver)?;
    let partition_by = PartitionBy::of(&query.partition_by);
    let scope = SelectScope {
        columns: &resolver,
        expressions: &resolver,
        row_len: resolver.row_len(),
    };
    let wildcard = match partition_by {
        PartitionBy::Keep => WildcardOrder::KeysFirst,
        PartitionBy::Null | PartitionBy::Exprs(_) => WildcardOrder::ValuesFirst,
    };
    let (items, flat_map) =
        expand_select(&query.select, &source, &scope, wildcard, Duplicates::Allow)?;
    let has_wildcard = items.iter().any(|i| i.from_wildcard);
    let (keys, values) = classify(
        items,
        has_wildcard,
        &source,
        &resolver,
        &partition_by,
        &sink,
    )?;
    check_duplicates(&keys, &values)?;
    let tombstone_key = null_value_keys(&keys, &resolver);

    let schema = sink_schema(&keys, &values);
    // Rows of a windowed source keep their window: so do the sink's keys.
    let sink_source = resolve_sink(&sink, &source, schema, statement_text, source.window)?;
    let (sink_partitions, sink_topic) =
        sink_topic(&sink, &sink_source, &source, &source_partitions)?;
    let mut plan = LogicalPlan::Scan(ScanNode {
        source: Arc::clone(&source),
        alias: alias.map(str::to_string),
        decode: DecodeColumns::All,
        // A stream forwards a null value as a null value (ksqlDB's mappers pass a null row
        // through); WHERE drops it, a predicate over a null row not being true.
        tombstones: match source.kind {
            SourceKind::Stream if reads_changes(&source) => Tombstones::Changes,
            SourceKind::Stream => Tombstones::Forward,
            SourceKind::Table => Tombstones::Drop,
        },
    });
    plan = plan.filtered(filter).flat_mapped(flat_map);
    let plan = sink_plan(plan, keys, values, tombstone_key, &sink_source, sink_partitions);
    Ok(PersistentPlan {
        kind: sink.kind,
        statement_text: statement_text.to_string(),
        sources: vec![Arc::clone(&source)],
        source,
        sink_topic,
        sink: sink_source,
        sink_partitions,
        logical: plan,
    })
}

/// A stream that declares a `HEADER('sluice.change')` column reads its topic as a table's
/// change log: deletes written with their before-image are rows (`Tombstones::Changes`).
fn reads_changes(source: &Source) -> bool {
    source.schema.columns.iter().any(|c| {
        c.kind == ColumnKind::Header && c.header_key.as_deref() == Some(CHANGE_HEADER)
    })
}

/// Plans `SELECT … GROUP BY …`: `Sink ─ Project ─ Aggregate ─ Filter? ─ Scan`. Over a table
/// the WHERE runs inside the aggregate, where a row that fails it withdraws its key's earlier
/// contribution.
///
/// The scan decodes only the columns WHERE, GROUP BY and the aggregate calls read: the
/// aggregate's output is computed from those alone, and a producer's row has more (with
/// 100k groups, decoding the rest was ~5% of a GROUP BY's time).
fn plan_aggregating(
    sink: SinkSpec<'_>,
    source: &Arc<Source>,
    resolver: &SourceResolver<'_>,
    query: &Query,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    let recorder = RecordingResolver {
        inner: resolver,
        slots: std::cell::RefCell::new(Vec::new()),
    };
    let filter = compile_where(query.where_clause.as_ref(), &recorder)?;
    let scan = LogicalPlan::Scan(ScanNode {
        source: Arc::clone(source),
        alias: resolver.alias.map(str::to_string),
        decode: DecodeColumns::All,
        // A table's deletes withdraw rows from their groups; a stream's null values are
        // dropped by the aggregate.
        tombstones: Tombstones::Forward,
    });
    let mut plan = plan_aggregate_into_sink(
        AggregatedInput {
            input: AggregateInput::source(source, &recorder),
            plan: scan,
            filter,
            sources: vec![Arc::clone(source)],
        },
        sink,
        query,
        statement_text,
        source_partitions,
    )?;
    let mut slots = recorder.slots.into_inner();
    slots.sort_unstable();
    slots.dedup();
    if let Some(scan) = plan.logical.scan_mut() {
        scan.decode = DecodeColumns::Only(slots);
    }
    Ok(plan)
}

/// The rows an aggregation reads: its input's plan (a scan, or a join) with the WHERE not
/// yet applied, and the sources under it (the first names the sink's defaults).
pub(super) struct AggregatedInput<'a> {
    pub(super) input: AggregateInput<'a>,
    pub(super) plan: LogicalPlan,
    pub(super) filter: Option<crate::expr::CompiledExpr>,
    pub(super) sources: Vec<Arc<Source>>,
}

/// `Sink ─ Project ─ Aggregate ─ Filter? ─ input`: the aggregation of `from` into the sink.
pub(super) fn plan_aggregate_into_sink(
    from: AggregatedInput<'_>,
    sink: SinkSpec<'_>,
    query: &Query,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    let AggregatedInput {
        input,
        plan: input_plan,
        filter,
        sources,
    } = from;
    let source = &sources[0];
    let config = UdafConfig {
        collect_list_limit: sink
            .config
            .collect_list_limit
            .unwrap_or(UdafConfig::default().collect_list_limit),
        collect_set_limit: sink
            .config
            .collect_set_limit
            .unwrap_or(UdafConfig::default().collect_set_limit),
    };
    let table_input = input.kind == SourceKind::Table;
    let PlannedAggregate {
        group_by,
        calls,
        having,
        keys,
        values,
        all: _,
        window,
    } = aggregate::plan_aggregate(
        query,
        &input,
        AggregateMode::Persistent { sink: sink.name },
        config,
    )?;
    if table_input {
        if let Some(call) = calls.iter().find(|c| !c.udaf.undoable()) {
            return Err(EngineError::statement(format!(
                "The aggregation functions {} cannot be applied to a table source, only to a stream source.",
                call.udaf.name()
            )));
        }
    }
    check_duplicates(&keys, &values)?;
    let schema = sink_schema(&keys, &values);
    let sink_window = window.map(|w| SourceWindow {
        kind: w.window_type(),
        size_ms: w.size_ms(),
    });
    let sink_source = resolve_sink(&sink, source, schema, statement_text, sink_window)?;
    let (sink_partitions, sink_topic) =
        sink_topic(&sink, &sink_source, source, &source_partitions)?;
    let spec = AggregateSpec {
        group_by,
        key_columns: sink_source.schema.keys().cloned().collect(),
        key_format: sink_source.key_format,
        calls,
        table_input,
        table_filter: if table_input { filter.clone() } else { None },
        having,
        window: window.map(Box::new),
    };
    // A table's WHERE is the aggregate's own (it withdraws rows), a stream's a filter.
    let plan = input_plan.filtered(filter.filter(|_| !table_input));
    let plan = LogicalPlan::Aggregate {
        input: Box::new(plan),
        spec: Box::new(spec),
    };
    let tombstone_key = (0..keys.len()).map(|i| Some(Projection::Column(i))).collect();
    let plan = sink_plan(plan, keys, values, tombstone_key, &sink_source, sink_partitions);
    Ok(PersistentPlan {
        kind: sink.kind,
        statement_text: statement_text.to_string(),
        source: Arc::clone(source),
        sources,
        sink_topic,
        sink: sink_source,
        sink_partitions,
        logical: plan,
    })
}

/// The sink's schema: the key items as key columns, then the value items as value columns.
pub(super) fn sink_schema(keys: &[SelectedColumn], values: &[SelectedColumn]) -> Schema {
    let column = |i: &SelectedColumn, kind| Column::new(i.name.clone(), i.ty.clone(), kind);
    Schema::new(
        keys.iter()
            .map(|i| column(i, ColumnKind::Key))
            .chain(values.iter().map(|i| column(i, ColumnKind::Value)))
            .collect(),
    )
}

/// `Sink ─ Project ─ input`: the key items, then the value items, written to `sink`.
pub(super) fn sink_plan(
    input: LogicalPlan,
    keys: Vec<SelectedColumn>,
    values: Vec<SelectedColumn>,
    tombstone_key: Vec<Option<Projection>>,
    sink: &Arc<Source>,
    partitions: u32,
) -> LogicalPlan {
    let column = |i: SelectedColumn, kind: ColumnKind| OutputColumn {
        name: i.name,
        ty: i.ty,
        kind,
        projection: i.projection,
    };
    let columns = keys
        .into_iter()
        .map(|i| column(i, ColumnKind::Key))
        .chain(values.into_iter().map(|i| column(i, ColumnKind::Value)))
        .collect();
    LogicalPlan::Sink {
        input: Box::new(LogicalPlan::Project {
            input: Box::new(input),
            columns,
            tombstone_key,
        }),
        sink: Arc::clone(sink),
        partitions,
    }
}

/// Rejects the query shapes this engine cannot run as persistent queries, with ksqlDB's
/// texts where ksqlDB rejects them too.
fn check_shape(kind: PersistentKind, source: &Source, query: &Query) -> Result<()> {
    let aggregating = aggregate::is_aggregation(query);
    if aggregating && !query.partition_by.is_empty() {
        return Err(EngineError::statement(
            "PARTITION BY is not supported on aggregations: the GROUP BY sets the key.",
        ));
    }
    if query.limit.is_some() {
        let what = match kind {
            PersistentKind::CreateTableAs => "CREATE TABLE AS SELECT",
            PersistentKind::CreateStreamAs => "CREATE STREAM AS SELECT",
            PersistentKind::InsertInto => "INSERT INTO",
        };
        return Err(EngineError::statement(format!(
            "{what} statements don't support LIMIT clause."
        )));
    }
    let produces = if aggregating {
        SourceKind::Table
    } else {
        source.kind
    };
    match (kind, produces) {
        (PersistentKind::CreateTableAs, SourceKind::Stream) => Err(EngineError::statement(
            "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.",
        )),
        (PersistentKind::CreateStreamAs | PersistentKind::InsertInto, SourceKind::Table) => {
            Err(EngineError::statement(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
            ))
        }
        (PersistentKind::CreateTableAs, SourceKind::Table)
            if !query.partition_by.is_empty() && !aggregating =>
        {
            Err(EngineError::statement(
                "Cannot repartition a TABLE source.",
            ))
        }
        _ => Ok(()),
    }
}

enum PartitionBy<'a> {
    /// No PARTITION BY: the source key is kept.
    Keep,
    /// `PARTITION BY NULL`: a keyless result.
    Null,
    Exprs(&'a [Expr]),
}

impl PartitionBy<'_> {
    fn of(exprs: &[Expr]) -> PartitionBy<'_> {
        match exprs {
            [] => PartitionBy::Keep,
            [Expr::Literal(Literal::Null)] => PartitionBy::Null,
            _ => PartitionBy::Exprs(exprs),
        }
    }
}

/// Splits items into (key items in sink key order, value items).
fn classify(
    items: Vec<SelectedColumn>,
    has_wildcard: bool,
    source: &Source,
    resolver: &SourceResolver<'_>,
    partition_by: &PartitionBy<'_>,
    sink: &SinkSpec<'_>,
) -> Result<(Vec<SelectedColumn>, Vec<SelectedColumn>)> {
    let sink_name = sink.name;
    match partition_by {
        PartitionBy::Null => Ok((Vec::new(), items)),
        PartitionBy::Keep => {
            let is_key_slot = |slot: Option<usize>| {
                slot.is_some_and(|i| {
                    source
                        .schema
                        .columns
                        .get(i)
                        .is_some_and(|c| c.kind == ColumnKind::Key)
                })
            };
            let (mut keys, values): (Vec<SelectedColumn>, Vec<SelectedColumn>) =
                items.into_iter().partition(|i| is_key_slot(i.slot));
            if sink.config.query_planner == QueryPlanner::Old {
                let missing: Vec<&str> = source
                    .schema
                    .keys()
                    .enumerate()
                    .filter(|(k, _)| !keys.iter().any(|i| i.slot == Some(*k)))
                    .map(|(_, c)| c.name.as_str())
                    .collect();
                // Key slots are the first columns of the source schema (keys come first).
                if !missing.is_empty() {
                    return Err(key_missing(sink_name, &missing, "key column"));
                }
                // The old planner lays the sink key out as the source key; the new one
                // keeps the projection's order.
                keys.sort_by_key(|i| i.slot);
            }
            for (a, b) in keys.iter().zip(keys.iter().skip(1)) {
                if a.slot == b.slot {
                    return Err(EngineError::statement(format!(
                        "The projection contains a key column more than once: `{}` and `{}`.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                        a.name, b.name
                    )));
                }
            }
            Ok((keys, values))
        }
        PartitionBy::Exprs(exprs) => partition_by_keys(
            exprs,
            items,
            has_wildcard,
            resolver,
            source.schema.columns.iter().map(|c| c.name.as_str()),
            sink_name,
        ),
    }
}

/// Splits `items` by `PARTITION BY exprs`: each expression's item (the same column, or the
/// same expression) becomes a key column, in PARTITION BY order; with `*` in the projection
/// an expression not projected is keyed under a generated name (not one of `taken`),
/// otherwise it is ksqlDB's "Key missing from projection" error.
pub(super) fn partition_by_keys<'n>(
    exprs: &[Expr],
    mut items: Vec<SelectedColumn>,
    has_wildcard: bool,
    resolver: &dyn ColumnResolver,
    taken: impl Iterator<Item = &'n str>,
    sink_name: &str,
) -> Result<(Vec<SelectedColumn>, Vec<SelectedColumn>)> {
    let mut keys = Vec::with_capacity(exprs.len());
    let mut aliases = ColumnAliasGenerator::new(taken);
    for expr in exprs {
        let slot = match expr {
            Expr::Column { qualifier, name } => {
                resolver.resolve(qualifier.as_deref(), name).map(|(i, _)| i)
            }
            _ => None,
        };
        let found = items.iter().position(|i| match (&i.expr, slot) {
            (_, Some(s)) if i.slot == Some(s) => true,
            (Some(e), _) => e == expr,
            (None, _) => false,
        });
        match found {
            Some(at) => keys.push(items.remove(at)),
            None if has_wildcard => {
                let compiled = compile(expr, resolver)?;
                keys.push(SelectedColumn {
                    name: aliases.alias_for(expr),
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
            None => {
                let text = expr.to_string();
                return Err(key_missing(sink_name, &[&text], "partitioning expression"));
            }
        }
    }
    Ok((keys, items))
}

/// Resolves only the source's key columns, at their slots in the full row: an expression
/// that compiles against it can be evaluated on a record whose value is null.
struct KeyColumnsOnly<'a> {
    inner: &'a SourceResolver<'a>,
}

impl ColumnResolver for KeyColumnsOnly<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let (i, ty) = self.inner.resolve(qualifier, name)?;
        let column = self.inner.source.schema.columns.get(i)?;
        (column.kind == ColumnKind::Key).then_some((i, ty))
    }
}

/// For each sink key item, its projection over a null-value record: a plain source key
/// column or an expression over key columns only (literals included); `None` otherwise.
fn null_value_keys(
    keys: &[SelectedColumn],
    resolver: &SourceResolver<'_>,
) -> Vec<Option<Projection>> {
    let key_only = KeyColumnsOnly { inner: resolver };
    keys.iter()
        .map(|item| match (item.slot, &item.expr) {
            (Some(i), _) => key_only_slot(resolver, i).map(Projection::Column),
            (None, Some(expr)) => compile(expr, &key_only).ok().map(Projection::Expr),
            (None, None) => None,
        })
        .collect()
}

fn key_only_slot(resolver: &SourceResolver<'_>, slot: usize) -> Option<usize> {
    let column = resolver.source.schema.columns.get(slot)?;
    (column.kind == ColumnKind::Key).then_some(slot)
}

pub(super) fn key_missing(sink: &str, names: &[&str], what: &str) -> EngineError {
    let (what, list) = match names {
        [one] => (what.to_string(), (*one).to_string()),
        _ => (format!("{what}s"), names.join(" and ")),
    };
    EngineError::statement(format!(
        "Key missing from projection (ie, SELECT).\nThe query used to build `{sink}` must include the {what} {list} in its projection (eg, SELECT {}...).",
        names.join(", ")
    ))
}

pub(super) fn check_duplicates(keys: &[SelectedColumn], values: &[SelectedColumn]) -> Result<()> {
    let all: Vec<&SelectedColumn> = keys.iter().chain(values).collect();
    for (n, item) in all.iter().enumerate() {
        if all[..n].iter().any(|other| other.name == item.name) {
            return Err(EngineError::statement(format!(
                "Duplicate value columns found in schema: `{}` {}",
                item.name, item.ty
            )));
        }
    }
    Ok(())
}

/// INSERT INTO needs the result schema to equal the sink's (ksqlDB's
/// `InsertIntoValidator` text).
pub(super) fn check_insert_schema(sink: &Source, result: &Schema) -> Result<()> {
    let same = sink.schema.columns.len() == result.columns.len()
        && sink
            .schema
            .columns
            .iter()
            .zip(&result.columns)
            .all(|(a, b)| a.name == b.name && a.ty == b.ty && a.kind == b.kind);
    if same {
        return Ok(());
    }
    Err(EngineError::statement(format!(
        "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
        result.to_schema_text(true),
        sink.schema.to_schema_text(true)
    )))
}

/// The sink a persistent query writes: the existing one for INSERT INTO (its schema
/// checked against the result's), else a new one from the statement's WITH
/// ([`sink_source`]) whose keys carry `window`.
pub(super) fn resolve_sink(
    sink: &SinkSpec<'_>,
    source: &Source,
    schema: Schema,
    statement_text: &str,
    window: Option<SourceWindow>,
) -> Result<Arc<Source>> {
    if let Some(existing) = sink.existing {
        check_insert_schema(existing, &schema)?;
        return Ok(Arc::clone(existing));
    }
    let mut created = sink_source(sink, source, schema, statement_text)?;
    created.window = window;
    Ok(Arc::new(created))
}

/// The partitions and configs of the sink's topic, for when it has to be created: WITH's
/// `PARTITIONS` (else as many as `source`'s topic has) and `RETENTION_MS`; a table's topic
/// is compacted.
pub(super) fn sink_topic(
    sink: &SinkSpec<'_>,
    sink_source: &Source,
    source: &Source,
    source_partitions: &impl Fn(&str) -> Option<u32>,
) -> Result<(u32, TopicConfig)> {
    let props = WithProperties::new(sink.properties)?;
    let partitions = match props.partitions()? {
        Some(n) => n,
        None => source_partitions(&source.topic).unwrap_or(1),
    };
    Ok((partitions, props.topic_config(sink_source.kind)?))
}

/// The CSAS/CTAS sink: topic and formats from WITH, defaulting to the source's.
pub(super) fn sink_source(
    sink: &SinkSpec<'_>,
    source: &Source,
    schema: Schema,
    statement_text: &str,
) -> Result<Source> {
    let props = WithProperties::new(sink.properties)?;
    let both = props.string("FORMAT")?;
    let value = props.string("VALUE_FORMAT")?;
    let key = props.string("KEY_FORMAT")?;
    if both.is_some() && (value.is_some() || key.is_some()) {
        return Err(EngineError::statement(
            "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
        ));
    }
    let value_format = match value.or_else(|| both.clone()) {
        Some(name) => ValueFormat::parse(&name)?,
        None => source.value_format,
    };
    let has_keys = schema.keys().next().is_some();
    let key_format = match key.or(both) {
        Some(name) => KeyFormat::parse(&name)?,
        None if !has_keys => KeyFormat::None,
        // A keyless source re-keyed by PARTITION BY gets the default key format, from the
        // config if set (QTT `none.json`, "inherited in CSAS - PARTITION BY").
        None if source.key_format == KeyFormat::None => sink.config.default_key_format()?,
        None => source.key_format,
    };
    let key_format = with_key_delimiter(key_format, &props)?;
    crate::format::key::validate_key_columns(key_format, &schema.keys().collect::<Vec<_>>())?;
    check_key_format(key_format, &schema)?;
    let (timestamp_column, timestamp_format) = timestamp_column(&props, &schema)?;
    // Not inherited from the source: like ksqlDB, a sink is wrapped unless its own WITH or
    // the config says otherwise (QTT `json.json`, "value - anonymous - deserialize").
    let value_wrapping = value_wrapping(props.boolean("WRAP_SINGLE_VALUE")?, &schema, sink.config)?;
    let kind = match sink.kind {
        PersistentKind::CreateTableAs => SourceKind::Table,
        _ => SourceKind::Stream,
    };
    Ok(Source {
        name: sink.name.to_string(),
        kind,
        schema,
        topic: match props.string("KAFKA_TOPIC")? {
            Some(topic) => topic,
            None => default_sink_topic(sink),
        },
        key_format,
        value_format,
        value_wrapping,
        timestamp_column,
        timestamp_format,
        statement_text: statement_text.to_string(),
        read_only: false,
        window: None,
    })
}

/// A sink's topic when WITH names none: its name, after `ksql.output.topic.name.prefix`
/// (ksqlDB's `TopicCreateInjector`; QTT `sink-topic-naming.json`).
fn default_sink_topic(sink: &SinkSpec<'_>) -> String {
    let prefix = sink.config.output_topic_prefix.as_deref().unwrap_or("");
    format!("{prefix}{}", sink.name)
}

#[cfg(test)]
mod tests;
