//! The `KAFKA` format for one key column: exactly Kafka's primitive serializers, so records
//! are byte-compatible with ksqlDB and any Kafka client (`KafkaSerdeFactory`).
//!
//! | SQL type | bytes |
//! |---|---|
//! | STRING | UTF-8 (`StringSerializer`) |
//! | INTEGER | 4 bytes big-endian (`IntegerSerializer`) |
//! | BIGINT | 8 bytes big-endian (`LongSerializer`) |
//! | DOUBLE | 8 bytes big-endian IEEE-754 bits (`DoubleSerializer`) |

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::types::{Column, SqlType, Value};

/// Checks the key columns can use the `KAFKA` format: none, or one primitive column. Texts are
/// ksqlDB's (`KafkaSerdeFactory`).
pub fn validate_kafka_key_columns(columns: &[&Column]) -> Result<()> {
    match columns {
        [] => Ok(()),
        [column] if column.ty.is_kafka_key_primitive() => Ok(()),
        [column] => Err(EngineError::unsupported(format!(
            "The 'KAFKA' format does not support type '{}'",
            column.ty.base_name()
        ))),
        many => {
            let listed: Vec<String> = many
                .iter()
                .map(|c| format!("`{}` {} KEY", c.name, c.ty))
                .collect();
            Err(EngineError::unsupported(format!(
                "The 'KAFKA' format only supports a single field. Got: [{}]",
                listed.join(", ")
            )))
        }
    }
}

/// Serializes one key value; `None` for a null value (Kafka serializers map null to null).
pub fn serialize_kafka_key(column: &Column, value: &Value) -> Result<Option<Bytes>> {
    let bytes = match (&column.ty, value) {
        (_, Value::Null) => return Ok(None),
        (SqlType::String, Value::String(s)) => Bytes::copy_from_slice(s.as_bytes()),
        (SqlType::Integer, Value::Integer(i)) => Bytes::copy_from_slice(&i.to_be_bytes()),
        (SqlType::BigInt, Value::BigInt(i)) => Bytes::copy_from_slice(&i.to_be_bytes()),
        (SqlType::Double, Value::Double(d)) => Bytes::copy_from_slice(&d.to_bits().to_be_bytes()),
        (ty, _) if !ty.is_kafka_key_primitive() => {
            return Err(EngineError::unsupported(format!(
                "The 'KAFKA' format does not support type '{}'",
                ty.base_name()
            )))
        }
        (ty, v) => {
            return Err(EngineError::internal(format!(
                "key column `{}` of type {ty} was given a mismatched value {v:?}",
                column.name
            )))
        }
    };
    Ok(Some(bytes))
}

/// Deserializes one key value from its bytes, with Kafka's deserializer errors.
pub fn deserialize_kafka_key(column: &Column, bytes: &[u8]) -> Result<Value> {
    let fixed = |deserializer: &str, want: usize| -> Result<()> {
        if bytes.len() == want {
            Ok(())
        } else {
            Err(EngineError::bad_request(format!(
                "Error deserializing KAFKA message: Size of data received by {deserializer} \
                 is not {want}"
            )))
        }
    };
    match &column.ty {
        SqlType::String => std::str::from_utf8(bytes)
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| {
                EngineError::bad_request(format!(
                    "Error deserializing KAFKA message: key is not valid UTF-8: {e}"
                ))
            }),
        SqlType::Integer => {
            fixed("IntegerDeserializer", 4)?;
            let arr: [u8; 4] = bytes.try_into().expect("length checked");
            Ok(Value::Integer(i32::from_be_bytes(arr)))
        }
        SqlType::BigInt => {
            fixed("LongDeserializer", 8)?;
            let arr: [u8; 8] = bytes.try_into().expect("length checked");
            Ok(Value::BigInt(i64::from_be_bytes(arr)))
        }
        SqlType::Double => {
            fixed("DoubleDeserializer", 8)?;
            let arr: [u8; 8] = bytes.try_into().expect("length checked");
            Ok(Value::Double(f64::from_bits(u64::from_be_bytes(arr))))
        }
        ty => Err(EngineError::unsupported(format!(
            "The 'KAFKA' format does not support type '{}'",
            ty.base_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ColumnKind;

    fn key(ty: SqlType) -> Column {
        Column::new("K", ty, ColumnKind::Key)
    }

    #[test]
    fn byte_layouts_match_kafka_serializers() {
        let cases = [
            (
                key(SqlType::String),
                Value::String("héllo".into()),
                "héllo".as_bytes().to_vec(),
            ),
            (key(SqlType::Integer), Value::Integer(1), vec![0, 0, 0, 1]),
            (
                key(SqlType::Integer),
                Value::Integer(-2),
                vec![0xff, 0xff, 0xff, 0xfe],
            ),
            (
                key(SqlType::BigInt),
                Value::BigInt(258),
                vec![0, 0, 0, 0, 0, 0, 1, 2],
            ),
            (
                key(SqlType::Double),
                Value::Double(1.5),
                vec![0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
            ),
            (key(SqlType::String), Value::String(String::new()), vec![]),
        ];
        for (column, value, want) in cases {
            let bytes = serialize_kafka_key(&column, &value)
                .expect("serializes")
                .expect("not null");
            assert_eq!(bytes.as_ref(), want.as_slice(), "{value:?}");
            assert_eq!(
                deserialize_kafka_key(&column, &bytes).expect("decodes"),
                value
            );
        }
        assert_eq!(
            serialize_kafka_key(&key(SqlType::Integer), &Value::Null).expect("ok"),
            None
        );
    }

    #[test]
    fn errors_use_ksqldb_and_kafka_texts() {
        let err = deserialize_kafka_key(&key(SqlType::Integer), &[1, 2]).expect_err("short");
        assert_eq!(
            err.to_string(),
            "Error deserializing KAFKA message: Size of data received by IntegerDeserializer is not 4"
        );
        let b = key(SqlType::Boolean);
        assert_eq!(
            validate_kafka_key_columns(&[&b])
                .expect_err("no")
                .to_string(),
            "The 'KAFKA' format does not support type 'BOOLEAN'"
        );
        let k1 = Column::new("K1", SqlType::String, ColumnKind::Key);
        let k2 = Column::new("K2", SqlType::Integer, ColumnKind::Key);
        assert_eq!(
            validate_kafka_key_columns(&[&k1, &k2]).expect_err("no").to_string(),
            "The 'KAFKA' format only supports a single field. Got: [`K1` STRING KEY, `K2` INTEGER KEY]"
        );
        assert!(validate_kafka_key_columns(&[]).is_ok());
    }
}
