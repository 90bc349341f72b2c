//! Planning joins: `FROM a [AS x] JOIN b [AS y] [WITHIN …] ON x.k = y.k [JOIN c …]`.
//!
//! ```text
//!  FROM ─► leaves (one per source, each at a base slot) ─► join nodes (left-deep)
//!       ─► key columns that may key the result ─► SELECT ─► sink schema
//! ```
//!
//! ksqlDB's rules, as its QTT `joins.json`, `multi-joins.json` and `fk-join.json` show them:
//! - every source column is also known as `<alias>_<name>`: `*` and `x.*` give every column
//!   its prefixed name;
//! - the result key is the first projected plain reference to a column equal to the join
//!   key: either side's join column, and the earlier joins' too while no join re-keyed the
//!   rows; a FULL OUTER join, or one on two expressions, has a synthetic key `ROWKEY`;
//! - a qualified column reference is named `<alias>_<name>` only when another source has a
//!   column of that name too, else it keeps its bare name;
//! - a stream joined on anything but its key is re-keyed (ksqlDB repartitions it): the
//!   earlier joins' key columns then no longer key the result;
//! - a table joins on its primary key; a table-table join whose left side uses another
//!   expression is a foreign-key join, keyed by the left table's key;
//! - table-stream joins, RIGHT/FULL stream-table joins and stream-stream joins without
//!   `WITHIN` are refused with ksqlDB's messages.

use std::sync::Arc;

use crate::catalog::{Source, SourceLookup};
use crate::error::{EngineError, Result};
use crate::exec::join::{JoinNodeSpec, JoinSpec, JoinWindow};
use crate::exec::project::Projection;
use crate::exec::scan::{DecodeColumns, Tombstones};
use crate::expr::{compile, ColumnAliasGenerator, ColumnResolver, CompiledExpr};
use crate::sql::ast::{BinaryOp, Expr, JoinType, Query, Relation, SelectItem, SourceKind};
use crate::types::schema::{
    PSEUDO_COLUMN_COUNT, PSEUDO_ROWOFFSET, PSEUDO_ROWPARTITION, PSEUDO_ROWTIME,
};
use crate::types::{ColumnKind, SqlType};

use super::logical::{LogicalPlan, ScanNode};
use super::aggregate::AggregateInput;
use super::persistent::{
    check_duplicates, partition_by_keys, plan_aggregate_into_sink, resolve_sink, sink_plan,
    sink_schema, sink_topic, AggregatedInput, PersistentKind, PersistentPlan, SinkSpec,
};
use super::select::{duplicate_column, struct_fields, SelectedColumn};

/// Name of the synthetic key column of a join keyed by neither side's column.
const SYNTHETIC_KEY: &str = "ROWKEY";

/// One source of the join at its place in the row.
pub(crate) struct JoinLeaf {
    pub(crate) source: Arc<Source>,
    pub(crate) alias: Option<String>,
    pub(crate) base: usize,
}

impl JoinLeaf {
    /// The name its columns are qualified (and prefixed) with.
    pub(crate) fn qualifier(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.source.name)
    }

    fn len(&self) -> usize {
        self.source.schema.columns.len() + PSEUDO_COLUMN_COUNT
    }

    fn answers_to(&self, qualifier: &str) -> bool {
        qualifier == self.qualifier() || qualifier == self.source.name
    }

    fn resolve_local(&self, name: &str) -> Option<(usize, SqlType)> {
        if let Some((i, c)) = self.source.schema.find(name) {
            return Some((self.base + i, c.ty.clone()));
        }
        let pseudo = self.base + self.source.schema.columns.len();
        match name {
            PSEUDO_ROWTIME => Some((pseudo, SqlType::BigInt)),
            PSEUDO_ROWPARTITION => Some((pseudo + 1, SqlType::Integer)),
            PSEUDO_ROWOFFSET => Some((pseudo + 2, SqlType::BigInt)),
            _ => None,
        }
    }

    fn key_slots(&self) -> Vec<usize> {
        self.source
            .schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ColumnKind::Key)
            .map(|(i, _)| self.base + i)
            .collect()
    }
}

/// Names over the leaves `leaves[range]`: `q.name` in the leaf `q`, an unqualified name in
/// the one leaf that has it (two leaves having it makes it unresolvable), and `ROWKEY`
/// for the synthetic key when the join has one.
struct JoinResolver<'a> {
    leaves: &'a [JoinLeaf],
    range: std::ops::Range<usize>,
    synthetic: Option<(usize, SqlType)>,
}

impl ColumnResolver for JoinResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let leaves = &self.leaves[self.range.clone()];
        if let Some(q) = qualifier {
            return leaves.iter().find(|l| l.answers_to(q))?.resolve_local(name);
        }
        let mut found = leaves.iter().filter_map(|l| l.resolve_local(name));
        match (found.next(), found.next()) {
            (Some(one), None) => Some(one),
            (None, _) if name == SYNTHETIC_KEY => self.synthetic.clone(),
            _ => None,
        }
    }
}

/// Whether the query reads a join.
pub(crate) fn is_join(query: &Query) -> bool {
    matches!(query.from, Relation::Join { .. })
}

/// `(source name, alias)` of each leaf and `(type, ON, WITHIN)` of each join, left-deep.
fn flatten(
    relation: &Relation,
    leaves: &mut Vec<(String, Option<String>)>,
    joins: &mut Vec<(JoinType, Expr, Option<crate::sql::ast::WithinClause>)>,
) -> Result<()> {
    match relation {
        Relation::Source { name, alias } => {
            leaves.push((name.clone(), alias.clone()));
            Ok(())
        }
        Relation::Join {
            left,
            right,
            join_type,
            on,
            within,
        } => {
            flatten(left, leaves, joins)?;
            let Relation::Source { name, alias } = &**right else {
                return Err(EngineError::statement(
                    "Nested joins on the right of a JOIN are not supported.",
                ));
            };
            leaves.push((name.clone(), alias.clone()));
            joins.push((*join_type, on.clone(), within.clone()));
            Ok(())
        }
    }
}

/// The sources, row layout and join nodes of a FROM clause with joins.
pub(crate) struct PlannedJoin {
    pub(crate) leaves: Vec<JoinLeaf>,
    pub(crate) spec: JoinSpec,
    /// Whether the result is a table (every source is a table).
    pub(crate) kind: SourceKind,
    /// Slots holding the result key's value; empty when the key is synthetic.
    viable: Vec<usize>,
    synthetic: Option<(usize, SqlType)>,
}

impl PlannedJoin {
    fn resolver(&self) -> JoinResolver<'_> {
        JoinResolver {
            leaves: &self.leaves,
            range: 0..self.leaves.len(),
            synthetic: self.synthetic.clone(),
        }
    }
}

fn join_name(t: JoinType) -> &'static str {
    match t {
        JoinType::Inner => "[INNER] JOIN",
        JoinType::Left => "LEFT [OUTER] JOIN",
        JoinType::Right => "RIGHT [OUTER] JOIN",
        JoinType::Full => "[FULL] OUTER JOIN",
    }
}

fn plain_slot(expr: &Expr, resolver: &dyn ColumnResolver) -> Option<usize> {
    match expr {
        Expr::Column { qualifier, name } => resolver.resolve(qualifier.as_deref(), name).map(|r| r.0),
        _ => None,
    }
}

/// Binds the FROM clause's sources and joins.
pub(crate) fn plan_from(catalog: &dyn SourceLookup, from: &Relation) -> Result<PlannedJoin> {
    let mut named = Vec::new();
    let mut joins = Vec::new();
    flatten(from, &mut named, &mut joins)?;
    let mut leaves: Vec<JoinLeaf> = Vec::new();
    let mut base = 0;
    for (name, alias) in named {
        let source = catalog
            .source(&name)
            .cloned()
            .ok_or_else(|| EngineError::statement(format!("{name} does not exist.")))?;
        let leaf = JoinLeaf {
            source,
            alias,
            base,
        };
        if let Some(other) = leaves.iter().find(|l| l.qualifier() == leaf.qualifier()) {
            return Err(EngineError::statement(format!(
                "Can not join '{}' to '{}': self joins are not yet supported.",
                other.qualifier(),
                leaf.qualifier()
            )));
        }
        base += leaf.len();
        leaves.push(leaf);
    }
    let rowkey_slot = base;
    let rowtime_slot = base + 1;
    let row_len = base + 2;
    let mut nodes: Vec<JoinNodeSpec> = Vec::new();
    let mut viable: Vec<usize> = leaves[0].key_slots();
    // Key columns of the left side's key: a join on one column of a wider primary key is a
    // foreign-key join (only a join on the whole key is a primary-key join).
    let mut left_key_width = viable.len();
    // Non-column expressions equal to the current key (`ABS(S2.ID)`): a later join on one
    // of them needs no re-keying either.
    let mut key_texts: Vec<String> = Vec::new();
    let mut left_kind = leaves[0].source.kind;
    let mut key_type = SqlType::String;
    for (i, (join_type, on, within)) in joins.into_iter().enumerate() {
        let right = &leaves[i + 1];
        let left_resolver = JoinResolver {
            leaves: &leaves,
            range: 0..i + 1,
            synthetic: None,
        };
        let right_resolver = JoinResolver {
            leaves: &leaves,
            range: i + 1..i + 2,
            synthetic: None,
        };
        let Expr::Binary {
            op: BinaryOp::Eq,
            left: a,
            right: b,
        } = &on
        else {
            return Err(EngineError::statement(format!(
                "Unsupported join expression: {on}. Only equality conditions are supported."
            )));
        };
        let (left_expr, right_expr) =
            match (compile(a, &left_resolver), compile(b, &right_resolver)) {
                (Ok(_), Ok(_)) => (a.as_ref(), b.as_ref()),
                _ => match (compile(b, &left_resolver), compile(a, &right_resolver)) {
                    (Ok(_), Ok(_)) => (b.as_ref(), a.as_ref()),
                    _ => {
                        return Err(EngineError::statement(format!(
                            "Invalid comparison expression '{on}' in join '{on}'. Each side of the join comparision must contain references from exactly one source."
                        )))
                    }
                },
            };
        // Slots are absolute, so keys compiled per side evaluate over the whole row.
        let left_key = compile(left_expr, &left_resolver)?;
        let right_key = compile(right_expr, &right_resolver)?;
        if left_key.sql_type() != right_key.sql_type() {
            return Err(EngineError::statement(format!(
                "Invalid join condition: types don't match. Got {left_expr}{{{}}} = {right_expr}{{{}}}.",
                left_key.sql_type(),
                right_key.sql_type()
            )));
        }
        let right_kind = right.source.kind;
        let left_name = if i == 0 {
            leaves[0].qualifier().to_string()
        } else {
            "the result of the previous join".to_string()
        };
        match (left_kind, right_kind, join_type) {
            (SourceKind::Table, SourceKind::Stream, _) => {
                return Err(EngineError::statement(format!(
                    "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {left_name} {} {}.",
                    join_name(join_type),
                    right.qualifier()
                )))
            }
            (SourceKind::Stream, SourceKind::Table, JoinType::Right | JoinType::Full) => {
                return Err(EngineError::statement(format!(
                    "Invalid join type: {} stream-table joins are not supported; only [INNER] JOIN and LEFT [OUTER] JOIN are supported. Got {left_name} {} {}.",
                    match join_type { JoinType::Right => "right", _ => "full-outer" },
                    join_name(join_type),
                    right.qualifier()
                )))
            }
            (SourceKind::Stream, SourceKind::Stream, _) if within.is_none() => {
                return Err(EngineError::statement(
                    "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
                ))
            }
            (_, SourceKind::Table, _) if within.is_some() => {
                return Err(EngineError::statement(
                    "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to execute your join again.",
                ))
            }
            _ => {}
        }
        let left_slot = plain_slot(left_expr, &left_resolver);
        let right_slot = plain_slot(right_expr, &right_resolver);
        let mut foreign_key = false;
        if right_kind == SourceKind::Table {
            let right_keys = right.key_slots();
            if right_slot.is_none() || right_keys.len() != 1 || right_slot != right_keys.first().copied() {
                let key = right
                    .source
                    .schema
                    .keys()
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(EngineError::statement(format!(
                    "Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the TABLE's key column {key} instead of {right_expr}"
                )));
            }
            let whole_left_key = left_key_width == 1 && left_slot.is_some_and(|s| viable.contains(&s));
            if left_kind == SourceKind::Table && !whole_left_key {
                foreign_key = true;
                if leaves[..i + 2].iter().any(|l| l.source.window.is_some()) {
                    return Err(EngineError::statement(
                        "Foreign-key table-table joins are not supported on windowed tables.",
                    ));
                }
                if matches!(join_type, JoinType::Right | JoinType::Full) {
                    return Err(EngineError::statement(format!(
                        "Invalid join type: {} joins are not supported for foreign-key table-table joins. Got {left_name} {} {}.",
                        match join_type { JoinType::Right => "right", _ => "full-outer" },
                        join_name(join_type),
                        right.qualifier()
                    )));
                }
            }
        }
        let left_pk = viable.clone();
        let text = |e: &Expr| e.to_string().to_ascii_uppercase();
        let rekeys_left = !(left_slot.is_some_and(|s| viable.contains(&s))
            || (left_slot.is_none() && key_texts.contains(&text(left_expr))));
        if foreign_key {
            // Keyed by the left table's key: nothing changes.
        } else if join_type == JoinType::Full {
            left_key_width = 1;
            viable.clear();
            key_texts.clear();
        } else {
            left_key_width = 1;
            if rekeys_left {
                viable.clear();
                key_texts.clear();
            }
            for (slot, expr) in [(left_slot, left_expr), (right_slot, right_expr)] {
                match slot {
                    Some(s) if !viable.contains(&s) => viable.push(s),
                    Some(_) => {}
                    None => key_texts.push(text(expr)),
                }
            }
        }
        key_type = match (foreign_key, left_pk.first()) {
            (true, Some(&s)) => slot_type(&leaves, s),
            _ => left_key.sql_type().clone(),
        };
        let result_kind = match (left_kind, right_kind) {
            (SourceKind::Table, SourceKind::Table) => SourceKind::Table,
            _ => SourceKind::Stream,
        };
        nodes.push(JoinNodeSpec {
            join_type,
            left_kind,
            right_kind,
            left_key,
            right_key,
            left_slots: 0..right.base,
            right_slots: right.base..right.base + right.len(),
            window: within.map(|w| JoinWindow {
                before_ms: w.before_ms,
                after_ms: w.after_ms,
                grace_ms: w.grace_ms,
            }),
            foreign_key,
            left_pk,
        });
        left_kind = result_kind;
    }
    let synthetic = viable.is_empty().then_some((rowkey_slot, key_type));
    let mut key_slots = viable.clone();
    if key_slots.is_empty() {
        key_slots.push(rowkey_slot);
    }
    Ok(PlannedJoin {
        leaves: Vec::new(),
        spec: JoinSpec {
            nodes,
            leaves: Vec::new(),
            row_len,
            rowkey_slot,
            rowtime_slot,
            key_slots,
            table_filter: None,
        },
        kind: left_kind,
        viable,
        synthetic,
    })
    .map(|mut p| {
        p.spec.leaves = leaves.iter().map(|l| l.base..l.base + l.len()).collect();
        p.leaves = leaves;
        p
    })
}


/// The type of the column at `slot`.
fn slot_type(leaves: &[JoinLeaf], slot: usize) -> SqlType {
    leaves
        .iter()
        .find(|l| slot >= l.base && slot < l.base + l.len())
        .and_then(|l| l.source.schema.columns.get(slot - l.base))
        .map_or(SqlType::BigInt, |c| c.ty.clone())
}

/// Expands the SELECT list over the joined row.
/// The output name of the unaliased select item `q.name`: a name only one source has stays
/// bare; a shared one is prefixed with its source's qualifier.
fn qualified_column_name(join: &PlannedJoin, q: &str, name: &str) -> String {
    let holders = join
        .leaves
        .iter()
        .filter(|l| l.resolve_local(name).is_some())
        .count();
    if holders == 1 {
        return name.to_string();
    }
    let prefix = join
        .leaves
        .iter()
        .find(|l| l.answers_to(q))
        .map_or(q, |l| l.qualifier());
    format!("{prefix}_{name}")
}

/// How `*` lays out a join leaf's columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WildcardLayout {
    /// Key and value columns in schema order (the join's own result).
    Schema,
    /// Value columns, then `ROWTIME`, `ROWPARTITION`, `ROWOFFSET`, then key columns: the
    /// value schema of ksqlDB's join result, which a `PARTITION BY` after the join selects
    /// from (so the system columns show up in the sink's value, as in ksqlDB).
    JoinValue,
}

fn expand(
    query: &Query,
    join: &PlannedJoin,
    layout: WildcardLayout,
) -> Result<Vec<SelectedColumn>> {
    let resolver = join.resolver();
    let mut seed: Vec<String> = Vec::new();
    for leaf in &join.leaves {
        for c in &leaf.source.schema.columns {
            seed.push(c.name.clone());
            seed.push(format!("{}_{}", leaf.qualifier(), c.name));
        }
    }
    let mut aliases = ColumnAliasGenerator::new(seed.iter().map(String::as_str));
    let mut items = Vec::new();
    let wildcard = |leaf: &JoinLeaf, items: &mut Vec<SelectedColumn>| {
        let column = |name: &str, ty: SqlType, slot: usize| SelectedColumn {
            name: format!("{}_{}", leaf.qualifier(), name),
            ty,
            projection: Projection::Column(slot),
            expr: None,
            slot: Some(slot),
            from_wildcard: true,
        };
        let columns = leaf.source.schema.columns.iter().enumerate();
        match layout {
            WildcardLayout::Schema => items.extend(
                columns
                    .filter(|(_, c)| matches!(c.kind, ColumnKind::Key | ColumnKind::Value))
                    .map(|(i, c)| column(&c.name, c.ty.clone(), leaf.base + i)),
            ),
            WildcardLayout::JoinValue => {
                let of_kind = |kind: ColumnKind| {
                    columns
                        .clone()
                        .filter(move |(_, c)| c.kind == kind)
                        .map(|(i, c)| column(&c.name, c.ty.clone(), leaf.base + i))
                };
                items.extend(of_kind(ColumnKind::Value));
                for name in [PSEUDO_ROWTIME, PSEUDO_ROWPARTITION, PSEUDO_ROWOFFSET] {
                    if let Some((slot, ty)) = leaf.resolve_local(name) {
                        items.push(column(name, ty, slot));
                    }
                }
                items.extend(of_kind(ColumnKind::Key));
            }
        }
    };
    for item in &query.select {
        match item {
            SelectItem::Wildcard => {
                for leaf in &join.leaves {
                    wildcard(leaf, &mut items);
                }
            }
            SelectItem::QualifiedWildcard(q) => {
                let leaf = join
                    .leaves
                    .iter()
                    .find(|l| l.answers_to(q))
                    .ok_or_else(|| EngineError::statement(format!("Source '{q}' does not exist.")))?;
                wildcard(leaf, &mut items);
            }
            SelectItem::StructAll(base) => {
                for field in struct_fields(base, &resolver)? {
                    items.push(SelectedColumn {
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
                let compiled = compile(expr, &resolver)?;
                let slot = plain_slot(expr, &resolver);
                let name = match (alias, expr) {
                    (Some(a), _) => a.clone(),
                    (None, Expr::Column { qualifier: Some(q), name }) => {
                        qualified_column_name(join, q, name)
                    }
                    (None, _) => aliases.alias_for(expr),
                };
                items.push(SelectedColumn {
                    name,
                    ty: compiled.sql_type().clone(),
                    projection: match slot {
                        Some(s) => Projection::Column(s),
                        None => Projection::Expr(compiled),
                    },
                    expr: Some(expr.clone()),
                    slot,
                    from_wildcard: false,
                });
            }
        }
    }
    Ok(items)
}

/// Plans `CREATE STREAM|TABLE … AS SELECT … FROM a JOIN b …` (and INSERT INTO).
pub(crate) fn plan_join_persistent(
    catalog: &dyn SourceLookup,
    sink: SinkSpec<'_>,
    query: &Query,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    let aggregating = super::aggregate::is_aggregation(query);
    if aggregating && !query.partition_by.is_empty() {
        return Err(EngineError::statement(
            "PARTITION BY is not supported on aggregations: the GROUP BY sets the key.",
        ));
    }
    if query.limit.is_some() {
        let what = match sink.kind {
            PersistentKind::CreateTableAs => "CREATE TABLE AS SELECT",
            PersistentKind::CreateStreamAs => "CREATE STREAM AS SELECT",
            PersistentKind::InsertInto => "INSERT INTO",
        };
        return Err(EngineError::statement(format!(
            "{what} statements don't support LIMIT clause."
        )));
    }
    let mut join = plan_from(catalog, &query.from)?;
    if aggregating {
        return plan_join_aggregation(join, sink, query, statement_text, source_partitions);
    }
    match (sink.kind, join.kind) {
        (PersistentKind::CreateTableAs, SourceKind::Stream) => {
            return Err(EngineError::statement(
                "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.",
            ))
        }
        (PersistentKind::CreateStreamAs | PersistentKind::InsertInto, SourceKind::Table) => {
            return Err(EngineError::statement(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
            ))
        }
        _ => {}
    }
    let filter = match &query.where_clause {
        Some(w) => super::scope::compile_where(Some(w), &join.resolver())?,
        None => None,
    };
    if !query.partition_by.is_empty() && join.kind == SourceKind::Table {
        return Err(EngineError::unsupported(
            "PARTITION BY over a table-table join is not supported yet in persistent queries",
        ));
    }
    if !query.partition_by.is_empty() {
        let items = expand(query, &join, WildcardLayout::JoinValue)?;
        let (keys, values) = partition_keys(query, &join, items, sink.name)?;
        // The key comes from the PARTITION BY expressions, not the join key: an outer
        // row's missing side stays NULL.
        join.spec.key_slots.clear();
        return finish_persistent(sink, join, filter, keys, values, statement_text, source_partitions);
    }
    let items = expand(query, &join, WildcardLayout::Schema)?;
    let is_key = |i: &SelectedColumn| {
        i.slot.is_some_and(|s| {
            join.viable.contains(&s) || (join.viable.is_empty() && s == join.spec.rowkey_slot)
        })
    };
    let mut items = items;
    let has_wildcard = items.iter().any(|i| i.from_wildcard);
    if let (None, Some((slot, ty)), true) = (
        items.iter().position(is_key),
        join.synthetic.clone(),
        has_wildcard,
    ) {
        // `SELECT *` over a join keyed by a synthetic key carries it (`ROWKEY`).
        items.insert(
            0,
            SelectedColumn {
                name: SYNTHETIC_KEY.to_string(),
                ty,
                projection: Projection::Column(slot),
                expr: None,
                slot: Some(slot),
                from_wildcard: true,
            },
        );
    }
    // A key column named in the projection wins; among those `*` brought in, the leftmost
    // source's (ksqlDB keys `SELECT r.*, l.*` by the left source's key).
    let named = items.iter().position(|i| is_key(i) && !i.from_wildcard);
    let starred = || {
        items
            .iter()
            .enumerate()
            .filter(|(_, i)| is_key(i) && i.from_wildcard)
            .min_by_key(|(_, i)| i.slot)
            .map(|(at, _)| at)
    };
    let Some(at) = named.or_else(starred) else {
        let hint = match (&join.synthetic, join.spec.nodes.last()) {
            (Some(_), _) | (None, None) => SYNTHETIC_KEY.to_string(),
            (None, Some(_)) => join
                .viable
                .iter()
                .filter_map(|&s| {
                    join.leaves
                        .iter()
                        .find(|l| s >= l.base && s < l.base + l.len())
                        .and_then(|l| {
                            l.source
                                .schema
                                .columns
                                .get(s - l.base)
                                .map(|c| format!("{}.{}", l.qualifier(), c.name))
                        })
                })
                .collect::<Vec<_>>()
                .join(" or "),
        };
        return Err(EngineError::statement(format!(
            "Key missing from projection (ie, SELECT).\nThe query used to build `{}` must include the join expression {hint} in its projection (eg, SELECT {hint}...).",
            sink.name
        )));
    };
    let mut values = items;
    let foreign_key = join.spec.nodes.last().is_some_and(|n| n.foreign_key);
    let keys = if foreign_key {
        // Keyed by the left table's key, every column of it: the left row is always there,
        // so its key columns need no filling in.
        join.spec.key_slots.clear();
        let mut keys: Vec<SelectedColumn> = Vec::new();
        let mut rest = Vec::new();
        for item in values {
            let is_pk = item.slot.is_some_and(|s| join.viable.contains(&s));
            if is_pk && !keys.iter().any(|k| k.slot == item.slot) {
                keys.push(item);
            } else {
                rest.push(item);
            }
        }
        values = rest;
        keys
    } else {
        let key = values.remove(at);
        // The key column carries the join key even on an outer join's row that lacks its
        // side.
        join.spec.key_slots = key.slot.into_iter().collect();
        vec![key]
    };
    finish_persistent(sink, join, filter, keys, values, statement_text, source_partitions)
}

/// The sink schema, scans and `Sink ─ Project ─ Filter? ─ Join` plan of a persistent join
/// whose key (`keys`) and value (`values`) columns are chosen.
fn finish_persistent(
    sink: SinkSpec<'_>,
    mut join: PlannedJoin,
    filter: Option<CompiledExpr>,
    keys: Vec<SelectedColumn>,
    values: Vec<SelectedColumn>,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    check_duplicates(&keys, &values)?;
    for (n, v) in values.iter().enumerate() {
        if values[..n].iter().any(|o| o.name == v.name) {
            return Err(duplicate_column(&v.name, &v.ty));
        }
    }
    let schema = sink_schema(&keys, &values);
    let first = Arc::clone(&join.leaves[0].source);
    let sink_source = resolve_sink(&sink, &first, schema, statement_text, None)?;
    let (sink_partitions, sink_topic) =
        sink_topic(&sink, &sink_source, &first, &source_partitions)?;
    let scans = scans(&join);
    let table_result = join.kind == SourceKind::Table;
    if table_result {
        join.spec.table_filter = filter.clone();
    }
    let mut plan = LogicalPlan::Join {
        leaves: scans,
        spec: join.spec.clone(),
    };
    plan = plan.filtered(filter.filter(|_| !table_result));
    let tombstone_key = keys
        .iter()
        .map(|k| Some(k.projection.clone()))
        .collect();
    let plan = sink_plan(plan, keys, values, tombstone_key, &sink_source, sink_partitions);
    Ok(PersistentPlan {
        kind: sink.kind,
        statement_text: statement_text.to_string(),
        source: first,
        sources: join.leaves.iter().map(|l| Arc::clone(&l.source)).collect(),
        sink_topic,
        sink: sink_source,
        sink_partitions,
        logical: plan,
    })
}

/// Splits a join's projection by `PARTITION BY`: each partitioning expression's item (by
/// column or by expression) becomes a key column, in PARTITION BY order; with `*` an
/// expression not projected is keyed under a generated name, otherwise it is an error, as
/// for a single source. `PARTITION BY NULL` keys nothing.
fn partition_keys(
    query: &Query,
    join: &PlannedJoin,
    items: Vec<SelectedColumn>,
    sink_name: &str,
) -> Result<(Vec<SelectedColumn>, Vec<SelectedColumn>)> {
    use crate::sql::ast::Literal;
    if let [Expr::Literal(Literal::Null)] = query.partition_by.as_slice() {
        return Ok((Vec::new(), items));
    }
    let has_wildcard = items.iter().any(|i| i.from_wildcard);
    let taken: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    partition_by_keys(
        &query.partition_by,
        items,
        has_wildcard,
        &join.resolver(),
        taken.iter().map(String::as_str),
        sink_name,
    )
}

/// The scans of a join's leaves.
fn scans(join: &PlannedJoin) -> Vec<ScanNode> {
    join.leaves
        .iter()
        .map(|l| ScanNode {
            source: Arc::clone(&l.source),
            alias: l.alias.clone(),
            decode: DecodeColumns::All,
            // A table's deletes change the join; a stream's null values join nothing.
            tombstones: match l.source.kind {
                SourceKind::Table => Tombstones::Forward,
                SourceKind::Stream => Tombstones::Drop,
            },
        })
        .collect()
}

/// A join's rows as an aggregation's input: `*` is every source's key and value columns,
/// qualified; names are the join's.
fn aggregate_input<'a>(
    join: &PlannedJoin,
    resolver: &'a dyn ColumnResolver,
    item_name: &'a dyn Fn(&Expr) -> Option<String>,
) -> AggregateInput<'a> {
    let mut star = Vec::new();
    let mut taken = Vec::new();
    for leaf in &join.leaves {
        for c in &leaf.source.schema.columns {
            taken.push(c.name.clone());
            taken.push(format!("{}_{}", leaf.qualifier(), c.name));
            if matches!(c.kind, ColumnKind::Key | ColumnKind::Value) {
                star.push(Expr::Column {
                    qualifier: Some(leaf.qualifier().to_string()),
                    name: c.name.clone(),
                });
            }
        }
    }
    AggregateInput {
        kind: SourceKind::Stream,
        resolver,
        star,
        taken,
        item_name,
    }
}

/// How an aggregation over a join names the unaliased item `e`, when it is a qualified
/// column ([`qualified_column_name`]).
fn join_item_name(join: &PlannedJoin, e: &Expr) -> Option<String> {
    match e {
        Expr::Column {
            qualifier: Some(q),
            name,
        } => Some(qualified_column_name(join, q, name)),
        _ => None,
    }
}

/// Plans `CREATE TABLE … AS SELECT … FROM a JOIN b … [WINDOW …] GROUP BY …`: the join's
/// rows (a stream) aggregated, `Sink ─ Project ─ Aggregate ─ Filter? ─ Join`, as ksqlDB
/// aggregates a join's result. The join and the aggregate keep their state in the query's
/// one store, so exactly-once holds as for each alone.
fn plan_join_aggregation(
    join: PlannedJoin,
    sink: SinkSpec<'_>,
    query: &Query,
    statement_text: &str,
    source_partitions: impl Fn(&str) -> Option<u32>,
) -> Result<PersistentPlan> {
    if join.kind == SourceKind::Table {
        return Err(EngineError::unsupported(
            "Aggregations over table-table joins are not supported yet in persistent queries",
        ));
    }
    if sink.kind != PersistentKind::CreateTableAs {
        return Err(EngineError::statement(
            "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
        ));
    }
    let resolver = join.resolver();
    let filter = super::scope::compile_where(query.where_clause.as_ref(), &resolver)?;
    let item_name = |e: &Expr| join_item_name(&join, e);
    let input = aggregate_input(&join, &resolver, &item_name);
    let plan = LogicalPlan::Join {
        leaves: scans(&join),
        spec: join.spec.clone(),
    };
    let sources = join.leaves.iter().map(|l| Arc::clone(&l.source)).collect();
    plan_aggregate_into_sink(
        AggregatedInput {
            input,
            plan,
            filter,
            sources,
        },
        sink,
        query,
        statement_text,
        source_partitions,
    )
}

pub(crate) mod push;

#[cfg(test)]
mod tests;
