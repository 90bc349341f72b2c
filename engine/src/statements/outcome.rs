//! What a `/ksql` statement produced, independent of any wire shape.
//!
//! The protocol crate renders each outcome as the matching ksqlDB entity (`currentStatus`,
//! `streams`, `sourceDescription`, ...).

use std::sync::Arc;

use crate::catalog::Source;
use crate::log::TopicInfo;
use crate::sql::ast::SourceKind;

#[derive(Debug, Clone)]
pub struct QuerySummary {
    pub id: String,
    pub sql: String,
    pub sinks: Vec<String>,
    pub sink_topics: Vec<String>,
    pub query_type: QueryType,
    pub state: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryType {
    Persistent,
    Push,
}

impl QueryType {
    pub fn name(self) -> &'static str {
        match self {
            QueryType::Persistent => "PERSISTENT",
            QueryType::Push => "PUSH",
        }
    }
}

/// A source with what DESCRIBE reports beside its definition.
#[derive(Debug, Clone)]
pub struct SourceDetail {
    pub source: Arc<Source>,
    pub partitions: u32,
    pub read_queries: Vec<QuerySummary>,
    pub write_queries: Vec<QuerySummary>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// CREATE / DROP / TERMINATE of a persistent query: ksqlDB's `currentStatus`.
    CommandStatus {
        command_id: String,
        message: String,
        query_id: Option<String>,
        command_seq: u64,
    },
    /// SHOW STREAMS / SHOW TABLES.
    Sources {
        kind: SourceKind,
        sources: Vec<Arc<Source>>,
    },
    /// SHOW STREAMS EXTENDED / DESCRIBE STREAMS.
    SourceDescriptions {
        details: Vec<SourceDetail>,
    },
    Topics {
        topics: Vec<TopicInfo>,
    },
    Queries {
        queries: Vec<QuerySummary>,
    },
    Description {
        detail: SourceDetail,
        extended: bool,
    },
    TerminateQuery {
        query_id: String,
        was_terminated: bool,
    },
    Properties {
        properties: Vec<(String, String)>,
    },
    /// EXPLAIN of a persistent query: ksqlDB's `queryDescription`.
    QueryDescription(Box<QueryDescription>),
    /// INSERT VALUES, SET, UNSET, DEFINE, UNDEFINE: no entity in the response.
    Nothing,
}

/// A persistent query as EXPLAIN describes it.
#[derive(Debug, Clone)]
pub struct QueryDescription {
    pub id: String,
    /// The statement that created the query.
    pub statement_text: String,
    /// The sink's columns (key columns first).
    pub fields: Vec<crate::types::Column>,
    pub sources: Vec<String>,
    pub sinks: Vec<String>,
    pub sink_topics: Vec<String>,
    pub topology: String,
    pub execution_plan: String,
    pub state: String,
}

/// An outcome with the statement text it answers (ksqlDB's `statementText`).
#[derive(Debug, Clone)]
pub struct StatementResult {
    pub statement_text: String,
    pub outcome: Outcome,
}
