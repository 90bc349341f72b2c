//! A statement's outcome as a plain table (columns, rows of JSON cells), for the faces
//! whose statement results are tables rather than ksqlDB's entities: DeltaStream shows every
//! statement's result as rows, Roe as a row matrix.
//!
//! DDL and other commands become one row of `Type | Name | Command | Summary`, the shape
//! DeltaStream's tools read (terraform takes `Name` as the query id of a statement that
//! starts one); listings become one row per item.

use serde_json::Value as Json;
use sluice_engine::types::{ColumnKind, SqlType};
use sluice_engine::{Outcome, QuerySummary, SourceKind, StatementResult};

/// A result table: column names and types, and rows of cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, SqlType)>,
    pub rows: Vec<Vec<Json>>,
    /// The command's human message, if it has one.
    pub message: Option<String>,
}

const COMMAND_COLUMNS: [&str; 4] = ["Type", "Name", "Command", "Summary"];

fn columns(names: &[&str], ty: &SqlType) -> Vec<(String, SqlType)> {
    names.iter().map(|n| (n.to_string(), ty.clone())).collect()
}

fn text(s: impl Into<String>) -> Json {
    Json::String(s.into())
}

fn command_row(kind: &str, name: &str, command: &str, summary: &str) -> Table {
    Table {
        columns: columns(&COMMAND_COLUMNS, &SqlType::String),
        rows: vec![vec![text(kind), text(name), text(command), text(summary)]],
        message: Some(summary.to_string()),
    }
}

/// DeltaStream's word for a source kind: a ksqlDB TABLE is a changelog there.
pub fn relation_kind(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "changelog",
    }
}

fn query_rows(queries: &[QuerySummary]) -> Table {
    Table {
        columns: columns(&["ID", "ActualState", "Query", "Sinks"], &SqlType::String),
        rows: queries
            .iter()
            .map(|q| {
                vec![
                    text(&q.id),
                    text(q.state.to_ascii_lowercase()),
                    text(&q.sql),
                    text(q.sinks.join(",")),
                ]
            })
            .collect(),
        message: None,
    }
}

/// The table of one statement's outcome.
pub fn outcome_table(result: &StatementResult) -> Table {
    match &result.outcome {
        Outcome::CommandStatus {
            command_id,
            message,
            query_id,
            ..
        } => {
            // ksqlDB's command ids read `stream/PAGEVIEWS/create`.
            let mut pieces = command_id.splitn(3, '/');
            let kind = pieces.next().unwrap_or_default();
            let entity = pieces.next().unwrap_or_default();
            let action = pieces.next().unwrap_or_default().to_ascii_uppercase();
            let kind = match kind {
                "table" => "changelog",
                other => other,
            };
            let name = query_id.as_deref().unwrap_or(entity);
            command_row(kind, name, &action, message)
        }
        Outcome::TerminateQuery { query_id, .. } => {
            command_row("query", query_id, "TERMINATE", "Query terminated.")
        }
        Outcome::Sources { sources, .. } => Table {
            columns: columns(&["Name", "Type", "Topic"], &SqlType::String),
            rows: sources
                .iter()
                .map(|s| vec![text(&s.name), text(relation_kind(s.kind)), text(&s.topic)])
                .collect(),
            message: None,
        },
        Outcome::SourceDescriptions { details } => Table {
            columns: vec![
                ("Name".into(), SqlType::String),
                ("Type".into(), SqlType::String),
                ("Topic".into(), SqlType::String),
                ("Partitions".into(), SqlType::Integer),
            ],
            rows: details
                .iter()
                .map(|d| {
                    vec![
                        text(&d.source.name),
                        text(relation_kind(d.source.kind)),
                        text(&d.source.topic),
                        Json::from(d.partitions),
                    ]
                })
                .collect(),
            message: None,
        },
        Outcome::Description { detail, .. } => Table {
            columns: vec![
                ("Name".into(), SqlType::String),
                ("Type".into(), SqlType::String),
                ("Key".into(), SqlType::Boolean),
            ],
            rows: detail
                .source
                .schema
                .columns
                .iter()
                .map(|c| {
                    vec![
                        text(&c.name),
                        text(c.ty.to_string()),
                        Json::Bool(c.kind == ColumnKind::Key),
                    ]
                })
                .collect(),
            message: None,
        },
        Outcome::Topics { topics } => Table {
            columns: vec![
                ("Name".into(), SqlType::String),
                ("Partitions".into(), SqlType::Integer),
            ],
            rows: topics
                .iter()
                .map(|t| vec![text(&t.name), Json::from(t.partitions)])
                .collect(),
            message: None,
        },
        Outcome::Queries { queries } => query_rows(queries),
        Outcome::Properties { properties } => Table {
            columns: columns(&["Name", "Value"], &SqlType::String),
            rows: properties
                .iter()
                .map(|(k, v)| vec![text(k), text(v)])
                .collect(),
            message: None,
        },
        Outcome::QueryDescription(description) => Table {
            columns: columns(&["ID", "Statement", "State"], &SqlType::String),
            rows: vec![vec![
                text(&description.id),
                text(&description.statement_text),
                text(description.state.to_ascii_lowercase()),
            ]],
            message: None,
        },
        Outcome::Nothing => Table::default(),
    }
}
