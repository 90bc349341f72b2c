//! The coercion rules' cases: API mode, KafkaJson mode, and the helpers they share.

use super::*;
use super::kafka_json::java_parse_double;
use crate::types::{Decimal, StructField};

fn dec(precision: u8, scale: u8) -> SqlType {
    SqlType::Decimal { precision, scale }
}

fn api(json: &str, ty: &SqlType) -> Result<Value> {
    coerce_json_text(json, ty, CoercionMode::Api)
}

fn kj(json: &str, ty: &SqlType) -> Result<Value> {
    coerce_json_text(json, ty, CoercionMode::KafkaJson)
}

fn api_err(json: &str, ty: &SqlType) -> String {
    api(json, ty).expect_err("should fail").to_string()
}

fn kj_err(json: &str, ty: &SqlType) -> String {
    kj(json, ty).expect_err("should fail").to_string()
}

#[test]
fn api_accepts_what_ksqldb_accepts() {
    let ok = |json: &str, ty: SqlType, want: Value| {
        assert_eq!(api(json, &ty).expect(json), want, "{json} as {ty}");
    };
    ok("true", SqlType::Boolean, Value::Boolean(true));
    ok("2147483647", SqlType::Integer, Value::Integer(i32::MAX));
    ok("-5", SqlType::BigInt, Value::BigInt(-5));
    ok("3000000000", SqlType::BigInt, Value::BigInt(3_000_000_000));
    ok("2", SqlType::Double, Value::Double(2.0));
    ok("2.5e3", SqlType::Double, Value::Double(2500.0));
    ok("1.005", dec(4, 2), Value::Decimal(Decimal::new(101, 2)));
    ok("-1.005", dec(4, 2), Value::Decimal(Decimal::new(-101, 2)));
    ok("12", dec(4, 2), Value::Decimal(Decimal::new(1200, 2)));
    ok(
        "\"12.345\"",
        dec(4, 2),
        Value::Decimal(Decimal::new(1235, 2)),
    );
    ok("\"x\\u00e9\"", SqlType::String, Value::String("xé".into()));
    ok("\"AQID\"", SqlType::Bytes, Value::Bytes(vec![1, 2, 3]));
    ok("\"AQI\"", SqlType::Bytes, Value::Bytes(vec![1, 2]));
    ok(
        "\"2021-03-04T05:06:07.123\"",
        SqlType::Timestamp,
        Value::Timestamp(1_614_834_367_123),
    );
    ok("\"2021-03-04\"", SqlType::Date, Value::Date(18_690));
    ok("\"12:34:56\"", SqlType::Time, Value::Time(45_296_000));
    ok("null", SqlType::Integer, Value::Null);
    ok(
        "{\"2021-03-04\": 1}",
        SqlType::Map(Box::new(SqlType::Date), Box::new(SqlType::Integer)),
        Value::Map(vec![(Value::Date(18_690), Value::Integer(1))]),
    );
    ok(
        "{\"a\":1,\"a\":2}",
        SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
        Value::Map(vec![(Value::String("a".into()), Value::Integer(2))]),
    );
}

#[test]
fn api_rejects_with_ksqldb_text() {
    let cases = [
        (
            "\"1\"",
            SqlType::BigInt,
            "class java.lang.String (1) into type BIGINT",
        ),
        (
            "1",
            SqlType::String,
            "class java.lang.Integer (1) into type STRING",
        ),
        (
            "1.5",
            SqlType::Integer,
            "class java.lang.Double (1.5) into type INTEGER",
        ),
        (
            "1e10",
            SqlType::BigInt,
            "class java.lang.Double (1.0E10) into type BIGINT",
        ),
        (
            "3000000000",
            SqlType::Integer,
            "class java.lang.Long (3000000000) into type INTEGER",
        ),
        (
            "99999999999999999999",
            SqlType::BigInt,
            "class java.math.BigInteger (99999999999999999999) into type BIGINT",
        ),
        (
            "true",
            SqlType::String,
            "class java.lang.Boolean (true) into type STRING",
        ),
        (
            "\"true\"",
            SqlType::Boolean,
            "class java.lang.String (true) into type BOOLEAN",
        ),
        (
            "123456",
            dec(4, 2),
            "class java.lang.Integer (123456) into type DECIMAL(4, 2)",
        ),
        (
            "99.999",
            dec(4, 2),
            "class java.lang.Double (99.999) into type DECIMAL(4, 2)",
        ),
        (
            "\"abc\"",
            dec(4, 2),
            "class java.lang.String (abc) into type DECIMAL(4, 2)",
        ),
        (
            "1614834367123",
            SqlType::Timestamp,
            "class java.lang.Long (1614834367123) into type TIMESTAMP",
        ),
        (
            "\"yesterday\"",
            SqlType::Date,
            "class java.lang.String (yesterday) into type DATE",
        ),
        (
            "\"25:00\"",
            SqlType::Time,
            "class java.lang.String (25:00) into type TIME",
        ),
        (
            "\"!!\"",
            SqlType::Bytes,
            "class java.lang.String (!!) into type BYTES",
        ),
        (
            "[1, \"a\"]",
            SqlType::Array(Box::new(SqlType::Integer)),
            "class io.vertx.core.json.JsonArray ([1,\"a\"]) into type ARRAY<INTEGER>",
        ),
        (
            "{\"a\": 1}",
            SqlType::Array(Box::new(SqlType::Integer)),
            "class io.vertx.core.json.JsonObject ({\"a\":1}) into type ARRAY<INTEGER>",
        ),
        (
            "{\"a\": 1}",
            SqlType::Map(Box::new(SqlType::Integer), Box::new(SqlType::Integer)),
            "class io.vertx.core.json.JsonObject ({\"a\":1}) into type MAP<INTEGER, INTEGER>",
        ),
    ];
    for (json, ty, tail) in cases {
        assert_eq!(
            api_err(json, &ty),
            format!("Can't coerce a field of type {tail}"),
            "{json} as {ty}"
        );
    }
}

#[test]
fn api_structs_normalise_names() {
    let ty = SqlType::Struct(vec![
        StructField {
            name: "A".into(),
            ty: SqlType::Integer,
        },
        StructField {
            name: "b".into(),
            ty: SqlType::String,
        },
    ]);
    assert_eq!(
        api("{\"a\":1,\"`b`\":\"x\",\"other\":true}", &ty).expect("coerces"),
        Value::Struct(vec![
            ("A".into(), Value::Integer(1)),
            ("b".into(), Value::String("x".into())),
        ])
    );
    assert_eq!(
        api("{\"b\":\"x\"}", &ty).expect("coerces"),
        Value::Struct(vec![("A".into(), Value::Null), ("b".into(), Value::Null)])
    );
    assert_eq!(
        api_err("{\"a\":1,\"`A`\":2}", &ty),
        "Found duplicate column / struct field name: A"
    );
    assert_eq!(
        api_err("{\"`a``\":1}", &ty),
        "Invalid column / struct field name. Name: `a``. Reason: Un-escaped quote in middle of value at index 2."
    );
    assert_eq!(identifier_text("`a``b`").as_deref(), Ok("a`b"));
    assert_eq!(identifier_text("\"Mixed\"").as_deref(), Ok("Mixed"));
    assert_eq!(identifier_text("straße").as_deref(), Ok("STRASSE"));
}

#[test]
fn kafka_json_is_lenient_like_the_deserializer() {
    let ok = |json: &str, ty: SqlType, want: Value| {
        assert_eq!(kj(json, &ty).expect(json), want, "{json} as {ty}");
    };
    ok(
        "1614834367123",
        SqlType::Timestamp,
        Value::Timestamp(1_614_834_367_123),
    );
    ok("\"17\"", SqlType::Timestamp, Value::Timestamp(17));
    ok("18690", SqlType::Date, Value::Date(18_690));
    ok("45296789", SqlType::Time, Value::Time(45_296_789));
    ok("\"42\"", SqlType::Integer, Value::Integer(42));
    ok("1.9", SqlType::Integer, Value::Integer(1));
    ok("-1.9", SqlType::BigInt, Value::BigInt(-1));
    ok(
        "3000000000",
        SqlType::Integer,
        Value::Integer(-1_294_967_296),
    );
    ok("\" 2.5 \"", SqlType::Double, Value::Double(2.5));
    assert!(matches!(kj("\"NaN\"", &SqlType::Double), Ok(Value::Double(d)) if d.is_nan()));
    ok("\"12.1\"", dec(4, 2), Value::Decimal(Decimal::new(1210, 2)));
    ok("1", SqlType::String, Value::String("1".into()));
    ok("1.50", SqlType::String, Value::String("1.50".into()));
    ok("1e5", SqlType::String, Value::String("1E+5".into()));
    ok("true", SqlType::String, Value::String("true".into()));
    ok(
        "{ \"a\" : 1 }",
        SqlType::String,
        Value::String("{\"a\":1}".into()),
    );
    ok(
        "[1, \"a\", null]",
        SqlType::String,
        Value::String("[1, a, null]".into()),
    );
    ok("\"AQID\"", SqlType::Bytes, Value::Bytes(vec![1, 2, 3]));
    ok(
        "{\"x\": 1}",
        SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::BigInt)),
        Value::Map(vec![(Value::String("x".into()), Value::BigInt(1))]),
    );
}

#[test]
fn kafka_json_errors_carry_ksqldb_text() {
    assert_eq!(
        kj_err("\"yes\"", &SqlType::Boolean),
        "Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $"
    );
    assert_eq!(
        kj_err("true", &SqlType::Integer),
        "Can't convert type. sourceType: BooleanNode, requiredType: INTEGER, path: $"
    );
    assert_eq!(
        kj_err("\"x\"", &SqlType::BigInt),
        "Can't coerce string to type. targetType: BIGINT, path: $"
    );
    assert_eq!(
        kj_err("1.234", &dec(4, 2)),
        "Cannot fit decimal '1.234' into DECIMAL(4, 2) without rounding. (Requires 4,3), path: $"
    );
    assert_eq!(
        kj_err("123.4", &dec(4, 2)),
        "Numeric field overflow: A field with precision 4 and scale 2 must round to an \
         absolute value less than 10^2. Got 123.4, path: $"
    );
    // A huge exponent is named in scientific form, not spelled out (that took 2 GB).
    assert_eq!(
        kj_err("-37e977777554", &dec(10, 3)),
        "Numeric field overflow: A field with precision 10 and scale 3 must round to an \
         absolute value less than 10^7. Got -3.7E+977777555, path: $"
    );
    assert_eq!(
        kj_err("1e65", &dec(10, 3)),
        "Numeric field overflow: A field with precision 10 and scale 3 must round to an \
         absolute value less than 10^7. Got 1E+65, path: $"
    );
    assert_eq!(
        kj_err("86400001", &SqlType::Time),
        "Time values must use number of milliseconds greater than 0 and less than 86400000., path: $"
    );
    assert_eq!(
        kj_err("\"!!\"", &SqlType::Bytes),
        "Value is not a valid Base64 encoded string: !!, path: $"
    );
    let nested = SqlType::Struct(vec![StructField {
        name: "F".into(),
        ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
    }]);
    assert_eq!(
        kj_err("{\"f\": {\"k\": []}}", &nested),
        "Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $.F.k.value"
    );
}

#[test]
fn java_double_parsing_rejects_rust_only_spellings() {
    assert_eq!(java_parse_double("inf"), None);
    assert_eq!(java_parse_double("1.5d"), Some(1.5));
    assert_eq!(java_parse_double("-Infinity"), Some(f64::NEG_INFINITY));
    assert_eq!(java_parse_double(""), None);
}
