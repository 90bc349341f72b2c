//! Property tests across the formats: random schemas and values must survive
//! encode → decode unchanged, and an inserted row's stored value must read back, as a
//! stored record, to the same values.

use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

use super::insert_row::decode_insert_row;
use super::json_value::{decode_value, encode_row_value, encode_value};
use super::key::{decode_key, encode_key};
use super::KeyFormat;
use crate::types::{Column, ColumnKind, Decimal, Schema, SqlType, StructField, Value};

fn leaf_type() -> impl Strategy<Value = SqlType> {
    prop_oneof![
        Just(SqlType::Boolean),
        Just(SqlType::Integer),
        Just(SqlType::BigInt),
        Just(SqlType::Double),
        (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_map(|(precision, scale)| SqlType::Decimal { precision, scale }),
        Just(SqlType::String),
        Just(SqlType::Bytes),
        Just(SqlType::Timestamp),
        Just(SqlType::Date),
        Just(SqlType::Time),
    ]
}

fn field_names(max: usize) -> impl Strategy<Value = Vec<String>> {
    // Upper-case names and quoted lower-case ones; distinct ignoring case so that exact and
    // upper-cased matching cannot pick a sibling's field.
    btree_set("[A-Z][A-Z0-9_]{0,6}", 1..=max).prop_flat_map(|names| {
        let names: Vec<String> = names.into_iter().collect();
        let n = names.len();
        (Just(names), vec(any::<bool>(), n)).prop_map(|(names, lower)| {
            names
                .into_iter()
                .zip(lower)
                .map(|(n, l)| if l { n.to_lowercase() } else { n })
                .collect()
        })
    })
}

fn sql_type() -> impl Strategy<Value = SqlType> {
    leaf_type().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| SqlType::Array(Box::new(t))),
            inner
                .clone()
                .prop_map(|t| SqlType::Map(Box::new(SqlType::String), Box::new(t))),
            (field_names(4), vec(inner, 4)).prop_map(|(names, types)| {
                SqlType::Struct(
                    names
                        .into_iter()
                        .zip(types)
                        .map(|(name, ty)| StructField { name, ty })
                        .collect(),
                )
            }),
        ]
    })
}

fn finite_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |d| d.is_finite()),
        -1.0e7..1.0e7f64,
        Just(0.0),
        Just(1.0e-5),
    ]
}

/// A value of `ty` (null allowed anywhere).
fn value_of(ty: &SqlType) -> BoxedStrategy<Value> {
    let non_null: BoxedStrategy<Value> = match ty {
        SqlType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        SqlType::Integer => any::<i32>().prop_map(Value::Integer).boxed(),
        SqlType::BigInt => any::<i64>().prop_map(Value::BigInt).boxed(),
        SqlType::Double => finite_double().prop_map(Value::Double).boxed(),
        SqlType::Decimal { precision, scale } => {
            let max = 10i128.pow(u32::from(*precision)) - 1;
            let scale = *scale;
            (-max..=max)
                .prop_map(move |u| Value::Decimal(Decimal::new(u, scale)))
                .boxed()
        }
        SqlType::String => any::<String>().prop_map(Value::String).boxed(),
        SqlType::Bytes => vec(any::<u8>(), 0..12).prop_map(Value::Bytes).boxed(),
        SqlType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
        SqlType::Date => any::<i32>().prop_map(Value::Date).boxed(),
        SqlType::Time => (0..86_400_000i32).prop_map(Value::Time).boxed(),
        SqlType::Array(item) => vec(value_of(item), 0..4).prop_map(Value::Array).boxed(),
        SqlType::Map(_, v) => btree_map(any::<String>(), value_of(v), 0..4)
            .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()))
            .boxed(),
        SqlType::Struct(fields) => {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let values: Vec<BoxedStrategy<Value>> =
                fields.iter().map(|f| value_of(&f.ty)).collect();
            values
                .prop_map(move |vs| Value::Struct(names.iter().cloned().zip(vs).collect()))
                .boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 6 => non_null].boxed()
}

fn columns_and_values(kind: ColumnKind) -> impl Strategy<Value = (Vec<Column>, Vec<Value>)> {
    (field_names(6), vec(sql_type(), 6)).prop_flat_map(move |(names, types)| {
        let columns: Vec<Column> = names
            .into_iter()
            .zip(types)
            .map(|(n, t)| Column::new(n, t, kind))
            .collect();
        let values: Vec<BoxedStrategy<Value>> = columns.iter().map(|c| value_of(&c.ty)).collect();
        (Just(columns), values)
    })
}

fn kafka_key_column() -> impl Strategy<Value = (Column, Value)> {
    prop_oneof![
        any::<String>().prop_map(|s| (SqlType::String, Value::String(s))),
        any::<i32>().prop_map(|i| (SqlType::Integer, Value::Integer(i))),
        any::<i64>().prop_map(|i| (SqlType::BigInt, Value::BigInt(i))),
        finite_double().prop_map(|d| (SqlType::Double, Value::Double(d))),
    ]
    .prop_map(|(ty, v)| (Column::new("K", ty, ColumnKind::Key), v))
}

/// Key columns the `DELIMITED` format holds, with values; strings are never empty (an
/// empty field reads back as null, as ksqlDB reads it).
fn delimited_key_columns() -> impl Strategy<Value = (Vec<Column>, Vec<Value>)> {
    let column = prop_oneof![
        ".+".prop_map(|s: String| (SqlType::String, Value::String(s))),
        any::<i32>().prop_map(|i| (SqlType::Integer, Value::Integer(i))),
        any::<i64>().prop_map(|i| (SqlType::BigInt, Value::BigInt(i))),
        finite_double().prop_map(|d| (SqlType::Double, Value::Double(d))),
        any::<bool>().prop_map(|b| (SqlType::Boolean, Value::Boolean(b))),
        any::<i64>().prop_map(|t| (SqlType::Timestamp, Value::Timestamp(t))),
        any::<i32>().prop_map(|d| (SqlType::Date, Value::Date(d))),
        vec(any::<u8>(), 1..12).prop_map(|b| (SqlType::Bytes, Value::Bytes(b))),
        Just((SqlType::String, Value::Null)),
    ];
    vec(column, 1..4).prop_map(|cols| {
        cols.into_iter()
            .enumerate()
            .map(|(i, (ty, v))| (Column::new(format!("K{i}"), ty, ColumnKind::Key), v))
            .unzip()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn delimited_key_round_trips(
        (columns, values) in delimited_key_columns(),
        delimiter in prop::sample::select(vec![b',', b'|', b'\t', b' ', b';']),
    ) {
        let format = KeyFormat::Delimited(delimiter);
        let bytes = encode_key(format, &columns, &values)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut back = Vec::new();
        decode_key(format, &columns, bytes.as_deref(), &mut back)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(bytes.is_none(), values.iter().all(Value::is_null));
        prop_assert_eq!(back, values);
    }

    #[test]
    fn json_value_round_trips((columns, values) in columns_and_values(ColumnKind::Value)) {
        let mut bytes = Vec::new();
        encode_value(&columns, &values, &mut bytes);
        let mut back = Vec::new();
        decode_value(&bytes, &columns, &mut back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, values);
    }

    #[test]
    fn json_key_round_trips((columns, values) in columns_and_values(ColumnKind::Key)) {
        let bytes = encode_key(KeyFormat::Json, &columns, &values)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut back = Vec::new();
        decode_key(KeyFormat::Json, &columns, bytes.as_deref(), &mut back)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if values.iter().all(Value::is_null) {
            prop_assert!(bytes.is_none());
        }
        prop_assert_eq!(back, values);
    }

    #[test]
    fn kafka_key_round_trips((column, value) in kafka_key_column()) {
        let columns = [column];
        let bytes = encode_key(KeyFormat::Kafka, &columns, std::slice::from_ref(&value))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut back = Vec::new();
        decode_key(KeyFormat::Kafka, &columns, bytes.as_deref(), &mut back)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, vec![value]);
    }

    /// Whatever the encoder writes for types the API accepts unchanged, the insert decoder
    /// reads back to the same values, and the stored value the ingest path writes for them
    /// reads back, as a stored record, to the same values again.
    #[test]
    fn inserted_rows_read_back_identically(
        (columns, values) in columns_and_values(ColumnKind::Value),
    ) {
        let mut line = Vec::new();
        encode_value(&columns, &values, &mut line);
        let schema = Schema::new(columns.clone());
        // Temporal numbers, quoted lower-case names written unquoted, or numbers the strict
        // API coercer rejects: refusing those is fine.
        if let Ok(row) = decode_insert_row(&line, &schema) {
            let mut stored = Vec::new();
            encode_row_value(&schema, &row.values, &mut stored);
            let mut back = Vec::new();
            decode_value(&stored, &columns, &mut back)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            // As maps: stored entries are in `HashMap` order.
            let sorted = |values: &[Value]| values.iter().cloned().map(sorted_maps).collect::<Vec<_>>();
            prop_assert_eq!(sorted(&back), sorted(&row.values));
            if columns
                .iter()
                .all(|c| is_upper(&c.name) && !mentions_api_only_text(&c.ty))
            {
                prop_assert_eq!(&row.values, &values);
            }
        }
    }

    #[test]
    fn row_decoder_never_panics(line in vec(any::<u8>(), 0..64)) {
        let schema = Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            Column::new("V", SqlType::Integer, ColumnKind::Value),
        ]);
        let _ = decode_insert_row(&line, &schema);
    }
}

/// `value` with every MAP's entries sorted by key, so maps compare as maps.
fn sorted_maps(value: Value) -> Value {
    match value {
        Value::Map(entries) => {
            let mut entries: Vec<(Value, Value)> = entries
                .into_iter()
                .map(|(k, v)| (k, sorted_maps(v)))
                .collect();
            entries.sort_by_key(|(k, _)| format!("{k:?}"));
            Value::Map(entries)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_maps).collect()),
        Value::Struct(fields) => {
            Value::Struct(fields.into_iter().map(|(n, v)| (n, sorted_maps(v))).collect())
        }
        other => other,
    }
}

/// Types whose stored JSON the API coercer reads differently (or not at all).
fn mentions_api_only_text(ty: &SqlType) -> bool {
    match ty {
        // Temporal types are numbers when stored but text in the API; DECIMAL goes through a
        // double in the API coercer, losing digits beyond 17.
        SqlType::Timestamp | SqlType::Date | SqlType::Time | SqlType::Decimal { .. } => true,
        SqlType::Array(t) | SqlType::Map(_, t) => mentions_api_only_text(t),
        // Lower-case (quoted) names are upper-cased by the API when written unquoted.
        SqlType::Struct(fields) => fields
            .iter()
            .any(|f| !is_upper(&f.name) || mentions_api_only_text(&f.ty)),
        _ => false,
    }
}

fn is_upper(name: &str) -> bool {
    !name.bytes().any(|b| b.is_ascii_lowercase())
}

/// JSON tokens a producer might store for a scalar column: numbers written every which way,
/// strings with and without escapes, literals.
fn scalar_token() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|d| format!("{d}")),
        any::<f64>().prop_map(|d| format!("{d:e}")),
        any::<f32>().prop_map(|d| format!("{d}")),
        (any::<i64>(), 0u32..20).prop_map(|(m, s)| {
            let digits = m.unsigned_abs().to_string();
            let s = (s as usize).min(digits.len().saturating_sub(1));
            let (int, frac) = digits.split_at(digits.len() - s);
            let sign = if m < 0 { "-" } else { "" };
            if frac.is_empty() {
                format!("{sign}{int}.0")
            } else {
                format!("{sign}{int}.{frac}")
            }
        }),
        "-?(0|[1-9][0-9]{0,7})\\.[0-9]{1,17}",
        "-?0\\.0{0,4}[0-9]{1,4}",
        any::<i64>().prop_map(|i| i.to_string()),
        any::<i32>().prop_map(|i| i.to_string()),
        Just("-0".to_owned()),
        Just("-0.0".to_owned()),
        Just("0.0".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
        "\"[a-zé\\\\\"\\t/]{0,8}\"".prop_map(|s| s.replace('\t', "\\t")),
        "[ -~é]{0,8}".prop_map(|s| serde_json::to_string(&s).expect("a string serializes")),
    ]
}

/// When results would copy `text` (stored for a column of type `ty`) as it is, rendering
/// its coerced value gives exactly `text`. Text that is not JSON is not a stored value.
fn copied_text_renders_identically(text: &str, ty: &SqlType) -> Result<(), TestCaseError> {
    let Ok(lv) = super::coerce::parse_json_value(text.as_bytes()) else {
        return Ok(());
    };
    if super::stored_text::renders_as_stored(text.as_bytes(), ty) {
        let value = super::coerce::coerce_json(&lv, ty, super::CoercionMode::KafkaJson)
            .map_err(|e| TestCaseError::fail(format!("{text} as {ty}: {e}")))?;
        let mut rendered = Vec::new();
        super::json_value::write_json_value(
            &value,
            super::json_value::TemporalJson::IsoText,
            &mut rendered,
        );
        prop_assert_eq!(String::from_utf8_lossy(&rendered), text, "{}", ty);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Query results copy a stored field's text only when rendering its decoded value would
    /// give the same bytes (for these scalar types stored JSON and result JSON agree).
    #[test]
    fn stored_text_copied_only_when_it_renders_identically(
        token in scalar_token(),
        ty in prop_oneof![
            Just(SqlType::Boolean),
            Just(SqlType::Integer),
            Just(SqlType::BigInt),
            Just(SqlType::Double),
            Just(SqlType::String),
        ],
    ) {
        copied_text_renders_identically(&token, &ty)?;
    }
}

/// JSON text shaped like `ty` (so most of it could render as stored), with the slips a
/// producer makes: scalar tokens of any kind, a space after a comma, struct fields swapped,
/// missing or in lower case, repeated map keys.
fn text_for(ty: &SqlType) -> BoxedStrategy<String> {
    match ty {
        SqlType::Array(item) => (vec(text_for(item), 0..4), "[ ]{0,1}")
            .prop_map(|(items, ws)| format!("[{}]", items.join(&format!(",{ws}"))))
            .boxed(),
        SqlType::Map(_, value) => vec((prop_oneof![Just("A"), Just("B"), Just("a")], text_for(value)), 0..4)
            .prop_map(|m| {
                let members: Vec<String> =
                    m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            })
            .boxed(),
        SqlType::Struct(fields) => {
            let values: Vec<BoxedStrategy<String>> = fields.iter().map(|f| text_for(&f.ty)).collect();
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            (values, 0u8..8)
                .prop_map(move |(values, slip)| {
                    let mut members: Vec<String> = names
                        .iter()
                        .zip(&values)
                        .map(|(k, v)| match slip {
                            1 => format!("\"{}\":{v}", k.to_lowercase()),
                            _ => format!("\"{k}\":{v}"),
                        })
                        .collect();
                    match slip {
                        2 => members.reverse(),
                        3 => drop(members.pop()),
                        _ => {}
                    }
                    format!("{{{}}}", members.join(","))
                })
                .boxed()
        }
        _ => scalar_token().boxed(),
    }
}

/// Nested types over the scalars whose text can render as stored.
fn nested_type() -> impl Strategy<Value = SqlType> {
    let scalar = prop_oneof![
        Just(SqlType::Boolean),
        Just(SqlType::Integer),
        Just(SqlType::BigInt),
        Just(SqlType::Double),
        Just(SqlType::String),
    ];
    scalar.prop_recursive(3, 8, 2, |inner| {
        let field = |name: &str, ty| StructField {
            name: name.to_owned(),
            ty,
        };
        prop_oneof![
            inner.clone().prop_map(|t| SqlType::Array(Box::new(t))),
            inner
                .clone()
                .prop_map(|t| SqlType::Map(Box::new(SqlType::String), Box::new(t))),
            (inner.clone(), inner)
                .prop_map(move |(a, b)| SqlType::Struct(vec![field("A", a), field("B", b)])),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The nested half of the rule above: a STRUCT, ARRAY or MAP text is copied only when
    /// its decoded value renders to the same bytes.
    #[test]
    fn nested_text_copied_only_when_it_renders_identically(
        (ty, text) in nested_type().prop_flat_map(|ty| (Just(ty.clone()), text_for(&ty))),
    ) {
        copied_text_renders_identically(&text, &ty)?;
    }
}

/// A JSON value: a scalar token, or arrays and objects of them with whitespace around.
fn json_token() -> impl Strategy<Value = String> {
    scalar_token().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (vec(inner.clone(), 0..3), "[ \n]{0,1}").prop_map(|(items, ws)| format!(
                "[{ws}{}{ws}]",
                items.join(&format!("{ws},{ws}"))
            )),
            (vec(("[a-zA-Z]{1,2}", inner), 0..3), "[ ]{0,1}").prop_map(|(members, ws)| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\"{ws}:{ws}{v}"))
                    .collect();
                format!("{{{ws}{}}}", members.join(","))
            }),
        ]
    })
}

/// A JSON object text from random tokens (nested ones too) and whitespace, sometimes with
/// one byte changed.
fn object_text() -> impl Strategy<Value = String> {
    let member = (
        prop_oneof!["[A-Z]{1,2}", "[a-z]{1,2}", Just("A".to_owned())],
        json_token(),
        "[ \t\n]{0,2}",
    )
        .prop_map(|(k, v, ws)| format!("\"{k}\"{ws}:{ws}{v}{ws}"));
    (
        vec(member, 0..5),
        proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    )
        .prop_map(|(members, corrupt)| {
            let mut text = format!(" {{{}}} ", members.join(","));
            if let Some((at, byte)) = corrupt {
                let at = at.index(text.len());
                if text.is_char_boundary(at) && byte.is_ascii() {
                    text.insert(at, byte as char);
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The flat scanner accepts only what the general (sonic-rs) path accepts, and finds
    /// the same field text for every column.
    #[test]
    fn flat_scan_agrees_with_the_general_scan(text in object_text()) {
        let columns = vec![
            Column::new("A", SqlType::String, ColumnKind::Value),
            Column::new("B", SqlType::String, ColumnKind::Value),
            Column::new("a", SqlType::String, ColumnKind::Value),
        ];
        let fields = super::json_value::ValueFields::new(&columns);
        let bytes = text.as_bytes();
        let mut spans = vec![(None, None); 3];
        if fields.scan_flat(bytes, &mut spans) {
            let mut slots = vec![(None, None); 3];
            fields
                .scan(bytes, &mut slots)
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            for (span, slot) in spans.into_iter().zip(slots) {
                let flat = span.0.or(span.1).map(|s| &text[s]);
                let general = super::json_value::pick(slot).map(|lv| lv.as_raw_str().to_owned());
                prop_assert_eq!(flat, general.as_deref(), "{:?}", text);
            }
        }
    }
}
