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
    /// SHOW TYPES: the custom types by name.
    Types {
        types: Vec<(String, crate::types::SqlType)>,
    },
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

/// Bytes an entity's JSON adds beyond the strings it carries (field names, punctuation,
/// numbers): generous, so estimates err on the large side.
const ENTITY_OVERHEAD_BYTES: usize = 256;

/// Bytes a column adds to a DESCRIBE beyond its name: its `schema` object is about this
/// many times its type's SQL text.
const COLUMN_SCHEMA_BYTES_PER_TYPE_CHAR: usize = 8;

impl StatementResult {
    /// About how many bytes this result's entity renders to. The `/ksql` statement loop sums
    /// these to refuse a request whose answer would exceed
    /// [`KSQL_RESPONSE_BYTES_MAX`](crate::limits::KSQL_RESPONSE_BYTES_MAX) before anything
    /// runs; the renderer enforces the same bound on what it actually writes.
    pub fn wire_bytes_estimate(&self) -> usize {
        self.statement_text.len() + self.outcome.wire_bytes_estimate()
    }
}

impl Outcome {
    /// About how many bytes this outcome's entity renders to, statement text aside.
    pub fn wire_bytes_estimate(&self) -> usize {
        let strings = match self {
            Outcome::Nothing => return 0,
            Outcome::CommandStatus {
                command_id,
                message,
                ..
            } => command_id.len() + message.len(),
            Outcome::Sources { sources, .. } => sources
                .iter()
                .map(|s| s.name.len() + s.topic.len() + ENTITY_OVERHEAD_BYTES)
                .sum(),
            Outcome::SourceDescriptions { details } => details.iter().map(detail_bytes).sum(),
            Outcome::Topics { topics } => topics
                .iter()
                .map(|t| t.name.len() + 2 * t.partitions as usize + ENTITY_OVERHEAD_BYTES)
                .sum(),
            Outcome::Queries { queries } => queries.iter().map(query_bytes).sum(),
            Outcome::Description { detail, .. } => detail_bytes(detail),
            Outcome::TerminateQuery { query_id, .. } => query_id.len(),
            Outcome::Properties { properties } => properties
                .iter()
                .map(|(k, v)| k.len() + v.len() + ENTITY_OVERHEAD_BYTES)
                .sum(),
            Outcome::Types { types } => types
                .iter()
                .map(|(name, ty)| name.len() + ty.to_string().len() * 4 + ENTITY_OVERHEAD_BYTES)
                .sum(),
            Outcome::QueryDescription(d) => {
                d.statement_text.len()
                    + d.topology.len()
                    + d.execution_plan.len()
                    + columns_bytes(&d.fields)
                    + d.sources
                        .iter()
                        .chain(&d.sinks)
                        .chain(&d.sink_topics)
                        .map(String::len)
                        .sum::<usize>()
            }
        };
        strings + ENTITY_OVERHEAD_BYTES
    }
}

fn query_bytes(q: &QuerySummary) -> usize {
    q.id.len()
        + q.sql.len()
        + q.sinks
            .iter()
            .chain(&q.sink_topics)
            .map(String::len)
            .sum::<usize>()
        + ENTITY_OVERHEAD_BYTES
}

fn columns_bytes(columns: &[crate::types::Column]) -> usize {
    columns
        .iter()
        .map(|c| {
            c.name.len()
                + c.ty.to_string().len() * COLUMN_SCHEMA_BYTES_PER_TYPE_CHAR
                + ENTITY_OVERHEAD_BYTES
        })
        .sum()
}

fn detail_bytes(d: &SourceDetail) -> usize {
    let s = &d.source;
    s.name.len()
        + s.topic.len()
        + s.statement_text.len()
        + columns_bytes(&s.schema.columns)
        + d.read_queries
            .iter()
            .chain(&d.write_queries)
            .map(query_bytes)
            .sum::<usize>()
        + 4 * ENTITY_OVERHEAD_BYTES
}
