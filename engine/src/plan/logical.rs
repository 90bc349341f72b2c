//! The logical plan: what a query computes, as a tree of steps with names resolved and
//! expressions compiled and typed.
//!
//! ```text
//!  push/pull:   Limit? ─ Project ─ FlatMap? ─ Filter? ─ Scan
//!  persistent:  Sink ─ Project (key + value columns) ─ FlatMap? ─ Filter? ─ Scan
//!  aggregating: Sink ─ Project ─ Aggregate (GROUP BY, HAVING) ─ FlatMap? ─ Filter? ─ Scan
//!  joining:     Sink ─ Project ─ Filter? ─ Join (one scan per source)
//! ```
//!
//! One planner builds it for every kind of query (`transient`, `persistent`), the physical
//! builder (`physical`) turns it into a pipeline, and EXPLAIN describes it. Aggregate (with
//! its HAVING filter), window and join are further nodes: an `Aggregate` over its input, a
//! `Join` with two inputs, each becoming an operator in `exec`.

use std::sync::Arc;

use crate::catalog::Source;
use crate::exec::aggregate::AggregateSpec;
use crate::exec::flat_map::FlatMap;
use crate::exec::join::JoinSpec;
use crate::exec::project::Projection;
use crate::exec::record_sink::SinkProjection;
use crate::exec::scan::{DecodeColumns, Tombstones};
use crate::expr::CompiledExpr;
use crate::types::{ColumnKind, SqlType};

/// One step of a query and what it reads from.
#[derive(Debug, Clone)]
pub enum LogicalPlan {
    /// The records of a source, decoded into rows.
    Scan(ScanNode),
    /// Rows of several sources joined (`FROM a JOIN b …`): a leaf like `Scan`, reading one
    /// scan per source.
    Join {
        leaves: Vec<ScanNode>,
        spec: JoinSpec,
    },
    /// WHERE.
    Filter {
        input: Box<LogicalPlan>,
        predicate: CompiledExpr,
    },
    /// The SELECT list's table functions.
    FlatMap {
        input: Box<LogicalPlan>,
        functions: FlatMap,
    },
    /// The SELECT list: one output column per projection.
    Project {
        input: Box<LogicalPlan>,
        columns: Vec<OutputColumn>,
        /// For persistent queries over streams: each key column's value for a tombstone.
        tombstone_key: Vec<Option<Projection>>,
    },
    /// GROUP BY with its aggregate calls (and HAVING): rows become
    /// `[group key values…, aggregate results…]`.
    Aggregate {
        input: Box<LogicalPlan>,
        /// Boxed: the spec is the largest node by far.
        spec: Box<AggregateSpec>,
    },
    /// LIMIT.
    Limit {
        input: Box<LogicalPlan>,
        rows_max: u64,
    },
    /// A persistent query's sink: its rows become records of the sink's topic.
    Sink {
        input: Box<LogicalPlan>,
        sink: Arc<Source>,
        /// Partitions of the sink topic (when the query creates it).
        partitions: u32,
    },
}

#[derive(Debug, Clone)]
pub struct ScanNode {
    pub source: Arc<Source>,
    pub alias: Option<String>,
    pub decode: DecodeColumns,
    pub tombstones: Tombstones,
}

/// One output column of a projection.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    pub name: String,
    pub ty: SqlType,
    /// Key or value column of a sink; result columns are value columns.
    pub kind: ColumnKind,
    pub projection: Projection,
}

impl LogicalPlan {
    /// This plan with its rows kept only where `predicate` holds; unchanged without one.
    pub fn filtered(self, predicate: Option<CompiledExpr>) -> LogicalPlan {
        match predicate {
            Some(predicate) => LogicalPlan::Filter {
                input: Box::new(self),
                predicate,
            },
            None => self,
        }
    }

    /// This plan with each row expanded by the table `functions`; unchanged without any.
    pub fn flat_mapped(self, functions: FlatMap) -> LogicalPlan {
        match functions.is_empty() {
            true => self,
            false => LogicalPlan::FlatMap {
                input: Box::new(self),
                functions,
            },
        }
    }

    /// The step this one reads from; `None` for a scan.
    pub fn input(&self) -> Option<&LogicalPlan> {
        match self {
            LogicalPlan::Scan(_) | LogicalPlan::Join { .. } => None,
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::FlatMap { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Sink { input, .. } => Some(input),
        }
    }

    /// The steps from this one down to the scan.
    pub fn chain(&self) -> impl Iterator<Item = &LogicalPlan> {
        std::iter::successors(Some(self), |p| p.input())
    }

    /// The scan at the bottom of the chain.
    pub fn scan(&self) -> &ScanNode {
        match self.chain().last() {
            Some(LogicalPlan::Scan(scan)) => scan,
            // The first source of a join stands for the query where one source is asked for.
            Some(LogicalPlan::Join { leaves, .. }) => &leaves[0],
            _ => unreachable!("every plan chain ends in a scan"),
        }
    }

    /// The scan at the bottom of a single-source chain; `None` over a join.
    pub(crate) fn scan_mut(&mut self) -> Option<&mut ScanNode> {
        match self {
            LogicalPlan::Scan(scan) => Some(scan),
            LogicalPlan::Join { .. } => None,
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::FlatMap { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Sink { input, .. } => input.scan_mut(),
        }
    }

    /// The source the query reads.
    pub fn source(&self) -> &Arc<Source> {
        &self.scan().source
    }

    /// The aggregation, if the query has one.
    pub fn aggregate(&self) -> Option<&AggregateSpec> {
        self.chain().find_map(|p| match p {
            LogicalPlan::Aggregate { spec, .. } => Some(&**spec),
            _ => None,
        })
    }

    /// The join, if the query reads one: its scans and spec.
    pub fn join(&self) -> Option<(&[ScanNode], &JoinSpec)> {
        self.chain().find_map(|p| match p {
            LogicalPlan::Join { leaves, spec } => Some((leaves.as_slice(), spec)),
            _ => None,
        })
    }

    pub fn has_filter(&self) -> bool {
        self.chain()
            .any(|p| matches!(p, LogicalPlan::Filter { .. }))
    }

    /// The output columns of the (one) projection.
    pub fn output_columns(&self) -> &[OutputColumn] {
        self.chain()
            .find_map(|p| match p {
                LogicalPlan::Project { columns, .. } => Some(columns.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The LIMIT, if any.
    pub fn limit(&self) -> Option<u64> {
        self.chain().find_map(|p| match p {
            LogicalPlan::Limit { rows_max, .. } => Some(*rows_max),
            _ => None,
        })
    }

    /// For a projection straight over the scan of plain columns only (no WHERE, no table
    /// function, no expression, no LIMIT), the copied slots: results that cannot differ
    /// between two runs over the same records, so identical queries may share them.
    pub fn plain_column_slots(&self) -> Option<Vec<usize>> {
        let LogicalPlan::Project { input, columns, .. } = self else {
            return None;
        };
        if !matches!(**input, LogicalPlan::Scan(_)) {
            return None;
        }
        columns
            .iter()
            .map(|c| match c.projection {
                Projection::Column(i) => Some(i),
                Projection::Expr(_) => None,
            })
            .collect()
    }

    /// The sink record projection of a persistent query's plan.
    pub(crate) fn sink_projection(&self) -> Option<SinkProjection> {
        self.chain().find_map(|p| match p {
            LogicalPlan::Project {
                columns,
                tombstone_key,
                ..
            } => Some(SinkProjection {
                key: pick(columns, ColumnKind::Key),
                value: pick(columns, ColumnKind::Value),
                tombstone_key: tombstone_key.clone(),
            }),
            _ => None,
        })
    }
}

fn pick(columns: &[OutputColumn], kind: ColumnKind) -> Vec<Projection> {
    columns
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.projection.clone())
        .collect()
}
