//! Logical schemas: the ordered, named, typed columns of a stream, table or query result.

use super::sql_type::SqlType;

/// Where a column lives in a Kafka record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Serialized into the record key (`KEY` / `PRIMARY KEY`).
    Key,
    /// Serialized into the record value.
    Value,
    /// Read from record headers (`HEADERS` or `HEADER('k')`).
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Case-preserved stored name (unquoted identifiers are already upper-cased).
    pub name: String,
    pub ty: SqlType,
    pub kind: ColumnKind,
    /// For `HEADER('k')` columns, the header key.
    pub header_key: Option<String>,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: SqlType, kind: ColumnKind) -> Column {
        Column {
            name: name.into(),
            ty,
            kind,
            header_key: None,
        }
    }
}

/// Ordered columns: key columns first, then value (and header) columns, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Schema {
    pub columns: Vec<Column>,
}

impl Schema {
    pub fn new(columns: Vec<Column>) -> Schema {
        Schema { columns }
    }

    pub fn find(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Key)
    }

    pub fn values(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Value)
    }

    /// The `schema` text of the v1+json header: "`A` STRING, `B` INTEGER".
    pub fn to_schema_text(&self, mark_keys: bool) -> String {
        let mut out = String::new();
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('`');
            out.push_str(&c.name);
            out.push_str("` ");
            out.push_str(&c.ty.to_string());
            if mark_keys && c.kind == ColumnKind::Key {
                out.push_str(" KEY");
            }
        }
        out
    }
}

/// Pseudo columns every stream row carries; never part of `SELECT *` (ksqldb-api.md §7).
pub const PSEUDO_ROWTIME: &str = "ROWTIME";
pub const PSEUDO_ROWPARTITION: &str = "ROWPARTITION";
pub const PSEUDO_ROWOFFSET: &str = "ROWOFFSET";

/// Number of pseudo columns every source row carries after its declared columns: ROWTIME,
/// ROWPARTITION and ROWOFFSET, in that order.
pub const PSEUDO_COLUMN_COUNT: usize = 3;
