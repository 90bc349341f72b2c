//! Push queries over joins: `SELECT … FROM a JOIN b … EMIT CHANGES`, with the join's state
//! in memory for the query's life, aggregated or not.

use std::sync::Arc;

use crate::catalog::{Source, SourceLookup};
use crate::error::{EngineError, Result};
use crate::sql::ast::{Expr, Query, SourceKind};
use crate::types::{ColumnKind, SqlType};

use crate::plan::logical::{LogicalPlan, OutputColumn};
use crate::plan::select::duplicate_column;
use super::{aggregate_input, expand, join_item_name, plan_from, scans, PlannedJoin, WildcardLayout};

/// A push query over a join: its plan (`Limit? ─ Project ─ Filter? ─ Join`, state in
/// memory for the query's life) and its result columns, in SELECT order.
pub(crate) struct PushJoin {
    pub(crate) logical: LogicalPlan,
    pub(crate) first: Arc<Source>,
    pub(crate) column_names: Vec<String>,
    pub(crate) column_types: Vec<SqlType>,
}

/// Plans `SELECT … FROM a JOIN b … EMIT CHANGES`.
pub(crate) fn plan_join_push(catalog: &dyn SourceLookup, query: &Query) -> Result<PushJoin> {
    if !query.partition_by.is_empty() {
        return Err(EngineError::statement(
            "PARTITION BY is not supported in push and pull queries",
        ));
    }
    let mut join = plan_from(catalog, &query.from)?;
    if crate::plan::aggregate::is_aggregation(query) {
        return plan_join_push_aggregation(join, query);
    }
    let filter = match &query.where_clause {
        Some(w) => crate::plan::scope::compile_where(Some(w), &join.resolver())?,
        None => None,
    };
    let items = expand(query, &join, WildcardLayout::Schema)?;
    for (n, v) in items.iter().enumerate() {
        if items[..n].iter().any(|o| o.name == v.name) {
            return Err(duplicate_column(&v.name, &v.ty));
        }
    }
    // A result key column carries the join key on an outer join's one-sided rows too.
    join.spec.key_slots = items
        .iter()
        .find_map(|i| i.slot.filter(|s| join.viable.contains(s)))
        .into_iter()
        .collect();
    let table_result = join.kind == SourceKind::Table;
    if table_result {
        join.spec.table_filter = filter.clone();
    }
    let mut plan = LogicalPlan::Join {
        leaves: scans(&join),
        spec: join.spec.clone(),
    };
    plan = plan.filtered(filter.filter(|_| !table_result));
    let column_names = items.iter().map(|i| i.name.clone()).collect();
    let column_types = items.iter().map(|i| i.ty.clone()).collect();
    plan = LogicalPlan::Project {
        input: Box::new(plan),
        columns: items
            .into_iter()
            .map(|i| OutputColumn {
                name: i.name,
                ty: i.ty,
                kind: ColumnKind::Value,
                projection: i.projection,
            })
            .collect(),
        tombstone_key: Vec::new(),
    };
    if let Some(rows_max) = query.limit {
        plan = LogicalPlan::Limit {
            input: Box::new(plan),
            rows_max,
        };
    }
    Ok(PushJoin {
        logical: plan,
        first: Arc::clone(&join.leaves[0].source),
        column_names,
        column_types,
    })
}

/// `SELECT … FROM a JOIN b … GROUP BY … EMIT CHANGES`: the join's rows (a stream)
/// aggregated in memory for the query's life.
fn plan_join_push_aggregation(join: PlannedJoin, query: &Query) -> Result<PushJoin> {
    if join.kind == SourceKind::Table {
        return Err(EngineError::unsupported(
            "Aggregations over table-table joins are not supported yet in push queries",
        ));
    }
    let resolver = join.resolver();
    let filter = crate::plan::scope::compile_where(query.where_clause.as_ref(), &resolver)?;
    let item_name = |e: &Expr| join_item_name(&join, e);
    let input = aggregate_input(&join, &resolver, &item_name);
    let plan = LogicalPlan::Join {
        leaves: scans(&join),
        spec: join.spec.clone(),
    };
    let (logical, column_names, column_types) =
        crate::plan::transient::push_aggregate(query, &input, plan, filter)?;
    Ok(PushJoin {
        logical,
        first: Arc::clone(&join.leaves[0].source),
        column_names,
        column_types,
    })
}
