//! Planning: SQL → logical plan (names resolved, types known) → physical pipeline.
//!
//! ```text
//!  Query AST ─► scope (names → row slots) ─► select (SELECT list → columns, table functions)
//!            ─► transient (push/pull: results)  │
//!            ─► persistent (CSAS/CTAS/INSERT INTO: sink key and value)  ─► logical ─► physical
//! ```
//!
//! One planner for every kind of query: both kinds share FROM, WHERE and the SELECT list,
//! and differ only in what their rows become. Aggregate, window and join plans are further
//! nodes of the one logical tree.
//!
//! - `scope`: column names → row slots and types; resolvers that record what is read.
//! - `select`: the SELECT list as output columns.
//! - `table_function`: EXPLODE/CUBE_EXPLODE calls bound to slots after the source row.
//! - `transient`: push and pull queries (ids, start position, pull-query checks).
//! - `persistent`: persistent queries and their sinks (key columns, PARTITION BY).
//! - `join`: FROM with JOINs: sources laid out in one row, join nodes, the result key;
//!   persistent joins (aggregated, re-partitioned or not) in `join/`, push joins in
//!   `join/push.rs`.
//! - `aggregate`: GROUP BY: key columns, aggregate calls, the projection over their output.
//! - `pull_where`: ksqlDB's checks on a pull query's WHERE over a table (key lookups).
//! - `pull_cache`: key lookups' plans kept by statement shape (literals taken out).
//! - `logical`: the plan tree.
//! - `physical`: the plan tree → `exec` pipeline.

pub(crate) mod aggregate;
pub(crate) mod join;
pub mod logical;
pub(crate) mod pull_cache;
pub(crate) mod pull_where;
pub mod persistent;
pub(crate) mod physical;
pub(crate) mod scope;
pub(crate) mod select;
pub mod table_function;
pub mod transient;

/// A catalog of the sources `ddl`'s CREATE statements declare, for planner tests.
#[cfg(test)]
pub(crate) fn test_catalog(ddl: &str) -> crate::catalog::CatalogState {
    use crate::statements::create::{plan_create, PersistenceConfig};
    let mut state = crate::catalog::CatalogState::default();
    for parsed in crate::sql::parse(ddl).expect("DDL parses") {
        let crate::sql::ast::Statement::CreateSource(create) = parsed.statement else {
            panic!("not a CREATE");
        };
        let source = plan_create(&create, &parsed.text, &PersistenceConfig::default())
            .expect("DDL plans")
            .source;
        state
            .sources
            .insert(source.name.clone(), std::sync::Arc::new(source));
    }
    state
}
