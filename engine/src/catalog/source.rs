//! A source: a stream or table registered in the catalog, bound to a topic.

use std::sync::Arc;

use crate::format::{KeyFormat, ValueFormat, ValueWrapping};
use crate::sql::ast::SourceKind;
use crate::types::{ColumnKind, Schema};

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Stored (case-normalised) name.
    pub name: String,
    pub kind: SourceKind,
    /// Key columns first, then value columns, in declaration order.
    pub schema: Schema,
    pub topic: String,
    pub key_format: KeyFormat,
    pub value_format: ValueFormat,
    /// Whether the single value column is stored bare (`WRAP_SINGLE_VALUE=false`).
    pub value_wrapping: ValueWrapping,
    /// `TIMESTAMP=` column whose value becomes ROWTIME.
    pub timestamp_column: Option<String>,
    /// `TIMESTAMP_FORMAT=`: the Java `DateTimeFormatter` pattern that parses a STRING
    /// timestamp column.
    pub timestamp_format: Option<String>,
    /// The CREATE statement as the user wrote it (DESCRIBE's `statement`).
    pub statement_text: String,
    /// `CREATE SOURCE ...`: inserts are refused.
    pub read_only: bool,
    /// A windowed table or stream: its keys carry a window (a windowed aggregate's sink, or
    /// `WITH (WINDOW_TYPE=…)`).
    pub window: Option<SourceWindow>,
}

/// ksqlDB's window types, as DESCRIBE and `WINDOW_TYPE` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowType {
    Tumbling,
    Hopping,
    Session,
}

impl WindowType {
    pub fn name(self) -> &'static str {
        match self {
            WindowType::Tumbling => "TUMBLING",
            WindowType::Hopping => "HOPPING",
            WindowType::Session => "SESSION",
        }
    }

    pub fn key_kind(self) -> crate::format::window_key::WindowKeyKind {
        match self {
            WindowType::Session => crate::format::window_key::WindowKeyKind::Session,
            _ => crate::format::window_key::WindowKeyKind::Time,
        }
    }
}

/// A windowed source's window: its type and, for time windows, its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceWindow {
    pub kind: WindowType,
    pub size_ms: Option<u64>,
}

impl Source {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }

    /// Lower-case kind for command ids and messages (`stream/`X`/create`).
    pub fn kind_word(&self) -> &'static str {
        kind_word(self.kind)
    }

    pub fn has_key_columns(&self) -> bool {
        self.schema
            .columns
            .iter()
            .any(|c| c.kind == ColumnKind::Key)
    }

    /// A stream `name` over topic `t` with `schema`, KAFKA keys and JSON values: what unit
    /// tests below the planner scan.
    #[cfg(test)]
    pub(crate) fn test_stream(name: &str, schema: Schema) -> Source {
        Source {
            name: name.to_string(),
            kind: SourceKind::Stream,
            schema,
            topic: "t".to_string(),
            key_format: KeyFormat::Kafka,
            value_format: ValueFormat::Json,
            value_wrapping: ValueWrapping::Wrapped,
            timestamp_column: None,
            timestamp_format: None,
            statement_text: String::new(),
            read_only: false,
            window: None,
        }
    }
}

pub fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    }
}

/// What planning a query needs to know of the catalog. The catalog implements it; the
/// planner takes it as a trait because the catalog stores planned persistent queries, so
/// it sits above the planner.
pub trait SourceLookup {
    /// The stream or table called `name`.
    fn source(&self, name: &str) -> Option<&Arc<Source>>;
    /// How many persistent queries write into `source`.
    fn writers_of(&self, source: &str) -> usize;
    /// The custom types (`CREATE TYPE`) a query's type names may refer to.
    fn custom_types(&self) -> crate::sql::TypeRegistry {
        crate::sql::TypeRegistry::new()
    }
}
