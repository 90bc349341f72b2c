//! `/query-stream` and `/close-query` request bodies.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::ProtocolError;

#[derive(Debug, Deserialize)]
pub struct QueryStreamArgs {
    pub sql: String,
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default, rename = "sessionVariables")]
    pub session_variables: serde_json::Map<String, serde_json::Value>,
}

impl QueryStreamArgs {
    pub fn decode(body: &[u8]) -> Result<QueryStreamArgs, ProtocolError> {
        decode_json(body)
    }
}

#[derive(Debug, Deserialize)]
pub struct CloseQueryArgs {
    #[serde(rename = "queryId")]
    pub query_id: String,
}

impl CloseQueryArgs {
    pub fn decode(body: &[u8]) -> Result<CloseQueryArgs, ProtocolError> {
        decode_json(body)
    }
}

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProtocolError> {
    serde_json::from_str(crate::json_body::json_text(body)?)
        .map_err(|e| ProtocolError::InvalidJson(e.to_string()))
}

/// Property values may be JSON strings or scalars; the engine reads them as text.
pub fn string_map(map: &serde_json::Map<String, serde_json::Value>) -> HashMap<String, String> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_reports_missing_fields() {
        let a = QueryStreamArgs::decode(
            br#"{"sql":"SELECT * FROM S EMIT CHANGES;","properties":{"auto.offset.reset":"earliest","n":3}}"#,
        )
        .expect("valid");
        let props = string_map(&a.properties);
        assert_eq!(props["auto.offset.reset"], "earliest");
        assert_eq!(props["n"], "3");
        // Invalid UTF-8 is refused even where serde_json would skip it unread.
        let err =
            CloseQueryArgs::decode(b"{\"queryId\":\"q\",\"x\":\"\n\xff\"}").expect_err("not UTF-8");
        assert_eq!(
            err.to_string(),
            "Invalid JSON in request: invalid unicode code point at line 2 column 1"
        );
        // A struct's fields as an array are not a request.
        let err = CloseQueryArgs::decode(b" [\"q\"]").expect_err("not an object");
        assert_eq!(
            err.to_string(),
            "Invalid JSON in request: invalid type: sequence, expected a JSON object \
             at line 1 column 2"
        );
        let err = CloseQueryArgs::decode(b"{}").expect_err("missing queryId");
        assert!(err
            .to_string()
            .starts_with("Invalid JSON in request: missing field `queryId`"));
    }
}
