//! SHOW / LIST / DESCRIBE: read-only views of the catalog, the log and the queries.

use std::sync::Arc;

use crate::catalog::{CatalogState, PersistentQuery, Source};
use crate::runtime::Runtime;
use crate::error::{EngineError, Result};
use crate::sql::ast::SourceKind;

use super::outcome::{Outcome, QuerySummary, QueryType, SourceDetail};

pub(crate) fn list_sources(
    engine: &Runtime,
    state: &CatalogState,
    kind: SourceKind,
    extended: bool,
) -> Outcome {
    let sources: Vec<Arc<Source>> = state
        .sources
        .values()
        .filter(|s| s.kind == kind)
        .cloned()
        .collect();
    if extended {
        Outcome::SourceDescriptions {
            details: sources
                .into_iter()
                .map(|s| detail(engine, state, s))
                .collect(),
        }
    } else {
        Outcome::Sources { kind, sources }
    }
}

pub(crate) fn list_topics(engine: &Runtime) -> Outcome {
    let mut topics = engine.log.list_topics();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Outcome::Topics { topics }
}

pub(crate) fn list_queries(engine: &Runtime, state: &CatalogState) -> Outcome {
    let mut queries = persistent_queries(engine, state, |_| true);
    queries.extend(push_queries(engine, None));
    Outcome::Queries { queries }
}

/// Persistent queries in the catalog that `pick` selects.
fn persistent_queries(
    engine: &Runtime,
    state: &CatalogState,
    pick: impl Fn(&PersistentQuery) -> bool,
) -> Vec<QuerySummary> {
    state
        .persistent
        .values()
        .filter(|q| pick(q))
        .map(|q| QuerySummary {
            id: q.id.clone(),
            sql: q.plan.statement_text.clone(),
            sinks: vec![q.plan.sink.name.clone()],
            sink_topics: vec![q.plan.sink.topic.clone()],
            query_type: QueryType::Persistent,
            state: engine.persistent.state(&q.id).name(),
        })
        .collect()
}

/// Push queries currently running, optionally only those reading `source`.
fn push_queries(engine: &Runtime, source: Option<&str>) -> Vec<QuerySummary> {
    engine
        .queries
        .list()
        .iter()
        .filter(|q| source.is_none_or(|s| q.source == s))
        .map(|q| QuerySummary {
            id: q.id.clone(),
            sql: q.sql.clone(),
            sinks: Vec::new(),
            sink_topics: Vec::new(),
            query_type: QueryType::Push,
            state: "RUNNING",
        })
        .collect()
}

pub fn list_properties() -> Outcome {
    Outcome::Properties {
        properties: vec![
            ("ksql.streams.auto.offset.reset".into(), "latest".into()),
            ("ksql.persistence.default.format.key".into(), "KAFKA".into()),
        ],
    }
}

pub(crate) fn describe(
    engine: &Runtime,
    state: &CatalogState,
    name: &str,
    extended: bool,
) -> Result<Outcome> {
    let source = state.source(name).cloned().ok_or_else(|| {
        EngineError::statement(format!(
            "Could not find STREAM/TABLE '{name}' in the Metastore"
        ))
    })?;
    Ok(Outcome::Description {
        detail: detail(engine, state, source),
        extended,
    })
}

fn detail(engine: &Runtime, state: &CatalogState, source: Arc<Source>) -> SourceDetail {
    let partitions = engine
        .log
        .topic(&source.topic)
        .map(|t| t.partition_count())
        .unwrap_or(0);
    let mut read_queries = persistent_queries(engine, state, |q| q.source_name() == source.name);
    read_queries.extend(push_queries(engine, Some(&source.name)));
    let write_queries = persistent_queries(engine, state, |q| q.sink_name() == source.name);
    SourceDetail {
        source,
        partitions,
        read_queries,
        write_queries,
    }
}
