//! `POST /topics/{name}` bodies in REST Proxy v2's two schemaless embedded formats:
//!
//! ```text
//! {"records":[{"key":…,"value":…,"partition":0,"timestamp":1,"headers":[{"key":"h","value":"<base64>"}]}]}
//! ```
//!
//! `application/vnd.kafka.binary.v2+json`: key and value are base64 strings (or null).
//! `application/vnd.kafka.json.v2+json` and `application/json`: key and value are any JSON
//! values, stored as their compact JSON text. Header values are base64 in both.

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_engine::codec::compact_json;
use sluice_engine::ProduceRecord;
use sluice_engine::Record;

use crate::error::ProtocolError;

pub const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";
pub const JSON_V2: &str = "application/vnd.kafka.json.v2+json";

/// How key and value are embedded in the request JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedFormat {
    /// Base64 strings of the raw bytes.
    Binary,
    /// JSON values; the bytes are their compact text.
    Json,
}

impl EmbeddedFormat {
    /// Reads the request `Content-Type`. REST Proxy v2 treats a missing type and the generic
    /// `application/vnd.kafka.v2+json` as binary; plain `application/json` is read as JSON
    /// here, which is what a user typing curl expects.
    pub fn from_content_type(content_type: Option<&str>) -> Result<EmbeddedFormat, ProtocolError> {
        let Some(ct) = content_type else {
            return Ok(EmbeddedFormat::Binary);
        };
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            BINARY_V2 | "application/vnd.kafka.v2+json" | "application/octet-stream" | "" => {
                Ok(EmbeddedFormat::Binary)
            }
            JSON_V2 | "application/json" => Ok(EmbeddedFormat::Json),
            other => Err(ProtocolError::UnsupportedMediaType(format!(
                "{other} (use {BINARY_V2} or {JSON_V2})"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct Body<'a> {
    /// Each a [`WireRecord`] object, read by [`object`].
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireRecord<'a> {
    #[serde(default, borrow)]
    key: Option<&'a RawValue>,
    #[serde(default, borrow)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    partition: Option<u32>,
    #[serde(default)]
    timestamp: Option<i64>,
    /// Each a [`WireHeader`] object, read by [`object`].
    #[serde(default, borrow)]
    headers: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireHeader {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

/// Decodes a produce body; records without a timestamp get `now_ms` (the server's clock).
pub fn decode_produce(
    body: &[u8],
    format: EmbeddedFormat,
    now_ms: i64,
) -> Result<Vec<ProduceRecord>, ProtocolError> {
    let text = crate::json_body::json_text(body)?;
    let parsed: Body<'_> = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ProtocolError::InvalidRecord(e.to_string()),
        _ => ProtocolError::InvalidJson(e.to_string()),
    })?;
    parsed
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let at = |what: &str, e: String| {
                ProtocolError::InvalidRecord(format!("records[{i}].{what}: {e}"))
            };
            let r: WireRecord<'_> = object(r)
                .map_err(|e| ProtocolError::InvalidRecord(format!("records[{i}]: {e}")))?;
            let headers = r
                .headers
                .into_iter()
                .map(|h| {
                    let h: WireHeader = object(h).map_err(|e| at("headers", e))?;
                    let value = h
                        .value
                        .map(|v| decode_base64(&v))
                        .transpose()
                        .map_err(|e| at("headers", e))?;
                    Ok((h.key, value))
                })
                .collect::<Result<Vec<_>, ProtocolError>>()?;
            Ok(ProduceRecord {
                partition: r.partition,
                record: Record {
                    key: embedded(r.key, format).map_err(|e| at("key", e))?,
                    value: embedded(r.value, format).map_err(|e| at("value", e))?,
                    timestamp_ms: r.timestamp.unwrap_or(now_ms),
                    headers,
                },
            })
        })
        .collect()
}

/// A `T` from `raw`, which must be a JSON object: a derived struct also takes an array of
/// its fields in order, so `[["a2V5"]]` was a record with that key (found by the
/// `request_bodies` fuzz target); REST Proxy refuses it.
fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, String> {
    let text = raw.get();
    if !text.starts_with('{') {
        return Err(format!("expected a JSON object, got {text:.40}"));
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The bytes of an embedded key or value; JSON null (or absent) is Kafka null.
fn embedded(raw: Option<&RawValue>, format: EmbeddedFormat) -> Result<Option<Bytes>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match format {
        EmbeddedFormat::Binary => {
            let text: String = serde_json::from_str(raw.get())
                .map_err(|_| "expected a base64 string or null".to_string())?;
            decode_base64(&text).map(Some)
        }
        // Compacting the raw text keeps numbers exactly as sent (no float round trip).
        EmbeddedFormat::Json => Ok(Some(Bytes::from(compact_json(raw.get())))),
    }
}

fn decode_base64(text: &str) -> Result<Bytes, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(|e| format!("invalid base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_json() {
        let recs = decode_produce(
            br#"{"records":[{"key":"a2V5","value":null,"partition":1,"timestamp":5,"headers":[{"key":"h","value":"AAE="},{"key":"n","value":null}]},{"value":"dg=="}]}"#,
            EmbeddedFormat::Binary,
            99,
        )
        .expect("valid");
        assert_eq!(recs[0].partition, Some(1));
        assert_eq!(recs[0].record.key.as_deref(), Some(&b"key"[..]));
        assert_eq!(recs[0].record.value, None);
        assert_eq!(recs[0].record.timestamp_ms, 5);
        assert_eq!(
            recs[0].record.headers,
            vec![
                ("h".to_string(), Some(Bytes::from_static(&[0, 1]))),
                ("n".to_string(), None)
            ]
        );
        assert_eq!(recs[1].record.key, None);
        assert_eq!(recs[1].record.timestamp_ms, 99);

        let recs = decode_produce(
            br#"{"records":[{"key":"k","value":{ "A" : 1.50, "B":[1, 2] }}]}"#,
            EmbeddedFormat::Json,
            0,
        )
        .expect("valid");
        assert_eq!(recs[0].record.key.as_deref(), Some(&b"\"k\""[..]));
        assert_eq!(
            recs[0].record.value.as_deref(),
            Some(&br#"{"A":1.50,"B":[1,2]}"#[..])
        );
    }

    #[test]
    fn errors() {
        let bad = |body: &[u8], format| decode_produce(body, format, 0).expect_err("invalid");
        assert!(matches!(
            bad(b"{", EmbeddedFormat::Binary),
            ProtocolError::InvalidJson(_)
        ));
        // Found by the `request_bodies` fuzz target: serde_json skips an unknown field
        // without checking its UTF-8.
        assert!(matches!(
            bad(b"{\"records\":[],\"x\":\"\xff\"}", EmbeddedFormat::Json),
            ProtocolError::InvalidJson(m) if m.starts_with("invalid unicode code point")
        ));
        // Nor does a JSON array stand for an object (serde's sequence form), for the body,
        // a record or a header.
        assert!(matches!(
            bad(b"[[{\"value\":\"dg==\"}]]", EmbeddedFormat::Binary),
            ProtocolError::InvalidJson(m) if m.starts_with("invalid type: sequence")
        ));
        assert_eq!(
            bad(
                br#"{"records":[{"value":"dg=="}, ["a2V5"]]}"#,
                EmbeddedFormat::Binary
            ),
            ProtocolError::InvalidRecord(
                r#"records[1]: expected a JSON object, got ["a2V5"]"#.into()
            )
        );
        assert_eq!(
            bad(
                br#"{"records":[{"headers":[["h","AQI="]]}]}"#,
                EmbeddedFormat::Binary
            ),
            ProtocolError::InvalidRecord(
                r#"records[0].headers: expected a JSON object, got ["h","AQI="]"#.into()
            )
        );
        assert!(matches!(
            bad(br#"{"records":[{"value":"!!"}]}"#, EmbeddedFormat::Binary),
            ProtocolError::InvalidRecord(_)
        ));
        assert!(matches!(
            bad(br#"{"records":[{"value":1}]}"#, EmbeddedFormat::Binary),
            ProtocolError::InvalidRecord(_)
        ));
        assert!(matches!(
            bad(br#"{"records":[{"partition":-1}]}"#, EmbeddedFormat::Json),
            ProtocolError::InvalidRecord(_)
        ));
        assert!(matches!(
            bad(b"{}", EmbeddedFormat::Json),
            ProtocolError::InvalidRecord(_)
        ));
        assert!(EmbeddedFormat::from_content_type(Some("text/plain")).is_err());
        assert_eq!(
            EmbeddedFormat::from_content_type(Some("application/json; charset=utf-8")),
            Ok(EmbeddedFormat::Json)
        );
    }
}
