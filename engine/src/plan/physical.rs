//! The physical builder: a logical plan → a pipeline of operators.
//!
//! ```text
//!  Scan ─► Scan (decoder)           Filter ─► exec::filter        FlatMap ─► exec::flat_map
//!  Limit ─► exec::limit             Project ─► the terminal's projection
//!  Aggregate ─► exec::aggregate (state in the query's store)
//!  Join ─► one Scan per source + exec::join (state in the query's store)
//!  Sink ─► exec::record_sink        (no Sink) ─► exec::result_sink
//! ```
//!
//! A projection maps rows one to one, so it is fused into the terminal (which can then copy
//! stored JSON text straight into results); LIMIT, which the logical plan applies after the
//! projection, runs just before it, which gives the same rows. A new operator is a new
//! file in `exec` and a line here.

use std::sync::Arc;

use crate::error::Result;
use crate::exec::aggregate::operator::Aggregate;
use crate::exec::aggregate::windowed::WindowedAggregate;
use crate::exec::filter::Filter;
use crate::exec::flat_map::FlatMapOperator;
use crate::exec::limit::Limit;
use crate::exec::operator::Operator;
use crate::exec::join::JoinStage;
use crate::exec::pipeline::{JoinFront, Pipeline};
use crate::exec::project::Projection;
use crate::exec::record_sink::RecordSink;
use crate::exec::result_sink::ResultSink;
use crate::exec::scan::{Scan, Tombstones};
use crate::sql::ast::SourceKind;
use crate::state::{MemoryStore, SharedWriteCache, WriteBackCache, CACHE_BYTES_DEFAULT};
use std::sync::Mutex;

use super::logical::LogicalPlan;

/// The pipeline of a push or pull query: its rows become result rows. `group_deletes`: an
/// aggregate's groups that stop passing HAVING come out as tombstone rows (a pull query
/// over an aggregate folds them away) instead of being dropped.
pub(crate) fn result_pipeline(
    plan: &LogicalPlan,
    query_id: &Arc<str>,
    group_deletes: bool,
) -> Result<Pipeline<ResultSink>> {
    // A push query's aggregation lives as long as the query: its state in memory.
    let state: SharedWriteCache = Arc::new(Mutex::new(WriteBackCache::new(
        Arc::new(MemoryStore::new()),
        CACHE_BYTES_DEFAULT,
    )));
    let (scan, operators) = scan_and_operators(plan, query_id, &state)?;
    let projection: Vec<Projection> = plan
        .output_columns()
        .iter()
        .map(|c| c.projection.clone())
        .collect();
    // Tombstones reach the terminal only from a table's scan (or a table-table join), and
    // then (no aggregate in between) they are the table's deletes.
    let tombstone_rows = group_deletes
        || !plan
            .chain()
            .any(|p| matches!(p, LogicalPlan::Aggregate { .. }));
    with_join(
        plan,
        query_id,
        &state,
        Pipeline::new(
            scan,
            operators,
            ResultSink::new(Arc::clone(query_id), projection, tombstone_rows),
        ),
    )
}

/// The pipeline of a persistent query: its rows become records of a sink topic with
/// `sink_partitions` partitions (the topic's, which an INSERT INTO does not choose). A
/// stateful step keeps its state in `state`, the cache over the query's store.
pub(crate) fn sink_pipeline(
    plan: &LogicalPlan,
    query_id: &Arc<str>,
    sink_partitions: u32,
    state: &SharedWriteCache,
) -> Result<Pipeline<RecordSink>> {
    let (scan, operators) = scan_and_operators(plan, query_id, state)?;
    let Some(LogicalPlan::Sink { sink, .. }) =
        plan.chain().find(|p| matches!(p, LogicalPlan::Sink { .. }))
    else {
        unreachable!("a persistent query's plan has a sink");
    };
    let projection = plan
        .sink_projection()
        .expect("a persistent query's plan has a projection");
    let pipeline = Pipeline::new(
        scan,
        operators,
        RecordSink::new(
            Arc::clone(query_id),
            Arc::clone(sink),
            sink_partitions,
            projection,
        ),
    );
    with_join(plan, query_id, state, pipeline)
}

/// Adds a join plan's other scans and its join stage (state in `state`) to `pipeline`.
fn with_join<T: crate::exec::operator::Terminal>(
    plan: &LogicalPlan,
    query_id: &Arc<str>,
    state: &SharedWriteCache,
    pipeline: Pipeline<T>,
) -> Result<Pipeline<T>> {
    let Some((leaves, spec)) = plan.join() else {
        return Ok(pipeline);
    };
    let scans = leaves
        .iter()
        .skip(1)
        .map(|l| Scan::new(&l.source, &l.decode, l.tombstones))
        .collect();
    let stage = JoinStage::new(Arc::clone(query_id), spec.clone(), Arc::clone(state))?;
    Ok(pipeline.with_join(JoinFront { scans, stage }))
}

/// The scan, and the operators between it and the terminal, bottom up.
fn scan_and_operators(
    plan: &LogicalPlan,
    query_id: &Arc<str>,
    state: &SharedWriteCache,
) -> Result<(Scan, Vec<Box<dyn Operator>>)> {
    let scan = plan.scan();
    // A table's tombstone is the delete of its key: it passes a WHERE as the delete of a
    // row that may have passed. A stream's null-value record never does.
    let deletes_pass = scan.source.kind == SourceKind::Table && scan.tombstones == Tombstones::Forward;
    let mut operators: Vec<Box<dyn Operator>> = Vec::new();
    let mut steps: Vec<&LogicalPlan> = plan.chain().collect();
    steps.reverse();
    for step in steps {
        match step {
            LogicalPlan::Filter { predicate, .. } => operators.push(Box::new(Filter::new(
                Arc::clone(query_id),
                predicate.clone(),
                deletes_pass,
            ))),
            LogicalPlan::FlatMap { functions, .. } if !functions.is_empty() => {
                operators.push(Box::new(FlatMapOperator::new(
                    Arc::clone(query_id),
                    functions.clone(),
                )))
            }
            LogicalPlan::Limit { rows_max, .. } => {
                operators.push(Box::new(Limit::new(*rows_max)));
            }
            LogicalPlan::Aggregate { spec, .. } if spec.window.is_some() => {
                operators.push(Box::new(WindowedAggregate::new(
                    Arc::clone(query_id),
                    (**spec).clone(),
                    Arc::clone(state),
                )?))
            }
            LogicalPlan::Aggregate { spec, .. } => operators.push(Box::new(Aggregate::new(
                Arc::clone(query_id),
                (**spec).clone(),
                Arc::clone(state),
            )?)),
            LogicalPlan::Scan(_)
            | LogicalPlan::Join { .. }
            | LogicalPlan::FlatMap { .. }
            | LogicalPlan::Project { .. }
            | LogicalPlan::Sink { .. } => {}
        }
    }
    Ok((
        Scan::new(&scan.source, &scan.decode, scan.tombstones),
        operators,
    ))
}
