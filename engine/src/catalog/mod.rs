//! The catalog: streams and tables, and the queries that run over them.
//!
//! The catalog is an immutable snapshot (`CatalogState`) behind a lock; statements are
//! validated against a clone (ksqlDB's sandbox) and then applied for real, so a request
//! whose third statement is invalid changes nothing. Every applied CREATE/DROP is written
//! to the durable journal first and replayed on start, as ksqlDB replays its command topic.

pub mod command_log;
pub mod command_status;
pub mod queries;
pub mod source;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use command_log::{CommandLog, JournalCommandLog};
pub use command_status::{CommandStatus, CommandStatuses};
pub use queries::{QueryRegistry, RunningQuery};
pub use source::{Source, SourceLookup};

/// One consistent view of every registered source and persistent query.
#[derive(Debug, Clone, Default)]
pub struct CatalogState {
    pub sources: BTreeMap<String, Arc<Source>>,
    /// Persistent queries by id: part of the catalog because DROP must refuse to remove a
    /// source they read or write, also within one request's sandbox.
    pub persistent: BTreeMap<String, Arc<PersistentQuery>>,
    /// Custom types by name (`CREATE TYPE`), resolved when statements are parsed.
    pub types: crate::sql::TypeRegistry,
}

/// A persistent query (CSAS, CTAS, INSERT INTO … SELECT) as the catalog knows it.
#[derive(Debug)]
pub struct PersistentQuery {
    pub id: String,
    pub plan: Arc<crate::query::persistent::PersistentPlan>,
}

impl PersistentQuery {
    pub fn source_name(&self) -> &str {
        &self.plan.source.name
    }

    pub fn sink_name(&self) -> &str {
        &self.plan.sink.name
    }
}

impl CatalogState {
    pub fn source(&self, name: &str) -> Option<&Arc<Source>> {
        self.sources.get(name)
    }

    /// Ids of the persistent queries reading `source`, and of those writing into it.
    pub fn queries_using(&self, source: &str) -> (Vec<String>, Vec<String>) {
        let ids = |pick: fn(&PersistentQuery) -> &str| -> Vec<String> {
            self.persistent
                .values()
                .filter(|q| pick(q) == source)
                .map(|q| q.id.clone())
                .collect()
        };
        (
            ids(PersistentQuery::source_name),
            ids(PersistentQuery::sink_name),
        )
    }
}

impl SourceLookup for CatalogState {
    fn source(&self, name: &str) -> Option<&Arc<Source>> {
        self.sources.get(name)
    }

    fn writers_of(&self, source: &str) -> usize {
        self.queries_using(source).1.len()
    }

    fn custom_types(&self) -> crate::sql::TypeRegistry {
        self.types.clone()
    }
}
