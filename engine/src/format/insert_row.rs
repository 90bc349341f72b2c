//! Decoding one `/inserts-stream` row: a JSON object line → one [`Value`] per schema column.
//!
//! Follows ksqlDB's `InsertsSubscriber.handleValue` (ksqldb-api.md §5):
//! 1. the line must be a JSON object (`Invalid JSON in inserts stream` otherwise);
//! 2. field names are normalised like identifiers (`JsonUtil.convertJsonFieldCase`):
//!    unquoted names upper-cased, names in backticks or double quotes unquoted with their case
//!    kept; two different names that normalise alike are `Found duplicate column / struct
//!    field name: X` (the very same name twice keeps the last value, as Vert.x's map does);
//! 3. key columns are extracted first (`KeyValueExtractor.extractKey`): missing or null is
//!    `Key field must be specified: K`; then value columns (missing → null); unknown fields
//!    (including `ROWTIME`) are ignored;
//! 4. every present value goes through the API coercer ([`CoercionMode::Api`]).
//!
//! The ingest path runs it only for rows the fast path ([`super::canonical_row`]) leaves to
//! it: rows that end in an error, whose text it gives.
//!
//! [`CoercionMode::Api`]: super::coerce::CoercionMode::Api

use std::borrow::Cow;

use sonic_rs::LazyValue;

use super::coerce::{self, classify, identifier_text, upper_eq, Json, NameSet};
use super::canonical_row::StrictJsonError;
use super::json_text::{exceeds_nesting_depth, has_lone_surrogate_escape, JSON_NESTING_DEPTH_MAX};
use super::json_value::kind_name;
use crate::error::{EngineError, ErrorCode, Result};
use crate::types::{ColumnKind, Schema, Value};

/// ksqlDB's message for a row that does not parse (`InsertsStreamHandler`). Rows that parse
/// but are not objects get this text plus a reason. Every such error has the code
/// [`ErrorCode::InvalidRowJson`], which faces that must match ksqlDB byte for byte answer
/// with ksqlDB's bare text.
pub const INVALID_JSON_MESSAGE: &str = "Invalid JSON in inserts stream";

/// One decoded row.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertRow {
    /// One value per schema column, in schema order (header columns are null).
    pub values: Vec<Value>,
}

/// The error text for a row whose string holds half a UTF-16 surrogate pair.
fn lone_surrogate_message() -> String {
    format!("{INVALID_JSON_MESSAGE}: a \\u escape is half of a UTF-16 surrogate pair")
}

/// A field found for a column: the raw name it came under, and its JSON value.
type Slot<'de> = Option<(Cow<'de, str>, LazyValue<'de>)>;

/// Decodes one row line (without its trailing newline) against the target's schema.
pub fn decode_insert_row(line: &[u8], schema: &Schema) -> Result<InsertRow> {
    // sonic-rs trusts its input to be UTF-8 (it only debug-asserts), so invalid bytes must
    // be refused before it sees them: JSON text is UTF-8 by definition (RFC 8259 §8.1).
    if std::str::from_utf8(line).is_err() {
        return Err(EngineError::new(
            ErrorCode::InvalidRowJson,
            format!("{INVALID_JSON_MESSAGE}: invalid UTF-8"),
        ));
    }
    if has_lone_surrogate_escape(line) {
        return Err(EngineError::new(
            ErrorCode::InvalidRowJson,
            lone_surrogate_message(),
        ));
    }
    if exceeds_nesting_depth(line) {
        return Err(EngineError::new(
            ErrorCode::InvalidRowJson,
            format!("{INVALID_JSON_MESSAGE}: nested deeper than {JSON_NESTING_DEPTH_MAX} levels"),
        ));
    }
    let columns = &schema.columns;
    let mut slots: Vec<Slot<'_>> = vec![None; columns.len()];
    // Normalised names of fields that are not columns, only to find duplicates among them.
    let mut unknown = NameSet::default();
    // ksqlDB parses the whole line before looking at names, so a name error is only reported
    // once the rest of the line has proved to be valid JSON.
    let mut name_error: Option<EngineError> = None;
    // Where the last field's value ends, to check what follows the object.
    let mut parsed_to = None;

    // One validating pass: sonic's object iterator checks every key and value as it goes;
    // only what follows the closing brace is left for `ends_cleanly`.
    for field in sonic_rs::to_object_iter(line) {
        let Ok((raw, value)) = field else {
            return Err(not_a_row(line));
        };
        parsed_to = Some(end_offset(line, value.as_raw_str()).ok_or_else(|| not_a_row(line))?);
        if name_error.is_some() {
            continue;
        }
        match find_column(schema, &raw) {
            Err(e) => name_error = Some(e),
            Ok(Some(i)) => {
                if let Some((seen_raw, _)) = &slots[i] {
                    if *seen_raw != raw {
                        name_error = Some(EngineError::bad_request(
                            coerce::duplicate_name_message(&columns[i].name),
                        ));
                        continue;
                    }
                    // The same name twice: the last value wins.
                }
                slots[i] = Some((raw, value));
            }
            Ok(None) => {
                match identifier_text(&raw) {
                    Err(m) => name_error = Some(EngineError::bad_request(m)),
                    Ok(name) => {
                        if !unknown.insert(&raw, &name) {
                            name_error = Some(EngineError::bad_request(
                                coerce::duplicate_name_message(&name),
                            ));
                        }
                    }
                }
            }
        }
    }
    if !ends_cleanly(line, parsed_to) {
        return Err(not_a_row(line));
    }
    // sonic-rs skips over string values without decoding them, so it lets a bad `\u`
    // escape or a lone UTF-16 surrogate through, and reads such a string as "" later. Jackson
    // refuses the first; the second no Rust string can hold. Both are refused here.
    if let Some(reason) = super::canonical_row::strict_json_error(line) {
        return Err(EngineError::new(
            ErrorCode::InvalidRowJson,
            match reason {
                StrictJsonError::Invalid => INVALID_JSON_MESSAGE.to_owned(),
                StrictJsonError::LoneSurrogate => lone_surrogate_message(),
            },
        ));
    }
    if let Some(e) = name_error {
        return Err(e);
    }

    let mut values = vec![Value::Null; columns.len()];
    // Keys first, as `extractKey` runs before `extractValues`.
    for (i, column) in columns.iter().enumerate() {
        if column.kind != ColumnKind::Key {
            continue;
        }
        let value = match &slots[i] {
            Some((_, v)) if !matches!(classify(v), Json::Null) => {
                coerce::coerce_api(v, &column.ty)?
            }
            _ => {
                return Err(EngineError::bad_request(format!(
                    "Key field must be specified: {}",
                    column.name
                )))
            }
        };
        values[i] = value;
    }
    for (i, column) in columns.iter().enumerate() {
        if column.kind != ColumnKind::Value {
            continue;
        }
        if let Some((_, v)) = &slots[i] {
            values[i] = coerce::coerce_api(v, &column.ty)?;
        }
    }
    Ok(InsertRow { values })
}

/// The error for a line that is not a JSON object: ksqlDB's exact text when it is not JSON at
/// all, that text plus the reason when it is JSON of another kind (error path only, so the
/// second parse costs nothing on good rows).
fn not_a_row(line: &[u8]) -> EngineError {
    match sonic_rs::from_slice::<LazyValue<'_>>(line) {
        Ok(other) => EngineError::new(
            ErrorCode::InvalidRowJson,
            format!(
                "{INVALID_JSON_MESSAGE}: a row must be a JSON object, not {}",
                kind_name(&other)
            ),
        ),
        Err(_) => EngineError::new(ErrorCode::InvalidRowJson, INVALID_JSON_MESSAGE),
    }
}

/// Byte offset in `line` just past `raw`, a value the iterator borrowed from `line`.
fn end_offset(line: &[u8], raw: &str) -> Option<usize> {
    let start = (raw.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start.checked_add(raw.len())?;
    (end <= line.len()).then_some(end)
}

/// True when the object closes right after its last value (or is `{}`), with only
/// whitespace around: sonic's iterator stops at the brace and does not look further.
fn ends_cleanly(line: &[u8], parsed_to: Option<usize>) -> bool {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let rest = match parsed_to {
        Some(end) => &line[end..],
        None => {
            let start = line.iter().position(|b| !is_ws(b)).unwrap_or(line.len());
            match line[start..].strip_prefix(b"{") {
                Some(rest) => rest,
                None => return false,
            }
        }
    };
    let rest = &rest[rest.iter().position(|b| !is_ws(b)).unwrap_or(rest.len())..];
    match rest.strip_prefix(b"}") {
        Some(after) => after.iter().all(is_ws),
        None => false,
    }
}

/// The schema column a raw JSON field name denotes, if any. Unquoted ASCII names are compared
/// upper-cased in place, without allocating.
fn find_column(schema: &Schema, raw: &str) -> Result<Option<usize>> {
    let quoted = raw.starts_with('`') || raw.starts_with('"');
    if !quoted && raw.is_ascii() {
        return Ok(schema
            .columns
            .iter()
            .position(|c| c.kind != ColumnKind::Header && upper_eq(raw, &c.name)));
    }
    let name = identifier_text(raw).map_err(EngineError::bad_request)?;
    Ok(schema
        .columns
        .iter()
        .position(|c| c.kind != ColumnKind::Header && c.name == *name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Column, Decimal, SqlType, StructField};

    fn stream() -> Schema {
        Schema::new(vec![
            Column::new("ID", SqlType::BigInt, ColumnKind::Value),
            Column::new("NAME", SqlType::String, ColumnKind::Value),
            Column::new(
                "AMOUNT",
                SqlType::Decimal {
                    precision: 6,
                    scale: 2,
                },
                ColumnKind::Value,
            ),
            Column::new("TS", SqlType::Timestamp, ColumnKind::Value),
        ])
    }

    fn keyed() -> Schema {
        Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            Column::new("V", SqlType::Integer, ColumnKind::Value),
            Column::new("lower", SqlType::Integer, ColumnKind::Value),
        ])
    }

    fn decode(line: &str, schema: &Schema) -> Result<InsertRow> {
        decode_insert_row(line.as_bytes(), schema)
    }

    fn err(line: &str, schema: &Schema) -> String {
        decode(line, schema).expect_err("should fail").to_string()
    }

    #[test]
    fn decodes_names_case_insensitively() {
        let row =
            decode(r#"{"k":"a","v":1,"`lower`":2,"rowtime":5,"x":1}"#, &keyed()).expect("decodes");
        assert_eq!(
            row.values,
            vec![
                Value::String("a".into()),
                Value::Integer(1),
                Value::Integer(2)
            ]
        );
        // An unquoted `lower` is upper-cased and matches nothing.
        let row = decode(r#"{"K":"a","lower":2}"#, &keyed()).expect("decodes");
        assert_eq!(row.values[2], Value::Null);
        let row = decode(r#"{"K":"a","\"lower\"":3}"#, &keyed()).expect("decodes");
        assert_eq!(row.values[2], Value::Integer(3));
    }

    #[test]
    fn row_errors_use_ksqldb_texts() {
        assert_eq!(err("{\"K\":", &keyed()), "Invalid JSON in inserts stream");
        assert_eq!(
            err("{\"K\":\"a\"} x", &keyed()),
            "Invalid JSON in inserts stream"
        );
        assert_eq!(
            err("[1]", &keyed()),
            "Invalid JSON in inserts stream: a row must be a JSON object, not an array"
        );
        assert_eq!(
            err(r#"{"V":1}"#, &keyed()),
            "Key field must be specified: K"
        );
        assert_eq!(
            err(r#"{"K":null}"#, &keyed()),
            "Key field must be specified: K"
        );
        assert_eq!(
            err(r#"{"K":"a","v":1,"V":2}"#, &keyed()),
            "Found duplicate column / struct field name: V"
        );
        assert_eq!(
            err(r#"{"K":"a","x":1,"X":2}"#, &keyed()),
            "Found duplicate column / struct field name: X"
        );
        assert_eq!(
            err(r#"{"K":"a","`V":1}"#, &keyed()),
            "Invalid column / struct field name. Name: `V. Reason: Expected matching quote at end of value."
        );
        assert_eq!(
            err(r#"{"K":"a","V":"1"}"#, &keyed()),
            "Can't coerce a field of type class java.lang.String (1) into type INTEGER"
        );
        assert_eq!(
            err(r#"{"K":"a","V":3000000000}"#, &keyed()),
            "Can't coerce a field of type class java.lang.Long (3000000000) into type INTEGER"
        );
        assert_eq!(
            err(r#"{"K":1,"V":1}"#, &keyed()),
            "Can't coerce a field of type class java.lang.Integer (1) into type STRING"
        );
        // Only whitespace may follow the object, and JSON errors beat name errors.
        for bad in [
            "{} x",
            "{\"V\":1}}",
            "{\"K\":\"a\",\"v\":1,\"V\":2",
            "",
            "   ",
            "{\"K\" \"a\"}",
        ] {
            assert_eq!(
                err(bad, &keyed()),
                "Invalid JSON in inserts stream",
                "{bad:?}"
            );
        }
        assert!(decode(" {\"K\":\"a\"} \r", &keyed()).is_ok());
        // sonic-rs lets these through; Jackson refuses the bad escape, and no Rust string
        // holds a lone surrogate.
        assert_eq!(
            err(r#"{"K":"a\u]0009"}"#, &keyed()),
            "Invalid JSON in inserts stream"
        );
        assert_eq!(
            err(r#"{"K":"a","x":"\ud800"}"#, &keyed()),
            "Invalid JSON in inserts stream: a \\u escape is half of a UTF-16 surrogate pair"
        );
        assert_eq!(err(" { } ", &keyed()), "Key field must be specified: K");
        assert_eq!(
            err("\"x\"", &keyed()),
            "Invalid JSON in inserts stream: a row must be a JSON object, not a string"
        );
        // The same raw name twice keeps the last value.
        let row = decode(r#"{"K":"a","V":1,"V":2}"#, &keyed()).expect("decodes");
        assert_eq!(row.values[1], Value::Integer(2));
    }

    #[test]
    fn numbers_before_whitespace_inside_values_coerce() {
        // sonic-rs's raw text of `1` in `[1 ,2]` is `1 `.
        let nested = Schema::new(vec![Column::new(
            "S",
            SqlType::Struct(vec![
                StructField {
                    name: "A".into(),
                    ty: SqlType::Integer,
                },
                StructField {
                    name: "B".into(),
                    ty: SqlType::Array(Box::new(SqlType::Double)),
                },
            ]),
            ColumnKind::Value,
        )]);
        let row = decode(r#"{"s":{"a":1 ,"b":[2.5 , -1e18
 ]}}"#, &nested)
        .expect("decodes");
        assert_eq!(
            row.values[0],
            Value::Struct(vec![
                ("A".into(), Value::Integer(1)),
                (
                    "B".into(),
                    Value::Array(vec![Value::Double(2.5), Value::Double(-1e18)])
                ),
            ])
        );
    }

    #[test]
    fn coerces_api_types() {
        let row = decode(
            r#"{"ID":7,"NAME":"n","AMOUNT":1.005,"TS":" 2021-03-04T05:06:07.123 "}"#,
            &stream(),
        )
        .expect("decodes");
        assert_eq!(
            row.values,
            vec![
                Value::BigInt(7),
                Value::String("n".into()),
                Value::Decimal(Decimal::new(101, 2)),
                Value::Timestamp(1_614_834_367_123),
            ]
        );
        let nested = Schema::new(vec![Column::new(
            "S",
            SqlType::Struct(vec![
                StructField {
                    name: "A".into(),
                    ty: SqlType::Array(Box::new(SqlType::Double)),
                },
                StructField {
                    name: "B".into(),
                    ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Date)),
                },
                StructField {
                    name: "C".into(),
                    ty: SqlType::Bytes,
                },
            ]),
            ColumnKind::Value,
        )]);
        let row = decode(
            r#"{"s":{"a":[1,2.5],"b":{"x":"2021-03-04"},"zzz":1}}"#,
            &nested,
        )
        .expect("decodes");
        assert_eq!(
            row.values[0],
            Value::Struct(vec![
                (
                    "A".into(),
                    Value::Array(vec![Value::Double(1.0), Value::Double(2.5)])
                ),
                (
                    "B".into(),
                    Value::Map(vec![(Value::String("x".into()), Value::Date(18_690))])
                ),
                ("C".into(), Value::Null),
            ])
        );
        assert_eq!(
            err(r#"{"s":{"a":[1,"x"]}}"#, &nested),
            "Can't coerce a field of type class io.vertx.core.json.JsonObject ({\"a\":[1,\"x\"]}) into type STRUCT<`A` ARRAY<DOUBLE>, `B` MAP<STRING, DATE>, `C` BYTES>"
        );
        assert_eq!(
            err(r#"{"s":{"a":1,"A":2}}"#, &nested),
            "Found duplicate column / struct field name: A"
        );
    }
}
