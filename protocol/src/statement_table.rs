//! A statement's outcome as a plain table (columns, rows of JSON cells), for the faces
//! whose statement results are tables rather than ksqlDB's entities: DeltaStream shows every
//! statement's result as rows, Roe as a row matrix.
//!
//! DDL and other commands become one row of `Type | Name | Command | Summary`, the shape
//! DeltaStream's tools read (terraform takes `Name` as the query id of a statement that
//! starts one); listings become one row per item.

use sluice_engine::types::{ColumnKind, SqlType};
use sluice_engine::{CellRef, Outcome, QuerySummary, ResultRows, SourceKind, StatementResult};

use crate::value_json::write_value;

/// One cell of a result table, as ksqlDB's results show it, keeping number text exact
/// (a DECIMAL's `12.10` must not become the float `12.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    /// A JSON string's content.
    Text(String),
    /// The JSON text of any other value: a number, a boolean, an array or an object.
    Json(String),
}

impl Cell {
    /// The cell for the JSON text of one result value.
    pub fn from_json_text(text: &[u8]) -> Cell {
        match text.first() {
            None => Cell::Null,
            Some(b'"') => match serde_json::from_slice::<String>(text) {
                Ok(s) => Cell::Text(s),
                Err(_) => Cell::Json(String::from_utf8_lossy(text).into_owned()),
            },
            Some(_) if text == b"null" => Cell::Null,
            Some(_) => Cell::Json(String::from_utf8_lossy(text).into_owned()),
        }
    }

    /// The cell as JSON text (for faces that show native JSON values).
    pub fn to_json_text(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Text(s) => serde_json::Value::from(s.as_str()).to_string(),
            Cell::Json(text) => text.clone(),
        }
    }

    /// About how many bytes the cell holds.
    pub fn bytes(&self) -> usize {
        match self {
            Cell::Null => 0,
            Cell::Text(s) | Cell::Json(s) => s.len(),
        }
    }
}

/// Appends query result rows as table rows.
pub fn append_rows(rows: &ResultRows, out: &mut Vec<Vec<Cell>>) {
    let mut text = Vec::new();
    for row in rows.rows() {
        out.push(
            row.map(|cell| match cell {
                CellRef::Json(bytes) => Cell::from_json_text(bytes),
                CellRef::Value(value) => {
                    text.clear();
                    write_value(value, &mut text);
                    Cell::from_json_text(&text)
                }
            })
            .collect(),
        );
    }
}

/// A result table: column names and types, and rows of cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, SqlType)>,
    pub rows: Vec<Vec<Cell>>,
    /// The command's human message, if it has one.
    pub message: Option<String>,
}

const COMMAND_COLUMNS: [&str; 4] = ["Type", "Name", "Command", "Summary"];

fn columns(names: &[&str], ty: &SqlType) -> Vec<(String, SqlType)> {
    names.iter().map(|n| (n.to_string(), ty.clone())).collect()
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn number(n: u32) -> Cell {
    Cell::Json(n.to_string())
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
            // ksqlDB's command ids read ``stream/`PAGEVIEWS`/create``.
            let mut pieces = command_id.splitn(3, '/');
            let kind = pieces.next().unwrap_or_default();
            let entity = pieces.next().unwrap_or_default().trim_matches('`');
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
                        number(d.partitions),
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
                        Cell::Json((c.kind == ColumnKind::Key).to_string()),
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
                .map(|t| vec![text(&t.name), number(t.partitions)])
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
        Outcome::Types { types } => Table {
            columns: columns(&["Type Name", "Schema"], &SqlType::String),
            rows: types
                .iter()
                .map(|(name, ty)| vec![text(name), text(ty.to_string())])
                .collect(),
            message: None,
        },
        Outcome::Nothing => Table::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_number_text_exact() {
        assert_eq!(Cell::from_json_text(b"12.10"), Cell::Json("12.10".into()));
        assert_eq!(
            Cell::from_json_text(br#""a\"b""#),
            Cell::Text(r#"a"b"#.into())
        );
        assert_eq!(Cell::from_json_text(b"null"), Cell::Null);
        assert_eq!(
            Cell::from_json_text(br#"[1,{"A":2}]"#),
            Cell::Json(r#"[1,{"A":2}]"#.into())
        );
        assert_eq!(Cell::Text(r#"q""#.into()).to_json_text(), r#""q\"""#);
    }
}
