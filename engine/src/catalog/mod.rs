//! The catalog: streams and tables, and the queries that run over them.
//!
//! The catalog is an immutable snapshot (`CatalogState`) behind a lock; statements are
//! validated against a clone (ksqlDB's sandbox) and then applied for real, so a request
//! whose third statement is invalid changes nothing. Every applied CREATE/DROP is written
//! to the durable journal first and replayed on start, as ksqlDB replays its command topic.

pub mod queries;
pub mod source;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use queries::{QueryRegistry, RunningQuery};
pub use source::Source;

/// One consistent view of every registered source.
#[derive(Debug, Clone, Default)]
pub struct CatalogState {
    pub sources: BTreeMap<String, Arc<Source>>,
}

impl CatalogState {
    pub fn source(&self, name: &str) -> Option<&Arc<Source>> {
        self.sources.get(name)
    }
}
