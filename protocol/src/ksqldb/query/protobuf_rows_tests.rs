use super::*;
use sluice_engine::parse_type;

fn rows(columns: &[(&str, &str)]) -> ProtoRows {
    let names: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
    let types: Vec<SqlType> = columns
        .iter()
        .map(|(_, t)| parse_type(t).expect("a type"))
        .collect();
    ProtoRows::new(&names, &types).expect("representable")
}

fn encode(rows: &ProtoRows, values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    rows.encode_row(values.iter().map(CellRef::Value), &mut out);
    out
}

#[test]
fn scalar_columns_make_one_flat_message() {
    let r = rows(&[("MYKEY", "INT"), ("MYVALUE", "INT")]);
    assert_eq!(
        r.schema(),
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 MYKEY = 1;\n  int32 MYVALUE = 2;\n}\n"
    );
}

#[test]
fn an_array_of_structs_is_a_repeated_nested_message() {
    // ksqlDB's answer for a stream with a HEADERS column (pull-queries-protobuf.json).
    let r = rows(&[
        ("MYKEY", "INT"),
        ("MYVALUE", "INT"),
        ("MYHEADERS", "ARRAY<STRUCT<KEY STRING, VALUE BYTES>>"),
    ]);
    assert_eq!(
        r.schema(),
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 MYKEY = 1;\n  int32 MYVALUE = 2;\n  repeated ConnectDefault2 MYHEADERS = 3;\n\n  message ConnectDefault2 {\n    string KEY = 1;\n    bytes VALUE = 2;\n  }\n}\n"
    );
}

#[test]
fn a_map_is_a_repeated_entry_message() {
    // ksqlDB's answer for a lambda-transformed map (pull-queries-complex-lambda.json).
    let r = rows(&[
        ("ID", "BIGINT"),
        ("FILTERED_TRANSFORMED", "MAP<STRING, INT>"),
    ]);
    assert_eq!(
        r.schema(),
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int64 ID = 1;\n  repeated ConnectDefault2Entry FILTERED_TRANSFORMED = 2;\n\n  message ConnectDefault2Entry {\n    string key = 1;\n    int32 value = 2;\n  }\n}\n"
    );
}

#[test]
fn nested_names_number_depth_first_in_column_order() {
    // The blank line before a doubly nested message keeps the two spaces of indent that
    // the converter's printer puts on every line of a nested block, blank ones included.
    let r = rows(&[("A", "STRUCT<X STRUCT<Y INT>>"), ("B", "STRUCT<Z INT>")]);
    assert_eq!(
        r.schema(),
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  ConnectDefault2 A = 1;\n  ConnectDefault4 B = 2;\n\n  message ConnectDefault2 {\n    ConnectDefault3 X = 1;\n  \n    message ConnectDefault3 {\n      int32 Y = 1;\n    }\n  }\n  message ConnectDefault4 {\n    int32 Z = 1;\n  }\n}\n"
    );
}

#[test]
fn well_known_types_are_imported_once_in_first_use_order() {
    let r = rows(&[
        ("T", "TIMESTAMP"),
        ("D", "DECIMAL(4, 2)"),
        ("T2", "TIMESTAMP"),
        ("DAY", "DATE"),
        ("AT", "TIME"),
    ]);
    assert_eq!(
        r.schema(),
        "syntax = \"proto3\";\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"confluent/type/decimal.proto\";\nimport \"google/type/date.proto\";\nimport \"google/type/timeofday.proto\";\n\nmessage ConnectDefault1 {\n  google.protobuf.Timestamp T = 1;\n  confluent.type.Decimal D = 2 [(confluent.field_meta) = {\n    params: [\n      {\n        value: \"4\",\n        key: \"precision\"\n      },\n      {\n        value: \"2\",\n        key: \"scale\"\n      }\n    ]\n  }];\n  google.protobuf.Timestamp T2 = 3;\n  google.type.Date DAY = 4;\n  google.type.TimeOfDay AT = 5;\n}\n"
    );
}

#[test]
fn arrays_of_arrays_or_maps_are_refused() {
    for ty in ["ARRAY<ARRAY<INT>>", "ARRAY<MAP<STRING, INT>>"] {
        let t = parse_type(ty).expect("a type");
        let err = ProtoRows::new(&["C".to_string()], &[t]).expect_err(ty);
        assert!(err.to_string().contains("column C is an ARRAY of"), "{err}");
    }
}

#[test]
fn hostile_nesting_is_bounded() {
    let mut ty = "INT".to_string();
    for _ in 0..(PROTO_NESTING_MAX + 2) {
        ty = format!("STRUCT<F {ty}>");
    }
    let t = parse_type(&ty).expect("a type");
    let err = ProtoRows::new(&["C".to_string()], &[t]).expect_err("too deep");
    assert!(err.to_string().contains("deep"), "{err}");
}

#[test]
fn a_row_encodes_as_ksqldb_documents_it() {
    // ksqlDB's API docs: `"CggxOGY0ZWE4NhF90LNZ9bFCQBmASL99HYRewA=="` for this row.
    let r = rows(&[("PROFILEID", "STRING"), ("LA", "DOUBLE"), ("LO", "DOUBLE")]);
    let bytes = encode(
        &r,
        &[
            Value::String("18f4ea86".into()),
            Value::Double(37.3903),
            Value::Double(-122.0643),
        ],
    );
    let mut b64 = Vec::new();
    sluice_engine::codec::write_base64_string(&bytes, &mut b64);
    assert_eq!(b64, b"\"CggxOGY0ZWE4NhF90LNZ9bFCQBmASL99HYRewA==\"");
}

#[test]
fn nulls_and_defaults_are_absent_and_negatives_are_ten_bytes() {
    let r = rows(&[
        ("A", "INT"),
        ("B", "STRING"),
        ("C", "INT"),
        ("D", "BOOLEAN"),
    ]);
    let bytes = encode(
        &r,
        &[
            Value::Null,
            Value::String(String::new()),
            Value::Integer(-1),
            Value::Boolean(true),
        ],
    );
    let mut want = vec![3 << 3];
    want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    want.extend_from_slice(&[4 << 3, 1]);
    assert_eq!(bytes, want);
}

#[test]
fn stored_json_cells_encode_like_values() {
    let r = rows(&[("S", "STRING"), ("N", "BIGINT"), ("X", "DOUBLE")]);
    let mut from_text = Vec::new();
    r.encode_row(
        [
            CellRef::Json(b"\"ab\""),
            CellRef::Json(b"300"),
            CellRef::Json(b"null"),
        ]
        .into_iter(),
        &mut from_text,
    );
    let from_values = encode(
        &r,
        &[Value::String("ab".into()), Value::BigInt(300), Value::Null],
    );
    assert_eq!(from_text, from_values);
    assert_eq!(from_values, [0x0a, 2, b'a', b'b', 0x10, 0xac, 0x02]);
}

#[test]
fn structs_arrays_and_maps_nest_as_messages() {
    let r = rows(&[
        ("H", "ARRAY<STRUCT<KEY STRING, VALUE BYTES>>"),
        ("M", "MAP<STRING, INT>"),
        ("L", "ARRAY<INT>"),
    ]);
    let bytes = encode(
        &r,
        &[
            Value::Array(vec![Value::Struct(vec![
                ("KEY".into(), Value::String("k".into())),
                ("VALUE".into(), Value::Null),
            ])]),
            Value::Map(vec![(Value::String("a".into()), Value::Integer(0))]),
            Value::Array(vec![Value::Integer(0), Value::Null, Value::Integer(5)]),
        ],
    );
    assert_eq!(
        bytes,
        [
            0x0a, 3, 0x0a, 1, b'k', // H: one message with KEY "k" (VALUE null: absent)
            0x12, 3, 0x0a, 1, b'a', // M: one entry, key "a", value 0 left out
            0x18, 0, 0x18, 5, // L: elements keep their zeros; the null one is dropped
        ]
    );
}

#[test]
fn temporal_and_decimal_values_use_the_well_known_messages() {
    let r = rows(&[
        ("T", "TIMESTAMP"),
        ("D", "DATE"),
        ("AT", "TIME"),
        ("N", "DECIMAL(5, 2)"),
    ]);
    let bytes = encode(
        &r,
        &[
            Value::Timestamp(-1), // 1969-12-31T23:59:59.999: seconds -1, nanos 999,000,000
            Value::Date(1),       // 1970-01-02
            Value::Time(3_723_004),
            Value::Decimal(Decimal::new(-12_345, 2)),
        ],
    );
    #[rustfmt::skip]
    let want = [
        // T: seconds -1 (ten bytes), nanos 999,000,000
        0x0a, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x10, 0xc0, 0x8f, 0xae, 0xdc, 0x03,
        // D: year 1970, month 1, day 2
        0x12, 0x07, 0x08, 0xb2, 0x0f, 0x10, 0x01, 0x18, 0x02,
        // AT: 01:02:03.004
        0x1a, 0x0b, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x80, 0x92, 0xf4, 0x01,
        // N: unscaled -12345 as 0xcfc7, precision 5, scale 2
        0x22, 0x08, 0x0a, 0x02, 0xcf, 0xc7, 0x10, 0x05, 0x18, 0x02,
    ];
    assert_eq!(bytes, want);
}

#[test]
fn twos_complement_is_javas_shortest_form() {
    assert_eq!(twos_complement(0), [0x00]);
    assert_eq!(twos_complement(127), [0x7f]);
    assert_eq!(twos_complement(128), [0x00, 0x80]);
    assert_eq!(twos_complement(-1), [0xff]);
    assert_eq!(twos_complement(-128), [0x80]);
    assert_eq!(twos_complement(-129), [0xff, 0x7f]);
}
