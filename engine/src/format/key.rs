//! Record keys in the `KAFKA`, `JSON`, `DELIMITED` and `NONE` key formats.
//!
//! * `KAFKA`: one primitive key column in Kafka's serializer layout ([`super::kafka_key`]).
//! * `JSON`: one key column is written as the bare JSON value (`"abc"`, `1`), as ksqlDB does
//!   for single-column JSON keys; several are written as an object `{"K1":…,"K2":…}`.
//! * `DELIMITED`: the key columns as one comma-separated line ([`super::delimited_key`]).
//! * `NONE`: no key bytes at all (streams without key columns).
//!
//! A null key (every key value null, or no key columns) has no bytes: `None`.

use std::borrow::Borrow;

use bytes::Bytes;

use super::coerce::{self, classify, CoercionMode, Json};
use super::json_value::{kind_name, write_stored_json};
use super::delimited_key;
use super::kafka_key;
use super::KeyFormat;
use crate::error::{EngineError, ErrorCode, Result};
use crate::types::{Column, Value};

/// Checks `key_columns` are allowed in `format` (ksqlDB's texts).
pub fn validate_key_columns<C: Borrow<Column>>(format: KeyFormat, key_columns: &[C]) -> Result<()> {
    let columns: Vec<&Column> = key_columns.iter().map(Borrow::borrow).collect();
    match format {
        KeyFormat::Kafka => kafka_key::validate_kafka_key_columns(&columns),
        KeyFormat::Json => Ok(()),
        KeyFormat::Delimited(_) => delimited_key::validate_delimited_key_columns(&columns),
        KeyFormat::None if columns.is_empty() => Ok(()),
        KeyFormat::None => Err(EngineError::unsupported(format!(
            "The 'NONE' format can only be used when no columns are defined. Got: [{}]",
            columns
                .iter()
                .map(|c| format!("`{}` {} KEY", c.name, c.ty))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The allocation-free part of [`validate_key_columns`] for the per-record paths: column
/// counts. (Column types are checked when a value is serialized.)
fn check_shape<C: Borrow<Column>>(format: KeyFormat, key_columns: &[C]) -> Result<()> {
    match (format, key_columns.len()) {
        (KeyFormat::Kafka, n) if n > 1 => validate_key_columns(format, key_columns),
        (KeyFormat::None, n) if n > 0 => validate_key_columns(format, key_columns),
        _ => Ok(()),
    }
}

/// Serializes the key values (one per key column, in order) to record key bytes.
pub fn encode_key<C: Borrow<Column>>(
    format: KeyFormat,
    key_columns: &[C],
    values: &[Value],
) -> Result<Option<Bytes>> {
    if key_columns.len() != values.len() {
        return Err(EngineError::internal(format!(
            "{} key values for {} key columns",
            values.len(),
            key_columns.len()
        )));
    }
    check_shape(format, key_columns)?;
    match format {
        KeyFormat::None => Ok(None),
        KeyFormat::Kafka => match (key_columns.first(), values.first()) {
            (Some(column), Some(value)) => kafka_key::serialize_kafka_key(column.borrow(), value),
            _ => Ok(None),
        },
        KeyFormat::Json => {
            if values.iter().all(Value::is_null) {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(32);
            if let [value] = values {
                write_stored_json(value, &mut out);
            } else {
                super::json_value::encode_value(key_columns, values, &mut out);
            }
            Ok(Some(Bytes::from(out)))
        }
        KeyFormat::Delimited(delimiter) => {
            delimited_key::serialize_delimited_key(key_columns, values, delimiter)
        }
    }
}

/// Deserializes record key bytes, pushing one value per key column onto `out`. A missing key
/// (`None`) gives nulls.
pub fn decode_key<C: Borrow<Column>>(
    format: KeyFormat,
    key_columns: &[C],
    bytes: Option<&[u8]>,
    out: &mut Vec<Value>,
) -> Result<()> {
    check_shape(format, key_columns)?;
    let Some(bytes) = bytes else {
        out.extend(key_columns.iter().map(|_| Value::Null));
        return Ok(());
    };
    match format {
        KeyFormat::None => Ok(()),
        KeyFormat::Kafka => {
            if let Some(column) = key_columns.first() {
                out.push(kafka_key::deserialize_kafka_key(column.borrow(), bytes)?);
            }
            Ok(())
        }
        KeyFormat::Json => decode_json_key(key_columns, bytes, out),
        KeyFormat::Delimited(delimiter) => {
            delimited_key::deserialize_delimited_key(key_columns, bytes, delimiter, out)
        }
    }
}

fn decode_json_key<C: Borrow<Column>>(
    key_columns: &[C],
    bytes: &[u8],
    out: &mut Vec<Value>,
) -> Result<()> {
    let prefix = |e: EngineError| match e.code() {
        ErrorCode::BadRequest => e.context("Failed to deserialize key: "),
        _ => e,
    };
    let lv = coerce::parse_json_value(bytes).map_err(prefix)?;
    match key_columns {
        [] => Ok(()),
        [column] => {
            let value = coerce::coerce_json(&lv, &column.borrow().ty, CoercionMode::KafkaJson)
                .map_err(prefix)?;
            out.push(value);
            Ok(())
        }
        many => match classify(&lv) {
            Json::Null => {
                out.extend(many.iter().map(|_| Value::Null));
                Ok(())
            }
            Json::Object => coerce::kafka_json_fields(
                &lv,
                many.len(),
                |i| many[i].borrow().name.as_str(),
                |i| &many[i].borrow().ty,
                |_, v| out.push(v),
            )
            .map_err(|e| prefix(e.into_error("$"))),
            _ => Err(EngineError::bad_request(format!(
                "Failed to deserialize key: expected a JSON object, got {}",
                kind_name(&lv)
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ColumnKind, SqlType};

    fn key(name: &str, ty: SqlType) -> Column {
        Column::new(name, ty, ColumnKind::Key)
    }

    fn round_trip(format: KeyFormat, columns: &[Column], values: Vec<Value>) -> Option<Bytes> {
        let bytes = encode_key(format, columns, &values).expect("encodes");
        let mut back = Vec::new();
        decode_key(format, columns, bytes.as_deref(), &mut back).expect("decodes");
        if format != KeyFormat::None {
            assert_eq!(back, values);
        }
        bytes
    }

    #[test]
    fn json_keys_single_bare_several_as_object() {
        let single = [key("K", SqlType::String)];
        let bytes = round_trip(KeyFormat::Json, &single, vec![Value::String("abc".into())]);
        assert_eq!(bytes.as_deref(), Some(&b"\"abc\""[..]));
        let int = [key("K", SqlType::Integer)];
        let bytes = round_trip(KeyFormat::Json, &int, vec![Value::Integer(1)]);
        assert_eq!(bytes.as_deref(), Some(&b"1"[..]));
        let two = [key("K1", SqlType::String), key("K2", SqlType::BigInt)];
        let bytes = round_trip(
            KeyFormat::Json,
            &two,
            vec![Value::String("a".into()), Value::BigInt(2)],
        );
        assert_eq!(bytes.as_deref(), Some(&br#"{"K1":"a","K2":2}"#[..]));
        assert_eq!(
            round_trip(KeyFormat::Json, &single, vec![Value::Null]),
            None
        );
    }

    #[test]
    fn kafka_and_none_keys() {
        let single = [key("K", SqlType::BigInt)];
        let bytes = round_trip(KeyFormat::Kafka, &single, vec![Value::BigInt(1)]);
        assert_eq!(bytes.as_deref(), Some(&[0, 0, 0, 0, 0, 0, 0, 1][..]));
        let none: [Column; 0] = [];
        assert_eq!(round_trip(KeyFormat::None, &none, vec![]), None);
        assert_eq!(round_trip(KeyFormat::Kafka, &none, vec![]), None);
        let err = encode_key(KeyFormat::None, &single, &[Value::BigInt(1)]).expect_err("no keys");
        assert!(err.code() == crate::error::ErrorCode::Unsupported);
        let mut out = Vec::new();
        decode_key(KeyFormat::Kafka, &single, None, &mut out).expect("null key");
        assert_eq!(out, vec![Value::Null]);
    }
}
