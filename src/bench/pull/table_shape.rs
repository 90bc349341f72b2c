//! The bench table's shape: its columns as `SELECT *` returns them, the statement that
//! creates it (a CTAS or a SOURCE table, `--pull-table`), and each key's expected row as the
//! loader's generator wrote it, compared canonically (numbers as floats, map entries in any
//! order).

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;

use anyhow::Context;
use serde_json::Value;
use sluice_engine::types::SqlType;

use super::super::rows::RowShape;

/// The stream the rows go to and the table the lookups read.
pub(super) const SOURCE_STREAM: &str = "bench_pull_src";
pub(super) const TABLE: &str = "bench_pull";

/// What kind of table `bench_pull` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullTable {
    /// `CREATE TABLE bench_pull AS SELECT ID, LATEST_BY_OFFSET(…) …, COUNT(*) AS UPDATES
    /// FROM bench_pull_src GROUP BY ID`: a persistent query materializes it.
    Ctas,
    /// `CREATE SOURCE TABLE bench_pull (ID BIGINT PRIMARY KEY, <the stream's value
    /// columns>)` over the stream's topic: no query, each row as loaded.
    Source,
}

impl PullTable {
    /// The name `--pull-table` takes.
    pub(super) fn name(self) -> &'static str {
        match self {
            PullTable::Ctas => "ctas",
            PullTable::Source => "source",
        }
    }
}

/// The table's columns, its key `ID` first, as `SELECT *` returns them.
#[derive(Debug, Clone)]
pub(super) struct TableShape {
    pub(super) kind: PullTable,
    /// The loaded rows' shape (a source table declares the stream's columns).
    row_shape: RowShape,
    pub(super) columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) name: String,
    /// How its values compare.
    pub(super) ty: ColumnType,
}

impl Column {
    fn new(name: &str, ty: ColumnType) -> Column {
        Column {
            name: name.to_string(),
            ty,
        }
    }
}

/// What comparing a column's values needs to know of its type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ColumnType {
    /// DOUBLE or DECIMAL: compared as a float (a producer's `1234` is the server's `1234.0`,
    /// a producer's `20.5` a DECIMAL(10, 2)'s `20.50`).
    Number,
    /// The fields (name, type) in the schema's order and spelling.
    Struct(Vec<(String, ColumnType)>),
    Array(Box<ColumnType>),
    /// A map's values (its keys are strings; their order is no part of the value).
    Map(Box<ColumnType>),
    /// Compared as is.
    Other,
}

impl ColumnType {
    fn of(ty: &SqlType) -> ColumnType {
        match ty {
            SqlType::Double | SqlType::Decimal { .. } => ColumnType::Number,
            SqlType::Struct(fields) => ColumnType::Struct(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), ColumnType::of(&f.ty)))
                    .collect(),
            ),
            SqlType::Array(element) => ColumnType::Array(Box::new(ColumnType::of(element))),
            SqlType::Map(_, value) => ColumnType::Map(Box::new(ColumnType::of(value))),
            _ => ColumnType::Other,
        }
    }

    /// A value of this type in its canonical form (`None` if it is not one): numbers as
    /// floats and maps' keys sorted, at any depth (a struct's fields keep their order).
    fn canonical(&self, value: &mut Value) -> Option<()> {
        if value.is_null() {
            return Some(());
        }
        match self {
            ColumnType::Number => *value = Value::from(value.as_f64()?),
            ColumnType::Struct(fields) => {
                let object = value.as_object_mut()?;
                for (name, ty) in fields {
                    if let Some(v) = object.get_mut(name) {
                        ty.canonical(v)?;
                    }
                }
            }
            ColumnType::Array(element) => {
                for v in value.as_array_mut()? {
                    element.canonical(v)?;
                }
            }
            ColumnType::Map(entry) => {
                let map = value.as_object_mut()?;
                map.sort_keys();
                for v in map.values_mut() {
                    entry.canonical(v)?;
                }
            }
            ColumnType::Other => {}
        }
        Some(())
    }

    /// What the table holds for a loaded JSON value: a struct's fields named as the schema
    /// names them, in its order (matched case-insensitively, null where left out).
    fn expected(&self, loaded: &Value) -> Value {
        match (self, loaded) {
            (ColumnType::Struct(fields), Value::Object(object)) => Value::Object(
                fields
                    .iter()
                    .map(|(name, ty)| (name.clone(), ty.expected(&field_of(object, name))))
                    .collect(),
            ),
            (ColumnType::Array(element), Value::Array(values)) => {
                Value::Array(values.iter().map(|v| element.expected(v)).collect())
            }
            (ColumnType::Map(entry), Value::Object(object)) => Value::Object(
                object
                    .iter()
                    .map(|(k, v)| (k.clone(), entry.expected(v)))
                    .collect(),
            ),
            _ => loaded.clone(),
        }
    }
}

/// The field of a JSON object named `name`, matched case-insensitively (null if absent).
fn field_of(object: &serde_json::Map<String, Value>, name: &str) -> Value {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or(Value::Null, |(_, v)| v.clone())
}

impl TableShape {
    pub(super) fn for_rows(kind: PullTable, shape: RowShape) -> TableShape {
        let columns = match kind {
            PullTable::Ctas => Self::ctas_columns(shape),
            PullTable::Source => Self::source_columns(shape),
        };
        TableShape {
            kind,
            row_shape: shape,
            columns,
        }
    }

    /// The CTAS's: the base columns every row shape has, the row's message where the shape
    /// has one (so a few answers are KiBs, as with real events), and how many rows the key
    /// had.
    fn ctas_columns(shape: RowShape) -> Vec<Column> {
        let mut columns = vec![
            Column::new("ID", ColumnType::Other),
            Column::new("TS", ColumnType::Other),
            Column::new("USER", ColumnType::Other),
            Column::new("REGION", ColumnType::Other),
            Column::new("AMOUNT", ColumnType::Number),
            Column::new("OK", ColumnType::Other),
        ];
        if shape.value_columns_sql().contains("MESSAGE STRING") {
            columns.push(Column::new("MESSAGE", ColumnType::Other));
        }
        columns.push(Column::new("UPDATES", ColumnType::Other));
        columns
    }

    /// The source table's: the stream's key and every value column, typed as the stream
    /// declares them.
    fn source_columns(shape: RowShape) -> Vec<Column> {
        // A column list is a STRUCT's field list: the engine's type parser reads it.
        let list = format!("STRUCT<{}>", shape.value_columns_sql());
        let Ok(SqlType::Struct(fields)) = sluice_engine::parse_type(&list) else {
            unreachable!("the bench's column lists are valid SQL: {list}");
        };
        let mut columns = vec![Column::new("ID", ColumnType::Other)];
        columns.extend(
            fields
                .iter()
                .map(|f| Column::new(&f.name, ColumnType::of(&f.ty))),
        );
        columns
    }

    /// The statement creating the table from the stream (or its topic).
    pub(super) fn create_sql(&self) -> String {
        let values = self.columns[1..].iter();
        match self.kind {
            PullTable::Ctas => {
                let values: Vec<String> = values
                    .map(|c| match c.name.as_str() {
                        "UPDATES" => "COUNT(*) AS UPDATES".to_string(),
                        name => format!("LATEST_BY_OFFSET({name}) AS {name}"),
                    })
                    .collect();
                format!(
                    "CREATE TABLE {TABLE} AS SELECT ID, {} FROM {SOURCE_STREAM} GROUP BY ID \
                     EMIT CHANGES;",
                    values.join(", ")
                )
            }
            PullTable::Source => {
                // The stream's topic is named as the stream (`super::create_stream`).
                format!(
                    "CREATE SOURCE TABLE {TABLE} (ID BIGINT PRIMARY KEY, {}) \
                     WITH (kafka_topic='{SOURCE_STREAM}', value_format='JSON');",
                    self.row_shape.value_columns_sql()
                )
            }
        }
    }

    /// The canonical hash of a row: its values as JSON, DOUBLE and DECIMAL values as floats
    /// (a producer's `1234` and the server's `1234.0` are the same amount).
    pub(super) fn row_hash(&self, mut values: Vec<Value>) -> Option<u64> {
        if values.len() != self.columns.len() {
            return None;
        }
        for (v, column) in values.iter_mut().zip(&self.columns) {
            column.ty.canonical(v)?;
        }
        let bytes = serde_json::to_vec(&values).expect("JSON values serialise");
        let mut h = DefaultHasher::new();
        h.write(&bytes);
        Some(h.finish())
    }

    /// The row the table should hold for a generated source row: the row's value of each
    /// column (matched case-insensitively, null where the row leaves it out), and for the
    /// CTAS one update.
    pub(super) fn expected_row(&self, id: u64, generated: &[u8]) -> anyhow::Result<Vec<Value>> {
        let fields: serde_json::Map<String, Value> =
            serde_json::from_slice(generated).context("a generated row is not a JSON object")?;
        Ok(self
            .columns
            .iter()
            .map(|c| match c.name.as_str() {
                "ID" => Value::from(id),
                "UPDATES" if self.kind == PullTable::Ctas => Value::from(1u64),
                name => c.ty.expected(&field_of(&fields, name)),
            })
            .collect())
    }

    pub(super) fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}
