//! DeltaStream's value encoding: every cell a string or `null` (numbers as decimal text,
//! booleans `"true"`/`"false"`, `TIMESTAMP` as `"2007-04-30 13:10:02.047"`, bytes base64,
//! ARRAY/MAP/STRUCT as JSON text), and its column type names (`VARCHAR`, `BIGINT`,
//! `DECIMAL(p, s)`, `TIMESTAMP(3)`, `ARRAY<…>`, …), per its Go driver's type fixtures.

use sluice_engine::types::SqlType;

use crate::statement_table::Cell;

/// DeltaStream's name for a column type.
pub fn type_name(ty: &SqlType) -> String {
    match ty {
        SqlType::Boolean => "BOOLEAN".into(),
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::Double => "DOUBLE".into(),
        SqlType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        SqlType::String => "VARCHAR".into(),
        SqlType::Bytes => "VARBINARY".into(),
        // ksqlDB timestamps are milliseconds.
        SqlType::Timestamp => "TIMESTAMP(3)".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::Array(item) => format!("ARRAY<{}>", type_name(item)),
        SqlType::Map(k, v) => format!("MAP<{}, {}>", type_name(k), type_name(v)),
        SqlType::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.name, type_name(&f.ty)))
                .collect();
            format!("STRUCT<{}>", fields.join(", "))
        }
    }
}

/// A cell (as ksqlDB's results show it) in DeltaStream's string-or-null encoding.
pub fn cell_text(cell: &Cell, ty: &SqlType) -> Option<String> {
    match cell {
        Cell::Null => None,
        // ksqlDB shows timestamps as `2007-04-30T13:10:02.047`; DeltaStream with a space.
        Cell::Text(s) if *ty == SqlType::Timestamp => Some(s.replacen('T', " ", 1)),
        Cell::Text(s) => Some(s.clone()),
        // Numbers, booleans, arrays, maps and structs: their JSON text, as it is.
        Cell::Json(text) => Some(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_engine::types::StructField;

    fn json(text: &str) -> Cell {
        Cell::from_json_text(text.as_bytes())
    }

    #[test]
    fn names_types_like_deltastream() {
        assert_eq!(type_name(&SqlType::String), "VARCHAR");
        assert_eq!(
            type_name(&SqlType::Decimal {
                precision: 10,
                scale: 2
            }),
            "DECIMAL(10, 2)"
        );
        assert_eq!(
            type_name(&SqlType::Map(
                Box::new(SqlType::String),
                Box::new(SqlType::Array(Box::new(SqlType::BigInt)))
            )),
            "MAP<VARCHAR, ARRAY<BIGINT>>"
        );
        assert_eq!(
            type_name(&SqlType::Struct(vec![StructField {
                name: "A".into(),
                ty: SqlType::Integer
            }])),
            "STRUCT<A INTEGER>"
        );
    }

    #[test]
    fn every_cell_is_a_string_or_null() {
        assert_eq!(cell_text(&json("null"), &SqlType::String), None);
        assert_eq!(
            cell_text(&json("9223372036854775807"), &SqlType::BigInt).as_deref(),
            Some("9223372036854775807")
        );
        let decimal = SqlType::Decimal {
            precision: 5,
            scale: 2,
        };
        assert_eq!(
            cell_text(&json("123.00"), &decimal).as_deref(),
            Some("123.00")
        );
        assert_eq!(
            cell_text(&json("true"), &SqlType::Boolean).as_deref(),
            Some("true")
        );
        assert_eq!(
            cell_text(&json(r#""2007-04-30T13:10:02.047""#), &SqlType::Timestamp).as_deref(),
            Some("2007-04-30 13:10:02.047")
        );
        assert_eq!(
            cell_text(&json(r#"{"A":[1,2]}"#), &SqlType::Struct(vec![])).as_deref(),
            Some(r#"{"A":[1,2]}"#)
        );
        assert_eq!(
            cell_text(&json(r#""x""#), &SqlType::String).as_deref(),
            Some("x")
        );
    }
}
