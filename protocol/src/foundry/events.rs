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
    /// `SEMANTIC_VERSION` (the default) or `PUBLISH_TIME`.
    #[serde(default, rename = "latestVersionResolution")]
    pub latest_version_resolution: Option<String>,
}

impl StreamingExecuteRequest {
    pub fn decode(bytes: &[u8]) -> Result<StreamingExecuteRequest, ProtocolError> {
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))
    }

    /// Whether the highest version may be a pre-release: as asked, else Foundry's default
    /// (`false`, except with `latestVersionResolution` = `PUBLISH_TIME`).
    pub fn include_prerelease(&self) -> bool {
        self.include_prerelease
            .unwrap_or_else(|| self.latest_version_resolution.as_deref() == Some("PUBLISH_TIME"))
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
    /// Boxed: the rest of the error is small, and it travels in `Result`s.
    pub parameters: Box<Json>,
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
    value_response(None, columns, rows)
}

/// Longest `getResult` may hold its request open waiting for the execution (Foundry clamps
/// `timeout` to 280 s).
pub const GET_RESULT_WAIT_MAX_S: u64 = 280;

/// `GetResultExecutionRequest`: `{"timeout": seconds?}`; an empty body is no timeout.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct GetResultRequest {
    #[serde(default)]
    pub timeout: Option<i64>,
}

impl GetResultRequest {
    pub fn decode(bytes: &[u8]) -> Result<GetResultRequest, ProtocolError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(GetResultRequest::default());
        }
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))
    }

    /// How long to wait, in seconds: 0 by default, at most [`GET_RESULT_WAIT_MAX_S`].
    pub fn wait_s(&self) -> u64 {
        self.timeout
            .map_or(0, |t| u64::try_from(t).unwrap_or(0))
            .min(GET_RESULT_WAIT_MAX_S)
    }
}

/// What `executeAsync` and `getResult` answer about an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionAnswer<'a> {
    /// `executeAsync`: `{"type":"submitted","executionId":…}`.
    Submitted(&'a str),
    /// `getResult` before the end: `{"type":"running"}`.
    Running,
}

impl ExecutionAnswer<'_> {
    pub fn encode(self) -> Vec<u8> {
        match self {
            ExecutionAnswer::Submitted(id) => json!({"type": "submitted", "executionId": id}),
            ExecutionAnswer::Running => json!({"type": "running"}),
        }
        .to_string()
        .into_bytes()
    }
}

/// An execution's rows: `executeAsync`'s `{"type":"completed","value":[…]}` when the query
/// ended before the answer, `getResult`'s `{"type":"succeeded","value":[…]}` later.
pub fn execution_result(kind: &str, columns: &[String], rows: &[Vec<Cell>]) -> Vec<u8> {
    value_response(Some(kind), columns, rows)
}

/// `{["type":kind,]"value":[rows…]}`.
fn value_response(kind: Option<&str>, columns: &[String], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut json = String::from("{");
    if let Some(kind) = kind {
        json.push_str(r#""type":"#);
        json.push_str(&Json::from(kind).to_string());
        json.push(',');
    }
    json.push_str(r#""value":"#);
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
        let done: Json = serde_json::from_slice(&execution_result(
            "succeeded",
            &["A".into()],
            &[vec![Cell::Text("x".into())]],
        ))
        .expect("json");
        assert_eq!(done, json!({"type": "succeeded", "value": [{"A": "x"}]}));
        let submitted: Json =
            serde_json::from_slice(&ExecutionAnswer::Submitted("e1").encode()).expect("json");
        assert_eq!(submitted, json!({"type": "submitted", "executionId": "e1"}));
        assert_eq!(GetResultRequest::decode(b"").expect("empty").wait_s(), 0);
        assert_eq!(
            GetResultRequest::decode(br#"{"timeout":900}"#)
                .expect("valid")
                .wait_s(),
            GET_RESULT_WAIT_MAX_S
        );
        assert_eq!(
            GetResultRequest::decode(br#"{"timeout":-3}"#)
                .expect("valid")
                .wait_s(),
            0
        );
        assert!(GetResultRequest::decode(b"{").is_err());
        let error = ConjureError {
            code: "INVALID_ARGUMENT",
            name: "QueryRuntimeError",
            instance_id: "i".into(),
            description: Some("boom".into()),
            parameters: Box::new(json!({})),
        };
        let text = String::from_utf8(error.event()).expect("utf8");
        let json: Json = serde_json::from_str(&text[6..]).expect("json");
        assert_eq!(json["type"], "error");
        assert_eq!(json["errorDescription"], "boom");
        assert_eq!(error.status(), 400);
    }
}
