//! What the runner knows about a topic: the stream or table bound to it (from `SHOW` and
//! `DESCRIBE`), and how records on it are serialized. Input records are written as a test
//! producer would write them; output records are read back with the engine's own codecs.

use base64::Engine as _;
use sluice_engine::codec::{self, CoercionMode, KeyFormat};
use sluice_engine::types::{Column, ColumnKind, SqlType, StructField, Value};

use super::case::WindowKind;
use super::client::HttpClient;
use super::json::Json;

/// A stream or table as `DESCRIBE` reports it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub name: String,
    /// `STREAM` or `TABLE`.
    pub kind: String,
    pub topic: String,
    pub key_format: String,
    pub value_format: String,
    pub key_columns: Vec<Column>,
    pub value_columns: Vec<Column>,
}

impl SourceInfo {
    /// The value as one STRUCT of the value columns, for typed comparison.
    pub fn value_type(&self) -> SqlType {
        SqlType::Struct(
            self.value_columns
                .iter()
                .map(|c| StructField {
                    name: c.name.clone(),
                    ty: c.ty.clone(),
                })
                .collect(),
        )
    }
}

/// Every stream and table on the server, tables last (`SHOW STREAMS`, `SHOW TABLES`, then
/// `DESCRIBE` each).
pub async fn load_sources(client: &HttpClient) -> Result<Vec<SourceInfo>, String> {
    let mut out = Vec::new();
    for (statement, list) in [("SHOW STREAMS;", "streams"), ("SHOW TABLES;", "tables")] {
        for entity in client.ksql_ok(statement).await? {
            for s in entity.get(list).map(Json::as_array).unwrap_or(&[]) {
                let Some(name) = s.field("name").and_then(Json::as_str) else {
                    continue;
                };
                out.push(describe(client, name).await?);
            }
        }
    }
    Ok(out)
}

/// Quotes a stored name so the server resolves it exactly.
pub fn quote_name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

async fn describe(client: &HttpClient, name: &str) -> Result<SourceInfo, String> {
    let entities = client
        .ksql_ok(&format!("DESCRIBE {};", quote_name(name)))
        .await?;
    let d = entities
        .iter()
        .find_map(|e| e.field("sourceDescription"))
        .ok_or_else(|| format!("DESCRIBE {name} gave no sourceDescription"))?;
    let mut key_columns = Vec::new();
    let mut value_columns = Vec::new();
    for f in d.field("fields").map(Json::as_array).unwrap_or(&[]) {
        let col_name = f
            .field("name")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let ty = sql_type(f.field("schema").unwrap_or(&Json::Null))
            .map_err(|e| format!("DESCRIBE {name}, column {col_name}: {e}"))?;
        match f.field("type").and_then(Json::as_str) {
            Some("KEY") => key_columns.push(Column::new(col_name, ty, ColumnKind::Key)),
            Some("HEADER") | Some("HEADERS") => {}
            _ => value_columns.push(Column::new(col_name, ty, ColumnKind::Value)),
        }
    }
    let text = |k: &str| d.field(k).and_then(Json::as_str).unwrap_or("").to_string();
    Ok(SourceInfo {
        name: text("name"),
        kind: text("type"),
        topic: text("topic"),
        key_format: text("keyFormat").to_ascii_uppercase(),
        value_format: text("valueFormat").to_ascii_uppercase(),
        key_columns,
        value_columns,
    })
}

/// A SQL type from DESCRIBE's `schema` object (`type`, `memberSchema`, `fields`,
/// `parameters`).
pub fn sql_type(schema: &Json) -> Result<SqlType, String> {
    let base = schema
        .field("type")
        .and_then(Json::as_str)
        .ok_or("schema without a type")?;
    let member = || sql_type(schema.field("memberSchema").unwrap_or(&Json::Null));
    Ok(match base.to_ascii_uppercase().as_str() {
        "BOOLEAN" => SqlType::Boolean,
        "INTEGER" | "INT" => SqlType::Integer,
        "BIGINT" => SqlType::BigInt,
        "DOUBLE" => SqlType::Double,
        "STRING" | "VARCHAR" => SqlType::String,
        "BYTES" => SqlType::Bytes,
        "TIMESTAMP" => SqlType::Timestamp,
        "DATE" => SqlType::Date,
        "TIME" => SqlType::Time,
        "DECIMAL" => {
            let p = schema.field("parameters");
            let num = |k: &str| {
                p.and_then(|p| p.field(k))
                    .and_then(Json::as_i64)
                    .unwrap_or(0)
            };
            SqlType::Decimal {
                precision: u8::try_from(num("precision")).map_err(|e| e.to_string())?,
                scale: u8::try_from(num("scale")).map_err(|e| e.to_string())?,
            }
        }
        "ARRAY" => SqlType::Array(Box::new(member()?)),
        "MAP" => SqlType::Map(Box::new(SqlType::String), Box::new(member()?)),
        "STRUCT" => SqlType::Struct(
            schema
                .field("fields")
                .map(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .map(|f| {
                    Ok(StructField {
                        name: f
                            .field("name")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_string(),
                        ty: sql_type(f.field("schema").unwrap_or(&Json::Null))?,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("unknown type {other}")),
    })
}

/// Serializes an input key as a test producer would: with the key format and column type of
/// the source bound to the topic, or as JSON text when no source is bound.
pub fn encode_input_key(
    source: Option<&SourceInfo>,
    key: &Json,
) -> Result<Option<Vec<u8>>, String> {
    let Some(source) = source else {
        return Ok((!key.is_null()).then(|| key.to_text().into_bytes()));
    };
    if key.is_null() || source.key_columns.is_empty() {
        return Ok(None);
    }
    match source.key_format.as_str() {
        "NONE" => Ok(None),
        // ksqlDB's JSON serializer receives the key as given: a bare value for one column,
        // an object for several.
        "JSON" => Ok(Some(key.to_text().into_bytes())),
        // ksqlDB's test driver writes and reads DELIMITED keys as their text.
        "DELIMITED" => Ok(Some(match key {
            Json::Str(text) => text.clone().into_bytes(),
            other => other.to_text().into_bytes(),
        })),
        "KAFKA" => {
            let column = &source.key_columns[0];
            let value =
                codec::coerce_json_text(&key.to_text(), &column.ty, CoercionMode::KafkaJson)
                    .map_err(|e| format!("key {key} as {}: {e}", column.ty))?;
            codec::encode_key(KeyFormat::Kafka, &source.key_columns[..1], &[value])
                .map(|b| b.map(|b| b.to_vec()))
                .map_err(|e| format!("key {key}: {e}"))
        }
        other => Err(format!("key format {other} is not supported by the runner")),
    }
}

/// Serializes an input value: its JSON text as given (every value format here is JSON), or
/// a tombstone for `null`.
pub fn encode_input_value(value: &Json) -> Option<Vec<u8>> {
    (!value.is_null()).then(|| value.to_text().into_bytes())
}

/// The window a windowed key carries after the inner key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWindow {
    pub start_ms: i64,
    /// Only session keys carry their end.
    pub end_ms: Option<i64>,
}

/// Splits the window suffix off a windowed key: Kafka Streams' `TimeWindowedSerializer`
/// appends the 8-byte start; `SessionWindowedSerializer` appends the end, then the start.
pub fn split_window(bytes: &[u8], kind: WindowKind) -> Result<(&[u8], KeyWindow), String> {
    let long = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("slice of 8 bytes"));
    match kind {
        WindowKind::Time if bytes.len() >= 8 => {
            let (inner, start) = bytes.split_at(bytes.len() - 8);
            Ok((
                inner,
                KeyWindow {
                    start_ms: long(start),
                    end_ms: None,
                },
            ))
        }
        WindowKind::Session if bytes.len() >= 16 => {
            let (inner, tail) = bytes.split_at(bytes.len() - 16);
            Ok((
                inner,
                KeyWindow {
                    start_ms: long(&tail[8..]),
                    end_ms: Some(long(&tail[..8])),
                },
            ))
        }
        _ => Err(format!(
            "a windowed key is too short ({} bytes)",
            bytes.len()
        )),
    }
}

/// Reads an output key back: typed through the sink's key format when a source is bound,
/// otherwise as JSON text (or a string when it is not JSON).
pub fn decode_output_key(
    source: Option<&SourceInfo>,
    bytes: Option<&[u8]>,
) -> Result<Json, String> {
    let Some(source) = source.filter(|s| !s.key_columns.is_empty()) else {
        return Ok(match bytes {
            None => Json::Null,
            Some(b) => {
                let text = String::from_utf8_lossy(b);
                Json::parse(&text).unwrap_or(Json::Str(text.into_owned()))
            }
        });
    };
    let format = KeyFormat::parse(&source.key_format).map_err(|e| e.to_string())?;
    if matches!(format, KeyFormat::Delimited(_)) {
        // As ksqlDB's test driver shows them: the line's text.
        return Ok(match bytes {
            None => Json::Null,
            Some(b) => Json::Str(String::from_utf8_lossy(b).into_owned()),
        });
    }
    let mut values = Vec::new();
    codec::decode_key(format, &source.key_columns, bytes, &mut values)
        .map_err(|e| format!("key: {e}"))?;
    Ok(match values.as_slice() {
        [one] => value_to_json(one),
        many => Json::Obj(
            source
                .key_columns
                .iter()
                .zip(many)
                .map(|(c, v)| (c.name.clone(), value_to_json(v)))
                .collect(),
        ),
    })
}

/// A runtime value as the JSON a test producer would write (qtt-format.md §3: epoch-ms
/// TIMESTAMP, day-count DATE, ms-of-day TIME, base64 BYTES, DECIMAL with its scale).
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Num(i.to_string()),
        Value::BigInt(i) => Json::Num(i.to_string()),
        Value::Double(d) => Json::Num(codec::java_double_string(*d)),
        Value::Decimal(d) => Json::Num(d.to_string()),
        Value::String(s) => Json::Str(s.clone()),
        Value::Bytes(b) => Json::Str(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Timestamp(ms) => Json::Num(ms.to_string()),
        Value::Date(d) => Json::Num(d.to_string()),
        Value::Time(t) => Json::Num(t.to_string()),
        Value::Array(items) => Json::Arr(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => Json::Obj(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match value_to_json(k) {
                        Json::Str(s) => s,
                        other => other.to_text(),
                    };
                    (key, value_to_json(v))
                })
                .collect(),
        ),
        Value::Struct(fields) => Json::Obj(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(key_format: &str, key_ty: SqlType) -> SourceInfo {
        SourceInfo {
            name: "S".into(),
            kind: "STREAM".into(),
            topic: "t".into(),
            key_format: key_format.into(),
            value_format: "JSON".into(),
            key_columns: vec![Column::new("K", key_ty, ColumnKind::Key)],
            value_columns: vec![],
        }
    }

    fn j(s: &str) -> Json {
        Json::parse(s).expect("test json")
    }

    #[test]
    fn kafka_keys_use_kafkas_serializers_by_column_type() {
        let int = source("KAFKA", SqlType::Integer);
        assert_eq!(
            encode_input_key(Some(&int), &j("1")).expect("int"),
            Some(vec![0, 0, 0, 1])
        );
        let big = source("KAFKA", SqlType::BigInt);
        assert_eq!(
            encode_input_key(Some(&big), &j("1")).expect("bigint"),
            Some(vec![0, 0, 0, 0, 0, 0, 0, 1])
        );
        let s = source("KAFKA", SqlType::String);
        assert_eq!(
            encode_input_key(Some(&s), &j("\"r1\"")).expect("string"),
            Some(b"r1".to_vec())
        );
        let d = source("KAFKA", SqlType::Double);
        assert_eq!(
            encode_input_key(Some(&d), &j("1.5")).expect("double"),
            Some(1.5f64.to_bits().to_be_bytes().to_vec())
        );
        assert_eq!(encode_input_key(Some(&s), &Json::Null).expect("null"), None);
        // And back.
        assert_eq!(
            decode_output_key(Some(&int), Some(&[0, 0, 0, 7])).expect("decodes"),
            j("7")
        );
    }

    #[test]
    fn json_keys_and_unbound_topics_are_json_text() {
        let js = source("JSON", SqlType::Integer);
        assert_eq!(
            encode_input_key(Some(&js), &j("1")).expect("json"),
            Some(b"1".to_vec())
        );
        assert_eq!(
            encode_input_key(None, &j("\"a\"")).expect("unbound"),
            Some(b"\"a\"".to_vec())
        );
        let none = source("NONE", SqlType::Integer);
        assert_eq!(encode_input_key(Some(&none), &j("1")).expect("none"), None);
        assert_eq!(
            encode_input_value(&j(r#"{"V": 1.10}"#)),
            Some(br#"{"V":1.10}"#.to_vec())
        );
        assert_eq!(encode_input_value(&Json::Null), None);
    }

    #[test]
    fn window_suffixes_split_off() {
        let mut key = b"k".to_vec();
        key.extend_from_slice(&30_000i64.to_be_bytes());
        let (inner, w) = split_window(&key, WindowKind::Time).expect("time");
        assert_eq!((inner, w.start_ms, w.end_ms), (&b"k"[..], 30_000, None));
        let mut key = b"k".to_vec();
        key.extend_from_slice(&20i64.to_be_bytes());
        key.extend_from_slice(&10i64.to_be_bytes());
        let (_, w) = split_window(&key, WindowKind::Session).expect("session");
        assert_eq!((w.start_ms, w.end_ms), (10, Some(20)));
    }

    #[test]
    fn describe_schema_objects_become_types() {
        let t = sql_type(&j(r#"{"type":"ARRAY","memberSchema":{"type":"DECIMAL","parameters":{"precision":4,"scale":2}}}"#))
            .expect("type");
        assert_eq!(
            t,
            SqlType::Array(Box::new(SqlType::Decimal {
                precision: 4,
                scale: 2
            }))
        );
    }
}
