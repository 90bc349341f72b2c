//! Foundry's `execute` and `streamingExecute` wire shapes: `ExecuteQueryResponse`
//! (`{"value":…}`), Server-Sent Events whose `data:` lines hold a
//! `StreamingExecuteQueryResponse` (`{"type":"data","value":…}` or
//! `{"type":"error",errorCode,errorName,errorInstanceId,errorDescription?,parameters}`), the
//! request body, and the Conjure error envelope of errors before the stream starts.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::error::ProtocolError;
use crate::statement_table::Cell;

/// `StreamingExecuteQueryRequest`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StreamingExecuteRequest {
    pub parameters: Map<String, Json>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub ontology: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    /// Whether "the highest version" may be a pre-release.
    #[serde(default, rename = "includePrerelease")]
    pub include_prerelease: Option<bool>,
}

impl StreamingExecuteRequest {
    pub fn decode(bytes: &[u8]) -> Result<StreamingExecuteRequest, ProtocolError> {
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))
    }
}

/// A Conjure error: the envelope of a failed request, and (with `type`) the error event.
#[derive(Debug, Clone, PartialEq)]
pub struct ConjureError {
    /// `INVALID_ARGUMENT`, `NOT_FOUND`, `PERMISSION_DENIED`, `UNAUTHORIZED`, `INTERNAL`, …
    pub code: &'static str,
    /// `QueryNotFound`, `MissingParameter`, `QueryRuntimeError`, …
    pub name: &'static str,
    pub instance_id: String,
    pub description: Option<String>,
    pub parameters: Json,
}

impl ConjureError {
    /// The HTTP status Conjure gives the code.
    pub fn status(&self) -> u16 {
        match self.code {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" => 400,
            "UNAUTHORIZED" => 401,
            "PERMISSION_DENIED" => 403,
            "NOT_FOUND" => 404,
            "CONFLICT" => 409,
            "REQUEST_ENTITY_TOO_LARGE" => 413,
            "TIMEOUT" => 500,
            _ => 500,
        }
    }

    /// `{"errorCode","errorName","errorInstanceId","parameters"}`.
    pub fn envelope(&self) -> Vec<u8> {
        json!({
            "errorCode": self.code,
            "errorName": self.name,
            "errorInstanceId": self.instance_id,
            "parameters": self.parameters,
        })
        .to_string()
        .into_bytes()
    }

    /// The stream's last event: `data: {"type":"error",…}`.
    pub fn event(&self) -> Vec<u8> {
        let mut body = json!({
            "type": "error",
            "errorCode": self.code,
            "errorName": self.name,
            "errorInstanceId": self.instance_id,
            "parameters": self.parameters,
        });
        if let Some(d) = &self.description {
            body["errorDescription"] = Json::String(d.clone());
        }
        sse_event(&body.to_string())
    }
}

/// One SSE event with one `data:` line (the JSON holds no newline: serde escapes them).
fn sse_event(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// A data event whose value is a batch of rows, each an object of column → value.
pub fn rows_event(columns: &[String], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut json = String::from(r#"{"type":"data","value":"#);
    push_rows(&mut json, columns, rows);
    json.push('}');
    sse_event(&json)
}

/// `ExecuteQueryResponse`: `{"value": […]}`, the rows as [`rows_event`] has them.
pub fn execute_response(columns: &[String], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut json = String::from(r#"{"value":"#);
    push_rows(&mut json, columns, rows);
    json.push('}');
    json.into_bytes()
}

/// `rows` as a JSON array of objects of column → value (numbers as their exact text).
fn push_rows(json: &mut String, columns: &[String], rows: &[Vec<Cell>]) {
    json.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('{');
        for (j, (name, cell)) in columns.iter().zip(row).enumerate() {
            if j > 0 {
                json.push(',');
            }
            json.push_str(&Json::from(name.as_str()).to_string());
            json.push(':');
            json.push_str(&cell.to_json_text());
        }
        json.push('}');
    }
    json.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_single_data_lines() {
        let event = rows_event(
            &["A".into(), "B".into()],
            &[
                vec![Cell::Text("x\ny".into()), Cell::Json("1.50".into())],
                vec![Cell::Null, Cell::Json("true".into())],
            ],
        );
        let text = String::from_utf8(event).expect("utf8");
        assert!(text.starts_with("data: ") && text.ends_with("\n\n"));
        assert_eq!(
            text.matches('\n').count(),
            2,
            "newlines inside values are escaped"
        );
        let json: Json = serde_json::from_str(&text[6..]).expect("json");
        assert_eq!(
            json,
            json!({"type":"data","value":[{"A":"x\ny","B":1.50},{"A":null,"B":true}]})
        );
        assert!(text.contains("1.50"), "number text kept exact");
        let response: Json = serde_json::from_slice(&execute_response(
            &["A".into()],
            &[vec![Cell::Json("2".into())]],
        ))
        .expect("json");
        assert_eq!(response, json!({"value": [{"A": 2}]}));
        let error = ConjureError {
            code: "INVALID_ARGUMENT",
            name: "QueryRuntimeError",
            instance_id: "i".into(),
            description: Some("boom".into()),
            parameters: json!({}),
        };
        let text = String::from_utf8(error.event()).expect("utf8");
        let json: Json = serde_json::from_str(&text[6..]).expect("json");
        assert_eq!(json["type"], "error");
        assert_eq!(json["errorDescription"], "boom");
        assert_eq!(error.status(), 400);
    }
}
