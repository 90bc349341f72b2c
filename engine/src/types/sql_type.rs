//! SQL column types and their ksqlDB spelling.
//!
//! `Display` prints the type exactly as ksqlDB writes it in `columnTypes` and `schema`
//! strings (`INTEGER`, `DECIMAL(4, 2)`, ``STRUCT<`F1` ARRAY<STRING>>``), because clients
//! parse those strings (ksqldb-api.md §7).

use std::fmt;

/// Largest DECIMAL precision ksqlDB accepts; also what an `i128` unscaled value can hold.
pub const DECIMAL_PRECISION_MAX: u8 = 38;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    Boolean,
    Integer,
    BigInt,
    Double,
    Decimal { precision: u8, scale: u8 },
    String,
    Bytes,
    Timestamp,
    Date,
    Time,
    Array(Box<SqlType>),
    Map(Box<SqlType>, Box<SqlType>),
    Struct(Vec<StructField>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    /// Field name as stored (already case-normalised by the parser).
    pub name: String,
    pub ty: SqlType,
}

impl SqlType {
    /// The base type name DESCRIBE puts in `schema.type` (`ARRAY`, `DECIMAL`, ...).
    pub fn base_name(&self) -> &'static str {
        match self {
            SqlType::Boolean => "BOOLEAN",
            SqlType::Integer => "INTEGER",
            SqlType::BigInt => "BIGINT",
            SqlType::Double => "DOUBLE",
            SqlType::Decimal { .. } => "DECIMAL",
            SqlType::String => "STRING",
            SqlType::Bytes => "BYTES",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Date => "DATE",
            SqlType::Time => "TIME",
            SqlType::Array(_) => "ARRAY",
            SqlType::Map(_, _) => "MAP",
            SqlType::Struct(_) => "STRUCT",
        }
    }

    /// True for INT, BIGINT, DOUBLE and DECIMAL.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::Integer | SqlType::BigInt | SqlType::Double | SqlType::Decimal { .. }
        )
    }

    /// True for types the `KAFKA` key format can hold (a single primitive).
    pub fn is_kafka_key_primitive(&self) -> bool {
        matches!(
            self,
            SqlType::Integer | SqlType::BigInt | SqlType::Double | SqlType::String
        )
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            SqlType::Array(elem) => write!(f, "ARRAY<{elem}>"),
            SqlType::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            SqlType::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{}` {}", field.name, field.ty)?;
                }
                f.write_str(">")
            }
            other => f.write_str(other.base_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_ksqldb_spelling() {
        let t = SqlType::Struct(vec![
            StructField {
                name: "F1".into(),
                ty: SqlType::Array(Box::new(SqlType::String)),
            },
            StructField {
                name: "F2".into(),
                ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
            },
        ]);
        assert_eq!(
            t.to_string(),
            "STRUCT<`F1` ARRAY<STRING>, `F2` MAP<STRING, INTEGER>>"
        );
        assert_eq!(
            SqlType::Decimal {
                precision: 4,
                scale: 2
            }
            .to_string(),
            "DECIMAL(4, 2)"
        );
    }
}
