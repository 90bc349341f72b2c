//! SQL values rendered as JSON the way ksqlDB query results show them (ksqldb-api.md §7).
//!
//! This differs from the `JSON` record format stored in topics in one way that matters:
//! TIMESTAMP, DATE and TIME are **strings** here (`"2021-03-04T05:06:07.123"`, `"2021-03-04"`,
//! `"12:34:56"`/`"12:34"`), but numbers in Kafka payloads.
//!
//! | type | rendering |
//! |---|---|
//! | DOUBLE | Java's `Double.toString` (`1.0`, `1.0E10`); NaN/±Infinity as quoted strings |
//! | DECIMAL | plain notation keeping the scale (`12.10`) |
//! | BYTES | base64 string |
//! | MAP | object; keys rendered as JSON strings |
//! | STRUCT | object with the declared field names; null fields as `null` |

use sluice_engine::codec;
use sluice_engine::codec::{write_json_value, TemporalJson};
use sluice_engine::types::Value;

/// Appends `s` as a quoted JSON string with Jackson's escaping.
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    codec::write_json_string(s, out);
}

/// Appends `value` as it appears in a query result row.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    write_json_value(value, TemporalJson::IsoText, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_engine::types::Decimal;

    fn render(value: &Value) -> String {
        let mut out = Vec::new();
        write_value(value, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn renders_like_ksqldb_query_results() {
        let cases = [
            (Value::Null, "null"),
            (Value::Boolean(false), "false"),
            (Value::Integer(-3), "-3"),
            (Value::BigInt(i64::MAX), "9223372036854775807"),
            (Value::Double(1.0), "1.0"),
            (Value::Double(1.5), "1.5"),
            (Value::Double(1.0e10), "1.0E10"),
            (Value::Double(1.0e-5), "1.0E-5"),
            (Value::Double(0.1 + 0.2), "0.30000000000000004"),
            (Value::Double(f64::NAN), "\"NaN\""),
            (Value::Double(f64::INFINITY), "\"Infinity\""),
            (Value::Double(f64::NEG_INFINITY), "\"-Infinity\""),
            (Value::Decimal(Decimal::new(1210, 2)), "12.10"),
            (Value::Decimal(Decimal::new(-5, 3)), "-0.005"),
            (Value::String("é\"\u{0}".into()), "\"é\\\"\\u0000\""),
            (Value::Bytes(b"hi".to_vec()), "\"aGk=\""),
            (
                Value::Timestamp(1_614_834_367_123),
                "\"2021-03-04T05:06:07.123\"",
            ),
            (Value::Date(18_690), "\"2021-03-04\""),
            (Value::Time(45_296_789), "\"12:34:56\""),
            (Value::Time(45_240_000), "\"12:34\""),
            (Value::Time(0), "\"00:00\""),
            (
                Value::Array(vec![Value::Integer(1), Value::Null]),
                "[1,null]",
            ),
            (
                Value::Map(vec![
                    (Value::String("a".into()), Value::Integer(1)),
                    (Value::Integer(2), Value::Date(0)),
                ]),
                "{\"a\":1,\"2\":\"1970-01-01\"}",
            ),
            (
                Value::Struct(vec![
                    ("F1".into(), Value::String("x".into())),
                    ("F2".into(), Value::Null),
                ]),
                "{\"F1\":\"x\",\"F2\":null}",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(render(&value), want, "{value:?}");
        }
    }

    #[test]
    fn strings_escape_controls() {
        let mut out = Vec::new();
        write_json_string("a\tb\u{1f}", &mut out);
        assert_eq!(out, b"\"a\\tb\\u001F\"");
    }
}
