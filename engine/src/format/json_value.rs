//! The `JSON` value format: a record value is a JSON object with one field per value column.
//!
//! Encoding writes what ksqlDB's JSON serializer (Kafka Connect's `JsonConverter` with
//! `decimal.format=NUMERIC`) writes: column names as keys, TIMESTAMP/DATE/TIME as numbers
//! (epoch ms, days, ms of day), DECIMAL as a plain number keeping its scale, DOUBLE as Java
//! prints it (non-finite values as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, Jackson's
//! default), BYTES as base64, nested types recursively (struct fields by declared name).
//!
//! Decoding reads as `KsqlJsonDeserializer` does ([`CoercionMode::KafkaJson`]): fields match
//! a column exactly or upper-cased, missing fields are null, unknown fields are ignored.
//!
//! [`CoercionMode::KafkaJson`]: super::coerce::CoercionMode::KafkaJson

use std::borrow::Borrow;

use sonic_rs::LazyValue;

use super::coerce::{self, classify, Json};
use super::java_double::write_java_double;
use super::json_text::{write_base64_string, write_i64, write_json_string};
use crate::error::{EngineError, Result};
use crate::types::{Column, ColumnKind, Schema, Value};

/// Appends the JSON object `{"COL":v,…}` for `values`, one per column, in order.
///
/// `columns` and `values` must have the same length (a caller bug otherwise).
pub fn encode_value<C: Borrow<Column>>(columns: &[C], values: &[Value], out: &mut Vec<u8>) {
    debug_assert_eq!(columns.len(), values.len(), "one value per value column");
    out.push(b'{');
    for (i, (column, value)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(&column.borrow().name, out);
        out.push(b':');
        write_stored_json(value, out);
    }
    out.push(b'}');
}

/// Appends the record value for a full row (one value per schema column, schema order):
/// only the [`ColumnKind::Value`] columns are written.
pub fn encode_row_value(schema: &Schema, row: &[Value], out: &mut Vec<u8>) {
    debug_assert_eq!(
        schema.columns.len(),
        row.len(),
        "one value per schema column"
    );
    out.push(b'{');
    let mut first = true;
    for (column, value) in schema.columns.iter().zip(row) {
        if column.kind != ColumnKind::Value {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_string(&column.name, out);
        out.push(b':');
        write_stored_json(value, out);
    }
    out.push(b'}');
}

/// Appends a single column's value unwrapped (`WRAP_SINGLE_VALUE=false`): the bare JSON value.
pub fn encode_value_unwrapped(value: &Value, out: &mut Vec<u8>) {
    write_stored_json(value, out);
}

/// True when a record value is a tombstone: no bytes, or the JSON text `null` (which
/// `KsqlJsonDeserializer` reads as a null row). Check this before [`decode_value`].
pub fn is_tombstone(bytes: Option<&[u8]>) -> bool {
    match bytes {
        None => true,
        Some(b) => b.trim_ascii() == b"null",
    }
}

/// Parses a stored JSON object and pushes one [`Value`] per column onto `out`, in order.
///
/// Errors (as `BadRequest`, because the bytes came from whoever produced to the topic) for
/// invalid JSON, a value that is not an object (including JSON `null`: see [`is_tombstone`]),
/// and fields that cannot be read as their column's type, with ksqlDB's message and path.
pub fn decode_value<C: Borrow<Column>>(
    bytes: &[u8],
    columns: &[C],
    out: &mut Vec<Value>,
) -> Result<()> {
    let lv = parse_record(bytes)?;
    if !matches!(classify(&lv), Json::Object) {
        return Err(EngineError::BadRequest(format!(
            "Failed to deserialize value: expected a JSON object, got {}",
            kind_name(&lv)
        )));
    }
    out.reserve(columns.len());
    coerce::kafka_json_fields(
        &lv,
        columns.len(),
        |i| columns[i].borrow().name.as_str(),
        |i| &columns[i].borrow().ty,
        |_, v| out.push(v),
    )
    .map_err(|e| prefix_error(e.into_error("$")))
}

/// Decodes a single column's unwrapped value (`WRAP_SINGLE_VALUE=false`).
pub fn decode_value_unwrapped(bytes: &[u8], column: &Column) -> Result<Value> {
    let lv = parse_record(bytes)?;
    coerce::coerce_json(&lv, &column.ty, coerce::CoercionMode::KafkaJson).map_err(prefix_error)
}

fn parse_record(bytes: &[u8]) -> Result<LazyValue<'_>> {
    coerce::parse_json_value(bytes).map_err(prefix_error)
}

fn prefix_error(e: EngineError) -> EngineError {
    match e {
        EngineError::BadRequest(m) => {
            EngineError::BadRequest(format!("Failed to deserialize value: {m}"))
        }
        other => other,
    }
}

pub(crate) fn kind_name(lv: &LazyValue<'_>) -> &'static str {
    match classify(lv) {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Int(_) | Json::Float(_) => "a number",
        Json::String(_) => "a string",
        Json::Array => "an array",
        Json::Object => "an object",
    }
}

/// Appends `value` in its stored JSON form (see the module docs).
pub fn write_stored_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => write_i64(i64::from(*i), out),
        Value::BigInt(i) | Value::Timestamp(i) => write_i64(*i, out),
        Value::Date(i) | Value::Time(i) => write_i64(i64::from(*i), out),
        Value::Double(d) => {
            if d.is_finite() {
                write_java_double(*d, out);
            } else {
                out.push(b'"');
                write_java_double(*d, out);
                out.push(b'"');
            }
        }
        Value::Decimal(d) => {
            use std::io::Write as _;
            write!(out, "{d}").expect("writing to a Vec never fails");
        }
        Value::String(s) => write_json_string(s, out),
        Value::Bytes(b) => write_base64_string(b, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_stored_json(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_map_key(k, out);
                out.push(b':');
                write_stored_json(v, out);
            }
            out.push(b'}');
        }
        Value::Struct(fields) => {
            out.push(b'{');
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(name, out);
                out.push(b':');
                write_stored_json(v, out);
            }
            out.push(b'}');
        }
    }
}

/// JSON object keys are strings: a STRING key as itself, any other scalar as its JSON text.
fn write_map_key(key: &Value, out: &mut Vec<u8>) {
    match key {
        Value::String(s) => write_json_string(s, out),
        other => {
            let mut text = Vec::new();
            write_stored_json(other, &mut text);
            let text = String::from_utf8_lossy(&text);
            write_json_string(text.trim_matches('"'), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Decimal, SqlType, StructField};

    fn col(name: &str, ty: SqlType) -> Column {
        Column::new(name, ty, ColumnKind::Value)
    }

    fn encode(columns: &[Column], values: &[Value]) -> String {
        let mut out = Vec::new();
        encode_value(columns, values, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    fn decode(json: &str, columns: &[Column]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        decode_value(json.as_bytes(), columns, &mut out)?;
        Ok(out)
    }

    #[test]
    fn encodes_every_type() {
        let columns = vec![
            col("B", SqlType::Boolean),
            col("I", SqlType::Integer),
            col("L", SqlType::BigInt),
            col("D", SqlType::Double),
            col(
                "DEC",
                SqlType::Decimal {
                    precision: 4,
                    scale: 2,
                },
            ),
            col("S", SqlType::String),
            col("BY", SqlType::Bytes),
            col("TS", SqlType::Timestamp),
            col("DT", SqlType::Date),
            col("TM", SqlType::Time),
            col("A", SqlType::Array(Box::new(SqlType::Double))),
            col(
                "M",
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
            ),
            col(
                "ST",
                SqlType::Struct(vec![StructField {
                    name: "f1".into(),
                    ty: SqlType::String,
                }]),
            ),
            col("N", SqlType::String),
        ];
        let values = vec![
            Value::Boolean(true),
            Value::Integer(-7),
            Value::BigInt(i64::MIN),
            Value::Double(1.0e10),
            Value::Decimal(Decimal::new(1210, 2)),
            Value::String("a\"b".into()),
            Value::Bytes(vec![1, 2, 3, 4]),
            Value::Timestamp(1_614_834_367_123),
            Value::Date(18_690),
            Value::Time(45_296_789),
            Value::Array(vec![
                Value::Double(1.5),
                Value::Double(f64::NAN),
                Value::Null,
            ]),
            Value::Map(vec![(Value::String("k".into()), Value::Integer(1))]),
            Value::Struct(vec![("f1".into(), Value::String("x".into()))]),
            Value::Null,
        ];
        assert_eq!(
            encode(&columns, &values),
            r#"{"B":true,"I":-7,"L":-9223372036854775808,"D":1.0E10,"DEC":12.10,"S":"a\"b","BY":"AQIDBA==","TS":1614834367123,"DT":18690,"TM":45296789,"A":[1.5,"NaN",null],"M":{"k":1},"ST":{"f1":"x"},"N":null}"#
        );
        let back = decode(&encode(&columns, &values), &columns).expect("decodes");
        assert_eq!(back.len(), values.len());
        assert_eq!(back[..10], values[..10]);
        assert!(
            matches!(&back[10], Value::Array(a) if matches!(a[1], Value::Double(d) if d.is_nan()))
        );
        assert_eq!(back[11..], values[11..]);
    }

    #[test]
    fn decodes_case_insensitively_and_leniently() {
        let columns = vec![
            col("NAME", SqlType::String),
            col("lower", SqlType::Integer),
            col("TS", SqlType::Timestamp),
            col("MISSING", SqlType::Double),
        ];
        let got = decode(
            r#"{"name": 12.50, "lower": "42", "ts": "17", "extra": 1}"#,
            &columns,
        )
        .expect("decodes");
        assert_eq!(
            got,
            vec![
                Value::String("12.50".into()),
                Value::Integer(42),
                Value::Timestamp(17),
                Value::Null
            ]
        );
        // A quoted lower-case column does not match an upper-cased JSON name.
        let got = decode(r#"{"LOWER": 1}"#, &columns).expect("decodes");
        assert_eq!(got[1], Value::Null);
        // Exact match wins over an upper-cased one, whatever the order.
        let got = decode(r#"{"NAME":"exact","name":"upper"}"#, &columns).expect("decodes");
        assert_eq!(got[0], Value::String("exact".into()));
    }

    #[test]
    fn decode_errors_carry_ksqldb_text_and_path() {
        let columns = vec![col("B", SqlType::Boolean)];
        let err = decode(r#"{"B":"true"}"#, &columns).expect_err("no text booleans");
        assert_eq!(
            err.to_string(),
            "Failed to deserialize value: Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $.B"
        );
        let columns = vec![col("A", SqlType::Array(Box::new(SqlType::Integer)))];
        let err = decode(r#"{"A":[1,"x"]}"#, &columns).expect_err("bad element");
        assert_eq!(
            err.to_string(),
            "Failed to deserialize value: Can't coerce string to type. targetType: INTEGER, path: $.A[1]"
        );
        assert!(decode("[1]", &columns).is_err());
        assert!(decode("{", &columns).is_err());
        assert!(decode("null", &columns).is_err());
        assert!(is_tombstone(Some(b" null ")));
        assert!(is_tombstone(None));
        assert!(!is_tombstone(Some(b"{}")));
    }

    #[test]
    fn unwrapped_single_values() {
        let column = col("V", SqlType::BigInt);
        let mut out = Vec::new();
        encode_value_unwrapped(&Value::BigInt(5), &mut out);
        assert_eq!(out, b"5");
        assert_eq!(
            decode_value_unwrapped(&out, &column).expect("decodes"),
            Value::BigInt(5)
        );
        // A struct column reads its fields as a wrapped row does: exact or upper-cased.
        let column = col(
            "V",
            SqlType::Struct(vec![StructField {
                name: "A".into(),
                ty: SqlType::Double,
            }]),
        );
        assert_eq!(
            decode_value_unwrapped(br#"{"a": 45.67}"#, &column).expect("decodes"),
            Value::Struct(vec![("A".into(), Value::Double(45.67))])
        );
        let column = col("V", SqlType::Integer);
        assert_eq!(
            decode_value_unwrapped(b"[1]", &column)
                .expect_err("not an int")
                .to_string(),
            "Failed to deserialize value: Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $"
        );
    }

    #[test]
    fn row_value_skips_keys() {
        let schema = Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            col("V", SqlType::Integer),
        ]);
        let mut out = Vec::new();
        encode_row_value(
            &schema,
            &[Value::String("k".into()), Value::Integer(1)],
            &mut out,
        );
        assert_eq!(out, br#"{"V":1}"#);
    }
}
