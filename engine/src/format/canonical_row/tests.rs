//! The fast path on rows of every shape: the stored bytes it writes, spelled out, and its
//! agreement with the full decoder and the canonical encoder.

use super::*;
use crate::format::insert_row::decode_insert_row;
use crate::format::json_value::{encode_row_value, encode_row_value_unwrapped};
use crate::types::{Column, StructField};

fn col(name: &str, ty: SqlType) -> Column {
    Column::new(name, ty, ColumnKind::Value)
}

fn key(name: &str, ty: SqlType) -> Column {
    Column::new(name, ty, ColumnKind::Key)
}

/// The issue's stream: `BENCH (ID BIGINT, USER STRING, AMOUNT DOUBLE, TS BIGINT, TAGS
/// STRING, REGION STRING)`.
fn bench() -> Schema {
    Schema::new(vec![
        col("ID", SqlType::BigInt),
        col("USER", SqlType::String),
        col("AMOUNT", SqlType::Double),
        col("TS", SqlType::BigInt),
        col("TAGS", SqlType::String),
        col("REGION", SqlType::String),
    ])
}

/// What the fast path stores for `line`, after checking it agrees with the full decoder
/// and the canonical encoder.
fn stored(schema: &Schema, line: &str) -> Option<String> {
    stored_with(schema, ValueWrapping::Wrapped, None, line).map(|(value, _, _)| value)
}

fn stored_with(
    schema: &Schema,
    wrapping: ValueWrapping,
    timestamp: Option<&str>,
    line: &str,
) -> Option<(String, Vec<Value>, Option<i64>)> {
    let mut encoder = RowEncoder::new(schema, wrapping, timestamp);
    let full = decode_insert_row(line.as_bytes(), schema);
    let Some(row) = encoder.encode(line.as_bytes()) else {
        assert!(full.is_err(), "{line}: the fast path left a valid row: {full:?}");
        return None;
    };
    let full = full.unwrap_or_else(|e| panic!("{line}: fast path took a bad row: {e}"));
    let mut canonical = Vec::new();
    match wrapping {
        ValueWrapping::Wrapped => encode_row_value(schema, &full.values, &mut canonical),
        ValueWrapping::Unwrapped => {
            let (i, _) = schema
                .columns
                .iter()
                .enumerate()
                .find(|(_, c)| c.kind == ColumnKind::Value)
                .expect("a value column");
            if !full.values[i].is_null() {
                encode_row_value_unwrapped(&full.values[i], &mut canonical);
            }
        }
    }
    let value = row.value.clone().map(|v| v.to_vec()).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&value),
        String::from_utf8_lossy(&canonical),
        "{line}"
    );
    let full_keys: Vec<Value> = schema
        .columns
        .iter()
        .zip(&full.values)
        .filter(|(c, _)| c.kind == ColumnKind::Key)
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(row.keys, full_keys.as_slice(), "{line}");
    Some((
        String::from_utf8(value).expect("stored JSON is UTF-8"),
        row.keys.to_vec(),
        row.timestamp_ms,
    ))
}

#[test]
fn producers_rows_store_ksqldbs_bytes() {
    let want = r#"{"ID":0,"USER":"u670487","AMOUNT":145.92,"TS":1700000000000,"TAGS":"a,b","REGION":"eu-west-1"}"#;
    // Exact names in order: the line is already the stored value.
    assert_eq!(stored(&bench(), want).as_deref(), Some(want));
    // Lower-case names, as most producers write them.
    assert_eq!(
        stored(
            &bench(),
            r#"{"id":0,"user":"u670487","amount":145.92,"ts":1700000000000,"tags":"a,b","region":"eu-west-1"}"#
        )
        .as_deref(),
        Some(want)
    );
    // Any order, any case, whitespace, and an unknown field.
    assert_eq!(
        stored(
            &bench(),
            r#" { "Region" : "eu-west-1", "tags":"a,b" ,"AMOUNT":145.92,"x":[1,{"y":null}],"ts":1700000000000,"User":"u670487","iD":0 } "#
        )
        .as_deref(),
        Some(want)
    );
    // Absent nullable columns are stored as null.
    assert_eq!(
        stored(&bench(), r#"{"id":1}"#).as_deref(),
        Some(r#"{"ID":1,"USER":null,"AMOUNT":null,"TS":null,"TAGS":null,"REGION":null}"#)
    );
    assert_eq!(
        stored(&bench(), "{}").as_deref(),
        Some(r#"{"ID":null,"USER":null,"AMOUNT":null,"TS":null,"TAGS":null,"REGION":null}"#)
    );
}

#[test]
fn numbers_in_any_spelling_are_stored_as_java_writes_them() {
    let schema = Schema::new(vec![
        col("I", SqlType::Integer),
        col("L", SqlType::BigInt),
        col("D", SqlType::Double),
    ]);
    let cases = [
        (r#"{"d":1.50}"#, "null,\"L\":null,\"D\":1.5}"),
        (r#"{"d":1e3}"#, "null,\"L\":null,\"D\":1000.0}"),
        (r#"{"d":12}"#, "null,\"L\":null,\"D\":12.0}"),
        (r#"{"d":-0}"#, "null,\"L\":null,\"D\":0.0}"),
        (r#"{"d":-0.0}"#, "null,\"L\":null,\"D\":-0.0}"),
        (r#"{"d":12345678}"#, "null,\"L\":null,\"D\":1.2345678E7}"),
        (r#"{"d":0.0001}"#, "null,\"L\":null,\"D\":1.0E-4}"),
        (r#"{"d":1E+2}"#, "null,\"L\":null,\"D\":100.0}"),
        (r#"{"d":1e400}"#, "null,\"L\":null,\"D\":\"Infinity\"}"),
        (r#"{"d":-1e400}"#, "null,\"L\":null,\"D\":\"-Infinity\"}"),
        (
            r#"{"d":9223372036854775807}"#,
            "null,\"L\":null,\"D\":9.223372036854776E18}",
        ),
        (r#"{"i":-0,"l":-0}"#, "0,\"L\":0,\"D\":null}"),
        (
            r#"{"i":2147483647,"l":9223372036854775807}"#,
            "2147483647,\"L\":9223372036854775807,\"D\":null}",
        ),
        (
            r#"{"i":-2147483648,"l":-9223372036854775808}"#,
            "-2147483648,\"L\":-9223372036854775808,\"D\":null}",
        ),
    ];
    for (line, tail) in cases {
        assert_eq!(
            stored(&schema, line),
            Some(format!("{{\"I\":{tail}")),
            "{line}"
        );
    }
    // Beyond the type, or not an integer: errors, left to the full decoder.
    for bad in [
        r#"{"i":2147483648}"#,
        r#"{"i":-2147483649}"#,
        r#"{"l":9223372036854775808}"#,
        r#"{"d":9223372036854775808}"#,
        r#"{"i":1.0}"#,
        r#"{"l":1e2}"#,
        r#"{"i":"1"}"#,
        r#"{"d":"1.5"}"#,
        r#"{"d":true}"#,
    ] {
        assert_eq!(stored(&schema, bad), None, "{bad}");
    }
}

#[test]
fn strings_are_escaped_as_jacksons_utf8_generator_does() {
    let schema = Schema::new(vec![col("S", SqlType::String)]);
    let cases = [
        (r#"{"s":"plain"}"#, r#"{"S":"plain"}"#),
        (r#"{"s":"a\/b"}"#, r#"{"S":"a/b"}"#),
        (r#"{"s":"\u00e9\u0041"}"#, "{\"S\":\"éA\"}"),
        ("{\"s\":\"é ü 中\"}", "{\"S\":\"é ü 中\"}"),
        (r#"{"s":"q\"b\\n\n\t\r\b\f"}"#, r#"{"S":"q\"b\\n\n\t\r\b\f"}"#),
        (r#"{"s":"\u0001\u001f\u007f"}"#, "{\"S\":\"\\u0001\\u001F\u{7f}\"}"),
        ("{\"s\":\"\u{1F600}\"}", r#"{"S":"\uD83D\uDE00"}"#),
        (r#"{"s":"\ud83d\ude00"}"#, r#"{"S":"\uD83D\uDE00"}"#),
        (r#"{"s":""}"#, r#"{"S":""}"#),
    ];
    for (line, want) in cases {
        assert_eq!(stored(&schema, line).as_deref(), Some(want), "{line}");
    }
    // No Rust string holds a lone surrogate: both paths refuse it, and a bad escape.
    for bad in [r#"{"s":"\ud800"}"#, r#"{"s":"\udc00\ud800"}"#, r#"{"s":"\u]0009"}"#] {
        assert_eq!(stored(&schema, bad), None, "{bad}");
    }
}

#[test]
fn quoted_names_match_exactly() {
    let schema = Schema::new(vec![col("lower", SqlType::Integer), col("UP", SqlType::Integer)]);
    assert_eq!(
        stored(&schema, r#"{"`lower`":1,"\"UP\"":2}"#).as_deref(),
        Some(r#"{"lower":1,"UP":2}"#)
    );
    // Unquoted names are upper-cased: `lower` denotes LOWER, which is no column.
    assert_eq!(
        stored(&schema, r#"{"lower":1,"up":2}"#).as_deref(),
        Some(r#"{"lower":null,"UP":2}"#)
    );
    // The same raw name twice keeps the last value; two spellings of one column fail.
    assert_eq!(
        stored(&schema, r#"{"up":"x","up":3}"#).as_deref(),
        Some(r#"{"lower":null,"UP":3}"#)
    );
    assert_eq!(stored(&schema, r#"{"up":1,"UP":2}"#), None);
    assert_eq!(stored(&schema, r#"{"x":1,"X":2}"#), None);
    assert_eq!(stored(&schema, r#"{"`up":1}"#), None);
}

fn nested() -> Schema {
    Schema::new(vec![
        col(
            "DEVICE",
            SqlType::Struct(vec![
                StructField {
                    name: "OS".into(),
                    ty: SqlType::String,
                },
                StructField {
                    name: "VERSION".into(),
                    ty: SqlType::Integer,
                },
                StructField {
                    name: "tags".into(),
                    ty: SqlType::Array(Box::new(SqlType::String)),
                },
            ]),
        ),
        col("SCORES", SqlType::Array(Box::new(SqlType::Double))),
        col(
            "ATTRS",
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::BigInt)),
        ),
        col(
            "PRICE",
            SqlType::Decimal {
                precision: 6,
                scale: 2,
            },
        ),
        col("AT", SqlType::Timestamp),
    ])
}

#[test]
fn nested_columns_decimals_and_times() {
    assert_eq!(
        stored(
            &nested(),
            r#"{"device":{"version":3,"os":"ios","`tags`":["a"],"extra":{}},"scores":[1,2.50,-0.0],"attrs":{"b":2,"a":1},"price":12.5,"at":"2021-03-04T05:06:07.123"}"#
        )
        .as_deref(),
        Some(
            r#"{"DEVICE":{"OS":"ios","VERSION":3,"tags":["a"]},"SCORES":[1.0,2.5,-0.0],"ATTRS":{"a":1,"b":2},"PRICE":12.50,"AT":1614834367123}"#
        )
    );
    // Absent struct fields are null; a map keeps a repeated key's last value in its place.
    assert_eq!(
        stored(
            &nested(),
            r#"{"DEVICE":{},"ATTRS":{"z":1,"y":2,"z":3},"PRICE":"1.005","SCORES":[]}"#
        )
        .as_deref(),
        Some(
            r#"{"DEVICE":{"OS":null,"VERSION":null,"tags":null},"SCORES":[],"ATTRS":{"y":2,"z":3},"PRICE":1.01,"AT":null}"#
        )
    );
    for bad in [
        r#"{"device":{"os":1}}"#,
        r#"{"device":{"os":"a","OS":"b"}}"#,
        r#"{"device":[]}"#,
        r#"{"scores":[1,"x"]}"#,
        r#"{"attrs":{"a":"1"}}"#,
        r#"{"price":10000}"#,
        r#"{"price":1.005e4}"#,
        r#"{"at":1614834367123}"#,
        r#"{"at":"yesterday"}"#,
    ] {
        assert_eq!(stored(&nested(), bad), None, "{bad}");
    }
}

#[test]
fn maps_are_stored_in_java_hash_map_order() {
    let schema = Schema::new(vec![col(
        "M",
        SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
    )]);
    // String.hashCode: "b" 98, "a" 97, "c" 99, "yes, thanks" and "sure, yeah" collide.
    assert_eq!(
        stored(&schema, r#"{"m":{"c":3,"b":2,"a":1}}"#).as_deref(),
        Some(r#"{"M":{"a":1,"b":2,"c":3}}"#)
    );
    // 13 keys grow the table from 16 to 32 buckets: "q" (113) then sorts after "a" (97).
    let keys = "abcdefghijklq";
    let line = format!(
        "{{\"m\":{{{}}}}}",
        keys.chars()
            .rev()
            .map(|c| format!("\"{c}\":0"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let value = stored(&schema, &line).expect("valid");
    assert!(value.starts_with(r#"{"M":{"a":0,"b":0"#), "{value}");
    assert!(value.ends_with(r#""l":0,"q":0}}"#), "{value}");
}

#[test]
fn small_decimals_are_scientific_as_big_decimal_prints_them() {
    let schema = Schema::new(vec![col(
        "D",
        SqlType::Decimal {
            precision: 10,
            scale: 8,
        },
    )]);
    assert_eq!(
        stored(&schema, r#"{"d":0}"#).as_deref(),
        Some(r#"{"D":0E-8}"#)
    );
    assert_eq!(
        stored(&schema, r#"{"d":"0.00000012"}"#).as_deref(),
        Some(r#"{"D":1.2E-7}"#)
    );
    assert_eq!(
        stored(&schema, r#"{"d":0.5}"#).as_deref(),
        Some(r#"{"D":0.50000000}"#)
    );
}

#[test]
fn keys_are_read_and_left_out_of_the_value() {
    let schema = Schema::new(vec![
        key("K", SqlType::String),
        col("V", SqlType::Integer),
        key("K2", SqlType::BigInt),
    ]);
    let (value, keys, _) =
        stored_with(&schema, ValueWrapping::Wrapped, None, r#"{"v":1,"k2":-0,"k":"a\nb"}"#)
            .expect("valid");
    assert_eq!(value, r#"{"V":1}"#);
    assert_eq!(
        keys,
        vec![Value::String("a\nb".into()), Value::BigInt(0)]
    );
    for bad in [r#"{"v":1,"k2":1}"#, r#"{"k":null,"k2":1}"#, r#"{"k":1,"k2":1}"#] {
        assert_eq!(stored(&schema, bad), None, "{bad}");
    }
    // A STRUCT key (JSON key format) goes through the API coercer.
    let schema = Schema::new(vec![
        key(
            "K",
            SqlType::Struct(vec![StructField {
                name: "A".into(),
                ty: SqlType::Timestamp,
            }]),
        ),
        col("V", SqlType::Double),
    ]);
    let (_, keys, _) = stored_with(
        &schema,
        ValueWrapping::Wrapped,
        None,
        r#"{"k":{"a":"2021-03-04"},"v":1}"#,
    )
    .expect("valid");
    assert_eq!(
        keys,
        vec![Value::Struct(vec![(
            "A".into(),
            Value::Timestamp(1_614_816_000_000)
        )])]
    );
}

#[test]
fn unwrapped_values_and_timestamp_columns() {
    let schema = Schema::new(vec![key("K", SqlType::Integer), col("V", SqlType::Double)]);
    let encoded = |line: &str| stored_with(&schema, ValueWrapping::Unwrapped, None, line);
    assert_eq!(encoded(r#"{"k":1,"v":2}"#).map(|r| r.0).as_deref(), Some("2.0"));
    // A null unwrapped value is no value at all.
    let mut encoder = RowEncoder::new(&schema, ValueWrapping::Unwrapped, None);
    let row = encoder.encode(br#"{"k":1}"#).expect("valid");
    assert_eq!(row.value, None);

    let schema = Schema::new(vec![col("V", SqlType::Integer), col("T", SqlType::BigInt)]);
    let (_, _, ts) =
        stored_with(&schema, ValueWrapping::Wrapped, Some("T"), r#"{"t":42,"v":1}"#).expect("valid");
    assert_eq!(ts, Some(42));
    let (_, _, ts) =
        stored_with(&schema, ValueWrapping::Wrapped, Some("T"), r#"{"v":1}"#).expect("valid");
    assert_eq!(ts, None);
}

#[test]
fn bad_rows_are_left_to_the_full_decoder() {
    for bad in [
        "",
        "[1]",
        "\"x\"",
        "{",
        r#"{"id":1"#,
        r#"{"id":1} x"#,
        r#"{"id":1,}"#,
        r#"{"id" 1}"#,
        r#"{"id":01}"#,
        r#"{"id":1.}"#,
        r#"{"user":"a"#,
        "{\"user\":\"\u{1}\"}",
        r#"{"user":"\x"}"#,
        r#"{"x":[1,]}"#,
        r#"{"x":nul}"#,
        r#"{"id":1}}"#,
    ] {
        assert_eq!(stored(&bench(), bad), None, "{bad:?}");
    }
    let mut encoder = RowEncoder::new(&bench(), ValueWrapping::Wrapped, None);
    assert!(encoder.encode(b"{\"user\":\"\xff\"}").is_none());
    // The row's own object is one level: 127 more are allowed, 128 are not. (The full
    // decoder is not run on the allowed one: sonic-rs recurses deeper than a debug build's
    // test thread stack allows.)
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(128), "]".repeat(128));
    assert_eq!(stored(&bench(), &deep), None);
    let ok = format!("{{\"x\":{}{}}}", "[".repeat(127), "]".repeat(127));
    assert!(encoder.encode(ok.as_bytes()).is_some());
}

#[test]
fn wide_rows_find_every_column() {
    let columns: Vec<Column> = (0..200).map(|i| col(&format!("C{i}"), SqlType::Integer)).collect();
    let schema = Schema::new(columns);
    let line = format!(
        "{{{}}}",
        (0..200)
            .rev()
            .map(|i| format!("\"c{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let value = stored(&schema, &line).expect("valid");
    assert!(value.starts_with(r#"{"C0":0,"C1":1,"C2":2"#));
    assert!(value.ends_with(r#""C199":199}"#));
}

